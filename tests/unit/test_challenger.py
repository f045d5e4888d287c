import copy
import itertools
import pickle
import random
from collections.abc import Iterator
from typing import Any

import pytest
import numpy as np
from river import optim, utils
from river.datasets import synth

from monitors.challenger import (
    METRICS,
    MINI_BATCH_MODELS,
    MODEL_TASKS,
    ONLINE_MODELS,
    Challenger,
    Promotion,
    build_model,
    prepare,
)


def degraded(seed: int, n: int, flip: float = 0.3) -> Iterator[tuple[dict[str, Any], int, int]]:
    """Agrawal pairs (features, deployed prediction, label): the deployed model is the label, flipped ``flip`` of the time."""
    rng = random.Random(seed)
    for x, y in synth.Agrawal(seed=seed).take(n):
        yield x, (1 - y if rng.random() < flip else y), y


def regression_pairs(seed: int, n: int) -> Iterator[tuple[dict[str, Any], float, float]]:
    """y = 3a - 2b + noise; the deployed model is off by a constant 2.0."""
    rng = random.Random(seed)
    for _ in range(n):
        a, b = rng.uniform(-1, 1), rng.uniform(-1, 1)
        y = 3 * a - 2 * b + rng.gauss(0, 0.1)
        yield {"a": a, "b": b, "kind": rng.choice(["x", "y"])}, y + 2.0, y


def test_prepare_makes_river_ready_floats() -> None:
    assert prepare({"n": 3, "f": 0.5, "t": True, "s": "gold", "none": None, "inf": float("inf")}) == {
        "n": 3.0, "f": 0.5, "t": 1.0, "s=gold": 1.0,
    }
    with pytest.raises(ValueError, match="feature 'tags'"):
        prepare({"tags": ["a", "b"]})


def test_prepare_takes_subclasses_and_numpy_numbers_by_the_general_path() -> None:
    class Plan(str):
        pass

    prepared = prepare({"f": np.float64(0.5), "n": np.int64(3), "nan": np.float64("nan"), "p": Plan("gold")})
    assert prepared == {"f": 0.5, "n": 3.0, "p=gold": 1.0}
    assert {type(v) for v in prepared.values()} == {float}
    with pytest.raises(ValueError, match="feature 'b'"):
        prepare({"b": b"bytes"})


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_every_model_starts_with_prepare_and_pickles(name: str) -> None:
    model = build_model(name)
    assert next(iter(model.steps)) == "prepare"
    model.learn_one({"a": 1.0, "s": "x"}, 1 if MODEL_TASKS[name] == "classification" else 1.0)
    assert pickle.loads(pickle.dumps(model)).predict_one({"a": 1.0}) == model.predict_one({"a": 1.0})


def test_unknown_names_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown online model 'xgboost'; choose one of logistic_regression"):
        build_model("xgboost")
    with pytest.raises(ValueError, match="xgboost"):
        Challenger("xgboost")
    with pytest.raises(ValueError, match="bad parameters for online model 'logistic_regression'"):
        build_model("logistic_regression", {"learning_rate": 0.1})
    with pytest.raises(ValueError, match="unknown metric 'mae' for classification; choose one of accuracy"):
        Challenger(metric="mae")
    with pytest.raises(ValueError, match="is for classification"):
        Challenger("logistic_regression", task="regression")


def test_prequential_the_challenger_predicts_before_it_learns() -> None:
    # Before learning, logistic regression says False (a 0.5 tie); one positive pair moves
    # its intercept so that afterwards it says True. Scored after learning, the first pair
    # would be right.
    challenger = Challenger(min_labelled=1)
    challenger.learn("m", {"a": 1.0}, deployed_prediction=True, label=True)
    state = challenger.state("m")
    assert state.challenger_score == 0.0 and state.deployed_score == 1.0
    assert challenger.estimator("m").predict_one({"a": 1.0}) is True
    # The same for a tree, which predicts nothing before its first label.
    tree = Challenger("hoeffding_adaptive_tree", min_labelled=1)
    tree.learn("m", {"a": 1.0}, "yes", "yes")
    assert tree.state("m").challenger_score == 0.0
    assert tree.estimator("m").predict_one({"a": 1.0}) == "yes"


def test_challenger_overtakes_a_degraded_deployed_model_once() -> None:
    challenger = Challenger("hoeffding_adaptive_tree", window=500, min_labelled=1000)
    promotions = []
    for i, (x, deployed, y) in enumerate(degraded(seed=42, n=3000), start=1):
        promotion = challenger.learn("churn", x, deployed, y)
        if promotion is not None:
            promotions.append((i, promotion))
    assert len(promotions) == 1
    i, p = promotions[0]
    # It leads long before 1,000 pairs, so the promotion comes at the first pair allowed.
    assert i == p.labelled == 1000
    assert (p.model, p.challenger, p.metric, p.margin, p.window) == ("churn", "hoeffding_adaptive_tree", "accuracy", 0.02, 500)
    assert p.challenger_score - p.deployed_score >= p.margin
    assert abs(p.deployed_score - 0.7) < 0.05 and abs(p.deployed_cumulative - 0.7) < 0.05
    assert p.challenger_score > 0.8 and p.challenger_cumulative > 0.75
    state = challenger.state("churn")
    assert (state.labelled, state.learned, state.promoted, state.paused) == (3000, 3000, True, False)
    assert challenger.models == ("churn",)


def test_no_promotion_before_min_labelled_and_again_after_falling_behind() -> None:
    challenger = Challenger("hoeffding_adaptive_tree", window=200, min_labelled=800)
    pairs = list(degraded(seed=7, n=2000))
    promotions = [challenger.learn("m", x, d, y) for x, d, y in pairs[:799]]
    assert promotions == [None] * 799 and challenger.state("m").challenger_score > 0.8
    assert challenger.learn("m", *pairs[799]) is not None
    # Now the deployed model becomes perfect: the challenger falls behind...
    for x, _, y in pairs[800:1200]:
        assert challenger.learn("m", x, y, y) is None
    assert not challenger.state("m").promoted
    # ...and when the deployed model degrades again, the lead is news again.
    later = [challenger.learn("m", x, d, y) for x, d, y in pairs[1200:]]
    assert sum(p is not None for p in later) == 1


def test_learn_false_scores_without_learning_and_never_promotes() -> None:
    challenger = Challenger("hoeffding_adaptive_tree", window=100, min_labelled=100)
    pairs = list(degraded(seed=3, n=400))
    for x, d, y in pairs[:50]:
        challenger.learn("m", x, d, y)
    frozen = pickle.dumps(challenger.estimator("m"))
    probe = [x for x, _, _ in pairs[300:]]
    before = [challenger.estimator("m").predict_one(x) for x in probe]
    results = [challenger.learn("m", x, d, y, learn=False) for x, d, y in pairs[50:300]]
    assert results == [None] * 250  # the lead is there, but no promotion while paused
    assert pickle.dumps(challenger.estimator("m")) == frozen
    assert [challenger.estimator("m").predict_one(x) for x in probe] == before
    state = challenger.state("m")
    assert (state.labelled, state.learned, state.paused) == (300, 50, True)
    # Learning again: the standing lead is reported.
    assert challenger.learn("m", *pairs[300]) is not None
    assert not challenger.state("m").paused


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_pickle_round_trip_mid_stream_gives_identical_predictions(name: str) -> None:
    task = MODEL_TASKS[name]
    pairs: list[Any] = list(
        degraded(seed=5, n=600) if task == "classification" else regression_pairs(seed=5, n=600)
    )
    challenger = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01)
    for x, d, y in pairs[:300]:
        challenger.learn("m", x, d, y)
    twin = pickle.loads(pickle.dumps(challenger))
    for x, d, y in pairs[300:]:
        assert challenger.estimator("m").predict_one(x) == twin.estimator("m").predict_one(x)
        assert challenger.learn("m", x, d, y) == twin.learn("m", x, d, y)
    assert challenger.state("m") == twin.state("m")


def test_regression_promotes_on_lower_mae() -> None:
    assert not METRICS["mae"][1]().bigger_is_better
    challenger = Challenger("linear_regression", task="regression", window=300, min_labelled=300, margin=0.5)
    promotions = [p for x, d, y in regression_pairs(seed=1, n=1500) if (p := challenger.learn("m", x, d, y))]
    assert len(promotions) == 1
    p = promotions[0]
    assert p.metric == "mae" and p.deployed_score == pytest.approx(2.0)
    assert p.deployed_score - p.challenger_score >= 0.5
    with pytest.raises(ValueError, match="regression needs numbers"):
        challenger.learn("m", {"a": 1.0}, "high", 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        challenger.learn("m", {"a": 1.0}, 1.0, float("nan"))


def test_logistic_regression_needs_binary_labels() -> None:
    challenger = Challenger()
    with pytest.raises(ValueError, match="binary"):
        challenger.learn("m", {"a": 1.0}, "cat", "cat")
    with pytest.raises(ValueError, match="binary"):
        challenger.learn("m", {"a": 1.0}, 2, 2)
    assert challenger.models == ()  # nothing half-recorded


def test_state_and_estimator_of_an_unknown_model() -> None:
    with pytest.raises(KeyError, match="no challenger for model 'm'"):
        Challenger().state("m")
    with pytest.raises(KeyError):
        Challenger().estimator("m")


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"margin": -0.1}, {"min_labelled": 0}, {"task": "ranking"}])
def test_invalid_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Challenger(**kwargs)


def test_models_learn_independently() -> None:
    challenger = Challenger("hoeffding_adaptive_tree", min_labelled=10)
    for x, d, y in itertools.islice(degraded(seed=2, n=100), 100):
        challenger.learn("a", x, d, y)
    challenger.learn("b", {"age": 30}, 1, 1)
    assert challenger.models == ("a", "b")
    assert (challenger.state("a").learned, challenger.state("b").learned) == (100, 1)


def test_stateful_params_are_not_shared_between_models() -> None:
    challenger = Challenger(params={"optimizer": optim.Adam(0.01)})
    challenger.learn("a", {"x": 1.0}, 1, 1)
    challenger.learn("b", {"x": 1.0}, 1, 1)
    optimizers = [challenger.estimator(m)["LogisticRegression"].optimizer for m in ("a", "b")]
    assert optimizers[0] is not optimizers[1]


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_learn_gives_exactly_what_the_plain_river_pipeline_gives(name: str) -> None:
    # Challenger.learn prepares the features once, runs the pipeline's later steps on them
    # and keeps one window for both rolling scores. The straightforward way is build_model's
    # pipeline on raw features and a utils.Rolling per model: pair by pair, the predictions,
    # scores and promotions must be the same numbers, and the exported model the same model.
    task = MODEL_TASKS[name]
    stream = degraded(seed=11, n=1500, flip=0.4) if task == "classification" else regression_pairs(seed=11, n=1500)
    pairs: list[Any] = list(stream)
    challenger = Challenger(name, task=task, window=150, min_labelled=150, margin=0.01)
    reference = build_model(name)
    metric = METRICS[challenger.metric][1]
    rolling = [utils.Rolling(metric, window_size=150), utils.Rolling(metric, window_size=150)]
    totals = [metric(), metric()]
    sign = 1.0 if metric().bigger_is_better else -1.0
    standing, promotions = False, 0
    for i, (x, deployed, y) in enumerate(pairs, start=1):
        if 700 < i <= 900:
            deployed = y  # a perfect deployed model for a while: the challenger falls behind
        learn = not 500 < i <= 600
        predicted = reference.predict_one(x)
        for scores, total, prediction in zip(rolling, totals, (predicted, deployed)):
            scores.update(y, prediction)
            total.update(y, prediction)
        if learn:
            reference.learn_one(x, y)
        lead = sign * (rolling[0].obj.get() - rolling[1].obj.get())
        standing = standing and lead >= 0
        expected = None
        if not standing and learn and i >= 150 and lead >= 0.01:
            standing = True
            expected = Promotion(
                "m", name, challenger.metric, rolling[0].obj.get(), rolling[1].obj.get(), 0.01, i, 150,
                totals[0].get(), totals[1].get(),
            )
        assert challenger.learn("m", x, deployed, y, learn=learn) == expected, i
        promotions += expected is not None
        state = challenger.state("m")
        assert (state.challenger_score, state.deployed_score) == (rolling[0].obj.get(), rolling[1].obj.get()), i
        assert (state.challenger_cumulative, state.deployed_cumulative) == (totals[0].get(), totals[1].get()), i
        assert state.promoted is standing
    assert promotions >= 2  # promoted, fell behind, promoted again
    # The exported pipeline takes raw features and is the same model, to the last bit.
    # (Pickles are no test: a tree's Gaussians each hold an unseeded random.Random.)
    exported, probe = challenger.estimator("m"), [x for x, _, _ in pairs[:100]]
    say = (lambda model, x: model.predict_proba_one(x)) if task == "classification" else (lambda model, x: model.predict_one(x))
    assert [say(exported, x) for x in probe] == [say(reference, x) for x in probe]
    served = pickle.loads(pickle.dumps(exported))  # as `streammon models export` writes it
    assert [say(served, x) for x in probe] == [say(reference, x) for x in probe]


def test_a_checkpoint_with_a_rolling_window_per_model_loads_and_scores_the_same() -> None:
    # Checkpoints written before the shared window hold a utils.Rolling per model; rebuild
    # that layout from a live track and check that it loads into the same scores.
    pairs = list(degraded(seed=4, n=400))
    challenger = Challenger(window=100, min_labelled=100)
    for x, d, y in pairs[:250]:
        challenger.learn("m", x, d, y)
    state = pickle.loads(pickle.dumps(challenger))._tracks["m"].__getstate__()
    for key, column in (("challenger_rolling", 1), ("deployed_rolling", 2)):
        old = utils.Rolling(type(state[key]), window_size=100)
        old.obj = state[key]
        old.window.extend(((pair[0], pair[column]), {}) for pair in state["recent"])
        state[key] = old
    del state["recent"]
    twin = pickle.loads(pickle.dumps(challenger))
    twin._tracks["m"].__setstate__(state)
    for x, d, y in pairs[250:]:
        assert challenger.learn("m", x, d, y) == twin.learn("m", x, d, y)
        assert challenger.state("m") == twin.state("m")


# -- learn_many: a batch at a time ----------------------------------------------------


def batched(pairs: list[Any], size: int, model: str = "m", learn: bool = True) -> Iterator[list[Any]]:
    """The pairs (features, deployed, label) as learn_many's batches of ``size``."""
    for start in range(0, len(pairs), size):
        yield [(model, x, d, y, learn) for x, d, y in pairs[start : start + size]]


@pytest.mark.parametrize("name", sorted(MINI_BATCH_MODELS))
def test_a_batch_is_predicted_by_the_model_as_it_was_before_the_batch(name: str) -> None:
    # Prequential per batch: the scores of each batch are those of the model before it,
    # pair by pair through River's own predict_one on a copy of the exported pipeline.
    task = MODEL_TASKS[name]
    pairs: list[Any] = list(degraded(seed=8, n=1200) if task == "classification" else regression_pairs(seed=8, n=1200))
    challenger = Challenger(name, task=task, window=100, min_labelled=100)
    metric = METRICS[challenger.metric][1]
    totals = [metric(), metric()]
    for batch in batched(pairs, 60):
        if challenger.models:
            before = copy.deepcopy(challenger.estimator("m"))
            predictions = [before.predict_one(x) for _, x, _, _, _ in batch]
        else:
            predictions = [build_model(name).predict_one(x) for _, x, _, _, _ in batch]
        for (_, _, deployed, y, _), predicted in zip(batch, predictions):
            totals[0].update(y, predicted)
            totals[1].update(y, deployed)
        challenger.learn_many(batch)
        state = challenger.state("m")
        assert state.challenger_cumulative == pytest.approx(totals[0].get(), rel=1e-9)
        assert state.deployed_cumulative == totals[1].get()
    assert (state.labelled, state.learned) == (1200, 1200)


def test_pairs_of_one_batch_are_not_learned_before_they_are_all_scored() -> None:
    # One positive pair teaches logistic regression to say True (see the prequential test
    # above): pair by pair the second of two such pairs is right, in one batch it is not.
    one_by_one, in_a_batch = Challenger(), Challenger()
    pairs = [("m", {"a": 1.0}, True, True, True)] * 2
    for pair in pairs:
        one_by_one.learn(*pair[:4])
    in_a_batch.learn_many(pairs)
    assert one_by_one.state("m").challenger_score == 0.5
    assert in_a_batch.state("m").challenger_score == 0.0
    assert in_a_batch.estimator("m").predict_one({"a": 1.0}) is True  # and then it learned both


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_a_paused_batch_scores_what_pair_by_pair_scores(name: str) -> None:
    # With learning paused the model does not change within a batch, so whether it predicts
    # the batch at once or pair by pair, every score, state and promotion is the same.
    task = MODEL_TASKS[name]
    pairs: list[Any] = list(degraded(seed=9, n=900) if task == "classification" else regression_pairs(seed=9, n=900))
    batches, pairwise = (Challenger(name, task=task, window=100, min_labelled=100, margin=0.01) for _ in range(2))
    for batch in batched(pairs[:300], 50):  # both learn the same first 300 pairs, pair by pair
        for pair in batch:
            batches.learn(*pair[:4])
            pairwise.learn(*pair[:4])
    for batch in batched(pairs[300:], 75, learn=False):
        results = batches.learn_many(batch)
        assert results == [pairwise.learn(*pair[:4], learn=False) for pair in batch]
        assert batches.state("m") == pairwise.state("m")


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_without_mini_batches_learn_many_is_learn_pair_by_pair(name: str) -> None:
    task = MODEL_TASKS[name]
    pairs: list[Any] = list(degraded(seed=12, n=600) if task == "classification" else regression_pairs(seed=12, n=600))
    batches = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01, mini_batches=False)
    pairwise = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01)
    for batch in batched(pairs, 40):
        assert batches.learn_many(batch) == [pairwise.learn(*pair[:4]) for pair in batch]
    assert batches.state("m") == pairwise.state("m")


def test_a_batch_of_one_pair_scores_what_learn_scores() -> None:
    pairs = list(degraded(seed=13, n=1500, flip=0.4))
    batches, pairwise = Challenger(window=150, min_labelled=150, margin=0.01), Challenger(window=150, min_labelled=150, margin=0.01)
    for batch in batched(pairs, 1):
        assert batches.learn_many(batch) == [pairwise.learn(*batch[0][:4])]
    assert batches.state("m") == pairwise.state("m")


def test_a_promotion_in_a_batch_comes_at_its_pair() -> None:
    challenger = Challenger(window=200, min_labelled=300, margin=0.02)
    pairs = list(linear_pairs(seed=14, n=3000))
    promotions = []
    for start, batch in zip(range(0, 3000, 64), batched(pairs, 64)):
        for offset, result in enumerate(challenger.learn_many(batch)):
            if result is not None:
                promotions.append((start + offset + 1, result))
    (position, promotion), *_ = promotions
    assert isinstance(promotion, Promotion) and promotion.labelled == position >= 300
    assert promotion.challenger_score - promotion.deployed_score >= 0.02
    assert len(promotions) == 1 and challenger.state("m").promoted


def test_unusable_pairs_come_back_in_place_and_the_others_are_learned() -> None:
    challenger = Challenger(min_labelled=1)
    batch: list[Any] = [
        ("a", {"x": 1.0}, 1, 1, True),
        ("b", {"x": [1, 2]}, 1, 1, True),  # a feature prepare cannot use
        ("a", {"x": 2.0}, 1, "yes", True),  # a label logistic regression cannot use
        ("b", {"x": -1.0}, 0, 0, False),
        ("a", {"x": -1.0}, 0, 0, True),
    ]
    results = challenger.learn_many(batch)
    assert [type(r).__name__ for r in results] == ["NoneType", "ValueError", "ValueError", "NoneType", "NoneType"]
    assert "feature 'x'" in str(results[1]) and "binary" in str(results[2])
    assert (challenger.state("a").labelled, challenger.state("a").learned) == (2, 2)
    assert (challenger.state("b").labelled, challenger.state("b").learned, challenger.state("b").paused) == (1, 0, True)
    assert challenger.learn_many([("c", {"x": 1.0}, 1, 2, True)])[0] is not None and "c" not in challenger.models


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_pickle_round_trip_between_batches_goes_on_identically(name: str) -> None:
    task = MODEL_TASKS[name]
    pairs: list[Any] = list(degraded(seed=15, n=900) if task == "classification" else regression_pairs(seed=15, n=900))
    challenger = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01)
    batches = list(batched(pairs, 45))
    for batch in batches[:10]:
        challenger.learn_many(batch)
    twin = pickle.loads(pickle.dumps(challenger))
    for batch in batches[10:]:
        assert challenger.learn_many(batch) == twin.learn_many(batch)
    assert challenger.state("m") == twin.state("m")
    probe = [x for x, _, _ in pairs[:50]]
    assert [challenger.estimator("m").predict_one(x) for x in probe] == [twin.estimator("m").predict_one(x) for x in probe]


def test_a_checkpoint_from_before_mini_batches_unpickles_batching() -> None:
    challenger = Challenger()
    del challenger.__dict__["mini_batches"]  # as pickled before the option
    twin = pickle.loads(pickle.dumps(challenger))
    assert twin.mini_batches is True
    twin.learn_many([("m", {"a": 1.0}, 1, 1, True)] * 2)
    assert twin.state("m").challenger_score == 0.0  # both predicted before either was learned


def test_categories_missing_from_a_row_are_left_out_as_pair_by_pair() -> None:
    # A one-hot feature is absent from the rows of the other categories: the scaler's
    # statistics of it are those learning pair by pair gives, over the rows that have it.
    pairs = list(linear_pairs(seed=16, n=400))
    batches, pairwise = Challenger(), Challenger()
    for batch in batched(pairs, 50):
        batches.learn_many(batch)
    for x, d, y in pairs:
        pairwise.learn("m", x, d, y)
    ours, theirs = (c.estimator("m")["StandardScaler"] for c in (batches, pairwise))
    assert ours.counts == theirs.counts and ours.counts["plan=b"] < 400
    assert ours.means == pytest.approx(dict(theirs.means), rel=1e-9)
    assert ours.vars == pytest.approx(dict(theirs.vars), rel=1e-9, abs=1e-12)


def linear_pairs(seed: int, n: int) -> Iterator[tuple[dict[str, Any], int, int]]:
    """Features with a category; the label is x > 0 and the deployed model guesses."""
    rng = random.Random(seed)
    for _ in range(n):
        x = rng.gauss(0, 1)
        yield {"x": x, "noise": rng.gauss(0, 1), "plan": rng.choice(["a", "b"])}, rng.randint(0, 1), int(x > 0)
