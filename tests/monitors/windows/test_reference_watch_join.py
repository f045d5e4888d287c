import pickle
from datetime import UTC, datetime, timedelta

import pytest

from monitors.intake.join import KeyedJoin
from monitors.windows.reference import SealedRows, StreamReference
from monitors.windows.watch import DriftWatch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_stream_reference_takes_the_first_rows_of_each_key_only() -> None:
    ref = StreamReference(size=3)
    taken = [ref.offer("a", {"i": i}) for i in range(5)]
    assert taken == [True, True, True, False, False]
    assert not ref.ready("b") and ref.offer("b", {"i": 0})
    assert [r["i"] for r in ref.rows("a")] == [0, 1, 2]


def test_fixed_reference_is_shared_and_takes_nothing_from_the_stream() -> None:
    ref = StreamReference(size=3, fixed=[{"x": 1}, {"x": 2}])
    assert ref.ready("any") and not ref.offer("any", {"x": 9})
    assert ref.rows("other") == ({"x": 1}, {"x": 2})
    with pytest.raises(ValueError, match="fixed"):
        StreamReference(size=3, fixed=[])


def test_a_complete_reference_is_packed_once_and_every_later_pickle_reuses_its_bytes() -> None:
    ref = StreamReference(size=3)
    for i in range(3):
        ref.offer("a", {"i": float(i), "plan": "pro"})
    ref.offer("b", {"i": 0.0})  # still collecting: kept as rows
    sealed = ref.rows("a")
    assert isinstance(sealed, SealedRows) and not isinstance(ref.rows("b"), SealedRows)
    packed = sealed.packed
    restored = pickle.loads(pickle.dumps(ref))
    assert restored.rows("a") == sealed and restored.rows("a").packed is not packed
    assert restored.rows("a").packed == packed  # kept from the unpickling, not packed again
    assert pickle.dumps(restored) == pickle.dumps(ref)
    restored.offer("b", {"i": 1.0})
    restored.offer("b", {"i": 2.0})
    assert isinstance(restored.rows("b"), SealedRows) and [r["i"] for r in restored.rows("b")] == [0.0, 1.0, 2.0]


def test_a_complete_reference_restored_as_a_list_from_an_older_checkpoint_is_sealed_when_read() -> None:
    ref = StreamReference(size=2)
    ref._collected["a"] = [{"i": 0}, {"i": 1}]  # as releases before sealing kept it
    assert ref.ready("a") and not ref.offer("a", {"i": 2})
    rows = ref.rows("a")
    assert isinstance(rows, SealedRows) and [r["i"] for r in rows] == [0, 1] and ref.rows("a") is rows


def test_watch_windows_start_after_the_reference_and_carry_it() -> None:
    watch = DriftWatch(window_size=5, window_duration_s=3600, reference_size=10)
    jobs = []
    for i in range(27):
        jobs += watch.add("m", T0 + timedelta(seconds=i), {"i": i})
    assert [[r["i"] for r in j.window.rows] for j in jobs] == [list(range(10, 15)), list(range(15, 20)), list(range(20, 25))]
    assert all([r["i"] for r in j.reference] == list(range(10)) for j in jobs)
    assert [j.window.index for j in jobs] == [0, 1, 2]
    (flushed,) = watch.flush()
    assert [r["i"] for r in flushed.window.rows] == [25, 26] and flushed.window.reason == "flush"


def test_join_pairs_either_arrival_order() -> None:
    join: KeyedJoin[str, str] = KeyedJoin(capacity=10)
    assert join.add_left("a", "L") is None
    assert join.add_right("a", "R") == ("L", "R")
    assert join.add_right("b", "R2") is None
    assert join.add_left("b", "L2") == ("L2", "R2")
    assert len(join) == 0 and join.evicted == 0


def test_join_is_bounded_and_counts_evictions() -> None:
    join: KeyedJoin[int, int] = KeyedJoin(capacity=100)
    for key in range(1000):
        join.add_left(key, key)
    assert len(join) == 100 and join.evicted == 900
    # The newest stay: an old key's partner no longer finds it.
    assert join.add_right(0, 0) is None
    assert join.add_right(999, 999) == (999, 999)
