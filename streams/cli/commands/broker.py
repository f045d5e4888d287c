"""``streammon broker start|stop|status``: the local single-node Apache Kafka broker."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.cli.context import console, settings
from streams.local.broker.process import KafkaBroker

__all__ = ["app"]

app = typer.Typer(help="Run the local single-node Apache Kafka broker (KRaft, from Maven Central).", no_args_is_help=True)


@app.command("start")
def broker_start(
    timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="Seconds to wait for the launched broker to answer (a broker holding thousands of partitions loads them all first).",
        ),
    ] = 180.0,
) -> None:
    """Install (once) and start the local broker; return when it accepts requests."""
    broker = _broker()
    seconds = broker.start(timeout=timeout)
    status = broker.status()
    console.print(
        f"Kafka {status.version} ready at {status.bootstrap_servers} in {seconds:.1f} s (pid {status.pid}, log {status.log_file})"
    )


@app.command("stop")
def broker_stop() -> None:
    """Stop the local broker."""
    stopped = _broker().stop()
    console.print("broker stopped" if stopped else "no broker was running")


@app.command("status")
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
