"""A bounded two-sided join by key: whichever side arrives first waits for the other.

Memory is bounded by ``capacity`` waiting items; past it the oldest waiting
item is evicted and counted, never kept without limit. A caller that can wait
for the other side instead (a worker reading both sides from Kafka) asks
:meth:`KeyedJoin.knows` and the side counts first, and holds the item back
rather than let the join evict (see :mod:`monitors.intake.backpressure`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["KeyedJoin"]

L = TypeVar("L")
R = TypeVar("R")


class KeyedJoin(Generic[L, R]):
    """Pair left and right items that share a key, in either arrival order.

    Parameters
    ----------
    capacity
        Items (of both sides together) that may wait for their partner.

    Examples
    --------
    >>> join = KeyedJoin(capacity=2)
    >>> join.add_left("p1", "prediction 1") is None
    True
    >>> join.add_right("p1", "features 1")
    ('prediction 1', 'features 1')
    >>> for key in ("p2", "p3", "p4"):
    ...     _ = join.add_right(key, f"features {key}")
    >>> len(join), join.evicted
    (2, 1)
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._left: OrderedDict[Hashable, L] = OrderedDict()
        self._right: OrderedDict[Hashable, R] = OrderedDict()
        self._evicted = 0

    @property
    def evicted(self) -> int:
        """Items dropped unpaired because the join was full."""
        return self._evicted

    def __len__(self) -> int:
        return len(self._left) + len(self._right)

    @property
    def waiting_left(self) -> int:
        """Left items waiting for their right item."""
        return len(self._left)

    @property
    def waiting_right(self) -> int:
        """Right items waiting for their left item."""
        return len(self._right)

    def knows(self, key: Hashable) -> bool:
        """Whether an item with ``key`` waits: adding its partner pairs it rather than making it wait.

        >>> join = KeyedJoin(capacity=4)
        >>> _ = join.add_left("p1", "prediction 1")
        >>> join.knows("p1"), join.knows("p2")
        (True, False)
        """
        return key in self._left or key in self._right

    def add_left(self, key: Hashable, item: L) -> tuple[L, R] | None:
        """Add a left item; return the pair if its right item was waiting."""
        right = self._right.pop(key, None)
        if right is not None:
            return item, right
        self._left[key] = item
        self._bound()
        return None

    def add_right(self, key: Hashable, item: R) -> tuple[L, R] | None:
        """Add a right item; return the pair if its left item was waiting."""
        left = self._left.pop(key, None)
        if left is not None:
            return left, item
        self._right[key] = item
        self._bound()
        return None

    def _bound(self) -> None:
        while len(self) > self.capacity:
            # Evict from the side holding more; both are in arrival order.
            side = self._left if len(self._left) >= len(self._right) else self._right
            side.popitem(last=False)
            self._evicted += 1
