"""Full reports: which windows get Evidently's report with its plots.

Deciding a window takes milliseconds; Evidently's report of it, plots included,
takes 1 to 2 s and about 1.3 MB (20 columns). Every window keeps its scores where the Evidently
UI plots them over time, but the full report is built only where people look:

- a window whose observations changed an alert (it fired, escalated or
  resolved): the alert points to that window's snapshot, and whoever follows
  it lands on the report that explains it;
- one window per model (or segment) per ``interval_s`` of event time: the
  window that spans a multiple of the interval, so a person browsing the
  workspace finds a recent full report of every model whether or not anything
  happened, and a replay of the same input picks the same windows.

:class:`FullReportPolicy` is the rule; it keeps no state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

__all__ = ["FullReportPolicy"]


@dataclass(frozen=True)
class FullReportPolicy:
    """Which windows get a full report.

    Parameters
    ----------
    interval_s
        Seconds of event time between the routine full reports of one model
        (or segment); None builds them only for windows that change an alert.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> policy = FullReportPolicy(interval_s=3600)
    >>> t0 = datetime(2026, 1, 1, 9, 0, 10, tzinfo=timezone.utc)
    >>> windows = [(t0 + timedelta(minutes=20 * i), t0 + timedelta(minutes=20 * i + 20, seconds=-1)) for i in range(6)]
    >>> [policy.wants(start, end, alert_changes=0) for start, end in windows]
    [False, False, True, False, False, True]
    >>> policy.wants(*windows[0], alert_changes=1)
    True
    """

    interval_s: float | None = 3600.0

    def __post_init__(self) -> None:
        if self.interval_s is not None and not (math.isfinite(self.interval_s) and self.interval_s > 0):
            raise ValueError(f"interval_s must be a positive number of seconds or None, got {self.interval_s!r}")

    def wants(self, start: datetime, end: datetime, *, alert_changes: int) -> bool:
        """Whether the window from ``start`` to ``end`` (event times) gets a full report.

        ``alert_changes`` counts the alerts whose state the window's observations changed.
        """
        if alert_changes:
            return True
        return self.spans_interval(start, end)

    def spans_interval(self, start: datetime, end: datetime) -> bool:
        """Whether a multiple of the interval (since the epoch) falls in ``(start, end]``.

        A busy key's windows follow each other closely, so nearly every multiple
        falls in one of them; one that falls in a gap between two windows (no
        event for a while) is passed over, and the next one counts.
        """
        if self.interval_s is None:
            return False
        return math.floor(end.timestamp() / self.interval_s) > math.floor(start.timestamp() / self.interval_s)
