"""The Kafka receiver: notifications as Alertmanager webhook JSON on a topic."""

from __future__ import annotations

import logging

import orjson

from streams.alerting.receivers.base import Notification, Send
from streams.alerting.receivers.payloads import alertmanager_payload, fitting_payload
from streams.errors import MessageTooLargeError, NotifyError

__all__ = ["KafkaReceiver"]

log = logging.getLogger(__name__)


class KafkaReceiver:
    """Publishes each notification to a topic as Alertmanager webhook JSON, keyed by group key.

    ``send`` is the worker's producer (``await send(topic, key, value)``); any
    error it raises is taken as recoverable, but for a message too large for
    the topic: the notification is then sent with as many of its alerts as fit
    (the others counted in ``truncatedAlerts``), or dropped when none does.
    """

    def __init__(self, name: str, topic: str, send: Send, *, external_url: str = "") -> None:
        self.name = name
        self.topic = topic
        self.send = send
        self.external_url = external_url

    async def deliver(self, notification: Notification) -> None:
        key = notification.group_key.encode()
        value = orjson.dumps(alertmanager_payload(notification, self.external_url))
        try:
            await self._send(key, value)
        except MessageTooLargeError as exc:
            fitting = fitting_payload(notification, self.external_url, key, exc.limit)
            if fitting is None:
                raise NotifyError(f"receiver {self.name}: {exc}", recoverable=False) from exc
            value, kept = fitting
            log.warning(
                "receiver %s: notification %s too large for topic %s (%d bytes): sent with %d of its %d alerts",
                self.name,
                notification.group_key,
                self.topic,
                exc.size,
                kept,
                len(notification.alerts),
            )
            try:
                await self._send(key, value)
            except MessageTooLargeError as again:  # the broker's limit is lower still
                raise NotifyError(f"receiver {self.name}: {again}", recoverable=False) from again

    async def _send(self, key: bytes, value: bytes) -> None:
        try:
            await self.send(self.topic, key, value)
        except (NotifyError, MessageTooLargeError):
            raise
        except Exception as exc:
            raise NotifyError(
                f"receiver {self.name}: could not send to topic {self.topic}: {type(exc).__name__}: {exc}",
                recoverable=True,
            ) from exc
