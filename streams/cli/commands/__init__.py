"""The ``streammon`` commands: one module per command group, or per command that stands alone.

Each holds the command's options, arguments and output; what a heavier command
does lives in :mod:`streams.cli` beside this package and is imported only
when the command runs, so ``streammon --help`` and the small commands start
fast. :mod:`streams.cli.main` assembles them into the app.
"""

__all__ = ["alerts", "broker", "calibrate", "demo", "models", "publish", "reference", "worker"]
