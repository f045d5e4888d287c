"""The Alertmanager receiver: alerts posted to a Prometheus Alertmanager, and kept alive there.

Alertmanager and the re-sending of firing alerts
------------------------------------------------
Alertmanager expects its clients to re-send every alert that is still firing
(every 30 s to 3 min): a firing alert has an ``endsAt`` in the future, given by
the client or set by Alertmanager to ``resolve_timeout`` (default 5 min) after
it was last received, and it resolves by itself once that time passes. The
dispatcher only notifies again after ``repeat_interval`` (hours), so
:class:`AlertmanagerReceiver` does what Prometheus does: it keeps the alerts
that it delivered as firing, re-posts them every ``resend_interval_s`` (60 s)
while they fire, and gives each firing alert an explicit
``endsAt = now + 4 × resend_interval_s``, independent of the Alertmanager's
``resolve_timeout``. If the worker stops, its alerts resolve in Alertmanager
within that time. A resolved alert is posted with ``endsAt`` = its resolve
time, which Alertmanager treats as resolved at once (it no longer lists it in
``GET /api/v2/alerts``) and stops re-posting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from monitors.alerting.alerts import Alert
from streams.alerting.receivers.base import Notification
from streams.alerting.receivers.http_post import HttpPoster, protect, reveal
from streams.alerting.receivers.payloads import postable_alerts
from streams.errors import NotifyError

__all__ = ["AlertmanagerReceiver"]

log = logging.getLogger(__name__)

_ALERTMANAGER_BATCH = 500  # alerts per POST when many fire at once


class AlertmanagerReceiver:
    """Posts alerts to a Prometheus Alertmanager (``POST {url}/api/v2/alerts``) and keeps them alive.

    Firing alerts are posted with ``endsAt = now + 4 × resend_interval_s`` and,
    once :meth:`start` ran, re-posted every ``resend_interval_s`` until a
    notification resolves them (Alertmanager resolves an alert that is not
    re-sent before its ``endsAt``). At most ``max_firing`` alerts are kept for
    re-posting; beyond that the oldest are let go (they resolve in
    Alertmanager at their ``endsAt``). Resolved alerts are posted with their
    resolve time as ``endsAt``.
    """

    def __init__(
        self,
        name: str,
        url: str | SecretStr,
        *,
        timeout_s: float = 10.0,
        resend_interval_s: float = 60.0,
        max_firing: int = 10_000,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if resend_interval_s <= 0:
            raise ValueError(f"resend_interval_s must be positive, got {resend_interval_s}")
        self.name = name
        self.url = SecretStr(reveal(url).rstrip("/"))
        self.timeout_s = timeout_s
        self.resend_interval_s = resend_interval_s
        self.max_firing = max_firing
        protect(self.url.get_secret_value())
        self._http = HttpPoster(name, timeout_s, client)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._firing: OrderedDict[str, Alert] = OrderedDict()
        # Posts are serialised: a re-post of an alert as firing must never overtake its resolve.
        self._lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None

    @property
    def firing(self) -> tuple[Alert, ...]:
        """The alerts this receiver keeps alive in Alertmanager."""
        return tuple(self._firing.values())

    async def deliver(self, notification: Notification) -> None:
        async with self._lock:
            await self._post(notification.alerts)
            for alert in notification.alerts:
                self._firing.pop(alert.fingerprint, None)
                if alert.ends_at is None:
                    self._firing[alert.fingerprint] = alert
            while len(self._firing) > self.max_firing:
                _, dropped = self._firing.popitem(last=False)
                log.warning(
                    "receiver %s: keeping at most %d firing alerts alive; letting %s expire",
                    self.name,
                    self.max_firing,
                    dropped.fingerprint,
                )

    def adopt(self, alerts: Iterable[Alert]) -> None:
        """Keep alive firing alerts delivered before a restart: re-posted from the next refresh on."""
        for alert in alerts:
            if alert.ends_at is None:
                self._firing[alert.fingerprint] = alert

    async def refresh(self) -> None:
        """Post every alert still firing again, pushing its ``endsAt`` forward."""
        async with self._lock:
            if self._firing:
                await self._post(tuple(self._firing.values()))

    async def _post(self, alerts: Sequence[Alert]) -> None:
        ends_at = self._clock() + timedelta(seconds=4 * self.resend_interval_s)
        for start in range(0, len(alerts), _ALERTMANAGER_BATCH):
            body = postable_alerts(alerts[start : start + _ALERTMANAGER_BATCH], ends_at)
            await self._http.post(self.url.get_secret_value() + "/api/v2/alerts", body, {})

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.resend_interval_s)
            try:
                await self.refresh()
            except NotifyError as exc:
                log.warning(
                    "receiver %s: re-sending firing alerts failed (next try in %g s): %s", self.name, self.resend_interval_s, exc
                )

    async def start(self) -> None:
        """Start re-posting firing alerts every ``resend_interval_s``."""
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever(), name=f"alertmanager-refresh-{self.name}")

    async def aclose(self) -> None:
        """Stop re-posting and close the HTTP client."""
        if self._refresher is not None:
            self._refresher.cancel()
            try:
                await self._refresher
            except asyncio.CancelledError:
                pass
            self._refresher = None
        await self._http.aclose()
