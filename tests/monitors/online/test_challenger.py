import copy
import io
import itertools
import pickle
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from river import optim, utils
from river.datasets import synth

from monitors.online.challenger import DEFAULT_BATCH_SIZE, METRICS, Challenger, Promotion
from monitors.online.models import MINI_BATCH_MODELS, MODEL_TASKS, ONLINE_MODELS, build_model, prepare


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
        "n": 3.0,
        "f": 0.5,
        "t": 1.0,
        "s=gold": 1.0,
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
    # would be right. (Batches of one: it learns the pair at once.)
    challenger = Challenger(min_labelled=1, batch_size=1)
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
    pairs: list[Any] = list(degraded(seed=5, n=600) if task == "classification" else regression_pairs(seed=5, n=600))
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
    # pipeline on raw features and a utils.Rolling per model: pair by pair (batches of one
    # for the linear models: River's learn_one), the predictions, scores and promotions must
    # be the same numbers, and the exported model the same model.
    task = MODEL_TASKS[name]
    stream = degraded(seed=11, n=1500, flip=0.4) if task == "classification" else regression_pairs(seed=11, n=1500)
    pairs: list[Any] = list(stream)
    challenger = Challenger(name, task=task, window=150, min_labelled=150, margin=0.01, batch_size=1)
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
                "m",
                name,
                challenger.metric,
                rolling[0].obj.get(),
                rolling[1].obj.get(),
                0.01,
                i,
                150,
                totals[0].get(),
                totals[1].get(),
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


# -- mini-batches of a fixed size ----------------------------------------------------


def batched(pairs: list[Any], size: int, model: str = "m", learn: bool = True) -> Iterator[list[Any]]:
    """The pairs (features, deployed, label) as learn_many's chunks of ``size``."""
    for start in range(0, len(pairs), size):
        yield [(model, x, d, y, learn) for x, d, y in pairs[start : start + size]]


def stream_of(name: str, seed: int, n: int) -> list[Any]:
    task = MODEL_TASKS[name]
    return list(degraded(seed=seed, n=n) if task == "classification" else regression_pairs(seed=seed, n=n))


@pytest.mark.parametrize("name", sorted(MINI_BATCH_MODELS))
def test_each_pair_is_predicted_by_the_model_as_it_was_before_its_batch(name: str) -> None:
    # Prequential per batch: pair by pair, the scores of each batch of 60 are those of the
    # model before the batch, as River's own predict_one on a copy of the exported pipeline
    # says; the model learns a batch when its last pair comes, not before.
    pairs = stream_of(name, seed=8, n=1200)
    challenger = Challenger(name, task=MODEL_TASKS[name], window=100, min_labelled=100, batch_size=60)
    metric = METRICS[challenger.metric][1]
    totals = [metric(), metric()]
    before = build_model(name)
    for i, (x, deployed, y) in enumerate(pairs, start=1):
        totals[0].update(y, before.predict_one(x))
        totals[1].update(y, deployed)
        challenger.learn("m", x, deployed, y)
        state = challenger.state("m")
        assert state.challenger_cumulative == pytest.approx(totals[0].get(), rel=1e-9)
        assert state.deployed_cumulative == totals[1].get()
        assert state.learned == i - i % 60
        if i % 60 == 0:
            before = copy.deepcopy(challenger.estimator("m"))
    assert (state.labelled, state.learned) == (1200, 1200)


def test_pairs_of_one_batch_are_not_learned_before_they_are_all_scored() -> None:
    # One positive pair teaches logistic regression to say True (see the prequential test
    # above): learning pair by pair the second of two such pairs is right, in a batch of two not.
    one_by_one, in_a_batch = Challenger(batch_size=1), Challenger(batch_size=2)
    for _ in range(2):
        one_by_one.learn("m", {"a": 1.0}, True, True)
        in_a_batch.learn("m", {"a": 1.0}, True, True)
    assert one_by_one.state("m").challenger_score == 0.5
    assert in_a_batch.state("m").challenger_score == 0.0
    assert in_a_batch.estimator("m").predict_one({"a": 1.0}) is True  # and then it learned both


def test_a_partial_batch_waits_unlearned_and_paused_pairs_take_no_place_in_it() -> None:
    pairs = list(linear_pairs(seed=17, n=40))
    challenger, fresh = Challenger(batch_size=10), build_model("logistic_regression")
    for x, d, y in pairs[:9]:
        challenger.learn("m", x, d, y)
    for x, d, y in pairs[9:30]:  # scored, not learned, not in the batch
        challenger.learn("m", x, d, y, learn=False)
    probe = [x for x, _, _ in pairs]
    assert (challenger.state("m").labelled, challenger.state("m").learned) == (30, 0)
    assert [challenger.estimator("m").predict_proba_one(x) for x in probe] == [fresh.predict_proba_one(x) for x in probe]
    challenger.learn("m", *pairs[30])  # the tenth pair to learn: the batch is learned
    assert (challenger.state("m").labelled, challenger.state("m").learned) == (31, 10)
    alone = Challenger(batch_size=10)
    alone.learn_many([("m", x, d, y, True) for x, d, y in pairs[:9] + pairs[30:31]])
    assert pickled_values(alone.estimator("m")) == pickled_values(challenger.estimator("m"))


def mixed_stream(name: str, seed: int, n: int) -> list[Any]:
    """Two models' pairs interleaved, some paused, some unusable: (model, features, deployed, label, learn)."""
    rng = random.Random(seed)
    regression = MODEL_TASKS[name] == "regression"
    pairs: list[Any] = []
    for x, d, y in stream_of(name, seed=seed, n=n):
        model = rng.choice(["a", "a", "b"])
        if rng.random() < 0.02:
            y = "yes"  # a label the model cannot use: rejected in place
        elif rng.random() < 0.02:
            x = {**x, "bad": [1]}  # a feature prepare cannot use
        pairs.append((model, x, d, y, not 0.4 < len(pairs) / n < 0.45))
    assert regression or any(p[3] == "yes" for p in pairs)
    return pairs


def pickled_values(obj: Any) -> bytes:
    """``obj`` pickled without references to objects pickled before: equal values, equal bytes.

    (A pickle refers to an object it has written already; whether two equal strings are one
    object or two, which a round trip changes, would change the bytes and not the values.)
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(obj)
    return buffer.getvalue()


def outcome(result: Any) -> Any:
    return (type(result).__name__, str(result)) if isinstance(result, Exception) else result


def feed_pair_by_pair(challenger: Challenger, pairs: list[Any]) -> list[Any]:
    results = []
    for pair in pairs:
        try:
            results.append(challenger.learn(*pair[:4], learn=pair[4]))
        except ValueError as exc:
            results.append(exc)
    return results


@pytest.mark.parametrize("name", sorted(MINI_BATCH_MODELS))
@pytest.mark.parametrize("batch_size", [7, 32])
def test_the_model_and_its_promotions_do_not_depend_on_how_the_pairs_come(name: str, batch_size: int) -> None:
    # The same pairs, pair by pair, in chunks of random sizes, and in chunks with the
    # challenger pickled and unpickled in between (a checkpoint and a restart): the same
    # results at the same pair (promotions, rejections), the same states and the same
    # challenger, pickled to the same bytes, waiting pairs included.
    pairs = mixed_stream(name, seed=21, n=1500)
    make = lambda: Challenger(name, task=MODEL_TASKS[name], window=100, min_labelled=100, margin=0.01, batch_size=batch_size)  # noqa: E731
    reference = make()
    expected = [outcome(r) for r in feed_pair_by_pair(reference, pairs)]
    assert sum(isinstance(r, Promotion) for r in expected) >= 2
    assert sum(isinstance(r, tuple) for r in expected) >= 10
    for seed, restart in ((1, False), (2, True), (3, True)):
        rng = random.Random(seed)
        challenger, results, start = make(), [], 0
        while start < len(pairs):
            end = min(len(pairs), start + rng.choice([1, 2, 5, batch_size - 1, batch_size, 3 * batch_size + 1, 100]))
            results += [outcome(r) for r in challenger.learn_many(pairs[start:end])]
            if restart and rng.random() < 0.3:
                challenger = pickle.loads(pickle.dumps(challenger))
            start = end
        assert results == expected
        assert [challenger.state(m) for m in ("a", "b")] == [reference.state(m) for m in ("a", "b")]
        assert pickled_values(challenger) == pickled_values(reference)
    assert 0 < reference.state("a").labelled - reference.state("a").learned  # a partial batch waited in the pickle


@pytest.mark.parametrize("name", sorted(ONLINE_MODELS))
def test_with_batches_of_one_learn_many_is_learn_pair_by_pair(name: str) -> None:
    task = MODEL_TASKS[name]
    pairs = stream_of(name, seed=12, n=600)
    batches = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01, batch_size=1)
    pairwise = Challenger(name, task=task, window=100, min_labelled=100, margin=0.01, batch_size=1)
    for batch in batched(pairs, 40):
        assert batches.learn_many(batch) == [pairwise.learn(*pair[:4]) for pair in batch]
    assert batches.state("m") == pairwise.state("m")


def test_a_promotion_in_a_chunk_comes_at_its_pair() -> None:
    challenger = Challenger(window=200, min_labelled=300, margin=0.02, batch_size=16)
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
    challenger = Challenger(min_labelled=1, batch_size=2)
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


def test_a_checkpoint_from_before_mini_batches_goes_on_pair_by_pair() -> None:
    pairs = list(linear_pairs(seed=18, n=300))
    challenger, twin = Challenger(batch_size=1), Challenger(batch_size=1)
    for x, d, y in pairs[:100]:
        challenger.learn("m", x, d, y)
        twin.learn("m", x, d, y)
    del twin.__dict__["batch_size"]  # as pickled before mini-batches...
    old = twin._tracks["m"].__getstate__()
    del old["waiting"]  # ...whose tracks had nothing waiting
    twin = pickle.loads(pickle.dumps(twin))
    twin._tracks["m"].__setstate__(old)
    assert twin.batch_size == 1 and twin._tracks["m"].waiting == []
    for x, d, y in pairs[100:]:
        assert twin.learn("m", x, d, y) == challenger.learn("m", x, d, y)
    assert twin.state("m") == challenger.state("m") and twin.state("m").learned == 300
    assert pickled_values(twin.estimator("m")) == pickled_values(challenger.estimator("m"))


def test_the_setting_default_is_the_challenger_default() -> None:
    from streams.settings import OnlineSettings

    assert OnlineSettings().batch_size == DEFAULT_BATCH_SIZE


def test_categories_missing_from_a_row_are_left_out_as_pair_by_pair() -> None:
    # A one-hot feature is absent from the rows of the other categories: the scaler's
    # statistics of it are those learning pair by pair gives, over the rows that have it.
    pairs = list(linear_pairs(seed=16, n=400))
    batches, pairwise = Challenger(batch_size=50), Challenger(batch_size=1)
    for x, d, y in pairs:
        batches.learn("m", x, d, y)
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
