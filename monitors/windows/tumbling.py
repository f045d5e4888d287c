"""Tumbling windows of events, per key, closed by count or by event time.

A window opens at the event time of its first event and closes when it holds
``size`` events, or when an event arrives whose time lies ``duration_s`` or
more after the window's start (that event opens the next window), or when
:meth:`TumblingWindows.expire` is told that time has moved past the window.
Memory is bounded by ``size`` rows per open key.

Events that arrive out of order within a window are kept in it; an event older
than the open window's start is counted in the open window too, since its own
window has already been analysed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from monitors.windows.columns import Columns

__all__ = ["ClosedWindow", "TumblingWindows"]

CloseReason = Literal["count", "time", "flush"]


@dataclass(frozen=True)
class ClosedWindow:
    """A window that is complete and ready to be analysed.

    ``index`` counts the windows of one key from 0, so ``(key, index)`` names a
    window; ``start`` and ``end`` are the earliest and latest event times in it.
    Its events are kept as :class:`~monitors.windows.columns.Columns`.
    """

    key: Hashable
    index: int
    start: datetime
    end: datetime
    columns: Columns
    reason: CloseReason

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def rows(self) -> tuple[dict[str, Any], ...]:
        """The events as dictionaries (built on each call)."""
        return tuple(self.columns.rows())


@dataclass
class _OpenWindow:
    index: int
    opened_at: datetime
    start: datetime
    end: datetime
    columns: Columns = field(default_factory=Columns)

    def close(self, key: Hashable, reason: CloseReason) -> ClosedWindow:
        return ClosedWindow(key, self.index, self.start, self.end, self.columns, reason)


class TumblingWindows:
    """Split each key's events into consecutive windows.

    Parameters
    ----------
    size
        Events per window; a window closes as soon as it holds this many.
    duration_s
        Seconds of event time a window spans at most.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> windows = TumblingWindows(size=3, duration_s=60)
    >>> closed = []
    >>> for i in range(7):
    ...     closed += windows.add("model-a", t0 + timedelta(seconds=i), {"x": i})
    >>> [(w.index, len(w), w.reason) for w in closed]
    [(0, 3, 'count'), (1, 3, 'count')]
    >>> later = windows.add("model-a", t0 + timedelta(seconds=120), {"x": 7})
    >>> [(w.index, [r["x"] for r in w.rows], w.reason) for w in later]
    [(2, [6], 'time')]
    """

    def __init__(self, size: int, duration_s: float) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {duration_s}")
        self.size = size
        self.duration_s = duration_s
        self._duration = timedelta(seconds=duration_s)
        self._open: dict[Hashable, _OpenWindow] = {}
        self._next_index: dict[Hashable, int] = {}
        self._last_index: dict[Hashable, int] = {}

    def add(self, key: Hashable, event_time: datetime, row: Mapping[str, Any]) -> list[ClosedWindow]:
        """Add one event and return the windows it closed (zero, one or two)."""
        closed: list[ClosedWindow] = []
        window = self._open.get(key)
        if window is not None and event_time - window.opened_at >= self._duration:
            closed.append(self._close(key, "time"))
            window = None
        if window is None:
            window = self._open_window(key, event_time)
        window.columns.append(row)
        self._last_index[key] = window.index
        window.start = min(window.start, event_time)
        window.end = max(window.end, event_time)
        if len(window.columns) >= self.size:
            closed.append(self._close(key, "count"))
        return closed

    def expire(self, now: datetime, keys: Iterable[Hashable] | None = None) -> list[ClosedWindow]:
        """Close every window (of ``keys``, if given) whose span has elapsed by event time ``now``."""
        candidates = self._open if keys is None else [key for key in keys if key in self._open]
        due = [key for key in candidates if now - self._open[key].opened_at >= self._duration]
        return [self._close(key, "time") for key in due]

    def deadline(self, key: Hashable) -> datetime | None:
        """Event time at which ``key``'s open window has spanned ``duration_s`` (None: no open window).

        >>> from datetime import datetime, timezone
        >>> windows = TumblingWindows(size=10, duration_s=60)
        >>> _ = windows.add("m", datetime(2026, 1, 1, tzinfo=timezone.utc), {})
        >>> windows.deadline("m").isoformat(), windows.deadline("other")
        ('2026-01-01T00:01:00+00:00', None)
        """
        window = self._open.get(key)
        return None if window is None else window.opened_at + self._duration

    def flush(self) -> list[ClosedWindow]:
        """Close every open window, whatever its size."""
        return [self._close(key, "flush") for key in list(self._open)]

    def last_index(self, key: Hashable) -> int | None:
        """Index of the window that took ``key``'s latest event (None before its first).

        >>> from datetime import datetime, timezone
        >>> windows = TumblingWindows(size=2, duration_s=60)
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> [(len(windows.add("m", t, {})), windows.last_index("m")) for _ in range(3)]
        [(0, 0), (1, 0), (0, 1)]
        """
        return self._last_index.get(key)

    def pending(self, key: Hashable) -> int:
        """Number of events in ``key``'s open window."""
        window = self._open.get(key)
        return 0 if window is None else len(window.columns)

    def _open_window(self, key: Hashable, event_time: datetime) -> _OpenWindow:
        index = self._next_index.get(key, 0)
        self._next_index[key] = index + 1
        window = _OpenWindow(index, event_time, event_time, event_time)
        self._open[key] = window
        return window

    def _close(self, key: Hashable, reason: CloseReason) -> ClosedWindow:
        return self._open.pop(key).close(key, reason)
