from datetime import UTC, datetime, timedelta

import pytest

from monitors.windows.tumbling import TumblingWindows

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_count_windows_hold_exactly_size_events_in_arrival_order() -> None:
    windows = TumblingWindows(size=4, duration_s=3600)
    closed = [w for i in range(10) for w in windows.add("m", at(i), {"i": i})]
    assert [[r["i"] for r in w.rows] for w in closed] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [w.index for w in closed] == [0, 1]
    assert windows.pending("m") == 2


def test_an_event_past_the_duration_closes_the_window_and_opens_the_next() -> None:
    windows = TumblingWindows(size=100, duration_s=10)
    assert windows.add("m", at(0), {"i": 0}) == []
    assert windows.add("m", at(9.9), {"i": 1}) == []
    closed = windows.add("m", at(10), {"i": 2})
    assert len(closed) == 1 and closed[0].reason == "time"
    assert [r["i"] for r in closed[0].rows] == [0, 1]
    assert (closed[0].start, closed[0].end) == (at(0), at(9.9))
    assert windows.pending("m") == 1


def test_keys_have_independent_windows_and_indices() -> None:
    windows = TumblingWindows(size=2, duration_s=3600)
    closed = []
    for i in range(3):
        closed += windows.add("a", at(i), {"i": i})
        closed += windows.add("b", at(i), {"i": -i})
    assert sorted((w.key, w.index) for w in closed) == [("a", 0), ("b", 0)]


def test_out_of_order_events_stay_in_the_open_window_and_widen_its_bounds() -> None:
    windows = TumblingWindows(size=3, duration_s=3600)
    windows.add("m", at(5), {})
    windows.add("m", at(2), {})
    (closed,) = windows.add("m", at(7), {})
    assert (closed.start, closed.end) == (at(2), at(7))


def test_expire_closes_only_windows_whose_span_elapsed() -> None:
    windows = TumblingWindows(size=100, duration_s=60)
    windows.add("old", at(0), {})
    windows.add("new", at(50), {})
    closed = windows.expire(at(60))
    assert [(w.key, w.reason) for w in closed] == [("old", "time")]
    assert windows.pending("new") == 1 and windows.pending("old") == 0


def test_flush_closes_everything() -> None:
    windows = TumblingWindows(size=100, duration_s=60)
    windows.add("a", at(0), {})
    windows.add("b", at(0), {})
    assert sorted(w.key for w in windows.flush()) == ["a", "b"]
    assert windows.flush() == []


@pytest.mark.parametrize(("size", "duration"), [(0, 1.0), (1, 0.0), (1, -5.0)])
def test_invalid_arguments_are_rejected(size: int, duration: float) -> None:
    with pytest.raises(ValueError):
        TumblingWindows(size=size, duration_s=duration)
