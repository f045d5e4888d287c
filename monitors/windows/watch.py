"""The per-model path of events to drift analysis: reference first, then windows.

:class:`DriftWatch` routes each model's events either into its reference (until
that is complete) or into its current window, and hands out a
:class:`WindowJob` for every window that closes. A job holds everything the
analysis needs, so it can run elsewhere (another process) while events keep
arriving.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from monitors.windows.reference import StreamReference, seal
from monitors.windows.tumbling import ClosedWindow, TumblingWindows

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
    reference_version: int = 0

    @property
    def name(self) -> str:
        """The window as people read it: model, segment if any, and index.

        Examples
        --------
        >>> from monitors.windows.tumbling import TumblingWindows
        >>> from datetime import datetime, timezone
        >>> windows = TumblingWindows(size=1, duration_s=60)
        >>> window = windows.add("heldout", datetime(2026, 1, 1, tzinfo=timezone.utc), {"x": 1})[0]
        >>> WindowJob("heldout", window, ()).name
        'heldout window 0'
        >>> WindowJob("heldout", window, (), segment=("region", "eu")).name
        'heldout [region=eu] window 0'
        """
        where = self.model if self.segment is None else f"{self.model} [{self.segment[0]}={self.segment[1]}]"
        return f"{where} window {self.window.index}"


def _segments_last(key: tuple[str, Segment | None]) -> tuple[bool, str]:
    return key[1] is not None, repr(key)


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
    rolling_windows
        When set, each key's reference rolls: once a window closes, the next
        one is compared with the last ``rolling_windows`` closed windows
        (a drift then shows in the windows where it starts, and fades as the
        reference absorbs it).

    Each model has an event-time clock of its own, moved on by its own events
    (:meth:`advance`): the model's windows and its segments' close by time when
    the model's clock passes their span, in the order events are read, so the
    same input gives the same windows however fast it is read. No other model's
    events move it.

    A reference can also be replaced while the stream runs
    (:meth:`set_reference`); every reference has a version, so analyses that
    cache what they derive from a reference know when to recompute it.

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
    >>> watch.set_reference([{"x": 100}], model="churn")
    1
    >>> jobs = watch.add("churn", t0, {"x": 7}) + watch.add("churn", t0, {"x": 8})
    >>> [(r["x"] for r in j.reference).__next__() for j in jobs], jobs[0].reference_version
    ([100], 1)

    A rolling reference compares each window with the ones before it:

    >>> rolling = DriftWatch(window_size=2, window_duration_s=60, reference_size=2, rolling_windows=1)
    >>> jobs = []
    >>> for i in range(8):
    ...     jobs += rolling.add("m", t0, {"x": i})
    >>> [([r["x"] for r in j.reference], [r["x"] for r in j.window.rows]) for j in jobs]
    [([0, 1], [2, 3]), ([2, 3], [4, 5]), ([4, 5], [6, 7])]
    """

    def __init__(
        self,
        window_size: int,
        window_duration_s: float,
        reference_size: int,
        reference: Sequence[Row] | None = None,
        rolling_windows: int | None = None,
    ) -> None:
        if rolling_windows is not None and rolling_windows < 1:
            raise ValueError(f"rolling_windows must be at least 1 or None, got {rolling_windows}")
        self.window_size = window_size
        self.window_duration_s = window_duration_s
        self.reference_size = reference_size
        self.reference = reference
        self.rolling_windows = rolling_windows
        self._references = StreamReference(reference_size, fixed=reference)
        self._windows = TumblingWindows(window_size, window_duration_s)
        # Replacements, per model (None: every model), with the version they were given.
        self._replaced: dict[str | None, tuple[tuple[Row, ...], int]] = {}
        self._rolled: dict[tuple[str, Segment | None], tuple[deque[tuple[Row, ...]], int]] = {}
        self._version = 0
        self._clocks: dict[str, datetime] = {}
        # Per model: its window keys, and an event time no later than the earliest deadline of their open windows.
        self._keys: dict[str, set[tuple[str, Segment | None]]] = {}
        self._due: dict[str, datetime] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A checkpoint from before the per-model clocks: they start with the next events.
        state.setdefault("_clocks", {})
        state.setdefault("_keys", {})
        state.setdefault("_due", {})
        self.__dict__.update(state)

    def clock(self, model: str) -> datetime | None:
        """The latest event time of ``model`` (None before its first event)."""
        return self._clocks.get(model)

    def advance(self, model: str, now: datetime) -> list[WindowJob]:
        """Move the event-time clock of ``model`` to ``now`` (never back); close its windows (its segments' too) that span past it.

        Call it with each event's time before adding the event.

        Examples
        --------
        >>> from datetime import datetime, timedelta, timezone
        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> watch = DriftWatch(window_size=100, window_duration_s=60, reference_size=1)
        >>> for i in range(3):
        ...     _ = watch.add("m", t0 + timedelta(seconds=i), {"x": i})
        ...     _ = watch.add("m", t0 + timedelta(seconds=i), {"x": i}, segment=("region", "eu"))
        >>> watch.advance("other", t0 + timedelta(hours=9))   # another model's clock: nothing closes
        []
        >>> [(j.segment, len(j.window), j.window.reason) for j in watch.advance("m", t0 + timedelta(seconds=61))]
        [(None, 2, 'time'), (('region', 'eu'), 2, 'time')]
        """
        clock = self._clocks.get(model)
        if clock is None or now > clock:
            self._clocks[model] = now
        return self._close_due(model, self._clocks[model])

    def expire_idle(self, idle_s: float) -> list[WindowJob]:
        """Close the windows that span past each model's clock moved on by ``idle_s`` seconds of silence.

        For an input read to its end: its last windows close although no later event comes.
        """
        jobs: list[WindowJob] = []
        for model, clock in list(self._clocks.items()):
            jobs += self._close_due(model, clock + timedelta(seconds=idle_s))
        return jobs

    def _close_due(self, model: str, now: datetime) -> list[WindowJob]:
        due = self._due.get(model)
        if due is None or now < due:
            return []
        keys = self._keys.get(model, set())
        # The model's own window first, then its segments'.
        ordered: list[tuple[str, Segment | None]] = sorted(keys, key=_segments_last)
        jobs = self._jobs(self._windows.expire(now, ordered))
        deadlines = [d for d in map(self._windows.deadline, keys) if d is not None]
        if deadlines:
            self._due[model] = min(deadlines)
        else:
            del self._due[model]
        return jobs

    def add(self, model: str, event_time: datetime, row: Row, segment: Segment | None = None) -> list[WindowJob]:
        """Take one event of ``model`` (or of one ``(key, value)`` segment of it); return the jobs of the windows it closed.

        A segment has a reference and windows of its own.
        """
        key = (model, segment)
        if not self._replacement(model) and self._references.offer(key, row):
            return []
        self._keys.setdefault(model, set()).add(key)
        # Any window this event opens has its deadline one span from now: a lower bound of the model's deadlines.
        opens_by = event_time + timedelta(seconds=self.window_duration_s)
        due = self._due.get(model)
        if due is None or opens_by < due:
            self._due[model] = opens_by
        return self._jobs(self._windows.add(key, event_time, row))

    def set_reference(self, rows: Sequence[Row], model: str | None = None) -> int:
        """Compare the next windows of ``model`` (None: of every model) with ``rows``; return the new reference version.

        Windows already closed keep the reference they were closed with; a
        rolling reference starts rolling again from these rows.
        """
        if not rows:
            raise ValueError("a reference needs at least one row")
        self._version += 1
        self._replaced[model] = (seal(rows), self._version)
        if model is None:
            self._replaced = {None: self._replaced[None]}
        self._rolled = {k: v for k, v in self._rolled.items() if model is not None and k[0] != model}
        return self._version

    def expire(self, now: datetime) -> list[WindowJob]:
        """Close the windows whose span has elapsed by event time ``now``."""
        return self._jobs(self._windows.expire(now))

    def flush(self) -> list[WindowJob]:
        """Close every open window, e.g. at the end of a replay."""
        return self._jobs(self._windows.flush())

    def window_index(self, model: str, segment: Segment | None = None) -> int | None:
        """Index of the window that took the latest event of ``model`` (or its segment); None while it fed the reference."""
        key = (model, segment)
        if not self.reference_ready(model, segment):
            return None
        return self._windows.last_index(key)

    def reference_ready(self, model: str, segment: Segment | None = None) -> bool:
        """Whether the reference of ``model`` (or of its ``segment``) is complete."""
        return self._replacement(model) is not None or self._references.ready((model, segment))

    def _replacement(self, model: str) -> tuple[tuple[Row, ...], int] | None:
        return self._replaced.get(model) or self._replaced.get(None)

    def _reference(self, key: tuple[str, Segment | None]) -> tuple[tuple[Row, ...], int]:
        rolled = self._rolled.get(key)
        if rolled is not None:
            windows, version = rolled
            return tuple(row for rows in windows for row in rows), version
        replaced = self._replacement(key[0])
        if replaced is not None:
            return replaced
        return self._references.rows(key), 0

    def _jobs(self, closed: list[ClosedWindow]) -> list[WindowJob]:
        jobs = []
        for window in closed:
            key = cast(tuple[str, Segment | None], window.key)
            rows, version = self._reference(key)
            jobs.append(WindowJob(key[0], window, rows, key[1], version))
            if self.rolling_windows is not None:
                self._roll(key, window.rows)
        return jobs

    def _roll(self, key: tuple[str, Segment | None], rows: tuple[Row, ...]) -> None:
        windows = self._rolled[key][0] if key in self._rolled else deque(maxlen=self.rolling_windows)
        windows.append(rows)
        self._version += 1
        self._rolled[key] = (windows, self._version)
