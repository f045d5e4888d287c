"""``streammon publish``: a file of events into an input topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli.context import console, settings

__all__ = ["publish"]


def publish(
    path: Annotated[Path, typer.Argument(help="A .csv, .jsonl or .parquet file of events.", exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option("--kind", "-k", help="predictions, features or labels.")] = "predictions",
    model: Annotated[str | None, typer.Option(help="Model name for rows that have none.")] = None,
    model_version: Annotated[str | None, typer.Option(help="Model version for rows that have none.")] = None,
    validate: Annotated[bool, typer.Option(help="Check each event against the contract before sending.")] = True,
) -> None:
    """Replay a file of events into the predictions, features or labels topic, with a progress bar."""
    from streams.cli.replay import replay_file

    if kind not in ("predictions", "features", "labels"):
        raise typer.BadParameter(f"expected predictions, features or labels, got {kind!r}", param_hint="--kind")
    defaults = {k: v for k, v in {"model": model, "model_version": model_version}.items() if v is not None}
    sent = replay_file(settings().kafka, path, kind, defaults, validate=validate)  # type: ignore[arg-type]
    console.print(f"published {sent} {kind} events from {path}")
