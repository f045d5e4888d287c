"""Prediction ids sent twice: the first event stands.

A producer that retries sends a prediction again, byte for byte; a producer
with a bug sends another prediction under an id already used. Counting either
twice would put one prediction in two windows and give the label join a
second prediction for one label. :class:`SeenPredictions` remembers the ids of
the predictions accepted within a horizon of event time (the labels' ttl: as
long as a label could still join them) together with a digest of each event,
and tells a first event from a resend and from a conflict. Memory is bounded
by ``capacity`` ids; an id forgotten early only means that a much later resend
of it is taken as a first event.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Repeat", "Repeats", "SeenPredictions"]


class Repeat(enum.Enum):
    """What a prediction is, given the ones seen before it."""

    FIRST = "first"
    """Its id is new: accept it."""
    RESENT = "resent"
    """The same event again: ignore it, and count it."""
    CONFLICT = "conflict"
    """Another event under an id already used: reject it with its reason."""


@dataclass
class Repeats:
    """How many predictions of a model were sent again (``resent``) or under a used id (``conflicting``)."""

    resent: int = 0
    conflicting: int = 0


@dataclass
class SeenPredictions:
    """The prediction ids accepted within ``horizon_s`` of event time, at most ``capacity`` of them.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> seen = SeenPredictions(horizon_s=60, capacity=100)
    >>> seen.check("churn", "p1", b"a", t0).value, seen.check("churn", "p1", b"a", t0).value
    ('first', 'resent')
    >>> seen.check("churn", "p1", b"b", t0).value
    'conflict'
    >>> seen.counts("churn")
    Repeats(resent=1, conflicting=1)
    >>> seen.expire(t0 + timedelta(seconds=61))
    >>> seen.check("churn", "p1", b"b", t0 + timedelta(seconds=61)).value, len(seen)
    ('first', 1)
    """

    horizon_s: float
    capacity: int
    _seen: OrderedDict[str, tuple[bytes, float]] = field(default_factory=OrderedDict, repr=False)
    _counts: dict[str, Repeats] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.horizon_s <= 0:
            raise ValueError(f"horizon_s must be positive, got {self.horizon_s}")
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {self.capacity}")

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, model: str, prediction_id: str, digest: bytes, at: datetime) -> Repeat:
        """Whether the prediction ``prediction_id`` of ``model``, with content ``digest`` and event time ``at``, is new.

        A first event is remembered; a repeat is counted under ``model``.
        """
        known = self._seen.get(prediction_id)
        if known is None:
            self._seen[prediction_id] = (digest, at.timestamp() + self.horizon_s)
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return Repeat.FIRST
        counts = self._counts.setdefault(model, Repeats())
        if known[0] == digest:
            counts.resent += 1
            return Repeat.RESENT
        counts.conflicting += 1
        return Repeat.CONFLICT

    def counts(self, model: str) -> Repeats:
        """A copy of ``model``'s counts (all zero for a model never repeated)."""
        own = self._counts.get(model, Repeats())
        return Repeats(own.resent, own.conflicting)

    def expire(self, now: datetime) -> None:
        """Forget the ids whose horizon ``now`` has passed.

        Ids are kept in the order they came; one that came out of event-time
        order waits behind the ones before it, within ``capacity``.
        """
        cutoff = now.timestamp()
        while self._seen:
            _, (_, deadline) = next(iter(self._seen.items()))
            if deadline > cutoff:
                return
            self._seen.popitem(last=False)
