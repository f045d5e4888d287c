"""What every command shares: the global options, the settings they name, and the console for messages.

The settings are read once per command, on first use: a command that needs none
(``--help``) runs without a configuration.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from streams.logs import LogFormat
from streams.settings import Settings, load_settings

__all__ = ["console", "settings", "state"]

console = Console(stderr=True)
"""Messages to people (progress, results, errors) go to stderr; data to stdout."""


class _State:
    debug = False
    log_format: LogFormat = "text"
    config: Path | None = None
    settings: Settings | None = None


state = _State()
"""The global options of this run, set by the app's callback."""


def settings() -> Settings:
    """The settings, read once per command."""
    if state.settings is None:
        state.settings = load_settings(state.config)
    return state.settings
