"""Alerts and the observations they come from.

An :class:`Observation` is what one window says about one condition (one
feature's drift, one model's prediction drift…): its identifying labels, a
value oriented so that higher is worse, and the warning and critical
thresholds for it. The alert lifecycle turns observations into
:class:`Alert` state changes; the alert's identity is the fingerprint of its
labels, the same hash Alertmanager uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from monitors.alerting.fingerprint import fingerprint

__all__ = ["Alert", "AlertStatus", "Observation"]

AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Observation:
    """One window's value for one condition.

    ``labels`` identify the condition (without ``severity``, which the
    lifecycle adds); ``value`` is oriented so that higher is worse (e.g.
    ``-log10(p)`` for a p-value test); the condition is at ``warning`` from
    ``warning_at`` and at ``critical`` from ``critical_at`` (None: never
    critical). ``annotations`` describe it for people. ``for_windows``, when
    set, is how many consecutive observations this condition needs before it
    fires, whatever the lifecycle's default (an event detector that has
    already weighed its evidence needs one).

    Examples
    --------
    >>> obs = Observation({"model": "churn", "kind": "data_drift", "feature": "age"}, 7.2, 3.0, 6.0)
    >>> obs.level(previous=None, hysteresis=0.1)
    'critical'
    """

    labels: Mapping[str, str]
    value: float
    warning_at: float
    critical_at: float | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    for_windows: int | None = None  # this condition's own count of observations before it fires

    def level(self, previous: str | None, hysteresis: float) -> str | None:
        """The severity this value reaches, or None.

        A level once reached holds until the value falls below its threshold by
        ``hysteresis`` (a fraction of the threshold), so a value hovering at a
        threshold does not flap.
        """
        levels: list[tuple[str, float]] = [("warning", self.warning_at)]
        if self.critical_at is not None:
            levels.append(("critical", self.critical_at))
        reached = None
        for name, threshold in levels:
            holding = previous is not None and _rank(previous) >= _rank(name)
            bar = threshold - hysteresis * abs(threshold) if holding else threshold
            if self.value >= bar:
                reached = name
        return reached


def _rank(severity: str) -> int:
    return {"warning": 1, "critical": 2}.get(severity, 0)


@dataclass(frozen=True)
class Alert:
    """One alert's state: firing from ``starts_at``, resolved at ``ends_at``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> alert = Alert({"model": "churn", "kind": "data_drift", "severity": "warning"}, {}, t)
    >>> alert.status, len(alert.fingerprint)
    ('firing', 16)
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """The Prometheus fingerprint of the labels: this alert's identity."""
        return fingerprint(self.labels)

    @property
    def status(self) -> AlertStatus:
        """``resolved`` once it has an end, else ``firing``."""
        return "firing" if self.ends_at is None else "resolved"
