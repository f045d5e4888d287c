"""When a worker that is behind stops reading an input, instead of dropping what it holds.

A worker reads several inputs of one partition (predictions, features, labels)
and pairs them in bounded joins. When it is behind — after an outage, or with a
backlog produced in one burst — one input can run far ahead of another, and a
join fills with items whose partners are written but not read yet. Evicting
them then turns "the worker is behind" into "the labels are gone". Two rules
prevent it:

- **Read in event-time order** (:func:`ahead`): among the inputs of one
  partition that still have unread messages, one whose last event read is more
  than a slack newer than the oldest of them is paused until the others catch
  up, so items are read close to the order in which they can pair.
- **Hold instead of evict** (:func:`admit`): an item that would have to wait in
  a full join is not added while its partner input still has unread messages;
  the worker stops reading its input (the item is read again later) so the
  partner input can drain the join. Eviction remains for items whose partner is
  genuinely missing (the partner input is read to its end), and for the one
  case where neither input can make room for the other (each holds items the
  other has not reached: *crossed* inputs), so memory stays bounded.

Nothing here knows Kafka: inputs are any hashable names, times are numbers.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import StrEnum
from typing import TypeVar

__all__ = ["Admission", "admit", "ahead"]

K = TypeVar("K", bound=Hashable)


class Admission(StrEnum):
    """What to do with an item that would wait in a join."""

    ADD = "add"
    """There is room: add it."""
    HOLD = "hold"
    """Stop reading its input (and read the item again later): its partner input can make room."""
    EVICT = "evict"
    """Add it, evicting the join's oldest item: its partner is genuinely missing, or the inputs are crossed."""


def admit(*, mine: int, theirs: int, capacity: int, partner_unread: bool, partner_held: bool) -> Admission:
    """Whether an item that would wait in a join may be added, given what waits and what is unread.

    Parameters
    ----------
    mine
        Items of this item's side waiting in the join.
    theirs
        Items of the partner side waiting in the join.
    capacity
        Items (both sides) the join holds at most.
    partner_unread
        Whether the partner input still has messages to read.
    partner_held
        Whether the partner input is itself held by this join.

    Examples
    --------
    >>> admit(mine=10, theirs=0, capacity=100, partner_unread=True, partner_held=False).value
    'add'

    A full join of predictions while labels are unread: stop reading predictions.

    >>> admit(mine=100, theirs=0, capacity=100, partner_unread=True, partner_held=False).value
    'hold'

    The labels drained it and filled it with labels whose predictions are unread:
    hold the labels instead (the worker releases the predictions).

    >>> admit(mine=100, theirs=0, capacity=100, partner_unread=True, partner_held=True).value
    'hold'

    The partner input is read to its end: what waits has no partner to come yet.

    >>> admit(mine=100, theirs=0, capacity=100, partner_unread=False, partner_held=False).value
    'evict'

    Crossed: the join is full of the partner's items, the partner input is held too.

    >>> admit(mine=40, theirs=60, capacity=100, partner_unread=True, partner_held=True).value
    'evict'
    """
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")
    if mine + theirs < capacity:
        return Admission.ADD
    if not partner_unread:
        return Admission.EVICT
    if partner_held and mine * 2 <= mine + theirs:
        # The partner stopped because the join was full of its items, and they still fill half or
        # more: neither input can drain the other, so waiting would wait for ever.
        return Admission.EVICT
    return Admission.HOLD


def ahead(frontiers: Mapping[K, float], slack: float) -> set[K]:
    """The inputs to pause: each whose last event read is more than ``slack`` newer than the oldest one's.

    ``frontiers`` maps each input *that still has unread messages* to the
    event time (any unit, ``slack`` in the same) of its last event read; an
    input read to its end holds nobody back and is left out by the caller.

    Examples
    --------
    >>> sorted(ahead({"labels": 90.0, "predictions": 10.0, "features": 12.0}, slack=5.0))
    ['labels']
    >>> ahead({"labels": 14.0, "predictions": 10.0}, slack=5.0)
    set()
    """
    if not frontiers:
        return set()
    oldest = min(frontiers.values())
    return {key for key, time in frontiers.items() if time > oldest + slack}
