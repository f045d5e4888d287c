"""The rules that make a worker that is behind wait instead of evicting, and read in event-time order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.backpressure import Admission, admit, ahead
from monitors.labels import LabelJoin, PendingPrediction

from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_a_join_with_room_adds() -> None:
    assert admit(mine=99, theirs=0, capacity=100, partner_unread=True, partner_held=True) is Admission.ADD


def test_a_full_join_holds_the_input_ahead_while_its_partner_has_unread_messages() -> None:
    assert admit(mine=100, theirs=0, capacity=100, partner_unread=True, partner_held=False) is Admission.HOLD
    assert admit(mine=60, theirs=40, capacity=100, partner_unread=True, partner_held=False) is Admission.HOLD


def test_a_full_join_evicts_only_when_the_partner_is_read_to_its_end() -> None:
    assert admit(mine=100, theirs=0, capacity=100, partner_unread=False, partner_held=False) is Admission.EVICT
    assert admit(mine=100, theirs=0, capacity=100, partner_unread=False, partner_held=True) is Admission.EVICT


def test_holding_swaps_with_a_held_partner_while_this_side_fills_the_join() -> None:
    # The partner drained the join and filled it with its own items: they wait for ours.
    assert admit(mine=51, theirs=49, capacity=100, partner_unread=True, partner_held=True) is Admission.HOLD


def test_crossed_inputs_evict_rather_than_wait_for_ever() -> None:
    assert admit(mine=50, theirs=50, capacity=100, partner_unread=True, partner_held=True) is Admission.EVICT
    assert admit(mine=0, theirs=100, capacity=100, partner_unread=True, partner_held=True) is Admission.EVICT


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
                        (join.waiting_predictions, join.waiting_labels) if side == "p" else (join.waiting_labels, join.waiting_predictions)
                    )
                    decision = admit(
                        mine=mine, theirs=theirs, capacity=capacity, partner_unread=read[partner] < n, partner_held=partner in held
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
