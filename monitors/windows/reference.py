"""References: what each key's windows are compared with.

A reference is either given (a table loaded from a file) or taken from the
stream itself: the first ``size`` events of each key. Rows that go into a
reference are not analysed as a window; once a key's reference is complete
it never changes, so every window of that key is compared with the same data.
"""

from __future__ import annotations

import functools
import pickle
import zlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["SealedRows", "StreamReference", "seal"]

Row = Mapping[str, Any]


class SealedRows(tuple[Row, ...]):
    """A complete reference's rows: a tuple that pickles as bytes it packed once.

    A reference never changes once complete, yet the worker pickles it into each
    checkpoint (every few seconds) and sends it to an analysis process with each
    new version: at the default settings (40 references of 2,000 rows of 20
    features) pickling them was about 0.2 s of every checkpoint. Sealed, each is
    pickled and compressed once, and costs a copy of its bytes after that.

    Examples
    --------
    >>> rows = SealedRows([{"x": 1.0}, {"x": 2.0}])
    >>> restored = pickle.loads(pickle.dumps(rows))
    >>> restored == rows, type(restored).__name__, len(rows.packed) > 0
    (True, 'SealedRows', True)
    """

    @functools.cached_property
    def packed(self) -> bytes:
        """The rows pickled and compressed (computed once)."""
        return zlib.compress(pickle.dumps(tuple(self), protocol=pickle.HIGHEST_PROTOCOL), 1)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return _unseal, (self.packed,)


def _unseal(packed: bytes) -> SealedRows:
    rows = SealedRows(pickle.loads(zlib.decompress(packed)))
    rows.__dict__["packed"] = packed  # as cached_property stores it: the next pickle reuses these bytes
    return rows


def seal(rows: Iterable[Row]) -> SealedRows:
    """``rows`` as :class:`SealedRows` (as they are if already sealed)."""
    return rows if isinstance(rows, SealedRows) else SealedRows(rows)


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
        self.fixed = seal(fixed) if fixed is not None else None
        # A key's rows while it is being collected; sealed once complete.
        self._collected: dict[Hashable, list[Row] | SealedRows] = {}

    def offer(self, key: Hashable, row: Row) -> bool:
        """Take ``row`` into ``key``'s reference if it is still being collected."""
        if self.ready(key):
            return False
        collected = self._collected.setdefault(key, [])
        assert isinstance(collected, list)  # not ready, so not sealed
        collected.append(row)
        if len(collected) >= self.size:
            self._collected[key] = SealedRows(collected)
        return True

    def ready(self, key: Hashable) -> bool:
        """Whether ``key``'s reference is complete."""
        return self.fixed is not None or len(self._collected.get(key, ())) >= self.size

    def rows(self, key: Hashable) -> tuple[Row, ...]:
        """The reference rows of ``key`` (possibly still incomplete)."""
        if self.fixed is not None:
            return self.fixed
        collected = self._collected.get(key, ())
        if isinstance(collected, list) and len(collected) >= self.size:
            # Restored from a checkpoint of a release that kept complete references as lists.
            collected = self._collected[key] = SealedRows(collected)
        return tuple(collected) if isinstance(collected, list) else collected
