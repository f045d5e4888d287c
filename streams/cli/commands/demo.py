"""``streammon demo``: the whole pipeline on the local broker, with drift at a known point."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli.context import settings

__all__ = ["demo"]


def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the worker's results.")] = 150.0,
) -> None:
    """Run everything on the local broker: a synthetic stream with drift injected at a known point.

    Exits 0 only if the drift was alerted and nothing was alerted before it.
    """
    from streams.cli.demo import run_demo

    if not run_demo(settings(), timeout_s=timeout):
        raise typer.Exit(1)
