"""The per-model path of events to drift analysis: reference first, then windows.

:class:`DriftWatch` routes each model's events either into its reference (until
that is complete) or into its current window, and hands out a
:class:`WindowJob` for every window that closes. A job holds everything the
analysis needs, so it can run elsewhere (another process) while events keep
arriving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from monitors.reference import StreamReference
from monitors.windows import ClosedWindow, TumblingWindows

__all__ = ["DriftWatch", "WindowJob"]

Row = Mapping[str, Any]


Segment = tuple[str, str]


@dataclass(frozen=True)
class WindowJob:
    """A closed window of one model (or one segment of it) and the reference to compare it with."""

    model: str
    window: ClosedWindow
    reference: tuple[Row, ...]
    segment: Segment | None = None


class DriftWatch:
    """Route events per model into a reference and then into windows.

    Parameters
    ----------
    window_size
        Events per window.
    window_duration_s
        Seconds of event time per window at most.
    reference_size
        Events of each model taken as its reference, when no fixed one is given.
    reference
        Rows to compare every model's windows with instead.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> watch = DriftWatch(window_size=2, window_duration_s=60, reference_size=3)
    >>> jobs = []
    >>> for i in range(7):
    ...     jobs += watch.add("churn", t0 + timedelta(seconds=i), {"x": i})
    >>> [(j.window.index, [r["x"] for r in j.window.rows], len(j.reference)) for j in jobs]
    [(0, [3, 4], 3), (1, [5, 6], 3)]
    >>> watch.add("churn", t0, {"x": 0}, segment=("country", "FR"))  # a segment starts its own reference
    []
    """

    def __init__(
        self,
        window_size: int,
        window_duration_s: float,
        reference_size: int,
        reference: Sequence[Row] | None = None,
    ) -> None:
        self.window_size = window_size
        self.window_duration_s = window_duration_s
        self.reference_size = reference_size
        self.reference = reference
        self._references = StreamReference(reference_size, fixed=reference)
        self._windows = TumblingWindows(window_size, window_duration_s)

    def add(self, model: str, event_time: datetime, row: Row, segment: Segment | None = None) -> list[WindowJob]:
        """Take one event of ``model`` (or of one ``(key, value)`` segment of it); return the jobs of the windows it closed.

        A segment has a reference and windows of its own.
        """
        key = (model, segment)
        if self._references.offer(key, row):
            return []
        return self._jobs(self._windows.add(key, event_time, row))

    def expire(self, now: datetime) -> list[WindowJob]:
        """Close the windows whose span has elapsed by event time ``now``."""
        return self._jobs(self._windows.expire(now))

    def flush(self) -> list[WindowJob]:
        """Close every open window, e.g. at the end of a replay."""
        return self._jobs(self._windows.flush())

    def window_index(self, model: str, segment: Segment | None = None) -> int | None:
        """Index of the window that took the latest event of ``model`` (or its segment); None while it fed the reference."""
        key = (model, segment)
        if not self._references.ready(key):
            return None
        return self._windows.last_index(key)

    def reference_ready(self, model: str, segment: Segment | None = None) -> bool:
        """Whether the reference of ``model`` (or of its ``segment``) is complete."""
        return self._references.ready((model, segment))

    def _jobs(self, closed: list[ClosedWindow]) -> list[WindowJob]:
        jobs = []
        for window in closed:
            model, segment = cast(tuple[str, Segment | None], window.key)
            jobs.append(WindowJob(model, window, self._references.rows(window.key), segment))
        return jobs
