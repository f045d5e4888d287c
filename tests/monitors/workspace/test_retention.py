"""Retention removes the oldest runs, and only as many as the age and size bounds need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.workspace.retention import Retention, StoredRun

NOW = datetime(2026, 1, 10, tzinfo=UTC)
DAY = 86400.0


def run(run_id: str, days_ago: float, size: int = 100) -> StoredRun:
    return StoredRun(run_id, NOW - timedelta(days=days_ago), size)


def test_runs_older_than_max_age_go_and_one_exactly_that_old_stays() -> None:
    runs = [run("old", 3), run("edge", 2), run("new", 1)]
    assert Retention(max_age_s=2 * DAY).to_remove(runs, NOW) == ["old"]


def test_oldest_go_until_the_rest_fits_in_max_bytes() -> None:
    runs = [run("c", 1, 300), run("a", 3, 300), run("b", 2, 300)]
    assert Retention(max_bytes=600).to_remove(runs, NOW) == ["a"]
    assert Retention(max_bytes=599).to_remove(runs, NOW) == ["a", "b"]
    assert Retention(max_bytes=900).to_remove(runs, NOW) == []


def test_age_first_then_size() -> None:
    runs = [run("a", 9, 10), run("b", 2, 500), run("c", 1, 500)]
    assert Retention(max_age_s=5 * DAY, max_bytes=600).to_remove(runs, NOW) == ["a", "b"]


def test_a_run_larger_than_max_bytes_goes_even_if_newest() -> None:
    assert Retention(max_bytes=100).to_remove([run("small", 2, 50), run("huge", 1, 101)], NOW) == ["small", "huge"]


def test_no_bounds_remove_nothing_and_runs_in_the_future_stay() -> None:
    runs = [run("a", 400, 10**12), run("future", -1)]
    assert Retention().to_remove(runs, NOW) == []
    assert Retention(max_age_s=1.0).to_remove(runs, NOW) == ["a"]


def test_equal_timestamps_are_removed_in_id_order() -> None:
    runs = [run("b", 1), run("a", 1), run("c", 1)]
    assert Retention(max_bytes=100).to_remove(runs, NOW) == ["a", "b"]


def test_naive_times_work_alike() -> None:
    runs = [StoredRun("a", datetime(2026, 1, 1), 1), StoredRun("b", datetime(2026, 1, 9), 1)]
    assert Retention(max_age_s=DAY * 3).to_remove(runs, datetime(2026, 1, 10)) == ["a"]


@pytest.mark.parametrize("bounds", [{"max_age_s": 0}, {"max_age_s": -1.0}, {"max_bytes": 0}, {"max_bytes": -5}])
def test_bounds_must_be_positive(bounds: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Retention(**bounds)  # type: ignore[arg-type]


stored_runs = st.lists(st.tuples(st.floats(-2 * DAY, 30 * DAY, allow_nan=False), st.integers(0, 10_000)), max_size=40).map(
    lambda items: [StoredRun(f"run-{i:03d}", NOW - timedelta(seconds=age), size) for i, (age, size) in enumerate(items)]
)
bounds = st.builds(
    Retention,
    max_age_s=st.none() | st.floats(1.0, 20 * DAY),
    max_bytes=st.none() | st.integers(1, 200_000),
)


@given(stored_runs, bounds)
def test_what_is_left_is_within_the_bounds_and_only_the_oldest_went(runs: list[StoredRun], retention: Retention) -> None:
    removed = retention.to_remove(runs, NOW)
    assert len(set(removed)) == len(removed)
    kept = [r for r in runs if r.id not in set(removed)]
    # Within the bounds.
    if retention.max_bytes is not None:
        assert sum(r.size for r in kept) <= retention.max_bytes
    if retention.max_age_s is not None:
        max_age = timedelta(seconds=retention.max_age_s)  # microseconds, as datetimes are
        assert all(NOW - r.timestamp <= max_age for r in kept)
    # Only the oldest: what went is the first runs by (timestamp, id), oldest first.
    ordered = sorted(runs, key=lambda r: (r.timestamp, r.id))
    assert removed == [r.id for r in ordered[: len(removed)]]
    # And no more than needed: keeping the newest of those removed would break a bound.
    if removed:
        last = next(r for r in runs if r.id == removed[-1])
        too_old = retention.max_age_s is not None and NOW - last.timestamp > timedelta(seconds=retention.max_age_s)
        too_big = retention.max_bytes is not None and sum(r.size for r in kept) + last.size > retention.max_bytes
        assert too_old or too_big
