import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.labels.join import JoinStats, LabelJoin, LabelledPair, PendingPrediction

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def prediction(seconds: float = 0.0, model: str = "m", window: int | None = 0, value: object = True) -> PendingPrediction:
    return PendingPrediction(model, window, value, 0.7, {"yes": 0.7, "no": 0.3}, {"x": 1.0}, at(seconds))


def test_a_label_after_its_prediction_pairs() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    assert join.add_prediction("p1", prediction(0, window=3)) is None
    assert len(join) == 1
    pair = join.add_label("p1", False, at(12.5))
    assert pair is not None
    assert (pair.prediction_id, pair.label, pair.delay_s, pair.model, pair.window) == ("p1", False, 12.5, "m", 3)
    assert len(join) == 0
    assert join.stats("m") == JoinStats(predictions=1, labels=1, joined=1)


def test_a_label_before_its_prediction_pairs() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    assert join.add_label("p1", "spam", at(5)) is None
    assert len(join) == 1
    pair = join.add_prediction("p1", prediction(0, value="ham"))
    assert pair is not None and (pair.prediction.prediction, pair.label, pair.delay_s) == ("ham", "spam", 5.0)
    # The label named no model: it is counted under the prediction's.
    assert join.stats("m") == JoinStats(predictions=1, labels=1, joined=1)
    assert join.models == ["m"]


def test_stats_is_a_snapshot_and_counts_the_live_counters() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(0))
    join.add_prediction("p2", prediction(1))
    snapshot, live = join.stats("m"), join.counts("m")
    assert snapshot == live == JoinStats(predictions=2, waiting=2) and snapshot is not live
    join.add_label("p1", True, at(2))
    assert snapshot == JoinStats(predictions=2, waiting=2)  # a copy stays as it was
    assert live is join.counts("m") and live == join.stats("m") == JoinStats(predictions=2, labels=1, joined=1, waiting=1)
    assert join.stats("m") is not join.stats("m")
    # A model never seen reads all zeros and is not recorded by being read.
    assert join.counts("other") == join.stats("other") == JoinStats() and join.models == ["m"]


def test_delay_keeps_its_sign_when_clocks_disagree() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(10))
    pair = join.add_label("p1", True, at(7))
    assert pair is not None and pair.delay_s == -3.0


def test_missing_labels_expire_after_the_ttl_and_are_counted() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    for i in range(3):
        join.add_prediction(f"p{i}", prediction(i * 10))
    assert join.expire(at(60)) == []  # p0's deadline is 60: not passed yet
    expired = join.expire(at(70.5))
    assert [pid for pid, _ in expired] == ["p0", "p1"]
    assert expired[0][1] == prediction(0)
    assert join.add_label("p0", True, at(71)) is None  # too late: waits as a label
    stats = join.stats("m")
    assert (stats.predictions, stats.expired, stats.waiting, stats.joined) == (3, 2, 1, 0)
    assert stats.coverage == 0.0
    assert len(join) == 2  # p2 and the late label of p0
    assert join.expire(at(10_000)) == [("p2", prediction(20))]
    assert join.stats("m").expired == 3


def test_labels_without_their_prediction_are_orphaned_under_their_model() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_label("a", True, at(0), model="m")
    join.add_label("b", True, at(30))
    assert join.expire(at(61)) == []  # orphans are not expired predictions
    assert join.stats("m").orphaned == 1 and join.stats("m").labels == 1
    assert join.stats("").orphaned == 0 and len(join) == 1
    join.expire(at(91))
    assert join.stats("") == JoinStats(labels=1, orphaned=1)
    assert join.models == ["", "m"] and len(join) == 0


def test_expiry_follows_event_time_whatever_the_arrival_order() -> None:
    join = LabelJoin(ttl_s=100, capacity=10)
    join.add_prediction("late", prediction(500))
    join.add_prediction("early", prediction(0))
    join.add_label("orphan", 1, at(50))
    assert [pid for pid, _ in join.expire(at(101))] == ["early"]
    assert join.stats("").orphaned == 0
    join.expire(at(151))
    assert join.stats("").orphaned == 1
    assert [pid for pid, _ in join.expire(at(601))] == ["late"]


def test_a_second_label_is_a_duplicate_and_never_a_second_pair() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(0))
    assert join.add_label("p1", True, at(1)) is not None
    assert join.add_label("p1", False, at(2)) is None
    assert join.add_label("p1", False, at(3), model="m") is None
    # Two labels before the prediction: the first stands.
    join.add_label("p2", "first", at(0))
    join.add_label("p2", "second", at(1))
    pair = join.add_prediction("p2", prediction(0))
    assert pair is not None and pair.label == "first"
    # Neither early label named a model: both are counted under the prediction's.
    stats = join.stats("m")
    assert (stats.joined, stats.duplicates, stats.labels) == (2, 3, 5)
    assert join.models == ["m"]
    # Unclaimed, they end up under "".
    join.add_label("p3", "first", at(0))
    join.add_label("p3", "second", at(1))
    join.expire(at(1000))
    assert join.stats("") == JoinStats(labels=2, orphaned=1, duplicates=1)


def test_a_repeated_prediction_is_ignored() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(0, value=True))
    assert join.add_prediction("p1", prediction(5, value=False)) is None
    pair = join.add_label("p1", 1, at(1))
    assert pair is not None and pair.prediction.prediction is True
    assert join.add_prediction("p1", prediction(0)) is None  # replayed after the join
    assert join.stats("m").predictions == 1 and len(join) == 0


def test_joined_ids_are_forgotten_after_the_ttl() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(0))
    join.add_label("p1", True, at(30))
    join.expire(at(89))
    assert join.add_label("p1", True, at(89)) is None
    assert join.stats("m").duplicates == 1
    join.expire(at(91))  # remembered until labelled_at + ttl = 90
    join.add_label("p1", True, at(91))
    assert join.stats("m").duplicates == 1 and len(join) == 1  # now a waiting label


def test_capacity_evicts_the_oldest_arrival_and_counts_it_per_model() -> None:
    join = LabelJoin(ttl_s=3600, capacity=3)
    join.add_prediction("a", prediction(0, model="m1"))
    join.add_label("b", True, at(1), model="m2")
    join.add_prediction("c", prediction(2, model="m1"))
    join.add_label("d", True, at(3))
    assert len(join) == 3
    assert join.stats("m1").evicted == 1 and join.stats("m1").waiting == 1
    join.add_prediction("e", prediction(4, model="m1"))
    assert join.stats("m2").evicted == 1
    join.add_prediction("f", prediction(5, model="m1"))
    join.add_prediction("g", prediction(6, model="m1"))
    assert join.stats("m1").evicted == 2 and join.stats("").evicted == 1 and join.stats("").labels == 1
    assert len(join) == 3
    # Evicted entries are gone: their partners now wait alone.
    assert join.add_label("a", True, at(7)) is None
    assert join.add_prediction("b", prediction(8, model="m2")) is None


def test_memory_stays_bounded_with_joins_and_no_expiry() -> None:
    join = LabelJoin(ttl_s=1e9, capacity=50)
    for i in range(5000):
        join.add_label(f"p{i}", True, at(i))
        assert join.add_prediction(f"p{i}", prediction(i)) is not None
        join.add_prediction(f"q{i}", prediction(i))  # never labelled
    assert len(join) == 50
    assert len(join._joined) == 50
    # Deadlines of items joined or evicted are dropped lazily, but not without limit.
    assert len(join._deadlines) <= 2 * (len(join) + len(join._joined)) + 65
    assert join.stats("m").joined == 5000


def test_per_model_ttl() -> None:
    join = LabelJoin(ttl_s=60, capacity=10, per_model_ttl_s={"slow": 3600})
    join.add_prediction("f", prediction(0, model="fast"))
    join.add_prediction("s", prediction(0, model="slow"))
    join.add_label("ls", True, at(0), model="slow")
    join.add_label("lx", True, at(0))
    assert [pid for pid, _ in join.expire(at(120))] == ["f"]
    assert join.stats("").orphaned == 1 and join.stats("slow").orphaned == 0
    assert join.add_label("s", False, at(119)) is not None
    assert join.ttl("slow") == 3600 and join.ttl("other") == 60 and join.ttl(None) == 60


def test_pickle_round_trip_mid_stream_keeps_working() -> None:
    join = LabelJoin(ttl_s=60, capacity=100, per_model_ttl_s={"m": 120})
    join.add_prediction("p1", prediction(0))
    join.add_prediction("p2", prediction(1))
    join.add_label("p3", True, at(2), model="m")
    join.add_label("p1", False, at(3))
    restored: LabelJoin = pickle.loads(pickle.dumps(join))
    assert restored.stats("m") == join.stats("m") and len(restored) == 2
    pair = restored.add_prediction("p3", prediction(2))
    assert pair is not None and pair.label is True
    assert restored.add_label("p1", True, at(4)) is None  # still a duplicate
    assert [pid for pid, _ in restored.expire(at(200))] == ["p2"]
    assert restored.stats("m") == JoinStats(predictions=3, labels=3, joined=2, expired=1, duplicates=1)


_pending = st.builds(
    PendingPrediction,
    model=st.sampled_from(["a", "b"]),
    window=st.none() | st.integers(0, 10**6),
    prediction=st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    score=st.none() | st.floats(0, 1),
    probabilities=st.none() | st.dictionaries(st.text(max_size=3), st.floats(0, 1), max_size=3),
    features=st.binary(max_size=30) | st.dictionaries(st.text(max_size=3), st.floats(allow_nan=False), max_size=3),
    # Any instant of these years in any offset: read back in UTC, the same instant to the microsecond.
    predicted_at=st.datetimes(
        datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))])
    ),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(_pending, max_size=20))
def test_waiting_predictions_survive_a_pickle_exactly(pendings: list[PendingPrediction]) -> None:
    join = LabelJoin(ttl_s=10**9, capacity=100)
    for i, pending in enumerate(pendings):
        join.add_prediction(f"p{i}", pending)
    restored: LabelJoin = pickle.loads(pickle.dumps(join))
    for i, pending in enumerate(pendings):
        pair = restored.add_label(f"p{i}", True, datetime(2100, 1, 2, tzinfo=UTC))
        assert pair is not None and pair.prediction == pending


_steps = st.lists(
    st.tuples(st.sampled_from(["prediction", "label"]), st.integers(0, 30), st.integers(0, 300)), min_size=1, max_size=60
)


@settings(max_examples=100, deadline=None)
@given(_steps, st.integers(0, 400))
def test_a_restored_join_expires_as_the_original_does(steps: list[tuple[str, int, int]], then: int) -> None:
    # The deadline heap is not pickled but rebuilt: whatever expires after a round trip
    # must be what expires without one, in the same order, with the same counts.
    join = LabelJoin(ttl_s=60, capacity=20, per_model_ttl_s={"m": 120})
    for kind, pid, second in steps:
        if kind == "prediction":
            join.add_prediction(f"p{pid}", prediction(second))
        else:
            join.add_label(f"p{pid}", True, at(second), model="m")
    restored: LabelJoin = pickle.loads(pickle.dumps(join))
    for now in (then, then + 100, then + 400):
        assert restored.expire(at(now)) == join.expire(at(now))
        assert restored.stats("m") == join.stats("m") and len(restored) == len(join)


def test_a_join_pickled_before_the_columns_still_loads() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", prediction(0))
    old = LabelJoin.__new__(LabelJoin)
    old.__setstate__(dict(join.__dict__))  # the state as pickled then: the waiting objects themselves
    pair = old.add_label("p1", False, at(1))
    assert pair is not None and pair.prediction == prediction(0)


def test_a_waiting_predictions_segment_windows_survive_a_checkpoint() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    segmented = replace(prediction(0), segments=((("region", "eu"), 2), (("device", "ios"), None)))
    join.add_prediction("p1", segmented)
    join.add_prediction("p2", prediction(0))
    restored: LabelJoin = pickle.loads(pickle.dumps(join))
    pair = restored.add_label("p1", True, at(1))
    assert pair is not None and pair.prediction.segments == ((("region", "eu"), 2), (("device", "ios"), None))
    other = restored.add_label("p2", True, at(1))
    assert other is not None and other.prediction.segments == ()


def test_a_join_checkpointed_before_segments_were_carried_loads_with_none() -> None:
    join = LabelJoin(ttl_s=60, capacity=10)
    join.add_prediction("p1", replace(prediction(0), segments=((("region", "eu"), 0),)))
    state = join.__getstate__()
    state["_predictions"] = state["_predictions"][:10]  # the ten columns written then
    old = LabelJoin.__new__(LabelJoin)
    old.__setstate__(state)
    pair = old.add_label("p1", True, at(1))
    assert pair is not None and pair.prediction.segments == () and pair.prediction.window == 0


def test_arguments_and_times_are_checked() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        LabelJoin(ttl_s=0, capacity=1)
    with pytest.raises(ValueError, match="capacity"):
        LabelJoin(ttl_s=1, capacity=0)
    with pytest.raises(ValueError, match="per_model_ttl_s"):
        LabelJoin(ttl_s=1, capacity=1, per_model_ttl_s={"m": -1})
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="predicted_at"):
        PendingPrediction("m", 0, True, None, None, {}, naive)
    join = LabelJoin(ttl_s=1, capacity=1)
    with pytest.raises(ValueError, match="labelled_at"):
        join.add_label("p", True, naive)
    with pytest.raises(ValueError, match="now"):
        join.expire(naive)


def test_labelled_pair_properties() -> None:
    pair = LabelledPair("p", prediction(0, model="x", window=None), 1, at(2))
    assert (pair.model, pair.window, pair.delay_s) == ("x", None, 2.0)
    assert JoinStats().coverage == 0.0


@st.composite
def streams(draw: st.DrawFn) -> tuple[int, set[int], list[tuple[str, int, int, float]]]:
    n = draw(st.integers(min_value=1, max_value=30))
    labelled = draw(st.sets(st.integers(min_value=0, max_value=n - 1)))
    events: list[tuple[str, int, int, float]] = []
    for i in range(n):
        events.append(("prediction", i, 0, draw(st.floats(0, 1000))))
    for i in labelled:
        for copy in range(draw(st.integers(min_value=1, max_value=2))):
            events.append(("label", i, copy, draw(st.floats(0, 1000))))
    return n, labelled, draw(st.permutations(events))


@settings(max_examples=200, deadline=None)
@given(streams())
def test_any_arrival_order_pairs_every_labelled_id_exactly_once(
    stream: tuple[int, set[int], list[tuple[str, int, int, float]]],
) -> None:
    n, labelled, events = stream
    join = LabelJoin(ttl_s=1e6, capacity=1000)
    pairs: list[LabelledPair] = []
    first_label: dict[int, int] = {}
    for kind, i, copy, seconds in events:
        if kind == "prediction":
            pair = join.add_prediction(f"p{i}", prediction(seconds, value=i))
        else:
            first_label.setdefault(i, copy)
            pair = join.add_label(f"p{i}", (i, copy), at(seconds))
        if pair is not None:
            pairs.append(pair)
        stats = join.stats("m")
        assert stats.joined + stats.expired + stats.waiting == stats.predictions
    assert sorted(p.prediction_id for p in pairs) == sorted(f"p{i}" for i in labelled)
    assert all(p.label == (p.prediction.prediction, first_label[p.prediction.prediction]) for p in pairs)
    label_events = sum(1 for kind, *_ in events if kind == "label")
    stats = join.stats("m")
    assert (stats.predictions, stats.joined, stats.duplicates) == (n, len(labelled), label_events - len(labelled))
    assert stats.labels == label_events
    expired = join.expire(at(1e7))
    assert sorted(pid for pid, _ in expired) == sorted(f"p{i}" for i in range(n) if i not in labelled)
    stats = join.stats("m")
    assert stats.joined + stats.expired == n and stats.waiting == 0 and len(join) == 0
    assert stats.orphaned == stats.evicted == 0
