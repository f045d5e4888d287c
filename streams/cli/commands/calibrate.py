"""``streammon calibrate``: false alarms per window on data without drift, and the alpha to use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.cli.context import console, settings

__all__ = ["calibrate"]


def calibrate(
    path: Annotated[
        Path,
        typer.Argument(
            help="A CSV or Parquet table without drift: feature columns and `prediction`.", exists=True, dir_okay=False
        ),
    ],
    target_rate: Annotated[
        float, typer.Option(help="False alarms per window to aim for, e.g. 0.001.", min=1e-9, max=0.5)
    ] = 0.001,
) -> None:
    """Replay data without drift through the configured checks: false alarms per window, and the alpha to use."""
    from rich.progress import Progress
    from rich.table import Table

    from streams.cli.calibrate import calibrate as run_calibration

    config = settings()
    with Progress(console=console, transient=True) as progress:
        result = run_calibration(config, path, target_rate, progress)
    table = Table(title=f"{result.windows} windows of {result.window_size} rows without drift", title_justify="left")
    table.add_column("condition kind")
    table.add_column("windows alarmed", justify="right")
    table.add_column("per window", justify="right")
    for kind, count in sorted(result.alarms.items()):
        table.add_row(kind, str(count), f"{count / result.windows:.4f}")
    if not result.alarms:
        table.add_row("any", "0", "0")
    out = Console()
    out.print(table)
    between = result.windows_between_alarms
    out.print(
        "mean windows between false alarms: "
        + (f"{between:.1f} ({between * result.window_size:.0f} events)" if between else f"none in {result.windows} windows")
    )
    if result.alpha is not None:
        out.print(
            f"drift alarms at the configured alpha {result.alpha:g} ({result.correction}): {result.drift_rate(result.alpha):.4f} per window"
        )
    proposed = result.proposed_alpha
    out.print(
        f"proposed for {target_rate:g} false alarms per window: drift.alpha = {proposed:.3g} "
        f"(observed here: {result.drift_rate(proposed):.4f} per window)"
    )
    if result.windows < 1 / target_rate:
        out.print(
            f"[yellow]note:[/yellow] {result.windows} windows cannot show a rate of {target_rate:g}; "
            "the proposal rests on the tests' own bound (alpha bounds a stationary window's alarm chance)"
        )
