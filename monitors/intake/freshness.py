"""Freshness: a model that stops sending events is a problem of its own, not an absence of drift.

Each model seen is watched; :meth:`Freshness.observe` yields one ``no_data``
observation per model, whose value is the seconds since its last event: at
warning past ``max_silence_s`` and critical past ``critical_factor`` times
that. The alert lifecycle turns these into an alert that fires while the
model is silent and resolves when its events come back.
"""

from __future__ import annotations

from datetime import datetime

from monitors.alerting.alerts import Observation

__all__ = ["Freshness"]


class Freshness:
    """Watch the time since each model's last event.

    Parameters
    ----------
    max_silence_s
        Seconds without an event after which a model is at warning.
    critical_factor
        How many times ``max_silence_s`` makes it critical.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> freshness = Freshness(max_silence_s=60)
    >>> freshness.seen("churn", t0)
    >>> [(o.labels["model"], o.value, o.level(None, 0.0)) for o in freshness.observe(t0 + timedelta(seconds=90))]
    [('churn', 90.0, 'warning')]
    >>> freshness.seen("churn", t0 + timedelta(seconds=95))
    >>> [o.level(None, 0.0) for o in freshness.observe(t0 + timedelta(seconds=100))]
    [None]
    """

    def __init__(self, max_silence_s: float, critical_factor: float = 4.0) -> None:
        if max_silence_s <= 0:
            raise ValueError(f"max_silence_s must be positive, got {max_silence_s}")
        if critical_factor <= 1:
            raise ValueError(f"critical_factor must be above 1, got {critical_factor}")
        self.max_silence_s = max_silence_s
        self.critical_factor = critical_factor
        self._last_seen: dict[str, datetime] = {}

    def seen(self, model: str, now: datetime) -> None:
        """Record that ``model`` sent an event at ``now``."""
        self._last_seen[model] = now

    def observe(self, now: datetime) -> list[Observation]:
        """One ``no_data`` observation per model seen so far, in model order."""
        return [self._observation(model, (now - last).total_seconds()) for model, last in sorted(self._last_seen.items())]

    def _observation(self, model: str, silent_s: float) -> Observation:
        return Observation(
            labels={"model": model, "kind": "no_data", "feature": "*"},
            value=silent_s,
            warning_at=self.max_silence_s,
            critical_at=self.max_silence_s * self.critical_factor,
            annotations={
                "summary": f"{model}: no events for {silent_s:.0f} s (limit {self.max_silence_s:.0f} s)",
                "value": f"{silent_s:.0f}",
                "threshold": f"{self.max_silence_s:.0f}",
            },
        )
