"""What receivers send: Alertmanager's webhook JSON, a Slack message, Alertmanager's API v2 alerts.

Pure functions of a notification (or of alerts); the receivers only encode and send them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from monitors.alerting.alerts import Alert
from streams.alerting.receivers.base import Notification
from streams.codec import record_bytes

__all__ = ["alertmanager_payload", "fitting_payload", "postable_alerts", "slack_payload"]

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: how Alertmanager writes "no end yet"
_GENERATOR_URL_ANNOTATION = "generator_url"
_SLACK_MAX_LINES = 10
_SLACK_MAX_SECTION = 3000
_SLACK_MAX_HEADER = 150


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


def fitting_payload(notification: Notification, external_url: str, key: bytes, limit: int) -> tuple[bytes, int] | None:
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
    >>> from datetime import timedelta
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
