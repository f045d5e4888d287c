"""Retention: which stored runs to remove so that a store stays within its bounds.

A store of runs (the Evidently workspace holds one per analysed window) grows
with the length of the stream unless something removes runs. A
:class:`Retention` has two bounds, each optional:

- an age, ``max_age_s``: a run older than it is removed;
- a size, ``max_bytes``: while the runs left add up to more than it, the oldest
  is removed.

Runs are described by plain values (:class:`StoredRun`: an id, the time its age
is measured from, its size in bytes), and the current time is an argument, so
the rule is the same whoever stores the runs and whatever clock they read.
What is removed is always the oldest runs: the runs removed, in order, are a
prefix of the runs sorted by time (ties broken by id), the shortest one that
leaves the rest within both bounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Retention", "StoredRun"]


@dataclass(frozen=True)
class StoredRun:
    """One stored run, as retention sees it.

    Parameters
    ----------
    id
        The run's identity in its store.
    timestamp
        The time its age is measured from. All the runs given to one call, and
        that call's ``now``, must be alike: all timezone-aware or all naive.
    size
        Bytes it takes in the store.
    """

    id: str
    timestamp: datetime
    size: int


@dataclass(frozen=True)
class Retention:
    """Bounds on a store of runs: by age and by total size.

    Parameters
    ----------
    max_age_s
        Seconds after which a run is removed; ``None``: no age bound.
    max_bytes
        Bytes the runs kept may add up to, at most; ``None``: no size bound.
        A single run larger than this is removed too.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> now = datetime(2026, 1, 8, tzinfo=timezone.utc)
    >>> runs = [StoredRun(f"run-{day}", datetime(2026, 1, day, tzinfo=timezone.utc), size=400) for day in range(1, 8)]
    >>> retention = Retention(max_age_s=timedelta(days=5).total_seconds(), max_bytes=1000)
    >>> retention.to_remove(runs, now)
    ['run-1', 'run-2', 'run-3', 'run-4', 'run-5']
    >>> Retention(max_age_s=None, max_bytes=2000).to_remove(runs, now)
    ['run-1', 'run-2']
    >>> Retention(max_age_s=None, max_bytes=None).to_remove(runs, now)
    []
    """

    max_age_s: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_age_s is not None and not self.max_age_s > 0:
            raise ValueError(f"max_age_s must be positive or None, got {self.max_age_s}")
        if self.max_bytes is not None and not self.max_bytes > 0:
            raise ValueError(f"max_bytes must be positive or None, got {self.max_bytes}")

    def to_remove(self, runs: Iterable[StoredRun], now: datetime) -> list[str]:
        """The ids of the runs to remove, oldest first.

        Every run older than ``max_age_s`` at ``now`` (a run exactly that old
        stays), then the oldest of the others until those left add up to at
        most ``max_bytes``.

        Parameters
        ----------
        runs
            The runs in the store, in any order; ids are unique.
        now
            The current time, alike ``runs``' timestamps (aware or naive).

        Returns
        -------
        list of str
            Ids, in the order of the runs' timestamps (then ids).

        Examples
        --------
        >>> from datetime import datetime
        >>> runs = [StoredRun("b", datetime(2026, 1, 2), 10), StoredRun("a", datetime(2026, 1, 1), 10)]
        >>> Retention(max_age_s=86400.0).to_remove(runs, now=datetime(2026, 1, 2, 12))
        ['a']
        """
        ordered = sorted(runs, key=lambda run: (run.timestamp, run.id))
        kept_from = 0
        if self.max_age_s is not None:
            oldest_kept = now - timedelta(seconds=self.max_age_s)
            while kept_from < len(ordered) and ordered[kept_from].timestamp < oldest_kept:
                kept_from += 1
        if self.max_bytes is not None:
            total = sum(run.size for run in ordered[kept_from:])
            while total > self.max_bytes:
                total -= ordered[kept_from].size
                kept_from += 1
        return [run.id for run in ordered[:kept_from]]
