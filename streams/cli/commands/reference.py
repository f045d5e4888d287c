"""``streammon reference set``: a new reference for the windows, without restarting workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli.context import console, settings

__all__ = ["app"]

app = typer.Typer(help="Replace the reference windows are compared with, without restarting workers.")


@app.command("set")
def reference_set(
    path: Annotated[
        Path, typer.Argument(help="A CSV or Parquet table: feature columns and `prediction`.", exists=True, dir_okay=False)
    ],
    model: Annotated[str | None, typer.Option(help="The model whose reference to replace (default: every model).")] = None,
) -> None:
    """Compare the windows that close from now on with the rows of PATH (every worker applies it within seconds)."""
    from streams.cli.references import set_reference

    command = set_reference(settings().kafka, path, model)
    console.print(
        f"reference of {model or 'every model'} set to {len(command['rows'])} rows from {path} (command {command['id']})"
    )
