"""Dispatching alerts: aggregation groups, their timers, dedup and muting.

The :class:`Dispatcher` is the part of Alertmanager between the alerts and the
receivers. Every alert state change (firing or resolved, identified by its
fingerprint) goes to each route the routing tree picks for its labels and,
within a route, to the *aggregation group* of its ``group_by`` labels. A group
is a unit of notification: its alerts travel together to the route's receiver
in one :class:`Notification`.

Each group keeps a timer, evaluated by :meth:`Dispatcher.flush` (call it every
second or so)::

    created ──group_wait──► tick ──group_interval──► tick ──group_interval──► …

At each tick the group compares what it holds with what it last notified (the
notification log of Alertmanager's dedup stage) and sends a notification only
when the receiver would learn something:

* the first time, if anything fires;
* when an alert fires that the last notification did not list as firing;
* when an alert resolved since the last tick (unless nothing the receiver was
  told about is firing or resolving: a group that fired and resolved unseen
  sends nothing);
* when ``repeat_interval`` has passed since the last notification and
  something still fires.

Two notifications of a group are therefore at least ``group_interval`` apart,
and an unchanged group is repeated every ``repeat_interval`` (rounded up to a
tick). Resolved alerts leave the group at the tick that saw them; a group left
empty is deleted. A group re-created under the same key within
``group_interval`` of the deleted group's last notification waits for the end
of that interval, so a flapping alert cannot notify faster than a steady one.

Muting (silences, inhibition) is judged at each tick through a :class:`Muter`:
a muted alert is left out of the notification and of the comparison, and a
group whose alerts are all muted sends nothing. When the mute lifts, the alert
counts as new at the next tick.

:meth:`Dispatcher.snapshot` and :meth:`Dispatcher.restore` carry every group,
its alerts, timers and last notification through a JSON document, so a
restarted worker neither repeats a notification nor loses a pending resolve.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from monitors.alerting.alerts import Alert
from monitors.alerting.routing import Route

__all__ = ["Dispatcher", "Muter", "Notification"]

SNAPSHOT_VERSION = 1


class Muter(Protocol):
    """Whatever decides that an alert must not be notified now (silences, inhibition).

    ``firing`` holds the labels of every alert the dispatcher has firing, the
    sources an inhibition rule is judged against.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> class Maintenance:
    ...     def muted(self, labels, now, firing):
    ...         return labels.get("model") == "churn"
    >>> muter: Muter = Maintenance()
    >>> muter.muted({"model": "churn"}, datetime(2026, 1, 1, tzinfo=timezone.utc), [])
    True
    """

    def muted(self, labels: Mapping[str, str], now: datetime, firing: Sequence[Mapping[str, str]]) -> bool:
        """Whether an alert with ``labels`` is muted at ``now``."""
        ...


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _alert_order(alert: Alert) -> tuple[str, tuple[tuple[str, str], ...]]:
    return alert.status, _label_key(alert.labels)


@dataclass(frozen=True)
class Notification:
    """What one receiver is told about one aggregation group at one tick.

    ``alerts`` are the group's unmuted firing and resolved alerts at send time,
    firing first, each part sorted by labels.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> age = Alert({"model": "churn", "feature": "age"}, {}, t)
    >>> city = Alert({"model": "churn", "feature": "city"}, {}, t, ends_at=t)
    >>> n = Notification("team", '{}:{model="churn"}', {"model": "churn"}, (age, city))
    >>> n.status, len(n.firing), len(n.resolved), n.common_labels
    ('firing', 1, 1, {'model': 'churn'})
    """

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: tuple[Alert, ...]

    @property
    def status(self) -> Literal["firing", "resolved"]:
        """``firing`` if any alert of the notification fires, else ``resolved``."""
        return "firing" if self.firing else "resolved"

    @property
    def firing(self) -> tuple[Alert, ...]:
        """The firing alerts."""
        return tuple(alert for alert in self.alerts if alert.status == "firing")

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """The resolved alerts."""
        return tuple(alert for alert in self.alerts if alert.status == "resolved")

    @property
    def common_labels(self) -> dict[str, str]:
        """The labels every alert of the notification shares (Alertmanager's ``commonLabels``)."""
        if not self.alerts:
            return {}
        common = dict(self.alerts[0].labels)
        for alert in self.alerts[1:]:
            common = {name: value for name, value in common.items() if alert.labels.get(name) == value}
        return dict(sorted(common.items()))


@dataclass
class _Group:
    """One aggregation group: its alerts, its timer and its notification log entry."""

    route: Route
    key: str
    labels: dict[str, str]
    created_at: datetime
    next_flush_at: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    notified_at: datetime | None = None
    notified_firing: frozenset[str] = frozenset()


class Dispatcher:
    """Group alerts by route and labels, and decide when each group notifies its receiver.

    Parameters
    ----------
    route
        The resolved routing tree (:meth:`Route.build`); its timers and
        ``group_by`` define the groups.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from monitors.alerting.routing import RouteConfig
    >>> route = Route.build(RouteConfig(receiver="team", group_by=("model",), group_wait_s=30,
    ...                                 group_interval_s=300, repeat_interval_s=14400))
    >>> dispatcher = Dispatcher(route)
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> for i, feature in enumerate(["age", "city", "income"]):
    ...     labels = {"model": "churn", "kind": "data_drift", "feature": feature}
    ...     dispatcher.add(Alert(labels, {}, t0), t0 + timedelta(seconds=i))
    >>> dispatcher.flush(t0 + timedelta(seconds=29))
    []
    >>> [n] = dispatcher.flush(t0 + timedelta(seconds=30))
    >>> n.receiver, n.status, [a.labels["feature"] for a in n.alerts]
    ('team', 'firing', ['age', 'city', 'income'])
    >>> dispatcher.flush(t0 + timedelta(seconds=330))
    []
    """

    def __init__(self, route: Route) -> None:
        self.route = route
        self._order = {node.path: index for index, node in enumerate(_walk(route))}
        self._groups: dict[str, _Group] = {}
        # Deleted groups' keys -> the earliest time a re-created group may notify.
        self._not_before: dict[str, datetime] = {}

    def add(self, alert: Alert, now: datetime) -> None:
        """Take a state change of one alert: it fires, or it resolved.

        A firing alert joins (or updates, by fingerprint) a group on every route
        it matches, creating the group if needed. A resolved alert replaces the
        firing one of the same fingerprint; a resolve for an alert a group does
        not hold (already resolved and notified, or never seen) is ignored.
        ``starts_at`` tells an alert's episodes apart, so a replayed update is
        ignored when the group holds a later episode, and a firing update does
        not undo the resolve of its own episode.

        Raises
        ------
        ValueError
            When ``now`` is not a timezone-aware datetime.
        """
        _require_aware(now, "now")
        fingerprint = alert.fingerprint
        for route in self.route.match(alert.labels):
            key = route.group_key(alert.labels)
            group = self._groups.get(key)
            held = None if group is None else group.alerts.get(fingerprint)
            if held is not None and _outdated(alert, held):
                continue
            if alert.status == "resolved":
                if group is not None and fingerprint in group.alerts:
                    group.alerts[fingerprint] = alert
                continue
            if group is None:
                group = self._new_group(route, key, route.group_labels(alert.labels), now)
            group.alerts[fingerprint] = alert

    def flush(
        self, now: datetime, muter: Muter | None = None, firing: Sequence[Mapping[str, str]] | None = None
    ) -> list[Notification]:
        """Evaluate every group whose tick is due at ``now``; return the notifications to send.

        Notifications come in routing-tree order (depth first), then by group key.
        ``firing`` is what the muter's inhibition rules see firing: the labels of
        this dispatcher's firing alerts by default, or of more (the alerts of
        other dispatchers beside this one).

        Raises
        ------
        ValueError
            When ``now`` is not a timezone-aware datetime.
        """
        _require_aware(now, "now")
        for key in [key for key, until in self._not_before.items() if until <= now]:
            del self._not_before[key]
        due = sorted(
            (group for group in self._groups.values() if group.next_flush_at <= now),
            key=lambda group: (self._order[group.route.path], group.key),
        )
        if not due:
            return []
        if firing is None:
            firing = [alert.labels for alert in self.firing()] if muter is not None else []
        notifications = []
        for group in due:
            notification = self._tick(group, now, muter, firing)
            if notification is not None:
                notifications.append(notification)
        return notifications

    def firing(self) -> list[Alert]:
        """Every firing alert, once each (an alert may sit in several groups), sorted by labels."""
        alerts = {
            fingerprint: alert
            for group in self._groups.values()
            for fingerprint, alert in group.alerts.items()
            if alert.status == "firing"
        }
        return sorted(alerts.values(), key=lambda alert: _label_key(alert.labels))

    def snapshot(self) -> dict[str, Any]:
        """The dispatcher's state as a JSON-able dictionary, for :meth:`restore`.

        Examples
        --------
        >>> import json
        >>> from datetime import datetime, timezone
        >>> from monitors.alerting.routing import RouteConfig
        >>> route = Route.build(RouteConfig(receiver="team", group_wait_s=0,
        ...                                 group_interval_s=300, repeat_interval_s=14400))
        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> dispatcher = Dispatcher(route)
        >>> dispatcher.add(Alert({"model": "churn"}, {}, t0), t0)
        >>> len(dispatcher.flush(t0))
        1
        >>> restored = Dispatcher.restore(route, json.loads(json.dumps(dispatcher.snapshot())))
        >>> restored.flush(t0), len(restored.firing())
        ([], 1)
        """
        return {
            "version": SNAPSHOT_VERSION,
            "groups": [
                {
                    "route": group.route.path,
                    "key": group.key,
                    "labels": dict(group.labels),
                    "created_at": group.created_at.isoformat(),
                    "next_flush_at": group.next_flush_at.isoformat(),
                    "notified_at": None if group.notified_at is None else group.notified_at.isoformat(),
                    "notified_firing": sorted(group.notified_firing),
                    "alerts": [
                        _alert_to_dict(alert)
                        for alert in sorted(group.alerts.values(), key=lambda alert: _label_key(alert.labels))
                    ],
                }
                for group in sorted(self._groups.values(), key=lambda group: group.key)
            ],
            "not_before": {key: until.isoformat() for key, until in sorted(self._not_before.items())},
        }

    @classmethod
    def restore(cls, route: Route, state: Mapping[str, Any]) -> Dispatcher:
        """Rebuild a dispatcher from :meth:`snapshot`'s dictionary.

        Under the same routing tree every group comes back as it was. If the
        tree changed, each saved alert is routed again: groups that still exist
        keep their state, and alerts that land in a new group start it afresh
        (they are notified after ``group_wait``, to the new receiver).

        Raises
        ------
        ValueError
            When ``state`` is not a snapshot of this version.

        Examples
        --------
        >>> from monitors.alerting.routing import RouteConfig
        >>> route = Route.build(RouteConfig(receiver="team", group_wait_s=30,
        ...                                 group_interval_s=300, repeat_interval_s=14400))
        >>> Dispatcher.restore(route, {"version": 1, "groups": [], "not_before": {}}).firing()
        []
        """
        if not isinstance(state, Mapping) or state.get("version") != SNAPSHOT_VERSION:
            found = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"not a dispatcher snapshot of version {SNAPSHOT_VERSION} (version: {found!r})")
        dispatcher = cls(route)
        try:
            saved = {str(group["key"]): group for group in state["groups"]}
            for saved_key, data in saved.items():
                created_at = _parse_time(data["created_at"], "created_at")
                for alert in (_alert_from_dict(item) for item in data["alerts"]):
                    for node in route.match(alert.labels):
                        key = node.group_key(alert.labels)
                        if key in saved and key != saved_key:
                            continue  # that saved group restores its own alerts
                        group = dispatcher._groups.get(key)
                        if group is None:
                            if key == saved_key:
                                group = _group_from_dict(node, key, data)
                            else:
                                group = _Group(
                                    node,
                                    key,
                                    node.group_labels(alert.labels),
                                    created_at,
                                    created_at + timedelta(seconds=node.group_wait_s),
                                )
                            dispatcher._groups[key] = group
                        group.alerts[alert.fingerprint] = alert
            for key, until in dict(state["not_before"]).items():
                dispatcher._not_before[str(key)] = _parse_time(until, "not_before")
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"malformed dispatcher snapshot: {exc!r}") from exc
        return dispatcher

    def _new_group(self, route: Route, key: str, labels: dict[str, str], now: datetime) -> _Group:
        first = now + timedelta(seconds=route.group_wait_s)
        not_before = self._not_before.pop(key, None)
        if not_before is not None and not_before > first:
            first = not_before
        group = _Group(route, key, labels, now, first)
        self._groups[key] = group
        return group

    def _tick(
        self, group: _Group, now: datetime, muter: Muter | None, firing: Sequence[Mapping[str, str]]
    ) -> Notification | None:
        shown = [alert for alert in group.alerts.values() if muter is None or not muter.muted(alert.labels, now, firing)]
        shown_firing = frozenset(alert.fingerprint for alert in shown if alert.status == "firing")
        shown_resolved = any(alert.status == "resolved" for alert in shown)
        notification = None
        if shown and self._needs_update(group, shown_firing, shown_resolved, now):
            notification = Notification(
                receiver=group.route.receiver,
                group_key=group.key,
                group_labels=dict(group.labels),
                alerts=tuple(sorted(shown, key=_alert_order)),
            )
            group.notified_at = now
            group.notified_firing = shown_firing
        # A resolve is told once, or never if muted or unseen: either way it is done.
        for fingerprint in [fp for fp, alert in group.alerts.items() if alert.status == "resolved"]:
            del group.alerts[fingerprint]
        group.next_flush_at = now + timedelta(seconds=group.route.group_interval_s)
        if not group.alerts:
            del self._groups[group.key]
            if group.notified_at is not None:
                self._not_before[group.key] = group.notified_at + timedelta(seconds=group.route.group_interval_s)
        return notification

    @staticmethod
    def _needs_update(group: _Group, firing: frozenset[str], resolved: bool, now: datetime) -> bool:
        if group.notified_at is None:
            return bool(firing)  # a first notification needs something firing
        if not firing <= group.notified_firing:
            return True  # an alert fires that the receiver was not told about
        if not firing:
            return bool(group.notified_firing)  # all resolved: tell it if it knew of any
        if resolved:
            return True
        return now >= group.notified_at + timedelta(seconds=group.route.repeat_interval_s)


def _outdated(update: Alert, held: Alert) -> bool:
    """Whether ``update`` is older than the ``held`` state of the same alert."""
    if update.starts_at != held.starts_at:
        return update.starts_at < held.starts_at  # an earlier episode
    return update.status == "firing" and held.status == "resolved"  # a resolve is final


def _walk(route: Route) -> Iterator[Route]:
    yield route
    for child in route.routes:
        yield from _walk(child)


def _require_aware(value: object, name: str) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def _parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    _require_aware(parsed, name)
    return parsed


def _alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": None if alert.ends_at is None else alert.ends_at.isoformat(),
    }


def _alert_from_dict(data: Mapping[str, Any]) -> Alert:
    ends_at = data["ends_at"]
    return Alert(
        labels={str(name): str(value) for name, value in dict(data["labels"]).items()},
        annotations={str(name): str(value) for name, value in dict(data["annotations"]).items()},
        starts_at=_parse_time(data["starts_at"], "starts_at"),
        ends_at=None if ends_at is None else _parse_time(ends_at, "ends_at"),
    )


def _group_from_dict(route: Route, key: str, data: Mapping[str, Any]) -> _Group:
    notified_at = data["notified_at"]
    return _Group(
        route=route,
        key=key,
        labels={str(name): str(value) for name, value in dict(data["labels"]).items()},
        created_at=_parse_time(data["created_at"], "created_at"),
        next_flush_at=_parse_time(data["next_flush_at"], "next_flush_at"),
        notified_at=None if notified_at is None else _parse_time(notified_at, "notified_at"),
        notified_firing=frozenset(str(fp) for fp in data["notified_firing"]),
    )
