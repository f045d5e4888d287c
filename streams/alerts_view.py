"""Reading the alerts topic, and showing an alert to a person."""

from __future__ import annotations

from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.text import Text

from streams.events import AlertEvent
from streams.settings import KafkaSettings

_SEVERITY_STYLE = {"critical": "bold white on red", "warning": "bold black on yellow"}
_SHOWN_FEATURES = 8


def follow_alerts(kafka: KafkaSettings, *, follow: bool = True, from_beginning: bool = False) -> Iterator[AlertEvent]:
    """Yield alerts from the alerts topic; without ``follow``, stop at its current end.

    The consumer joins no group and commits nothing: following the alerts never
    moves anyone else's position.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=-1 if follow else 2000,
    )
    try:
        partitions = [TopicPartition(kafka.alerts_topic, p) for p in sorted(consumer.partitions_for_topic(kafka.alerts_topic) or ())]
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        for message in consumer:
            try:
                yield AlertEvent.model_validate_json(message.value)
            except ValidationError:
                continue  # not an alert of this version: nothing to show
    finally:
        consumer.close()


def render_alert(alert: AlertEvent) -> Text:
    """One alert as a few readable lines: what, where, how bad, and where the evidence is."""
    text = Text()
    text.append(f" {alert.severity.upper()} ", style=_SEVERITY_STYLE.get(alert.severity, "bold"))
    text.append(f" {alert.model} ", style="bold")
    text.append(f"{alert.kind}  ", style="cyan")
    text.append(alert.summary)
    window = alert.window
    text.append(
        f"\n    window {window.index}: {window.start:%Y-%m-%d %H:%M:%S} → {window.end:%H:%M:%S} UTC, {window.events} events",
        style="dim",
    )
    for feature in alert.features[:_SHOWN_FEATURES]:
        text.append(f"\n    {feature.feature:<24} {feature.method} {feature.score:.3g} (threshold {feature.threshold:.3g})")
    if len(alert.features) > _SHOWN_FEATURES:
        text.append(f"\n    … and {len(alert.features) - _SHOWN_FEATURES} more features")
    if alert.snapshot is not None:
        text.append(f"\n    snapshot {alert.snapshot.snapshot_id} in {alert.snapshot.workspace}", style="dim")
    text.append(f"\n    fingerprint {alert.fingerprint}", style="dim")
    return text
