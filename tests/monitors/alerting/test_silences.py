from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.alerting.matchers import Matcher, parse_matchers
from monitors.alerting.silences import Silence, Silences, silence_from_dict, silence_to_dict

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


def silence(
    id: str = "s1",
    matchers: tuple[str, ...] = ('model="churn"',),
    start: timedelta = timedelta(0),
    length: timedelta = timedelta(hours=1),
) -> Silence:
    return Silence(id, parse_matchers(matchers), T0 + start, T0 + start + length, "ana", "planned retraining")


# --- Silence -------------------------------------------------------------------------


def test_active_window_includes_start_and_excludes_end() -> None:
    s = silence()
    assert not s.active(T0 - US)
    assert s.active(T0)
    assert s.active(T0 + timedelta(hours=1) - US)
    assert not s.active(T0 + timedelta(hours=1))
    labels = {"model": "churn"}
    assert [s.mutes(labels, t) for t in (T0 - US, T0, T0 + timedelta(hours=1) - US, T0 + timedelta(hours=1))] == [
        False,
        True,
        True,
        False,
    ]


def test_active_compares_instants_across_time_zones() -> None:
    s = silence()
    paris = timezone(timedelta(hours=1))
    assert s.active(datetime(2026, 3, 1, 13, 30, tzinfo=paris))  # 12:30 UTC
    assert not s.active(datetime(2026, 3, 1, 12, 30, tzinfo=paris))  # 11:30 UTC


@pytest.mark.parametrize(
    ("matcher", "labels", "muted"),
    [
        ('model="churn"', {"model": "churn"}, True),
        ('model="churn"', {"model": "churn-eu"}, False),
        ('model!="churn"', {"model": "fraud"}, True),
        ('model!="churn"', {"model": "churn"}, False),
        ('model=~"churn|fraud"', {"model": "fraud"}, True),
        ('model=~"churn"', {"model": "churn-eu"}, False),  # anchored at both ends
        ('model=~"churn.*"', {"model": "churn-eu"}, True),
        ('model!~"churn.*"', {"model": "churn-eu"}, False),
        ('model!~"churn.*"', {"model": "fraud"}, True),
        ('model="churn"', {}, False),  # a missing label is ""
    ],
)
def test_matcher_kinds(matcher: str, labels: dict[str, str], muted: bool) -> None:
    # A negative matcher matches "", so it needs a positive companion (see validation).
    s = silence(matchers=('kind="data_drift"', matcher))
    assert s.mutes({"kind": "data_drift", **labels}, T0) is muted
    assert not s.mutes({"kind": "accuracy", **labels}, T0)


def test_every_matcher_must_hold() -> None:
    s = silence(matchers=('model="churn"', 'severity="warning"'))
    assert s.mutes({"model": "churn", "severity": "warning", "feature": "age"}, T0)
    assert not s.mutes({"model": "churn", "severity": "critical"}, T0)
    assert not s.mutes({"model": "fraud", "severity": "warning"}, T0)


def test_a_silence_never_mutes_outside_its_window_even_when_matching() -> None:
    s = silence(start=timedelta(hours=1))
    assert not s.mutes({"model": "churn"}, T0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"matchers": ()}, "matchers"),
        ({"matchers": (Matcher("model", "!=", "churn"),)}, "matchers"),  # matches "" : would mute everything
        ({"matchers": (Matcher("model", "=~", ".*"),)}, "matchers"),
        ({"starts_at": datetime(2026, 3, 1, 12)}, "starts_at"),
        ({"ends_at": datetime(2026, 3, 1, 13)}, "ends_at"),
        ({"ends_at": T0}, "ends_at"),
        ({"ends_at": T0 - timedelta(hours=1)}, "ends_at"),
        ({"id": ""}, "id"),
    ],
)
def test_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "id": "s1",
        "matchers": parse_matchers(['model="churn"']),
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "created_by": "ana",
        "comment": "",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        Silence(**args)  # type: ignore[arg-type]


def test_a_matcher_that_matches_empty_is_fine_beside_one_that_does_not() -> None:
    s = silence(matchers=('model="churn"', 'env!="prod"'))
    assert s.mutes({"model": "churn"}, T0)
    assert not s.mutes({"model": "churn", "env": "prod"}, T0)


def test_matchers_given_as_a_list_are_stored_as_a_tuple() -> None:
    s = Silence("s1", list(parse_matchers(['model="churn"'])), T0, T0 + US, "ana", "")  # type: ignore[arg-type]
    assert s.matchers == parse_matchers(['model="churn"'])
    hash(s)


# --- Silences ------------------------------------------------------------------------


def test_put_adds_and_replaces_by_id() -> None:
    silences = Silences()
    silences.put(silence("a", start=timedelta(minutes=30)))
    silences.put(silence("b"))
    silences.put(silence("a", matchers=('model="fraud"',), start=timedelta(minutes=-30)))
    assert [s.id for s in silences.all()] == ["a", "b"]  # by starts_at
    assert silences.get("a") is not None and silences.get("a").matchers == parse_matchers(['model="fraud"'])  # type: ignore[union-attr]
    assert silences.get("missing") is None
    assert len(silences) == 2


def test_active_and_silenced_by() -> None:
    silences = Silences()
    silences.put(silence("later", start=timedelta(hours=2)))
    silences.put(silence("model", matchers=('model="churn"',)))
    silences.put(silence("warnings", matchers=('severity="warning"',), start=timedelta(minutes=-5)))
    now = T0 + timedelta(minutes=1)
    assert [s.id for s in silences.active(now)] == ["warnings", "model"]
    assert silences.silenced_by({"model": "churn", "severity": "warning"}, now) == ["warnings", "model"]
    assert silences.silenced_by({"model": "churn", "severity": "critical"}, now) == ["model"]
    assert silences.silenced_by({"model": "fraud", "severity": "critical"}, now) == []
    assert silences.silenced_by({"model": "churn"}, T0 + timedelta(hours=2)) == ["later"]


def test_expire_ends_an_active_silence_now_and_keeps_it_listed() -> None:
    silences = Silences()
    silences.put(silence())
    now = T0 + timedelta(minutes=10)
    expired = silences.expire("s1", now)
    assert expired.ends_at == now
    assert expired.starts_at == T0
    assert silences.get("s1") == expired
    assert [s.id for s in silences.all()] == ["s1"]
    assert silences.silenced_by({"model": "churn"}, now - US) == ["s1"]
    assert silences.silenced_by({"model": "churn"}, now) == []
    assert silences.active(now) == []


def test_expire_is_idempotent_once_ended() -> None:
    silences = Silences()
    silences.put(silence())
    first = silences.expire("s1", T0 + timedelta(minutes=10))
    assert silences.expire("s1", T0 + timedelta(minutes=20)) == first
    # Expiring after the natural end does not lengthen the silence either.
    silences.put(silence("s2"))
    assert silences.expire("s2", T0 + timedelta(hours=5)).ends_at == T0 + timedelta(hours=1)


def test_expire_unknown_id_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Silences().expire("nope", T0)


def test_expire_rejects_a_pending_silence_and_a_naive_time() -> None:
    silences = Silences()
    silences.put(silence(start=timedelta(hours=1)))
    with pytest.raises(ValueError, match="not started"):
        silences.expire("s1", T0)
    with pytest.raises(ValueError, match="now"):
        silences.expire("s1", datetime(2026, 3, 1, 14))
    assert silences.get("s1") == silence(start=timedelta(hours=1))


def test_prune_forgets_only_silences_ended_longer_ago_than_the_retention() -> None:
    silences = Silences()
    silences.put(silence("old", length=timedelta(hours=1)))  # ends T0+1h
    silences.put(silence("recent", length=timedelta(hours=3)))  # ends T0+3h
    silences.put(silence("running", length=timedelta(days=3)))
    retention = 3600.0
    assert silences.prune(T0 + timedelta(hours=2), retention) == []  # "old" ended exactly 1h ago: kept
    assert silences.prune(T0 + timedelta(hours=2) + US, retention) == ["old"]
    assert [s.id for s in silences.all()] == ["recent", "running"]
    assert silences.prune(T0 + timedelta(days=1), retention) == ["recent"]
    assert [s.id for s in silences.all()] == ["running"]
    with pytest.raises(ValueError, match="retention_s"):
        silences.prune(T0, -1)


def test_prune_after_expire() -> None:
    silences = Silences()
    silences.put(silence(length=timedelta(days=7)))
    silences.expire("s1", T0 + timedelta(minutes=5))
    assert silences.prune(T0 + timedelta(minutes=5, seconds=61), retention_s=60) == ["s1"]
    assert "s1" not in silences


# --- dictionaries --------------------------------------------------------------------


def test_dict_round_trip_through_json() -> None:
    s = Silence(
        "maint-7",
        parse_matchers(['model=~"churn|fraud"', 'severity!="critical"', 'feature!~"id_.*"', 'kind="data_drift"']),
        datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=-5))),
        "ana@example.com",
        'deploying "v2"\nsee ticket 12',
    )
    data = silence_to_dict(s)
    assert data["matchers"] == ['model=~"churn|fraud"', 'severity!="critical"', 'feature!~"id_.*"', 'kind="data_drift"']
    assert data["starts_at"] == "2026-03-01T09:00:00-05:00"
    back = silence_from_dict(json.loads(json.dumps(data)))
    assert back == s
    assert back.starts_at.utcoffset() == timedelta(hours=-5)


label_values = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)


@given(value=label_values, op=st.sampled_from(["=", "!="]), comment=st.text(max_size=30))
def test_dict_round_trip_of_any_label_value(value: str, op: str, comment: str) -> None:
    matchers = (Matcher("model", "=", value), Matcher("feature", op, value))  # type: ignore[arg-type]
    s = Silence("s", matchers, T0, T0 + US, "ana", comment)
    assert silence_from_dict(json.loads(json.dumps(silence_to_dict(s)))) == s


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": []}, "matchers"),
        ({"matchers": "model=churn"}, "matchers"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"ends_at": "2026-03-01T13:00:00"}, "ends_at"),  # naive
        ({"ends_at": "2026-03-01T11:00:00+00:00"}, "ends_at"),  # before the start
    ],
)
def test_from_dict_rejects_malformed_input(change: dict[str, object], field: str) -> None:
    data = {**silence_to_dict(silence()), **change}
    with pytest.raises(ValueError, match=field):
        silence_from_dict(data)


def test_from_dict_names_missing_fields() -> None:
    data = silence_to_dict(silence())
    del data["created_by"], data["ends_at"]
    with pytest.raises(ValueError, match="ends_at, created_by"):
        silence_from_dict(data)
