"""What every receiver shares: the notification it is handed and the protocol it implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from monitors.alerting.alerts import Alert

__all__ = ["Notification", "Receiver", "Send"]

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""Sends one Kafka record: ``await send(topic, key, value)``; the worker provides it."""


class Notification(Protocol):
    """What the dispatcher hands over: alerts of one group, for one receiver."""

    @property
    def receiver(self) -> str: ...
    @property
    def group_key(self) -> str: ...
    @property
    def group_labels(self) -> Mapping[str, str]: ...
    @property
    def alerts(self) -> tuple[Alert, ...]: ...
    @property
    def status(self) -> str: ...
    @property
    def firing(self) -> tuple[Alert, ...]: ...
    @property
    def resolved(self) -> tuple[Alert, ...]: ...


class Receiver(Protocol):
    """Delivers notifications to one destination."""

    name: str

    async def deliver(self, notification: Notification) -> None:
        """Deliver one notification; raise :class:`NotifyError` on failure."""
        ...
