"""The worker's alert manager: lifecycle, grouping, silences, inhibition, delivery and state.

Window observations go through an alert lifecycle (``for``, ``keep_firing_for``,
hysteresis); every state change is published to the alerts topic, the source of
truth, keyed by the alert's fingerprint. A lifecycle belongs to the input
partition its models come from and is checkpointed with that partition's state,
so it moves with the partition when workers rebalance. Each partition has a
dispatcher too: it groups the partition's alerts per route and decides when a
group is notified (``group_wait``, ``group_interval``, ``repeat_interval``);
silences and inhibition rules (over every alert firing on this worker) mute
alerts at that point; deliveries retry per receiver without blocking the stream.

A partition's dispatcher state is written to a compacted topic, under the
partition's own key, after each change and when the partition is handed over;
its next owner (the same worker after a restart, or another one) reads it back
on assignment, so neither pages again for what was delivered nor loses a
pending resolve. With the default ``group_by`` (model and kind) a group's
alerts come from one model, so from one partition. Silences live in their own
compacted topic, which every worker reads whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime
from typing import Any

import orjson

from monitors.alerting.alerts import Alert, Observation
from monitors.alerting.dispatch import Dispatcher
from monitors.alerting.inhibition import Inhibitor, InhibitRule
from monitors.alerting.lifecycle import AlertLifecycle
from monitors.alerting.matchers import parse_matchers
from monitors.alerting.silences import Silence, Silences, silence_from_dict
from streams import metrics
from streams.alerting.receivers.alertmanager import AlertmanagerReceiver
from streams.alerting.receivers.build import build_receivers
from streams.alerting.receivers.deliveries import Deliveries
from streams.clock import utc_now
from streams.codec import encode
from streams.compacted import follow_topic, read_latest
from streams.errors import MessageTooLargeError
from streams.events import AlertEvent, SnapshotRef, Window
from streams.settings import KafkaSettings, Settings, route_tree

log = logging.getLogger(__name__)

Send = Callable[[str, bytes | None, bytes], Awaitable[None]]


def state_key(group: str, partition: int) -> bytes:
    """The alert-state topic's key for the dispatcher state of one input partition of a consumer group.

    >>> state_key("streammon-worker", 2)
    b'streammon-worker/p2'
    """
    return f"{group}/p{partition}".encode()


class _Muter:
    """Silences and inhibition rules, as the dispatchers ask them."""

    def __init__(self, silences: Silences, inhibitor: Inhibitor) -> None:
        self.silences = silences
        self.inhibitor = inhibitor

    def muted(self, labels: Mapping[str, str], now: datetime, firing: Sequence[Mapping[str, str]]) -> bool:
        return bool(self.silences.silenced_by(labels, now)) or self.inhibitor.inhibited(labels, firing)


class AlertService:
    """Everything between a window's observations and the receivers."""

    def __init__(self, settings: Settings, send: Send, silences: Iterable[Silence] = ()) -> None:
        alerting = settings.alerting
        self.settings = settings
        self._send = send
        self._route = route_tree(alerting.route)
        # The dispatcher of each input partition this worker owns.
        self.dispatchers: dict[int, Dispatcher] = {}
        self.silences = Silences()
        for silence in silences:
            self.silences.put(silence)
        rules = [
            InhibitRule(parse_matchers(r.source_matchers), parse_matchers(r.target_matchers), tuple(r.equal))
            for r in alerting.inhibit_rules
        ]
        self._muter = _Muter(self.silences, Inhibitor(rules))
        self._receivers = build_receivers(alerting.receivers, send_kafka=self._send)
        self.deliveries = Deliveries(
            self._receivers,
            on_result=lambda receiver, outcome, attempts: metrics.NOTIFICATIONS.labels(receiver=receiver, outcome=outcome).inc(),
        )
        self._dirty: set[int] = set()  # partitions whose dispatcher changed since it was saved
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
        partition: int | None,
        lifecycle: AlertLifecycle,
        observations: Sequence[Observation],
        window: Window | None,
        snapshot: SnapshotRef | None,
    ) -> list[Alert]:
        """Feed one window's (or one freshness check's) observations to their partition's lifecycle; publish and return the alerts that changed state.

        ``partition`` None (or one this worker no longer owns) publishes the
        changes without notifying them: the partition's new owner does.
        """
        async with self._lock:
            now = utc_now()
            changes = lifecycle.observe(observations, now)
            dispatcher = self.dispatchers.get(partition) if partition is not None else None
            for alert in changes:
                if dispatcher is not None:
                    dispatcher.add(alert, now)
                event = alert_event(alert, window, snapshot, self.settings.alerting.conditions.runbook_url)
                try:
                    await self._send(self.settings.kafka.alerts_topic, alert.fingerprint.encode(), encode(event))
                except MessageTooLargeError as exc:
                    # Annotations are bounded; labels quoting a huge value (a segment's) are not.
                    # Sending it again would fail again: the receivers still hear of it.
                    log.error("alert %s not published, dropped: %s", alert.fingerprint, exc)
                    continue
                metrics.ALERTS.labels(kind=alert.labels.get("kind", ""), status=alert.status).inc()
                log.warning(
                    "alert %s %s: %s", alert.status, alert.labels.get("severity", ""), alert.annotations.get("summary", "")
                )
            if partition is not None and dispatcher is not None and changes:
                self._dirty.add(partition)
            return changes

    async def take_over(self, partition: int, saved: Mapping[str, Any] | None, firing: Sequence[Alert]) -> None:
        """Notify about a partition's alerts from now on, where its previous owner left off.

        ``saved`` is the partition's dispatcher state as its previous owner (or
        this worker before a restart) last wrote it, ``firing`` the alerts its
        restored lifecycle holds. Groups the previous owner notified are not
        notified again; an alert the saved state lacks (the state was lost, or
        the route changed) joins its group as new and pages after ``group_wait``.
        """
        async with self._lock:
            dispatcher = Dispatcher(self._route)
            if saved:
                try:
                    dispatcher = Dispatcher.restore(self._route, saved["dispatcher"])
                except (KeyError, ValueError) as exc:
                    # A state written under another routing configuration may not fit
                    # this one; starting clean beats not starting.
                    log.warning("partition %d: cannot restore its alert dispatch state (%s); starting without it", partition, exc)
            now = utc_now()
            # The saved state may be newer than the lifecycle's checkpoint: an update it
            # already holds, or one older than it, changes nothing (see Dispatcher.add).
            for alert in firing:
                dispatcher.add(alert, now)
            self._keep_alive_in_alertmanager(dispatcher.firing())
            self.dispatchers[partition] = dispatcher
            self._dirty.add(partition)

    async def hand_over(self, partition: int) -> None:
        """Save a partition's dispatcher state for its next owner, and stop notifying its alerts."""
        async with self._lock:
            dispatcher = self.dispatchers.pop(partition, None)
            self._dirty.discard(partition)
            if dispatcher is not None:
                await self._save_locked(partition, dispatcher)

    async def tick(self) -> None:
        """Send the notifications that are due; save a partition's state first if it changed."""
        delivering = []
        async with self._lock:
            now = utc_now()
            # Inhibiting alerts may fire on another partition than the alerts they mute.
            firing = [alert.labels for d in self.dispatchers.values() for alert in d.firing()]
            for partition, dispatcher in self.dispatchers.items():
                notifications = dispatcher.flush(now, self._muter, firing)
                if notifications or partition in self._dirty:
                    await self._save_locked(partition, dispatcher)
                delivering += notifications
        for notification in delivering:
            self.deliveries.submit(notification)

    async def save(self) -> None:
        """Write every owned partition's dispatcher state to the compacted alert-state topic."""
        async with self._lock:
            for partition, dispatcher in self.dispatchers.items():
                await self._save_locked(partition, dispatcher)

    async def _save_locked(self, partition: int, dispatcher: Dispatcher) -> None:
        state = {"dispatcher": dispatcher.snapshot()}
        kafka = self.settings.kafka
        try:
            await self._send(kafka.alert_state_topic, state_key(kafka.group_id, partition), orjson.dumps(state))
        except MessageTooLargeError as exc:
            # Not retried every tick: the next change of the partition's alerts tries again.
            log.error("partition %d: alert dispatch state not saved: %s", partition, exc)
        self._dirty.discard(partition)

    def _keep_alive_in_alertmanager(self, alerts: Sequence[Alert]) -> None:
        # Alertmanager resolves an alert nobody re-posts; after a restart or a hand-over,
        # the adopted firing alerts must be re-posted like those delivered since.
        for alert in alerts:
            for route in self._route.match(alert.labels):
                receiver = self._receivers.get(route.receiver)
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


def load_alert_states(kafka: KafkaSettings, partitions: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The last saved dispatcher state of each of these input partitions that has one."""
    latest = read_latest(kafka, kafka.alert_state_topic)
    keys = {p: state_key(kafka.group_id, p) for p in partitions}
    return {p: latest[key] for p, key in keys.items() if key in latest}


def load_silences(kafka: KafkaSettings) -> list[Silence]:
    """Every silence on the silences topic, so none is missed before the live feed catches up."""
    return [silence_from_dict(value) for value in read_latest(kafka, kafka.silences_topic).values()]
