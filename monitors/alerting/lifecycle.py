"""The alert lifecycle: from each window's verdict on a condition to alert state changes.

A *condition* (one feature's drift on one model, one model's accuracy…) is
identified by the fingerprint of its observation labels, which never include
``severity``. Every :class:`~monitors.alerting.alerts.Observation` is one window's
verdict on one condition; :class:`AlertLifecycle` turns a stream of them into
the changes of :class:`~monitors.alerting.alerts.Alert` state that receivers need to
hear about, and nothing else.

Levels
    An observation's level is ``obs.level(previous, hysteresis)``: ``"warning"``,
    ``"critical"`` or None (clear). ``previous`` is the level the condition holds:
    its severity while it fires, else the level of its previous observation
    (so hysteresis also carries a pending condition over a dip just under the
    threshold).
Pending (``for_windows``)
    An alert fires only after the condition has been at a level (warning or
    critical, in any mix) in ``for_windows`` *consecutive* observations. Until then
    it is pending; a clear observation resets the count and forgets the
    condition, so a condition flapping faster than ``for_windows`` never fires.
Firing
    The alert's labels are the observation labels plus ``severity`` (the level
    of the observation that made it fire); its ``starts_at`` is that call's
    ``now``. While it keeps firing at the same level, nothing is emitted, even if
    the annotations change (the stored alert takes the latest ones, so
    :meth:`AlertLifecycle.firing` shows them).
Severity switch
    When a firing condition is observed at the other level (warning to critical
    or back, hysteresis applied), the old alert is emitted resolved
    (``ends_at=now``) followed by the new-severity alert firing (``starts_at=now``),
    at once: no new pending period. The two alerts have different fingerprints.
Resolution (``keep_firing_for_windows``)
    A firing alert resolves only after ``keep_firing_for_windows`` *consecutive*
    clear observations; an observation at a level in between restarts the count.
    It is then emitted with ``ends_at=now`` and the condition is forgotten.

Every emitted alert carries the annotations of the observation that caused it,
each cut to ``MAX_ANNOTATION_CHARS`` characters (with a count of those left
out): alerts, their notifications and the lifecycle's own snapshot must fit in
a Kafka message whatever text an observation quotes.
:meth:`AlertLifecycle.observe` returns the changes of one call ordered by
condition fingerprint, and for one condition in the order of its observations
(a severity switch: resolved, then firing). Conditions not observed in a call
keep their state. Memory holds only pending and firing conditions; the state
is a JSON-able snapshot for a compacted topic, restored with
:meth:`AlertLifecycle.restore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitors.alerting.alerts import Alert, Observation
from monitors.alerting.fingerprint import fingerprint
from monitors.alerting.quoting import clip

__all__ = ["MAX_ANNOTATION_CHARS", "AlertLifecycle"]

MAX_ANNOTATION_CHARS = 1000

SNAPSHOT_VERSION = 1
_LEVELS = ("warning", "critical")


@dataclass
class _Condition:
    """What the lifecycle remembers of one pending or firing condition."""

    labels: dict[str, str]
    level: str | None = None  # the level of the latest observation
    active_streak: int = 0  # consecutive observations at a level, while pending
    clear_streak: int = 0  # consecutive clear observations, while firing
    alert: Alert | None = None  # the firing alert
    annotations: dict[str, str] = field(default_factory=dict)


class AlertLifecycle:
    """Turn per-window observations of conditions into alert state changes.

    Parameters
    ----------
    for_windows
        Consecutive observations at a level before an alert fires (at least 1).
    critical_for_windows
        Consecutive observations before an alert fires when the latest is
        critical (None: ``for_windows``). Set to 1, strong evidence pages at once
        while a warning must hold: a stationary stream's chance warnings rarely
        repeat on the same condition, a real drift far past its threshold does.
        An observation's own ``for_windows`` wins over both.
    keep_firing_for_windows
        Consecutive clear observations before a firing alert resolves (at least 1).
    hysteresis
        Fraction of a threshold by which a value must fall below it to leave a
        level it holds (``0 <= hysteresis < 1``); see
        :meth:`monitors.alerting.alerts.Observation.level`.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from monitors.alerting.alerts import Observation
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=2)
    >>> labels = {"model": "churn", "kind": "data_drift", "feature": "age"}
    >>> changes = []
    >>> for i, value in enumerate([4.0, 4.2, 3.9, 1.0, 3.5, 1.0, 1.0]):
    ...     for alert in lifecycle.observe([Observation(labels, value, 3.0, 6.0)], t0 + timedelta(minutes=i)):
    ...         changes.append((i, alert.labels["severity"], alert.status))
    >>> changes
    [(1, 'warning', 'firing'), (6, 'warning', 'resolved')]
    >>> lifecycle.firing()
    []

    With ``critical_for_windows=1`` a critical value fires at once:

    >>> strict = AlertLifecycle(for_windows=2, critical_for_windows=1)
    >>> [a.labels["severity"] for a in strict.observe([Observation(labels, 7.0, 3.0, 6.0)], t0)]
    ['critical']
    """

    def __init__(
        self,
        for_windows: int = 1,
        keep_firing_for_windows: int = 1,
        hysteresis: float = 0.1,
        critical_for_windows: int | None = None,
    ) -> None:
        if isinstance(for_windows, bool) or not isinstance(for_windows, int) or for_windows < 1:
            raise ValueError(f"for_windows must be an integer >= 1, got {for_windows!r}")
        if critical_for_windows is not None and (
            isinstance(critical_for_windows, bool) or not isinstance(critical_for_windows, int) or critical_for_windows < 1
        ):
            raise ValueError(f"critical_for_windows must be an integer >= 1 or None, got {critical_for_windows!r}")
        if (
            isinstance(keep_firing_for_windows, bool)
            or not isinstance(keep_firing_for_windows, int)
            or keep_firing_for_windows < 1
        ):
            raise ValueError(f"keep_firing_for_windows must be an integer >= 1, got {keep_firing_for_windows!r}")
        if isinstance(hysteresis, bool) or not isinstance(hysteresis, (int, float)) or not 0 <= hysteresis < 1:
            raise ValueError(f"hysteresis must be a number with 0 <= hysteresis < 1, got {hysteresis!r}")
        self.for_windows = for_windows
        self.critical_for_windows = critical_for_windows
        self.keep_firing_for_windows = keep_firing_for_windows
        self.hysteresis = float(hysteresis)
        self._conditions: dict[str, _Condition] = {}

    def observe(self, observations: Iterable[Observation], now: datetime) -> list[Alert]:
        """Take one window's observations at ``now`` and return the alert state changes.

        Returns the alerts that start firing, resolve or switch severity (see
        the module docstring), ordered by condition fingerprint.

        Raises
        ------
        ValueError
            When ``now`` is naive or an observation's labels include
            ``severity``; nothing is changed then.
        """
        if not isinstance(now, datetime):
            raise TypeError(f"now must be a datetime, got {type(now).__name__}")
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
        keyed: list[tuple[str, Observation]] = []
        for obs in observations:
            if "severity" in obs.labels:
                raise ValueError(f"observation labels must not include severity (the lifecycle adds it): {obs.labels}")
            keyed.append((fingerprint(obs.labels), obs))
        keyed.sort(key=lambda pair: pair[0])  # stable: one condition's observations stay in order
        changes: list[Alert] = []
        for key, obs in keyed:
            changes += self._step(key, obs, now)
        return changes

    def _step(self, key: str, obs: Observation, now: datetime) -> list[Alert]:
        state = self._conditions.get(key)
        previous: str | None = None
        if state is not None:
            previous = state.alert.labels["severity"] if state.alert is not None else state.level
        level = obs.level(previous, self.hysteresis)
        annotations = {name: clip(text, MAX_ANNOTATION_CHARS) for name, text in obs.annotations.items()}
        if state is None:
            if level is None:
                return []
            state = self._conditions[key] = _Condition(labels=dict(obs.labels))
        state.level = level
        state.annotations = annotations

        if state.alert is None:  # pending
            if level is None:
                del self._conditions[key]
                return []
            state.active_streak += 1
            if state.active_streak < self._needed(obs, level):
                return []
            state.active_streak = 0
            state.alert = Alert({**state.labels, "severity": level}, annotations, now)
            return [state.alert]

        firing = state.alert
        if level is None:
            state.clear_streak += 1
            if state.clear_streak < self.keep_firing_for_windows:
                state.alert = replace(firing, annotations=annotations)
                return []
            del self._conditions[key]
            return [replace(firing, annotations=annotations, ends_at=now)]

        state.clear_streak = 0
        if level == firing.labels["severity"]:
            state.alert = replace(firing, annotations=annotations)
            return []
        state.alert = Alert({**state.labels, "severity": level}, annotations, now)
        return [replace(firing, annotations=annotations, ends_at=now), state.alert]

    def _needed(self, obs: Observation, level: str) -> int:
        if obs.for_windows is not None:
            return obs.for_windows
        if level == "critical" and self.critical_for_windows is not None:
            return self.critical_for_windows
        return self.for_windows

    def firing(self) -> list[Alert]:
        """The alerts firing now, by condition fingerprint."""
        return [s.alert for _, s in sorted(self._conditions.items()) if s.alert is not None]

    def snapshot(self) -> dict[str, Any]:
        """The state as a JSON-able dictionary, for :meth:`restore`.

        Examples
        --------
        >>> import json
        >>> from datetime import datetime, timezone
        >>> from monitors.alerting.alerts import Observation
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> lifecycle = AlertLifecycle(for_windows=1)
        >>> fired = lifecycle.observe([Observation({"model": "churn"}, 7.0, 3.0, 6.0)], t)
        >>> state = json.loads(json.dumps(lifecycle.snapshot()))
        >>> again = AlertLifecycle.restore(state, for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
        >>> again.firing() == fired
        True
        >>> again.observe([Observation({"model": "churn"}, 7.0, 3.0, 6.0)], t)
        []
        """
        conditions: dict[str, Any] = {}
        for key, state in sorted(self._conditions.items()):
            alert = state.alert
            conditions[key] = {
                "labels": dict(state.labels),
                "level": state.level,
                "active_streak": state.active_streak,
                "clear_streak": state.clear_streak,
                "annotations": dict(state.annotations),
                "firing": None
                if alert is None
                else {"severity": alert.labels["severity"], "starts_at": alert.starts_at.isoformat()},
            }
        return {"version": SNAPSHOT_VERSION, "conditions": conditions}

    @classmethod
    def restore(
        cls,
        state: Mapping[str, Any],
        *,
        for_windows: int,
        keep_firing_for_windows: int,
        hysteresis: float,
    ) -> AlertLifecycle:
        """A lifecycle that continues from a :meth:`snapshot`.

        The settings are given again rather than read from the snapshot, so a
        restart may change them; a pending count then continues against the new
        ``for_windows``.

        Raises
        ------
        ValueError
            When ``state`` is not a snapshot of a known version.
        """
        lifecycle = cls(for_windows, keep_firing_for_windows, hysteresis)
        if not isinstance(state, Mapping) or state.get("version") != SNAPSHOT_VERSION:
            version = state.get("version") if isinstance(state, Mapping) else None
            raise ValueError(f"not an alert lifecycle snapshot of version {SNAPSHOT_VERSION} (version {version!r})")
        conditions = state.get("conditions")
        if not isinstance(conditions, Mapping):
            raise ValueError("snapshot lacks its conditions")
        for key, item in conditions.items():
            try:
                condition = _restore_condition(item)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"snapshot condition {key}: {exc!r}") from exc
            if fingerprint(condition.labels) != key:
                raise ValueError(f"snapshot condition {key}: its labels have fingerprint {fingerprint(condition.labels)}")
            lifecycle._conditions[key] = condition
        return lifecycle


def _restore_condition(item: Mapping[str, Any]) -> _Condition:
    labels = {str(k): str(v) for k, v in item["labels"].items()}
    annotations = {str(k): str(v) for k, v in item["annotations"].items()}
    level = item["level"]
    if level is not None and level not in _LEVELS:
        raise ValueError(f"unknown level {level!r}")
    alert = None
    if item["firing"] is not None:
        severity = item["firing"]["severity"]
        if severity not in _LEVELS:
            raise ValueError(f"unknown severity {severity!r}")
        starts_at = datetime.fromisoformat(item["firing"]["starts_at"])
        if starts_at.tzinfo is None:
            raise ValueError("starts_at is naive")
        alert = Alert({**labels, "severity": severity}, annotations, starts_at)
    return _Condition(
        labels=labels,
        level=level,
        active_streak=int(item["active_streak"]),
        clear_streak=int(item["clear_streak"]),
        alert=alert,
        annotations=annotations,
    )
