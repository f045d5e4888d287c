"""References: what each key's windows are compared with.

A reference is either given (a table loaded from a file) or taken from the
stream itself: the first ``size`` events of each key. Rows that go into a
reference are not analysed as a window; once a key's reference is complete
it never changes, so every window of that key is compared with the same data.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

__all__ = ["StreamReference"]

Row = Mapping[str, Any]


class StreamReference:
    """Collect the first ``size`` rows of each key, unless a fixed reference is given.

    Parameters
    ----------
    size
        Rows to collect per key before its reference is complete.
    fixed
        Rows to use as every key's reference instead of collecting them.

    Examples
    --------
    >>> ref = StreamReference(size=2)
    >>> [ref.offer("m", {"x": i}) for i in range(3)]
    [True, True, False]
    >>> ref.ready("m"), [row["x"] for row in ref.rows("m")]
    (True, [0, 1])
    >>> StreamReference(size=2, fixed=[{"x": 9}]).offer("m", {"x": 0})
    False
    """

    def __init__(self, size: int, fixed: Sequence[Row] | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if fixed is not None and not fixed:
            raise ValueError("fixed must hold at least one row")
        self.size = size
        self.fixed = tuple(fixed) if fixed is not None else None
        self._collected: dict[Hashable, list[Row]] = {}

    def offer(self, key: Hashable, row: Row) -> bool:
        """Take ``row`` into ``key``'s reference if it is still being collected."""
        if self.ready(key):
            return False
        self._collected.setdefault(key, []).append(row)
        return True

    def ready(self, key: Hashable) -> bool:
        """Whether ``key``'s reference is complete."""
        return self.fixed is not None or len(self._collected.get(key, ())) >= self.size

    def rows(self, key: Hashable) -> tuple[Row, ...]:
        """The reference rows of ``key`` (possibly still incomplete)."""
        if self.fixed is not None:
            return self.fixed
        return tuple(self._collected.get(key, ()))
