"""The ``streammon`` command line.

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Expected
errors print one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.broker import KafkaBroker
from streams.errors import ConfigError, StreammonError
from streams.settings import Settings, load_settings

console = Console(stderr=True)

app = typer.Typer(
    name="streammon",
    help="Kafka-native monitoring for ML models in production: drift, data quality and alerts in real time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
broker_app = typer.Typer(help="Run the local single-node Apache Kafka broker (KRaft, from Maven Central).", no_args_is_help=True)
app.add_typer(broker_app, name="broker")


class _State:
    debug = False
    config: Path | None = None
    settings: Settings | None = None


_state = _State()


def settings() -> Settings:
    """The settings, read once per command."""
    if _state.settings is None:
        _state.settings = load_settings(_state.config)
    return _state.settings


@app.callback()
def _main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML configuration file (or STREAMMON_CONFIG).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False,
) -> None:
    _state.config = config
    _state.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        # kafka-python narrates every connection at INFO.
        logging.getLogger("kafka").setLevel(logging.WARNING)


@broker_app.command("start")
def broker_start() -> None:
    """Install (once) and start the local broker; return when it accepts requests."""
    broker = _broker()
    seconds = broker.start()
    status = broker.status()
    console.print(f"Kafka {status.version} ready at {status.bootstrap_servers} in {seconds:.1f} s (pid {status.pid}, log {status.log_file})")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the local broker."""
    stopped = _broker().stop()
    console.print("broker stopped" if stopped else "no broker was running")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the local broker runs, where, and its log file. Exit 1 when it does not run."""
    status = _broker().status()
    if status.running:
        console.print(f"running: Kafka {status.version} at {status.bootstrap_servers} (pid {status.pid}, log {status.log_file})")
    else:
        console.print(f"not running (Kafka {status.version}, home {status.home})")
        raise typer.Exit(1)


def _broker() -> KafkaBroker:
    broker = settings().broker
    return KafkaBroker(broker.home, port=broker.port, controller_port=broker.controller_port, heap=broker.heap)


@app.command()
def worker() -> None:
    """Run the stream worker: validate events, window them, analyse drift, publish reports and alerts."""
    from streams.runner import run_worker

    run_worker(settings())


@app.command()
def publish(
    path: Annotated[Path, typer.Argument(help="A .csv, .jsonl or .parquet file of events.", exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option("--kind", "-k", help="predictions, features or labels.")] = "predictions",
    model: Annotated[str | None, typer.Option(help="Model name for rows that have none.")] = None,
    model_version: Annotated[str | None, typer.Option(help="Model version for rows that have none.")] = None,
    validate: Annotated[bool, typer.Option(help="Check each event against the contract before sending.")] = True,
) -> None:
    """Replay a file of events into the predictions, features or labels topic, with a progress bar."""
    from streams.replay import replay_file

    if kind not in ("predictions", "features", "labels"):
        raise typer.BadParameter(f"expected predictions, features or labels, got {kind!r}", param_hint="--kind")
    defaults = {k: v for k, v in {"model": model, "model_version": model_version}.items() if v is not None}
    sent = replay_file(settings().kafka, path, kind, defaults, validate=validate)  # type: ignore[arg-type]
    console.print(f"published {sent} {kind} events from {path}")


@app.command()
def alerts(
    follow: Annotated[bool, typer.Option("--follow/--no-follow", "-f", help="Keep waiting for new alerts.")] = True,
    from_beginning: Annotated[bool, typer.Option(help="Show the alerts already on the topic too.")] = False,
    model: Annotated[str | None, typer.Option(help="Only this model's alerts.")] = None,
) -> None:
    """Follow the alerts topic in a readable form."""
    from streams.alerts_view import follow_alerts, render_alert

    out = Console()
    for alert in follow_alerts(settings().kafka, follow=follow, from_beginning=from_beginning):
        if model is None or alert.model == model:
            out.print(render_alert(alert))


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the worker's results.")] = 150.0,
) -> None:
    """Run everything on the local broker: a synthetic stream with drift injected at a known point.

    Exits 0 only if the drift was alerted and nothing was alerted before it.
    """
    from streams.demo import run_demo

    if not run_demo(settings(), timeout_s=timeout):
        raise typer.Exit(1)


def main() -> None:
    """Entry point: run the CLI, mapping streammon's errors to one line and an exit code."""
    try:
        app()  # standalone: click turns usage errors into exit code 2 itself
    except ConfigError as exc:
        _fail(exc, 2)
    except StreammonError as exc:
        _fail(exc, 1)


def _fail(exc: Exception, code: int) -> None:
    if _state.debug:
        console.print_exception()
    console.print(f"[red]error:[/red] {exc}")
    sys.exit(code)


if __name__ == "__main__":
    main()
