"""The ``streammon`` command line.

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error. Expected
errors print one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from monitors.alerting.matchers import Matcher, matches_all, parse_matchers
from streams.errors import ConfigError, StreammonError
from streams.local.broker.process import KafkaBroker
from streams.logs import LogFormat, configure_logging
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
    log_format: LogFormat = "text"
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
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML configuration file (or STREAMMON_CONFIG).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", envvar="STREAMMON_LOG_FORMAT", help="text, or json: one object per line.")
    ] = "text",
) -> None:
    _state.config = config
    _state.debug = debug
    _state.log_format = log_format
    configure_logging(log_format, debug)
    if not debug:
        # kafka-python narrates every connection at INFO, and warns of its own
        # internal loop's timing; its errors still show.
        logging.getLogger("kafka").setLevel(logging.ERROR)


@broker_app.command("start")
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
    """Run the stream worker: validate events, window them, analyse drift and quality, join labels, learn online, alert."""
    from streams.worker.runner import run_worker

    run_worker(settings(), _state.log_format)


@app.command()
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


alerts_app = typer.Typer(help="Follow alerts, list what is firing, and manage silences.", invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")

MatchOption = Annotated[
    list[str] | None,
    typer.Option("--match", "-m", help="A label matcher, e.g. 'model=\"churn\"' or 'severity=~\"crit.*\"'; repeatable."),
]


def _matchers(texts: list[str] | None) -> tuple[Matcher, ...]:
    try:
        return parse_matchers(texts or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--match") from exc


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", "-f", help="Keep waiting for new alerts.")] = True,
    from_beginning: Annotated[bool, typer.Option(help="Show the alerts already on the topic too.")] = False,
    match: MatchOption = None,
) -> None:
    """Follow the alerts topic in a readable form (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from streams.alerting.view import follow_alerts, render_alert

    matchers = _matchers(match)
    out = Console()
    for alert in follow_alerts(settings().kafka, follow=follow, from_beginning=from_beginning):
        if matches_all(matchers, alert.labels):
            out.print(render_alert(alert))


@alerts_app.command("firing")
def alerts_firing(match: MatchOption = None) -> None:
    """List the alerts firing now."""
    from streams.alerting.view import firing_alerts, render_alert

    matchers = _matchers(match)
    shown = [a for a in firing_alerts(settings().kafka) if matches_all(matchers, a.labels)]
    out = Console()
    for alert in shown:
        out.print(render_alert(alert))
    console.print(f"{len(shown)} alerts firing")


@alerts_app.command("silence")
def alerts_silence(
    match: MatchOption = None,
    duration: Annotated[str, typer.Option(help="How long, e.g. 30m, 2h, 1d.")] = "2h",
    author: Annotated[str, typer.Option(help="Who silences.")] = getpass.getuser(),
    comment: Annotated[str, typer.Option(help="Why (shown with the silence).")] = "",
) -> None:
    """Silence the alerts that match every --match, from now for --duration."""
    from streams.alerting.silences import create_silence
    from streams.settings import parse_duration

    matchers = _matchers(match)
    if not matchers:
        raise typer.BadParameter("a silence needs at least one matcher", param_hint="--match")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--duration") from exc
    try:
        silence = create_silence(settings().kafka, [str(m) for m in matchers], seconds, author, comment)
    except ValueError as exc:  # e.g. matchers that would match every alert
        raise typer.BadParameter(str(exc), param_hint="--match") from exc
    console.print(f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%M:%S} UTC: {', '.join(map(str, silence.matchers))}")
    typer.echo(silence.id)


@alerts_app.command("unsilence")
def alerts_unsilence(silence_id: Annotated[str, typer.Argument(help="The silence's id.")]) -> None:
    """Expire a silence now."""
    from streams.alerting.silences import expire_silence

    try:
        expire_silence(settings().kafka, silence_id)
    except KeyError:
        console.print(f"[red]error:[/red] no silence {silence_id}")
        raise typer.Exit(1) from None
    console.print(f"silence {silence_id} expired")


@alerts_app.command("silences")
def alerts_silences(
    all_: Annotated[bool, typer.Option("--all", help="Show expired silences too.")] = False,
) -> None:
    """List the silences."""
    from rich.table import Table

    from streams.alerting.silences import list_silences, silence_state
    from streams.clock import utc_now

    now = utc_now()
    table = Table("id", "state", "matchers", "until (UTC)", "by", "comment")
    for silence in list_silences(settings().kafka):
        state = silence_state(silence, now)
        if all_ or state != "expired":
            table.add_row(
                silence.id,
                state,
                ", ".join(map(str, silence.matchers)),
                f"{silence.ends_at:%Y-%m-%d %H:%M}",
                silence.created_by,
                silence.comment,
            )
    Console().print(table)


reference_app = typer.Typer(help="Replace the reference windows are compared with, without restarting workers.")
app.add_typer(reference_app, name="reference")


@reference_app.command("set")
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


models_app = typer.Typer(
    help="Each model's live quality from its labels, and its online challenger.", invoke_without_command=True
)
app.add_typer(models_app, name="models")


@models_app.callback()
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


@models_app.command("export")
def models_export(
    model: Annotated[str, typer.Argument(help="The deployed model whose online challenger to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (a pickle of the River model).", dir_okay=False)],
) -> None:
    """Write a model's online challenger, as of the worker's latest checkpoint, to a file for serving."""
    from streams.cli.models import export_model
    from streams.worker.checkpoint import StateKeys

    learned = export_model(settings().kafka, model, output, StateKeys.of(settings().worker))
    console.print(f"wrote the online model of {model} ({learned} labelled predictions learned) to {output}")


@app.command()
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


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the worker's results.")] = 150.0,
) -> None:
    """Run everything on the local broker: a synthetic stream with drift injected at a known point.

    Exits 0 only if the drift was alerted and nothing was alerted before it.
    """
    from streams.cli.demo import run_demo

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
