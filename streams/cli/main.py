"""The ``streammon`` command line: the app, its global options, and its commands assembled.

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Expected
errors print one line; ``--debug`` shows the traceback. The commands are in
:mod:`streams.cli.commands`, one module per command group.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from streams.cli.commands import alerts, broker, calibrate, demo, models, publish, reference, worker
from streams.cli.context import console, state
from streams.errors import ConfigError, StreammonError
from streams.logs import LogFormat, configure_logging

app = typer.Typer(
    name="streammon",
    help="Kafka-native monitoring for ML models in production: drift, data quality and alerts in real time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The order of registration is the order of --help: commands, then groups.
app.command()(worker.worker)
app.command()(publish.publish)
app.command()(calibrate.calibrate)
app.command()(demo.demo)
app.add_typer(broker.app, name="broker")
app.add_typer(alerts.app, name="alerts")
app.add_typer(reference.app, name="reference")
app.add_typer(models.app, name="models")


@app.callback()
def _main(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML configuration file (or STREAMMON_CONFIG).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", envvar="STREAMMON_LOG_FORMAT", help="text, or json: one object per line.")
    ] = "text",
) -> None:
    state.config = config
    state.debug = debug
    state.log_format = log_format
    configure_logging(log_format, debug)
    if not debug:
        # kafka-python narrates every connection at INFO, and warns of its own
        # internal loop's timing; its errors still show.
        logging.getLogger("kafka").setLevel(logging.ERROR)


def main() -> None:
    """Entry point: run the CLI, mapping streammon's errors to one line and an exit code."""
    try:
        app()  # standalone: click turns usage errors into exit code 2 itself
    except ConfigError as exc:
        _fail(exc, 2)
    except StreammonError as exc:
        _fail(exc, 1)


def _fail(exc: Exception, code: int) -> None:
    if state.debug:
        console.print_exception()
    console.print(f"[red]error:[/red] {exc}")
    sys.exit(code)


if __name__ == "__main__":
    main()
