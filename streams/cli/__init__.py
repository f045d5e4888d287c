"""The ``streammon`` command line: one module per command that is more than a call.

:mod:`.main` is the typer app and its small commands; :mod:`.demo`,
:mod:`.calibrate`, :mod:`.references`, :mod:`.replay` and :mod:`.models` hold
the commands of the same names.
"""

__all__ = ["calibrate", "demo", "main", "models", "references", "replay"]
