"""Reading the alerts topic, and showing an alert to a person."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.text import Text

from streams.events import AlertEvent
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings

_SEVERITY_STYLE = {"critical": "bold white on red", "warning": "bold black on yellow"}


def follow_alerts(kafka: KafkaSettings, *, follow: bool = True, from_beginning: bool = False) -> Iterator[AlertEvent]:
    """Yield alerts from the alerts topic; without ``follow``, stop at the end it has now.

    The consumer joins no group and commits nothing: following the alerts never
    moves anyone else's position.
    """
    consumer = KafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    try:
        topic = kafka.alerts_topic
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        end = consumer.end_offsets(partitions)
        while follow or any(consumer.position(p) < end[p] for p in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    try:
                        yield AlertEvent.model_validate_json(record.value)
                    except ValidationError:
                        continue  # not an alert of this version: nothing to show
    finally:
        consumer.close()


def render_alert(alert: AlertEvent) -> Text:
    """One alert state change as a few readable lines: what, how bad, since when, and the evidence."""
    labels = alert.labels
    severity = labels.get("severity", "")
    text = Text()
    if alert.status == "resolved":
        text.append(" RESOLVED ", style="bold white on green")
    else:
        text.append(f" {severity.upper() or 'FIRING'} ", style=_SEVERITY_STYLE.get(severity, "bold"))
    text.append(f" {labels.get('model', '?')} ", style="bold")
    text.append(f"{labels.get('kind', '?')}", style="cyan")
    others = {k: v for k, v in labels.items() if k not in ("model", "kind", "severity")}
    if others:
        text.append("  " + " ".join(f"{k}={v}" for k, v in sorted(others.items())))
    summary = alert.annotations.get("summary")
    if summary:
        text.append(f"\n    {summary}")
    if alert.window is not None:
        window = alert.window
        text.append(
            f"\n    window {window.index}: {window.start:%Y-%m-%d %H:%M:%S} → {window.end:%H:%M:%S} UTC, {window.events} events",
            style="dim",
        )
    when = f"since {alert.starts_at:%Y-%m-%d %H:%M:%S} UTC"
    if alert.ends_at is not None:
        when += f", resolved {alert.ends_at:%Y-%m-%d %H:%M:%S} UTC"
    text.append(f"\n    {when} · fingerprint {alert.fingerprint}", style="dim")
    if alert.snapshot is not None:
        text.append(f"\n    snapshot {alert.snapshot.snapshot_id} in {alert.snapshot.workspace}", style="dim")
    runbook = alert.annotations.get("runbook_url")
    if runbook:
        text.append(f"\n    runbook {runbook}", style="dim")
    return text


def firing_alerts(kafka: KafkaSettings) -> list[AlertEvent]:
    """The alerts firing now: the latest state of each fingerprint on the alerts topic."""
    latest: dict[str, AlertEvent] = {}
    for alert in follow_alerts(kafka, follow=False, from_beginning=True):
        latest[alert.fingerprint] = alert
    return sorted((a for a in latest.values() if a.status == "firing"), key=lambda a: sorted(a.labels.items()))
