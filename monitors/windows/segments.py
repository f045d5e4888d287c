"""Segments with a cardinality cap: the top k values of each segment key by volume, the rest as "other".

A segment key (``country``, ``device``…) can take many values; watching each
would make memory and work grow with the data. Each model learns, over its
first events (while its reference is collected), which values of each key are
most frequent; from then on those ``top_k`` values keep their own windows and
every other value, new ones included, shares the bucket ``other``. The choice
is frozen so a value's windows never change meaning mid-stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

__all__ = ["OTHER", "MISSING", "SegmentBuckets"]

OTHER = "other"
MISSING = "none"


class SegmentBuckets:
    """Learn the most frequent values of each segment key, then bucket values into them or ``other``.

    Parameters
    ----------
    keys
        The segment keys to watch.
    top_k
        Values per key that keep their own bucket.
    max_distinct
        Distinct values counted per key while learning; later newcomers are not
        counted (they cannot be top values of a bounded sample anyway).

    Examples
    --------
    >>> buckets = SegmentBuckets(["country"], top_k=2)
    >>> for country in ["FR"] * 5 + ["DE"] * 3 + ["US"] * 1:
    ...     buckets.learn({"country": country})
    >>> buckets.freeze()
    >>> [buckets.bucket("country", c) for c in ("FR", "DE", "US", "BR")]
    ['FR', 'DE', 'other', 'other']
    >>> buckets.segments({"country": "DE", "device": "ios"})
    {'country': 'DE'}
    """

    def __init__(self, keys: Sequence[str], top_k: int = 5, max_distinct: int = 10_000) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if max_distinct < top_k:
            raise ValueError(f"max_distinct must be at least top_k ({top_k}), got {max_distinct}")
        self.keys = tuple(keys)
        self.top_k = top_k
        self.max_distinct = max_distinct
        self._counts: dict[str, Counter[str]] = {key: Counter() for key in self.keys}
        self._top: dict[str, frozenset[str]] | None = None
        self._learned = 0

    @property
    def learned(self) -> int:
        """Events counted so far."""
        return self._learned

    @property
    def frozen(self) -> bool:
        """Whether the top values are chosen."""
        return self._top is not None

    def learn(self, segment: Mapping[str, str]) -> None:
        """Count one event's segment values (before :meth:`freeze`)."""
        if self._top is not None:
            return
        self._learned += 1
        for key in self.keys:
            value = segment.get(key, MISSING)
            counts = self._counts[key]
            if value in counts or len(counts) < self.max_distinct:
                counts[value] += 1

    def freeze(self) -> None:
        """Choose the top values of each key (ties broken by value) and stop learning."""
        if self._top is None:
            self._top = {
                key: frozenset(value for value, _ in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))[: self.top_k])
                for key, counts in self._counts.items()
            }
            self._counts = {}

    def bucket(self, key: str, value: str) -> str:
        """The bucket of one value: itself if it is a top value of ``key``, else ``other``."""
        if self._top is None:
            raise RuntimeError("freeze() the buckets before using them")
        return value if value in self._top.get(key, frozenset()) else OTHER

    def segments(self, segment: Mapping[str, str]) -> dict[str, str]:
        """The bucket of an event for every watched key."""
        return {key: self.bucket(key, segment.get(key, MISSING)) for key in self.keys}
