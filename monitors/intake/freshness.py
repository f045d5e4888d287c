"""Freshness: a model that stops sending events is a problem of its own, not an absence of drift.

:class:`FreshnessMonitor` remembers when each model last sent an event;
:meth:`FreshnessMonitor.silences` gives the seconds since then, and
:class:`NoDataRule` turns a model's silence into its ``no_data`` observation:
at warning past ``max_silence_s`` and critical past ``critical_factor`` times
that. The alert lifecycle turns these into an alert that fires while the
model is silent and resolves when its events come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitors.alerting.alerts import Observation

__all__ = ["FreshnessMonitor", "NoDataRule"]


class FreshnessMonitor:
    """Watch the time since each model's last event.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> freshness = FreshnessMonitor()
    >>> freshness.update("churn", t0)
    >>> freshness.silences(t0 + timedelta(seconds=90))
    {'churn': 90.0}
    """

    def __init__(self) -> None:
        self._last_seen: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return f"FreshnessMonitor({len(self._last_seen)} models)"

    def __setstate__(self, saved: dict[str, Any]) -> None:
        # Checkpoints written when this class also held its thresholds (now NoDataRule's, from the settings).
        self._last_seen = saved["_last_seen"]

    def update(self, model: str, now: datetime) -> None:
        """Record that ``model`` sent an event at ``now``."""
        self._last_seen[model] = now

    def silences(self, now: datetime) -> dict[str, float]:
        """Seconds since each model seen so far sent its last event, in model order."""
        return {model: (now - last).total_seconds() for model, last in sorted(self._last_seen.items())}


class NoDataRule:
    """Turn a model's silence (seconds since its last event) into its ``no_data`` observation (a :class:`~monitors.alerting.rule.Rule`).

    Parameters
    ----------
    max_silence_s
        Seconds without an event after which a model is at warning.
    critical_factor
        How many times ``max_silence_s`` makes it critical.

    Examples
    --------
    >>> rule = NoDataRule(max_silence_s=60)
    >>> [(o.labels["kind"], o.value, o.level(None, 0.0)) for o in rule.evaluate("churn", 90.0)]
    [('no_data', 90.0, 'warning')]
    >>> [o.level(None, 0.0) for o in rule.evaluate("churn", 5.0)]
    [None]
    """

    def __init__(self, max_silence_s: float, critical_factor: float = 4.0) -> None:
        if not max_silence_s > 0:
            raise ValueError(f"max_silence_s must be positive, got {max_silence_s}")
        if not critical_factor > 1:
            raise ValueError(f"critical_factor must be above 1, got {critical_factor}")
        self.max_silence_s = max_silence_s
        self.critical_factor = critical_factor

    def __repr__(self) -> str:
        return f"NoDataRule(max_silence_s={self.max_silence_s!r}, critical_factor={self.critical_factor!r})"

    def evaluate(self, model: str, result: float, context: Mapping[str, str] | None = None) -> list[Observation]:
        """The model's one observation, its value the seconds of silence ``result``."""
        return [
            Observation(
                labels={"model": model, "kind": "no_data", "feature": "*"},
                value=result,
                warning_at=self.max_silence_s,
                critical_at=self.max_silence_s * self.critical_factor,
                annotations={
                    **(context or {}),
                    "summary": f"{model}: no events for {result:.0f} s (limit {self.max_silence_s:.0f} s)",
                    "value": f"{result:.0f}",
                    "threshold": f"{self.max_silence_s:.0f}",
                },
            )
        ]
