"""``streammon worker``: the stream worker."""

from __future__ import annotations

from streams.cli.context import settings, state

__all__ = ["worker"]


def worker() -> None:
    """Run the stream worker: validate events, window them, analyse drift and quality, join labels, learn online, alert."""
    from streams.worker.runner import run_worker

    run_worker(settings(), state.log_format)
