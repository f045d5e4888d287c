"""The rules that make a worker that is behind wait instead of evicting, and read in event-time order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.intake.backpressure import Admission, admit, ahead
from monitors.labels.join import LabelJoin, PendingPrediction

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mine", "theirs", "partner_unread", "partner_held", "expected"),
    [
        pytest.param(99, 0, True, True, Admission.ADD, id="a join with room adds"),
        pytest.param(
            100, 0, True, False, Admission.HOLD, id="a full join holds the input ahead while its partner has unread messages"
        ),
        pytest.param(60, 40, True, False, Admission.HOLD, id="a join full of both inputs holds too"),
        pytest.param(100, 0, False, False, Admission.EVICT, id="a full join evicts once the partner is read to its end"),
        pytest.param(100, 0, False, True, Admission.EVICT, id="a full join evicts once a held partner is read to its end"),
        # The partner drained the join and filled it with its own items: they wait for ours.
        pytest.param(51, 49, True, True, Admission.HOLD, id="holding swaps with a held partner while this side fills the join"),
        pytest.param(50, 50, True, True, Admission.EVICT, id="crossed inputs evict rather than wait for ever"),
        pytest.param(0, 100, True, True, Admission.EVICT, id="crossed inputs evict even with this side empty"),
    ],
)
def test_admission(mine: int, theirs: int, partner_unread: bool, partner_held: bool, expected: Admission) -> None:
    assert admit(mine=mine, theirs=theirs, capacity=100, partner_unread=partner_unread, partner_held=partner_held) is expected


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        admit(mine=0, theirs=0, capacity=0, partner_unread=True, partner_held=False)


@given(st.dictionaries(st.sampled_from(["p", "f", "l"]), st.floats(0, 1e6), min_size=1), st.floats(0, 100))
def test_the_oldest_input_is_never_paused(frontiers: dict[str, float], slack: float) -> None:
    paused = ahead(frontiers, slack)
    oldest = min(frontiers, key=frontiers.__getitem__)
    assert oldest not in paused
    assert all(frontiers[k] > frontiers[oldest] + slack for k in paused)


def simulate(order: list[int], capacity: int, batch: int) -> tuple[int, int]:
    """Predictions in id order and their labels in ``order``, read in batches with the worker's rules; (joined, evicted)."""
    n = len(order)
    join = LabelJoin(ttl_s=86_400, capacity=capacity)
    read = {"p": 0, "l": 0}
    held: set[str] = set()
    while read["p"] < n or read["l"] < n:
        progressed = False
        for side in ("p", "l"):
            if side in held:
                continue
            partner = "l" if side == "p" else "p"
            for _ in range(batch):
                if read[side] >= n:
                    break
                i = read[side] if side == "p" else order[read[side]]
                if not join.knows(f"{i}"):
                    mine, theirs = (
                        (join.waiting_predictions, join.waiting_labels)
                        if side == "p"
                        else (join.waiting_labels, join.waiting_predictions)
                    )
                    decision = admit(
                        mine=mine,
                        theirs=theirs,
                        capacity=capacity,
                        partner_unread=read[partner] < n,
                        partner_held=partner in held,
                    )
                    if decision is Admission.HOLD:
                        held.add(side)
                        held.discard(partner)
                        break
                if side == "p":
                    join.add_prediction(f"{i}", PendingPrediction("m", 0, 1, None, None, {}, T0 + timedelta(seconds=i)))
                else:
                    join.add_label(f"{i}", 1, T0 + timedelta(seconds=i + 300))
                read[side] += 1
                progressed = True
        held = {side for side in held if len(join) >= capacity and read["l" if side == "p" else "p"] < n}
        assert progressed or held == set(), "no input could be read"
    stats = join.stats("m")
    return stats.joined, stats.evicted


@pytest.mark.parametrize("shuffled", [1, 40])
def test_a_backlog_read_with_the_rules_joins_every_label(shuffled: int) -> None:
    rng = random.Random(3)
    order = [i for start in range(0, 5_000, shuffled) for i in rng.sample(range(start, start + shuffled), shuffled)]
    assert simulate(order, capacity=100, batch=500) == (5_000, 0)


def test_labels_shuffled_beyond_the_capacity_are_crossed_and_evicted_not_waited_for_for_ever() -> None:
    order = [i for start in range(0, 2_000, 400) for i in reversed(range(start, start + 400))]
    joined, evicted = simulate(order, capacity=100, batch=500)
    assert evicted > 0 and joined + evicted >= 2_000
