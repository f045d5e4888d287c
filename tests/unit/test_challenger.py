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
