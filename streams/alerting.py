"""The worker's alert manager: lifecycle, grouping, silences, inhibition, delivery and state.

Window observations go through an alert lifecycle (``for``, ``keep_firing_for``,
hysteresis); every state change is published to the alerts topic, the source of
truth, keyed by the alert's fingerprint. A lifecycle belongs to the input
partition its models come from and is checkpointed with that partition's state,
so it moves with the partition when workers rebalance. The dispatcher groups alerts per route
and decides when a group is notified (``group_wait``, ``group_interval``,
``repeat_interval``); silences and inhibition rules mute alerts at that point;
deliveries retry per receiver without blocking the stream.

The dispatcher's state is written to a compacted topic after each change and
read back at start, so a restart neither pages again for what was delivered nor
loses a pending resolve. Silences live in their own
compacted topic, which every worker reads whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime, timezone
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from monitors.alerts import Alert, Observation
from monitors.dispatch import Dispatcher
from monitors.inhibition import Inhibitor, InhibitRule
from monitors.lifecycle import AlertLifecycle
from monitors.matchers import parse_matchers
from monitors.silences import Silence, Silences, silence_from_dict
from streams import metrics
from streams.codec import encode
from streams.events import AlertEvent, SnapshotRef, Window
from streams.kafka_clients import client_options
from streams.receivers import (
    AlertmanagerReceiver,
    Deliveries,
    Receiver,
    build_receivers,
)
from streams.settings import KafkaSettings, Settings, route_tree

log = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]
STATE_KEY = b"alert-manager"


def utc_now() -> datetime:
    """The wall clock: alert times and group timers run on it."""
    return datetime.now(timezone.utc)


class _Muter:
    """Silences and inhibition rules, as the dispatcher asks them."""

    def __init__(self, silences: Silences, inhibitor: Inhibitor) -> None:
        self.silences = silences
        self.inhibitor = inhibitor

    def muted(self, labels: Mapping[str, str], now: datetime, firing: Sequence[Mapping[str, str]]) -> bool:
        return bool(self.silences.silenced_by(labels, now)) or self.inhibitor.inhibited(labels, firing)


class AlertService:
    """Everything between a window's observations and the receivers."""

    def __init__(
        self,
        settings: Settings,
        send: Send,
        state: Mapping[str, Any] | None = None,
        silences: Iterable[Silence] = (),
    ) -> None:
        alerting = settings.alerting
        self.settings = settings
        self._send = send
        self._route = route_tree(alerting.route)
        self.dispatcher = Dispatcher(self._route)
        if state:
            try:
                self.dispatcher = Dispatcher.restore(self._route, state["dispatcher"])
            except (KeyError, ValueError) as exc:
                # A state written under another routing configuration may not fit
                # this one; starting clean beats not starting.
                log.warning("cannot restore the saved alert state (%s); starting without it", exc)
        self.silences = Silences()
        for silence in silences:
            self.silences.put(silence)
        rules = [
            InhibitRule(parse_matchers(r.source_matchers), parse_matchers(r.target_matchers), tuple(r.equal))
            for r in alerting.inhibit_rules
        ]
        self._muter = _Muter(self.silences, Inhibitor(rules))
        receivers = build_receivers(alerting.receivers, send_kafka=self._send)
        self._keep_alive_in_alertmanager(receivers)
        self.deliveries = Deliveries(
            receivers,
            on_result=lambda receiver, outcome, attempts: metrics.NOTIFICATIONS.labels(
                receiver=receiver, outcome=outcome
            ).inc(),
        )
        self._dirty = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the receivers' delivery tasks."""
        await self.deliveries.start()

    async def stop(self) -> None:
        """Save the state and drain the deliveries."""
        await self.save()
        await self.deliveries.stop()

    async def observe(
        self,
        lifecycle: AlertLifecycle,
        observations: Sequence[Observation],
        window: Window | None,
        snapshot: SnapshotRef | None,
    ) -> list[Alert]:
        """Feed one window's (or one freshness check's) observations to their partition's lifecycle; publish and return the alerts that changed state."""
        async with self._lock:
            now = utc_now()
            changes = lifecycle.observe(observations, now)
            for alert in changes:
                self.dispatcher.add(alert, now)
                event = alert_event(alert, window, snapshot, self.settings.alerting.conditions.runbook_url)
                await self._send(self.settings.kafka.alerts_topic, alert.fingerprint.encode(), encode(event))
                metrics.ALERTS.labels(kind=alert.labels.get("kind", ""), status=alert.status).inc()
                log.warning(
                    "alert %s %s: %s", alert.status, alert.labels.get("severity", ""), alert.annotations.get("summary", "")
                )
            self._dirty = self._dirty or bool(changes)
            return changes

    async def hand_over(self, alerts: Sequence[Alert]) -> None:
        """Stop notifying about these alerts: their partition moved to another worker, which notifies them now."""
        async with self._lock:
            self.dispatcher.forget({alert.fingerprint for alert in alerts})
            self._dirty = True

    async def take_over(self, alerts: Sequence[Alert]) -> None:
        """Notify about these firing alerts from now on: their partition came from another worker.

        They join their groups as new: a group this worker has not notified pages
        after ``group_wait``, which may repeat a page the previous owner sent
        (a page twice rather than none).
        """
        async with self._lock:
            now = utc_now()
            for alert in alerts:
                self.dispatcher.add(alert, now)
            self._dirty = self._dirty or bool(alerts)

    async def tick(self) -> None:
        """Send the notifications that are due; save the state first if it changed."""
        async with self._lock:
            now = utc_now()
            notifications = self.dispatcher.flush(now, self._muter)
            if notifications or self._dirty:
                await self._save_locked()
        for notification in notifications:
            self.deliveries.submit(notification)

    async def save(self) -> None:
        """Write the lifecycle's and dispatcher's state to the compacted state topic."""
        async with self._lock:
            await self._save_locked()

    async def _save_locked(self) -> None:
        state = {"dispatcher": self.dispatcher.snapshot()}
        await self._send(self.settings.kafka.alert_state_topic, STATE_KEY, orjson.dumps(state))
        self._dirty = False

    def _keep_alive_in_alertmanager(self, receivers: Mapping[str, Receiver]) -> None:
        # Alertmanager resolves an alert nobody re-posts; after a restart, the
        # restored firing alerts must be re-posted like those delivered since.
        for alert in self.dispatcher.firing():
            for route in self._route.match(alert.labels):
                receiver = receivers.get(route.receiver)
                if isinstance(receiver, AlertmanagerReceiver):
                    receiver.adopt([alert])

    async def follow_silences(self) -> None:
        """Keep the silences up to date from their compacted topic, read from its start."""
        async for _, value in follow_topic(self.settings.kafka, self.settings.kafka.silences_topic):
            self._apply_silence(value)

    def _apply_silence(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            silence = silence_from_dict(orjson.loads(value))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an invalid silence on the silences topic: %s", exc)
            return
        self.silences.put(silence)
        log.info("silence %s by %s until %s: %s", silence.id, silence.created_by, silence.ends_at, silence.comment)


async def follow_topic(kafka: KafkaSettings, topic: str) -> AsyncIterator[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a compacted control topic from its start, then as they come (no consumer group)."""
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        async for message in consumer:
            yield message.key, message.value
    finally:
        await consumer.stop()


def alert_event(alert: Alert, window: Window | None, snapshot: SnapshotRef | None, runbook: str | None) -> AlertEvent:
    """The alerts-topic record of one alert state change."""
    annotations = dict(alert.annotations)
    if runbook:
        annotations["runbook_url"] = runbook.format_map(_Blank(alert.labels))
    return AlertEvent(
        fingerprint=alert.fingerprint,
        status=alert.status,
        labels=dict(alert.labels),
        annotations=annotations,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        window=window,
        snapshot=snapshot,
    )


class _Blank(dict[str, str]):
    """Template values: a label the alert lacks renders empty."""

    def __missing__(self, key: str) -> str:
        return ""


def load_alert_state(kafka: KafkaSettings) -> dict[str, Any] | None:
    """The last saved alert-manager state on the compacted state topic, if any."""
    return read_latest(kafka, kafka.alert_state_topic).get(STATE_KEY)


def load_silences(kafka: KafkaSettings) -> list[Silence]:
    """Every silence on the silences topic, so none is missed before the live feed catches up."""
    return [silence_from_dict(value) for value in read_latest(kafka, kafka.silences_topic).values()]


def read_latest(kafka: KafkaSettings, topic: str, decode: Callable[[bytes], Any] = orjson.loads) -> dict[bytes, Any]:
    """Read a compacted topic to its current end: the latest value per key, decoded (tombstones remove)."""
    consumer = KafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    try:
        partitions = [KafkaTopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        latest: dict[bytes, Any] = {}
        while any(consumer.position(p) < end[p] for p in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    if record.value is None:
                        latest.pop(record.key, None)
                    else:
                        latest[record.key] = decode(record.value)
        return latest
    finally:
        consumer.close()
