"""Deliveries: each notification to its receiver, with retries and backoff, none blocking another."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import Literal, Protocol, runtime_checkable

from streams.alerting.receivers.base import Notification, Receiver
from streams.errors import NotifyError

__all__ = ["Deliveries", "Outcome"]

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "failed", "dropped"]


@runtime_checkable
class _Managed(Protocol):
    """A receiver with resources or background work: started and closed by :class:`Deliveries`."""

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...


class Deliveries:
    """Delivers each notification to its receiver with retry and backoff, one queue and task per receiver, so a failing receiver never blocks the stream or the other receivers.

    :meth:`submit` never blocks: each receiver's queue holds at most
    ``queue_size`` notifications and, when full, drops its oldest. A delivery
    is tried up to ``max_attempts`` times while its error is recoverable; the
    n-th retry waits ``min(max_backoff_s, backoff_s × 2ⁿ⁻¹)``, less up to half
    of it at random. ``on_result(receiver, outcome, attempts)`` is called once
    per notification with ``"delivered"``, ``"failed"`` or ``"dropped"``
    (``attempts`` 0 when dropped before any try).

    Receivers that also have ``async start()`` and ``async aclose()`` (the HTTP
    receivers: their client; the Alertmanager receiver: its re-sending) are
    started by :meth:`start` and closed by :meth:`stop`.
    """

    def __init__(
        self,
        receivers: Mapping[str, Receiver],
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        queue_size: int = 1000,
        on_result: Callable[[str, str, int], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must not be negative")
        self.receivers = dict(receivers)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.queue_size = queue_size
        self.on_result = on_result
        self._rng = rng or random.Random()
        self._queues: dict[str, deque[Notification]] = {name: deque() for name in self.receivers}
        self._wakeups: dict[str, asyncio.Event] = {name: asyncio.Event() for name in self.receivers}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started = False
        self._stopping = False
        self._stopped = False

    def pending(self, receiver: str) -> int:
        """How many notifications wait in ``receiver``'s queue (not counting one being delivered)."""
        return len(self._queues[receiver])

    def submit(self, notification: Notification) -> None:
        """Queue a notification for its receiver; never blocks, drops the oldest when full."""
        name = notification.receiver
        queue = self._queues.get(name)
        if queue is None:
            log.error("no receiver named %s: dropping notification %s", name, notification.group_key)
            self._report(name, "dropped", 0)
            return
        if self._stopping:
            log.warning("receiver %s: deliveries are stopping, dropping notification %s", name, notification.group_key)
            self._report(name, "dropped", 0)
            return
        if len(queue) >= self.queue_size:
            oldest = queue.popleft()
            log.warning(
                "receiver %s: queue full (%d), dropping its oldest notification %s", name, self.queue_size, oldest.group_key
            )
            self._report(name, "dropped", 0)
        queue.append(notification)
        self._wakeups[name].set()

    async def start(self) -> None:
        """Start the receivers that need starting and one delivery task per receiver."""
        if self._started:
            return
        self._started = True
        for name, receiver in self.receivers.items():
            if isinstance(receiver, _Managed):
                await receiver.start()
            self._tasks[name] = asyncio.create_task(self._run(name), name=f"deliveries-{name}")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Deliver what can be delivered within ``timeout_s``, drop the rest, close the receivers."""
        if self._stopped:
            return
        self._stopping = True
        for wakeup in self._wakeups.values():
            wakeup.set()
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for name, queue in self._queues.items():
            if queue:
                log.warning("receiver %s: stopping with %d undelivered notifications", name, len(queue))
            while queue:
                queue.popleft()
                self._report(name, "dropped", 0)
        for name, receiver in self.receivers.items():
            if isinstance(receiver, _Managed):
                try:
                    await receiver.aclose()
                except Exception:
                    log.exception("receiver %s: error while closing", name)
        self._stopped = True

    async def _run(self, name: str) -> None:
        queue, wakeup = self._queues[name], self._wakeups[name]
        while True:
            if not queue:
                if self._stopping:
                    return
                wakeup.clear()
                await wakeup.wait()
                continue
            notification = queue.popleft()
            await self._deliver(name, notification)

    async def _deliver(self, name: str, notification: Notification) -> None:
        receiver = self.receivers[name]
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    await receiver.deliver(notification)
                except NotifyError as exc:
                    if not exc.recoverable or attempts >= self.max_attempts:
                        log.warning(
                            "receiver %s: notification %s failed after %d attempt(s): %s",
                            name,
                            notification.group_key,
                            attempts,
                            exc,
                        )
                        self._report(name, "failed", attempts)
                        return
                    delay = self._backoff(attempts)
                    log.info("receiver %s: attempt %d failed (%s); retrying in %.2f s", name, attempts, exc, delay)
                    await asyncio.sleep(delay)
                except Exception:
                    log.exception("receiver %s: unexpected error delivering %s", name, notification.group_key)
                    self._report(name, "failed", attempts)
                    return
                else:
                    self._report(name, "delivered", attempts)
                    return
        except asyncio.CancelledError:
            self._report(name, "dropped", attempts)
            raise

    def _backoff(self, attempt: int) -> float:
        delay: float = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return delay - self._rng.uniform(0, delay / 2)

    def _report(self, receiver: str, outcome: Outcome, attempts: int) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(receiver, outcome, attempts)
        except Exception:
            log.exception("on_result failed for receiver %s", receiver)
