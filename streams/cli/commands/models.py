"""``streammon models [export]``: each model's live quality, and its online challenger exported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.cli.context import console, settings

__all__ = ["app"]

app = typer.Typer(help="Each model's live quality from its labels, and its online challenger.", invoke_without_command=True)


@app.callback()
def models(ctx: typer.Context) -> None:
    """Show every model's label coverage, latest window metrics and challenger (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from streams.cli.models import model_statuses, status_table

    statuses = model_statuses(settings().kafka)
    if not statuses:
        console.print("no model status yet: the worker publishes it once predictions arrive")
        return
    Console().print(status_table(statuses))


@app.command("export")
def models_export(
    model: Annotated[str, typer.Argument(help="The deployed model whose online challenger to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (a pickle of the River model).", dir_okay=False)],
) -> None:
    """Write a model's online challenger, as of the worker's latest checkpoint, to a file for serving."""
    from streams.cli.models import export_model
    from streams.worker.checkpoint import StateKeys

    learned = export_model(settings().kafka, model, output, StateKeys.of(settings().worker))
    console.print(f"wrote the online model of {model} ({learned} labelled predictions learned) to {output}")
