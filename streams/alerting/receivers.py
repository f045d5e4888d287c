"""Receivers: where alert notifications are delivered.

The dispatcher groups alerts into notifications, each for one named receiver.
A receiver turns a notification into a message for one destination::

    Receiver                 name, async deliver(notification); raises NotifyError
     ├── KafkaReceiver        Alertmanager webhook JSON to a topic, keyed by group key
     ├── WebhookReceiver      an HTTP POST: Alertmanager webhook JSON, or a Slack message
     └── AlertmanagerReceiver the alerts themselves to a Prometheus Alertmanager (API v2)

:class:`Deliveries` runs them: one bounded queue and one task per receiver, so
a slow or failing receiver delays nobody else; recoverable failures
(``NotifyError.recoverable``: HTTP 5xx and 429, connection errors, timeouts)
are retried with capped exponential backoff and jitter, the others fail at once.

URLs and headers of HTTP receivers are secrets (a Slack webhook URL is a
credential): they are held as ``SecretStr``, never logged, and redacted from
httpx's own request log. Logs name the receiver instead. A config file refers
to them as ``${NAME}``, environment variables (see :mod:`streams.settings`).

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
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from monitors.alerting.alerts import Alert
from streams.codec import record_bytes
from streams.errors import ConfigError, MessageTooLargeError, NotifyError

__all__ = [
    "AlertmanagerReceiver",
    "AlertmanagerReceiverConfig",
    "Deliveries",
    "KafkaReceiver",
    "KafkaReceiverConfig",
    "Notification",
    "Receiver",
    "ReceiverConfig",
    "Send",
    "WebhookReceiver",
    "WebhookReceiverConfig",
    "alertmanager_payload",
    "build_receivers",
    "postable_alerts",
    "slack_payload",
]

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""Sends one Kafka record: ``await send(topic, key, value)``; the worker provides it."""

Outcome = Literal["delivered", "failed", "dropped"]

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: how Alertmanager writes "no end yet"
_GENERATOR_URL_ANNOTATION = "generator_url"
_SLACK_MAX_LINES = 10
_SLACK_MAX_SECTION = 3000
_SLACK_MAX_HEADER = 150
_ALERTMANAGER_BATCH = 500  # alerts per POST when many fire at once


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


@runtime_checkable
class _Managed(Protocol):
    """A receiver with resources or background work: started and closed by :class:`Deliveries`."""

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...


# --- payloads -----------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds."""
    moment = _utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _common(mappings: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The pairs present, with the same value, in every mapping."""
    common: dict[str, str] | None = None
    for mapping in mappings:
        if common is None:
            common = dict(mapping)
        else:
            common = {k: v for k, v in common.items() if mapping.get(k) == v}
    return dict(sorted((common or {}).items()))


def _generator_url(alert: Alert) -> str:
    return alert.annotations.get(_GENERATOR_URL_ANNOTATION, "")


def alertmanager_payload(notification: Notification, external_url: str = "", max_alerts: int | None = None) -> dict[str, Any]:
    """The notification in the shape of Alertmanager's webhook payload (version 4).

    Firing alerts have ``endsAt`` set to Go's zero time, as Alertmanager sends
    them; ``generatorURL`` comes from the ``generator_url`` annotation. With
    ``max_alerts``, the alerts after the first ``max_alerts`` are left out and
    counted in ``truncatedAlerts``, as Alertmanager's own ``max_alerts`` does
    (the common labels and annotations are still those of every alert).

    Examples
    --------
    >>> from monitors.alerting.dispatch import Notification
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> alert = Alert({"model": "churn", "feature": "age"}, {"summary": "age drifted"}, t)
    >>> payload = alertmanager_payload(Notification("team", '{}:{model="churn"}', {"model": "churn"}, (alert,)))
    >>> payload["status"], payload["commonLabels"], payload["alerts"][0]["endsAt"]
    ('firing', {'feature': 'age', 'model': 'churn'}, '0001-01-01T00:00:00Z')
    """
    alerts = notification.alerts
    kept = alerts if max_alerts is None else alerts[: max(0, max_alerts)]
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": _common(a.labels for a in alerts),
        "commonAnnotations": _common(a.annotations for a in alerts),
        "externalURL": external_url,
        "alerts": [
            {
                "status": alert.status,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": _timestamp(alert.starts_at),
                "endsAt": _timestamp(alert.ends_at) if alert.ends_at is not None else _ZERO_TIME,
                "generatorURL": _generator_url(alert),
                "fingerprint": alert.fingerprint,
            }
            for alert in kept
        ],
    }


def _fitting_payload(notification: Notification, external_url: str, key: bytes, limit: int) -> tuple[bytes, int] | None:
    """The notification's payload with as many of its alerts as fit in a record of ``limit`` bytes, and how many.

    None when even the payload without alerts does not fit.
    """

    def value(kept: int) -> bytes:
        return orjson.dumps(alertmanager_payload(notification, external_url, max_alerts=kept))

    if record_bytes(key, value(0)) > limit:
        return None
    low, high = 0, len(notification.alerts)  # value(low) fits; find the most that do
    while low < high:
        middle = (low + high + 1) // 2
        if record_bytes(key, value(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return value(low), low


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(alert: Alert) -> str:
    summary = alert.annotations.get("summary")
    if summary:
        return summary
    return ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))


def _slack_section(title: str, alerts: Sequence[Alert], when: Callable[[Alert], str]) -> dict[str, Any]:
    lines = [f"*{title} ({len(alerts)})*"]
    for alert in alerts[:_SLACK_MAX_LINES]:
        severity = alert.labels.get("severity")
        prefix = f"[{severity}] " if severity else ""
        lines.append(f"• {_slack_escape(prefix + _describe(alert))} — {when(alert)}")
    if len(alerts) > _SLACK_MAX_LINES:
        lines.append(f"… and {len(alerts) - _SLACK_MAX_LINES} more")
    text = "\n".join(lines)
    if len(text) > _SLACK_MAX_SECTION:
        text = text[: _SLACK_MAX_SECTION - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def slack_payload(notification: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: a title, then the firing and the resolved alerts.

    ``text`` is the title (Slack shows it in notifications); ``blocks`` hold a
    line per alert (its ``summary`` annotation, else its labels), at most ten
    per section.

    Examples
    --------
    >>> from monitors.alerting.dispatch import Notification
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> alert = Alert({"model": "churn", "severity": "critical"}, {"summary": "age drifted"}, t)
    >>> message = slack_payload(Notification("team", '{}:{model="churn"}', {"model": "churn"}, (alert,)))
    >>> message["text"]
    '[FIRING:1] model=churn'
    >>> print(message["blocks"][1]["text"]["text"])
    *Firing (1)*
    • [critical] age drifted — since 2026-01-01 00:00 UTC
    """
    firing, resolved = notification.firing, notification.resolved
    labels = " ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items())) or notification.group_key
    count = f":{len(firing)}" if firing else ""
    title = f"[{notification.status.upper()}{count}] {labels}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:_SLACK_MAX_HEADER]}}]
    if firing:
        blocks.append(_slack_section("Firing", firing, lambda a: f"since {_utc(a.starts_at):%Y-%m-%d %H:%M} UTC"))
    if resolved:
        blocks.append(
            _slack_section("Resolved", resolved, lambda a: f"resolved {_utc(a.ends_at or a.starts_at):%Y-%m-%d %H:%M} UTC")
        )
    return {"text": title, "blocks": blocks}


def postable_alerts(alerts: Iterable[Alert], firing_ends_at: datetime) -> list[dict[str, Any]]:
    """Alerts as Alertmanager's API v2 ``postableAlerts``.

    A resolved alert ends at its resolve time; a firing one at ``firing_ends_at``
    (a time in the future: it resolves by itself then unless posted again).

    Examples
    --------
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> postable_alerts([Alert({"model": "churn"}, {}, t, t + timedelta(minutes=5))], t)
    [{'labels': {'model': 'churn'}, 'annotations': {}, 'startsAt': '2026-01-01T00:00:00.000Z', 'endsAt': '2026-01-01T00:05:00.000Z'}]
    """
    postable = []
    for alert in alerts:
        ends_at = alert.ends_at if alert.ends_at is not None else firing_ends_at
        item: dict[str, Any] = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": _timestamp(alert.starts_at),
            "endsAt": _timestamp(ends_at),
        }
        if generator_url := _generator_url(alert):
            item["generatorURL"] = generator_url
        postable.append(item)
    return postable


# --- secrets in logs ----------------------------------------------------------------


class _RedactSecrets(logging.Filter):
    """Replaces registered secrets in httpx's log records (it logs every request URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self.secrets.add(secret)
            self.secrets.add(str(httpx.URL(secret)))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<secret>")
        return text


_redactor = _RedactSecrets()


def _protect(*secrets: str) -> None:
    """Keep ``secrets`` out of httpx's request log."""
    httpx_log = logging.getLogger("httpx")
    if _redactor not in httpx_log.filters:
        httpx_log.addFilter(_redactor)
    for secret in secrets:
        _redactor.add(secret)


# --- receivers ----------------------------------------------------------------------


class _HttpPoster:
    """POSTs JSON and maps failures to NotifyError, naming the receiver, never the URL."""

    def __init__(self, name: str, timeout_s: float, client: httpx.AsyncClient | None) -> None:
        self._name = name
        self._timeout_s = timeout_s
        self._owned = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout_s)

    async def post(self, url: str, body: Any, headers: Mapping[str, str]) -> None:
        try:
            response = await self._client.post(
                url,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json", **headers},
                timeout=self._timeout_s,
            )
        # Not chained (``from None``): httpx's exceptions carry the request and its URL,
        # and a logged traceback would show them.
        except httpx.TimeoutException as exc:
            raise NotifyError(
                f"receiver {self._name}: no answer within {self._timeout_s:g} s ({type(exc).__name__})",
                recoverable=True,
            ) from None
        except httpx.TransportError as exc:
            raise NotifyError(
                f"receiver {self._name}: {type(exc).__name__}: {_redactor.redact(str(exc))}", recoverable=True
            ) from None
        status = response.status_code
        if status < 300:
            return
        retry = status == 429 or status >= 500
        detail = _redactor.redact(response.text[:200].strip().replace("\n", " "))
        raise NotifyError(
            f"receiver {self._name}: HTTP {status} {response.reason_phrase}" + (f": {detail}" if detail else ""),
            recoverable=retry,
        )

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


def _reveal(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


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
            fitting = _fitting_payload(notification, self.external_url, key, exc.limit)
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


class WebhookReceiver:
    """POSTs each notification as JSON to a URL: Alertmanager's webhook payload or a Slack message.

    ``url`` and ``headers`` are secrets: they never appear in logs or errors.
    """

    def __init__(
        self,
        name: str,
        url: str | SecretStr,
        *,
        format: Literal["alertmanager", "slack"] = "alertmanager",
        headers: Mapping[str, str | SecretStr] | None = None,
        timeout_s: float = 10.0,
        external_url: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.url = SecretStr(_reveal(url))
        self.format = format
        self.headers = {k: SecretStr(_reveal(v)) for k, v in (headers or {}).items()}
        self.timeout_s = timeout_s
        self.external_url = external_url
        _protect(self.url.get_secret_value())
        self._http = _HttpPoster(name, timeout_s, client)

    async def deliver(self, notification: Notification) -> None:
        if self.format == "slack":
            body = slack_payload(notification)
        else:
            body = alertmanager_payload(notification, self.external_url)
        headers = {k: v.get_secret_value() for k, v in self.headers.items()}
        await self._http.post(self.url.get_secret_value(), body, headers)

    async def start(self) -> None:
        """Nothing to start; present so :class:`Deliveries` closes the HTTP client."""

    async def aclose(self) -> None:
        await self._http.aclose()


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
        self.url = SecretStr(_reveal(url).rstrip("/"))
        self.timeout_s = timeout_s
        self.resend_interval_s = resend_interval_s
        self.max_firing = max_firing
        _protect(self.url.get_secret_value())
        self._http = _HttpPoster(name, timeout_s, client)
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


# --- deliveries ---------------------------------------------------------------------


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


# --- configuration ------------------------------------------------------------------


class _Config(BaseModel):
    # hide_input_in_errors: a rejected URL or header is a secret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def _http_url(url: SecretStr) -> SecretStr:
    if not url.get_secret_value().startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return url


class KafkaReceiverConfig(_Config):
    """Notifications as Alertmanager webhook JSON to a topic."""

    topic: str = Field(min_length=1)


class WebhookReceiverConfig(_Config):
    """Notifications POSTed to a URL (a secret), as Alertmanager webhook JSON or a Slack message."""

    url: SecretStr
    format: Literal["alertmanager", "slack"] = "alertmanager"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0)

    _url = field_validator("url")(_http_url)


class AlertmanagerReceiverConfig(_Config):
    """Alerts posted to a Prometheus Alertmanager at ``url`` (its base URL, a secret)."""

    url: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)
    resend_interval_s: float = Field(default=60.0, gt=0)

    _url = field_validator("url")(_http_url)


class ReceiverConfig(_Config):
    """A named receiver: exactly one of ``kafka``, ``webhook`` or ``alertmanager``."""

    name: str = Field(min_length=1)
    kafka: KafkaReceiverConfig | None = None
    webhook: WebhookReceiverConfig | None = None
    alertmanager: AlertmanagerReceiverConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReceiverConfig:
        kinds = [k for k in ("kafka", "webhook", "alertmanager") if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"receiver {self.name!r}: set exactly one of kafka, webhook, alertmanager (got {got})")
        return self


def build_receivers(configs: Sequence[ReceiverConfig], send_kafka: Send | None, *, external_url: str = "") -> dict[str, Receiver]:
    """The configured receivers by name; Kafka receivers publish with ``send_kafka``."""
    receivers: dict[str, Receiver] = {}
    for config in configs:
        if config.name in receivers:
            raise ConfigError(f"receivers: duplicate name {config.name!r}")
        receiver: Receiver
        if config.kafka is not None:
            if send_kafka is None:
                raise ConfigError(f"receiver {config.name!r}: a Kafka receiver needs a producer")
            receiver = KafkaReceiver(config.name, config.kafka.topic, send_kafka, external_url=external_url)
        elif config.webhook is not None:
            hook = config.webhook
            receiver = WebhookReceiver(
                config.name,
                hook.url,
                format=hook.format,
                headers=hook.headers,
                timeout_s=hook.timeout_s,
                external_url=external_url,
            )
        elif config.alertmanager is not None:
            am = config.alertmanager
            receiver = AlertmanagerReceiver(config.name, am.url, timeout_s=am.timeout_s, resend_interval_s=am.resend_interval_s)
        else:  # pragma: no cover - the model validator forbids it
            raise ConfigError(f"receiver {config.name!r}: no destination")
        receivers[config.name] = receiver
    return receivers
