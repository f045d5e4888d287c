"""Prediction ids sent twice: the first event stands, repeats are told apart and counted."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.intake.duplicates import Repeat, Repeats, SeenPredictions

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_resend_is_ignored_and_other_content_under_the_same_id_conflicts() -> None:
    seen = SeenPredictions(horizon_s=3600, capacity=10)
    assert seen.check("churn", "p1", b"first", T0) is Repeat.FIRST
    assert seen.check("churn", "p1", b"first", T0) is Repeat.RESENT
    assert seen.check("churn", "p1", b"other", T0 + timedelta(seconds=5)) is Repeat.CONFLICT
    # The first event stands: its content, not the conflicting one's, is what repeats are compared with.
    assert seen.check("churn", "p1", b"first", T0) is Repeat.RESENT
    assert seen.counts("churn") == Repeats(resent=2, conflicting=1)
    assert seen.counts("fraud") == Repeats()


def test_counts_are_a_copy() -> None:
    seen = SeenPredictions(horizon_s=60, capacity=10)
    seen.check("churn", "p1", b"a", T0)
    seen.check("churn", "p1", b"a", T0)
    seen.counts("churn").resent = 99
    assert seen.counts("churn").resent == 1


def test_ids_are_forgotten_after_the_horizon_of_event_time() -> None:
    seen = SeenPredictions(horizon_s=60, capacity=10)
    seen.check("churn", "p1", b"a", T0)
    seen.check("churn", "p2", b"a", T0 + timedelta(seconds=30))
    seen.expire(T0 + timedelta(seconds=60))
    assert len(seen) == 1
    assert seen.check("churn", "p2", b"a", T0) is Repeat.RESENT
    seen.expire(T0 + timedelta(seconds=91))
    assert len(seen) == 0


def test_memory_is_bounded_by_capacity_forgetting_the_oldest() -> None:
    seen = SeenPredictions(horizon_s=3600, capacity=3)
    for i in range(5):
        seen.check("churn", f"p{i}", b"a", T0)
    assert len(seen) == 3
    assert seen.check("churn", "p0", b"a", T0) is Repeat.FIRST
    assert seen.check("churn", "p4", b"a", T0) is Repeat.RESENT


@pytest.mark.parametrize(("horizon_s", "capacity", "message"), [(0, 1, "horizon_s"), (1, 0, "capacity")])
def test_bad_arguments_are_named(horizon_s: float, capacity: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SeenPredictions(horizon_s=horizon_s, capacity=capacity)


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from([b"x", b"y"])), max_size=40))
def test_each_id_is_first_once_within_the_horizon(events: list[tuple[str, bytes]]) -> None:
    seen = SeenPredictions(horizon_s=3600, capacity=100)
    firsts = [pid for pid, digest in events if seen.check("m", pid, digest, T0) is Repeat.FIRST]
    assert sorted(firsts) == sorted(set(pid for pid, _ in events))
    counts = seen.counts("m")
    assert counts.resent + counts.conflicting == len(events) - len(firsts)


def test_a_restored_record_of_ids_tells_repeats_and_expires_as_the_original() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    seen = SeenPredictions(horizon_s=60, capacity=3)
    for i in range(4):  # the first is forgotten past the capacity
        seen.check("m", f"p{i}", b"a", t0 + timedelta(seconds=i))
    restored: SeenPredictions = pickle.loads(pickle.dumps(seen))
    assert [restored.check("m", f"p{i}", b"a", t0).value for i in (3, 2, 1, 0)] == ["resent", "resent", "resent", "first"]
    restored.expire(t0 + timedelta(seconds=62))
    assert len(restored) == 2 and restored.counts("m") == Repeats(resent=3)
