"""``streammon alerts [firing|silence|unsilence|silences]``: alerts followed and listed, silences managed."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

from monitors.alerting.matchers import Matcher, matches_all, parse_matchers
from streams.cli.context import console, settings

__all__ = ["app"]

app = typer.Typer(help="Follow alerts, list what is firing, and manage silences.", invoke_without_command=True)

MatchOption = Annotated[
    list[str] | None,
    typer.Option("--match", "-m", help="A label matcher, e.g. 'model=\"churn\"' or 'severity=~\"crit.*\"'; repeatable."),
]


def _matchers(texts: list[str] | None) -> tuple[Matcher, ...]:
    try:
        return parse_matchers(texts or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--match") from exc


@app.callback()
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


@app.command("firing")
def alerts_firing(match: MatchOption = None) -> None:
    """List the alerts firing now."""
    from streams.alerting.view import firing_alerts, render_alert

    matchers = _matchers(match)
    shown = [a for a in firing_alerts(settings().kafka) if matches_all(matchers, a.labels)]
    out = Console()
    for alert in shown:
        out.print(render_alert(alert))
    console.print(f"{len(shown)} alerts firing")


@app.command("silence")
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


@app.command("unsilence")
def alerts_unsilence(silence_id: Annotated[str, typer.Argument(help="The silence's id.")]) -> None:
    """Expire a silence now."""
    from streams.alerting.silences import expire_silence

    try:
        expire_silence(settings().kafka, silence_id)
    except KeyError:
        console.print(f"[red]error:[/red] no silence {silence_id}")
        raise typer.Exit(1) from None
    console.print(f"silence {silence_id} expired")


@app.command("silences")
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
