"""The ``streammon`` command line: the app, its commands, and what the heavier commands do.

:mod:`.main` assembles the typer app from :mod:`.commands`, one module per
command group (options, arguments, output), which share the global options
and settings of :mod:`.context`. What a heavier command does is beside them,
imported only when the command runs: :mod:`.demo`, :mod:`.calibrate`,
:mod:`.references` (``reference set``), :mod:`.replay` (``publish``) and
:mod:`.models`.
"""

__all__ = ["calibrate", "commands", "context", "demo", "main", "models", "references", "replay"]
