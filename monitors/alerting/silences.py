"""Silences: mute the notifications of alerts whose labels match, for a while.

A :class:`Silence` is Alertmanager's: matchers that must all hold for an
alert's labels, a time window ``[starts_at, ends_at)`` and who created it and
why. It mutes matching alerts while it is active; it does not change the
alerts themselves, which keep firing and resolving underneath. :class:`Silences`
is the current set, as an on-call engineer manages it: silences are put
(created or replaced by id), expired early, and pruned some time after they
end. :func:`silence_to_dict` and :func:`silence_from_dict` convert a silence to
and from a JSON-able dictionary, the value stored in a compacted topic keyed by
the silence id.

A silence's state follows from the time it is asked about::

    pending   now < starts_at
    active    starts_at <= now < ends_at
    expired   ends_at <= now

As in Alertmanager, a silence needs at least one matcher that does not match
the empty string, so that no silence can mute every alert by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from monitors.alerting.matchers import Matcher, matches_all, parse_matcher

__all__ = ["Silence", "Silences", "silence_from_dict", "silence_to_dict"]


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


@dataclass(frozen=True)
class Silence:
    """Mute alerts whose labels satisfy every matcher, from ``starts_at`` until ``ends_at``.

    Parameters
    ----------
    id
        The silence's identity: putting a silence with the same id replaces it.
    matchers
        All must hold for an alert's labels (a missing label matches as ``""``).
        At least one is required, and at least one must not match ``""``.
    starts_at, ends_at
        Timezone-aware bounds of the window; the silence is active from
        ``starts_at`` included to ``ends_at`` excluded.
    created_by, comment
        Who created the silence and why.

    Raises
    ------
    ValueError
        Naming the field: no id, no matchers (or only matchers that match the
        empty string), naive datetimes, or ``ends_at`` not after ``starts_at``.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from monitors.alerting.matchers import parse_matchers
    >>> t = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    >>> s = Silence("maint-1", parse_matchers(['model="churn"', 'severity=~"warning|info"']),
    ...             t, t + timedelta(hours=2), "ana", "retraining the churn model")
    >>> s.active(t), s.active(t + timedelta(hours=2))
    (True, False)
    >>> s.mutes({"model": "churn", "severity": "warning"}, t + timedelta(minutes=5))
    True
    >>> s.mutes({"model": "churn", "severity": "critical"}, t + timedelta(minutes=5))
    False
    """

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("id must be a non-empty string")
        object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.matchers:
            raise ValueError(f"matchers: silence {self.id!r} needs at least one matcher")
        if not all(isinstance(m, Matcher) for m in self.matchers):
            raise ValueError(f"matchers: silence {self.id!r} takes Matcher objects (see parse_matchers)")
        if all(m.matches({}) for m in self.matchers):
            raise ValueError(
                f"matchers: silence {self.id!r} needs at least one matcher that does not match the "
                f"empty string, or it would mute every alert: {', '.join(map(str, self.matchers))}"
            )
        _require_aware(self.starts_at, "starts_at")
        _require_aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at ({self.ends_at.isoformat()}) must be after starts_at ({self.starts_at.isoformat()})")

    def active(self, now: datetime) -> bool:
        """Whether the silence is in force at ``now``: ``starts_at <= now < ends_at``."""
        return self.starts_at <= now < self.ends_at

    def expired(self, now: datetime) -> bool:
        """Whether the silence has ended at ``now``: ``ends_at <= now``."""
        return self.ends_at <= now

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether the silence is active at ``now`` and its matchers all hold for ``labels``."""
        return self.active(now) and matches_all(self.matchers, labels)


class Silences:
    """The current set of silences (created, replaced by id, expired).

    Silences are kept by id. An expired silence stays listed (so people can see
    and recreate it) until :meth:`prune` forgets it.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from monitors.alerting.matchers import parse_matchers
    >>> t = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    >>> silences = Silences()
    >>> silences.put(Silence("s1", parse_matchers(['model="churn"']), t, t + timedelta(hours=1), "ana", "deploy"))
    >>> silences.silenced_by({"model": "churn", "kind": "data_drift"}, t + timedelta(minutes=1))
    ['s1']
    >>> silences.expire("s1", t + timedelta(minutes=10)).ends_at == t + timedelta(minutes=10)
    True
    >>> silences.silenced_by({"model": "churn", "kind": "data_drift"}, t + timedelta(minutes=11))
    []
    >>> silences.prune(t + timedelta(days=2), retention_s=86400)
    ['s1']
    >>> silences.all()
    []
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Silence] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, silence_id: object) -> bool:
        return silence_id in self._by_id

    def put(self, silence: Silence) -> None:
        """Add ``silence``, or replace the silence with the same id."""
        if not isinstance(silence, Silence):
            raise TypeError(f"put takes a Silence, got {type(silence).__name__}")
        self._by_id[silence.id] = silence

    def expire(self, silence_id: str, now: datetime) -> Silence:
        """End an active silence at ``now`` and return it as it is now stored.

        Expiring a silence that has already ended changes nothing and returns
        it unchanged (so a replayed request is harmless).

        Raises
        ------
        KeyError
            When no silence has this id.
        ValueError
            When ``now`` is naive, or ``now <= starts_at`` (the silence has not
            started): its end cannot be set at or before its start. Put it again
            with another window instead.
        """
        _require_aware(now, "now")
        silence = self._by_id.get(silence_id)
        if silence is None:
            raise KeyError(silence_id)
        if silence.expired(now):
            return silence
        if now <= silence.starts_at:
            raise ValueError(
                f"silence {silence_id!r} has not started (starts_at {silence.starts_at.isoformat()}): "
                "its end cannot be set at or before its start"
            )
        ended = replace(silence, ends_at=now)
        self._by_id[silence_id] = ended
        return ended

    def get(self, silence_id: str) -> Silence | None:
        """The silence with this id, or None."""
        return self._by_id.get(silence_id)

    def all(self) -> list[Silence]:
        """Every silence held, pending, active or expired, by ``starts_at`` (then id)."""
        return sorted(self._by_id.values(), key=lambda s: (s.starts_at, s.id))

    def active(self, now: datetime) -> list[Silence]:
        """The silences active at ``now``, by ``starts_at`` (then id)."""
        return [s for s in self.all() if s.active(now)]

    def silenced_by(self, labels: Mapping[str, str], now: datetime) -> list[str]:
        """The ids of the silences that mute ``labels`` at ``now`` (empty: not silenced)."""
        return [s.id for s in self.all() if s.mutes(labels, now)]

    def prune(self, now: datetime, retention_s: float) -> list[str]:
        """Forget the silences that ended more than ``retention_s`` seconds before ``now``.

        Returns the forgotten ids, sorted (e.g. to write tombstones for them).
        """
        _require_aware(now, "now")
        if retention_s < 0:
            raise ValueError(f"retention_s must not be negative, got {retention_s}")
        gone = sorted(i for i, s in self._by_id.items() if (now - s.ends_at).total_seconds() > retention_s)
        for silence_id in gone:
            del self._by_id[silence_id]
        return gone


_FIELDS = ("id", "matchers", "starts_at", "ends_at", "created_by", "comment")


def silence_to_dict(silence: Silence) -> dict[str, Any]:
    """A JSON-able dictionary: matchers in their text form, datetimes in ISO 8601.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from monitors.alerting.matchers import parse_matchers
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> s = Silence("s1", parse_matchers(['model=~"churn.*"']), t, t.replace(hour=1), "ana", "deploy")
    >>> silence_to_dict(s)["matchers"], silence_to_dict(s)["ends_at"]
    (['model=~"churn.*"'], '2026-01-01T01:00:00+00:00')
    >>> silence_from_dict(silence_to_dict(s)) == s
    True
    """
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


def silence_from_dict(data: Mapping[str, Any]) -> Silence:
    """Rebuild a silence from :func:`silence_to_dict`'s output.

    Raises
    ------
    ValueError
        When a field is missing or malformed, or the silence is invalid.

    Examples
    --------
    >>> s = silence_from_dict({"id": "s1", "matchers": ['severity="warning"'],
    ...     "starts_at": "2026-01-01T00:00:00+00:00", "ends_at": "2026-01-01T04:00:00+00:00",
    ...     "created_by": "ana", "comment": "noisy"})
    >>> s.matchers, (s.ends_at - s.starts_at).total_seconds()
    ((Matcher(name='severity', op='=', value='warning'),), 14400.0)
    """
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        raise ValueError(f"silence lacks {', '.join(missing)}")
    texts = data["matchers"]
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        raise ValueError(f"matchers must be a list of strings, got {texts!r}")
    matchers = tuple(parse_matcher(str(text)) for text in texts)
    return Silence(
        id=str(data["id"]),
        matchers=matchers,
        starts_at=_parse_time(data["starts_at"], "starts_at"),
        ends_at=_parse_time(data["ends_at"], "ends_at"),
        created_by=str(data["created_by"]),
        comment=str(data["comment"]),
    )


def _parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not an ISO 8601 datetime: {value!r}") from exc
