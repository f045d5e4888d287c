"""The learner's process trains the challengers exactly as the worker would, and brings back what learning causes, in order."""

from __future__ import annotations

import asyncio
import pickle
import random
from collections.abc import Iterator

import orjson
import pytest

from monitors.online.challenger import Challenger, Promotion
from streams.worker.learner import Learner, Rejected, _learn


def pairs(n: int, seed: int) -> Iterator[tuple[dict[str, float | str], int, int]]:
    """Features, the deployed model's prediction (right half the time) and the label (from the features)."""
    rng = random.Random(seed)
    for _ in range(n):
        x = rng.gauss(0, 1)
        features = {"x": x, "noise": rng.gauss(0, 1), "plan": rng.choice(["a", "b"])}
        yield features, rng.randint(0, 1), int(x > 0)


@pytest.fixture
def learner() -> Iterator[Learner]:
    started = Learner()
    started.start()
    yield started
    started.close()


def test_the_taken_challenger_is_the_one_learning_in_process_makes(learner: Learner) -> None:
    # In mini-batches of 16: the child gets the pairs 50 to a request, here they are learned
    # one at a time; the batches are the same, and so is the challenger, the 8 pairs still
    # waiting in its last batch included.
    async def run() -> tuple[Challenger | None, list[object], Challenger]:
        here = Challenger(min_labelled=100, batch_size=16)
        learner.put(0, Challenger(min_labelled=100, batch_size=16))
        outcomes: list[object] = []
        for i, (features, deployed, label) in enumerate(pairs(600, seed=1)):
            learner.learn(0, "churn", orjson.dumps(features), deployed, label, True, f"p{i}")
            here.learn("churn", features, deployed, label)
            if i % 50 == 49:  # as the worker sends after each batch
                outcomes += await learner.send()
        taken, rest = await learner.take(0)
        return taken, outcomes + rest, here

    taken, outcomes, here = asyncio.run(run())
    assert taken is not None
    assert taken.state("churn") == here.state("churn")
    assert pickle.dumps(taken.state("churn")) == pickle.dumps(here.state("churn"))
    assert (taken.state("churn").labelled, taken.state("churn").learned) == (600, 592)
    assert taken._tracks["churn"].waiting == here._tracks["churn"].waiting
    probe = [features for features, _, _ in pairs(50, seed=2)]
    assert [taken.estimator("churn").predict_proba_one(x) for x in probe] == [
        here.estimator("churn").predict_proba_one(x) for x in probe
    ]
    # The challenger learns x > 0 while the deployed model guesses: promoted once, and said so.
    (promotion,) = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    assert promotion[0] == 0 and promotion[1].model == "churn" and promotion[1].challenger_score > promotion[1].deployed_score


def test_a_pair_the_challenger_cannot_use_comes_back_rejected_and_learning_goes_on(learner: Learner) -> None:
    async def run() -> tuple[list[object], Challenger | None]:
        learner.put(3, Challenger())
        learner.learn(3, "churn", b'{"x": 1.0}', 1, "yes", True, "bad")
        learner.learn(3, "churn", b'{"x": 1.0}', 1, 1, True, "good")
        outcomes = await learner.send()
        taken, rest = await learner.take(3)
        return outcomes + rest, taken

    outcomes, taken = asyncio.run(run())
    (rejected,) = outcomes
    assert isinstance(rejected, Rejected) and (rejected.partition, rejected.model, rejected.prediction_id) == (3, "churn", "bad")
    assert taken is not None and taken.state("churn").labelled == 1


def test_a_partition_dropped_is_forgotten(learner: Learner) -> None:
    async def run() -> tuple[Challenger | None, Challenger | None]:
        learner.put(1, Challenger())
        learner.put(2, Challenger())
        learner.drop(1)
        learner.learn(1, "churn", b'{"x": 1.0}', 1, 1, True, "late")  # joined before the hand-over: ignored
        return (await learner.take(1))[0], (await learner.take(2))[0]

    dropped, kept = asyncio.run(run())
    assert dropped is None and kept is not None and kept.models == ()


def test_outcomes_come_back_in_the_order_of_the_pairs_across_partitions_and_models() -> None:
    # _learn hands each partition's pairs to its challengers in one call (mini-batches of 2
    # here: both fraud pairs are predicted by the untrained model); what comes back
    # (promotions, pairs the challenger could not use) is in the order the pairs were sent.
    challengers = {
        0: Challenger(min_labelled=2, margin=0.1, batch_size=2),
        1: Challenger(min_labelled=2, margin=0.1, batch_size=2),
    }
    sent = [
        (1, "fraud", b'{"x": 1.0}', 0, 1, True, "f1"),
        (0, "churn", b'{"x": 1.0}', 1, "yes", True, "c-bad-label"),
        (1, "fraud", b'{"x": -1.0}', 1, 0, True, "f2"),  # fraud leads 0.5 to 0.0 here: promoted
        (0, "churn", b"{not json", 1, 1, True, "c-bad-json"),
        (2, "churn", b'{"x": 1.0}', 1, 1, True, "handed-over"),
        (0, "churn", b'{"x": [1]}', 1, 1, True, "c-bad-feature"),
    ]
    outcomes = _learn(challengers, sent)
    assert [o.prediction_id if isinstance(o, Rejected) else (o[0], o[1].model) for o in outcomes] == [
        "c-bad-label",
        (1, "fraud"),
        "c-bad-json",
        "c-bad-feature",
    ]
    assert all(o.partition == 0 and o.model == "churn" for o in outcomes if isinstance(o, Rejected))
    assert isinstance(outcomes[1][1], Promotion) and challengers[1].state("fraud").labelled == 2
    assert challengers[0].models == ()
