import pickle
import random

import numpy as np
import pandas as pd
import pytest
from river import compose, linear_model, optim, preprocessing, tree

from monitors.online.challenger import _without_prepare
from monitors.online.minibatch import Rows, learn_many, predict_many, supports_mini_batches
from monitors.online.models import MINI_BATCH_MODELS, build_model

MODELS = [linear_model.LogisticRegression, linear_model.LinearRegression]


def pipeline(model: type) -> compose.Pipeline:
    return compose.Pipeline(preprocessing.StandardScaler(), model())


def batches(model: type, seed: int, n: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        X = rng.normal(2.0, 3.0, size=(size, 5))
        y = X[:, 0] - X[:, 1] > 0 if model is linear_model.LogisticRegression else X[:, 0] * 2.0 + rng.normal(size=size)
        out.append((X, y))
    return out


COLUMNS = [f"x{i}" for i in range(5)]


@pytest.mark.parametrize("model", MODELS)
def test_without_missing_features_the_numbers_are_rivers_own_learn_many(model: type) -> None:
    # The point of the module is to skip River's dataframe layer, not to compute anything else:
    # on rows that all have every feature, scaler statistics, weights and intercept are those
    # of River's Pipeline.learn_many, to the last bit, and predictions those of its
    # predict_many up to rounding (each row's dot product is summed on its own here).
    ours, rivers = pipeline(model), pipeline(model)
    for X, y in batches(model, seed=1, n=30, size=25):
        rows = Rows.of([dict(zip(COLUMNS, row)) for row in X.tolist()])
        frame = pd.DataFrame(X, columns=COLUMNS)
        assert predict_many(ours, rows) == pytest.approx(rivers.predict_many(frame).tolist(), rel=1e-12, abs=1e-12)
        learn_many(ours, rows, y.tolist())
        rivers.learn_many(frame, pd.Series(y))
    ours_scaler, rivers_scaler = ours["StandardScaler"], rivers["StandardScaler"]
    assert (ours_scaler.counts, ours_scaler.means, ours_scaler.vars) == (
        rivers_scaler.counts,
        rivers_scaler.means,
        rivers_scaler.vars,
    )
    assert ours[-1].weights == rivers[-1].weights and ours[-1].intercept == rivers[-1].intercept
    assert ours[-1].weights["x0"] != 0.0  # it did learn


def test_a_missing_feature_is_left_out_of_the_scaler_as_one_row_at_a_time_leaves_it_out() -> None:
    rng = random.Random(2)
    rows = [{"a": rng.gauss(5, 2), **({"b": rng.gauss(-1, 1)} if rng.random() < 0.6 else {})} for _ in range(200)]
    batched, one_by_one = pipeline(linear_model.LinearRegression), preprocessing.StandardScaler()
    for start in range(0, 200, 40):
        learn_many(batched, Rows.of(rows[start : start + 40]), [0.0] * len(rows[start : start + 40]))
    for row in rows:
        one_by_one.learn_one(row)
    scaler = batched["StandardScaler"]
    assert scaler.counts == one_by_one.counts and scaler.counts["b"] < 200
    for name in ("a", "b"):
        assert scaler.means[name] == pytest.approx(one_by_one.means[name], rel=1e-12)
        assert scaler.vars[name] == pytest.approx(one_by_one.vars[name], rel=1e-12)


def test_a_missing_feature_adds_nothing_to_the_prediction_unlike_a_zero() -> None:
    model = pipeline(linear_model.LinearRegression)
    rng = np.random.default_rng(3)
    for _ in range(20):
        X = rng.normal(4.0, 1.0, size=(30, 2))
        learn_many(model, Rows.of([{"a": a, "b": b} for a, b in X.tolist()]), (3 * X[:, 0] - X[:, 1]).tolist())
    scaler = model["StandardScaler"]
    missing, at_mean, zero = predict_many(model, Rows.of([{"a": 5.0}, {"a": 5.0, "b": scaler.means["b"]}, {"a": 5.0, "b": 0.0}]))
    assert missing == pytest.approx(at_mean, abs=1e-12)
    assert abs(zero - missing) > 0.1
    # And the pipeline as exported (one row at a time, River's own path) says the same.
    assert model.predict_one({"a": 5.0}) == pytest.approx(missing, rel=1e-12)


def test_predicting_changes_nothing_even_for_features_never_seen() -> None:
    model = pipeline(linear_model.LogisticRegression)
    learn_many(model, Rows.of([{"a": 1.0}, {"a": -1.0}]), [True, False])
    before = pickle.dumps(model)
    predict_many(model, Rows.of([{"a": 0.5, "new": 3.0}, {"unseen=x": 1.0}]))
    assert pickle.dumps(model) == before


def test_rows_hold_nan_where_a_row_has_no_value_and_take_drops_empty_columns() -> None:
    rows = Rows.of([{"a": 1.0, "b": 2.0}, {"c": 3.0}, {"a": 4.0}])
    assert rows.columns == ["a", "b", "c"]
    assert np.array_equal(rows.matrix, [[1.0, 2.0, np.nan], [np.nan, np.nan, 3.0], [4.0, np.nan, np.nan]], equal_nan=True)
    taken = rows.take([0, 2])
    assert taken.columns == ["a", "b"]
    assert np.array_equal(taken.matrix, [[1.0, 2.0], [4.0, np.nan]], equal_nan=True)
    assert Rows.of([{}, {}]).matrix.shape == (2, 0)


@pytest.mark.parametrize("name", sorted(MINI_BATCH_MODELS))
def test_the_mini_batch_models_are_pipelines_this_module_takes(name: str) -> None:
    assert supports_mini_batches(_without_prepare(build_model(name, {"l2": 0.01})))


def test_other_pipelines_are_refused() -> None:
    assert not supports_mini_batches(
        compose.Pipeline(preprocessing.StandardScaler(window_size=10), linear_model.LinearRegression())
    )
    assert not supports_mini_batches(compose.Pipeline(preprocessing.MinMaxScaler(), linear_model.LinearRegression()))
    with pytest.raises(ValueError, match="no mini-batches"):
        predict_many(compose.Pipeline(tree.HoeffdingTreeClassifier()), Rows.of([{"a": 1.0}]))


def test_a_batch_of_one_row_learns_what_learning_that_row_alone_learns() -> None:
    batched, one = pipeline(linear_model.LogisticRegression), pipeline(linear_model.LogisticRegression)
    rng = random.Random(4)
    for _ in range(300):
        row = {"a": rng.gauss(0, 1), "b": rng.gauss(1, 2)}
        label = row["a"] + rng.gauss(0, 0.5) > 0
        learn_many(batched, Rows.of([row]), [label])
        one.learn_one(row, label)
    for name in ("a", "b"):
        assert batched[-1].weights[name] == pytest.approx(one[-1].weights[name], rel=1e-9)
    assert batched[-1].intercept == pytest.approx(one[-1].intercept, rel=1e-9)


def test_the_exported_pipeline_says_what_the_batch_path_says_even_for_a_feature_of_no_variance_yet() -> None:
    # "c" was constant in the batch learned: its variance is 0. River's transform_one scales
    # it to 0 (and so does the pipeline as exported, predicting one row at a time); so must
    # the batch path, or a challenger would be scored on predictions it does not make.
    # (Weights start at 1 here, so that the weight of "c" is not 0 and the scaling shows.)
    model = compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(initializer=optim.initializers.Constant(1.0))
    )
    learn_many(model, Rows.of([{"a": 1.0, "c": 5.0}, {"a": -1.0, "c": 5.0}, {"a": 2.0, "c": 5.0}]), [True, False, True])
    assert model["StandardScaler"].vars["c"] == 0.0 and model[-1].weights["c"] == 1.0
    probe = [{"a": -0.5, "c": 9.0}, {"a": 1.0, "c": 1.0}, {"a": 1.0}]  # "c" centred only, the first two would flip
    batch = predict_many(model, Rows.of(probe))
    assert batch == [model.predict_one(x) for x in probe] == [False, True, True]


@pytest.mark.parametrize("model", MODELS)
def test_a_rows_prediction_does_not_depend_on_the_rows_predicted_with_it(model: type) -> None:
    # The challenger predicts a batch's pairs in whatever pieces they come: each row must get
    # the same number, to the last bit, alone or among others (with features others lack).
    fitted = pipeline(model)
    rng = random.Random(5)
    rows = [
        {f"x{i}": rng.gauss(0, 2) for i in range(12) if rng.random() < 0.8} | {f"c={rng.randrange(4)}": 1.0} for _ in range(90)
    ]
    learn_many(
        fitted,
        Rows.of(rows[:60]),
        [rng.random() < 0.5 if model is linear_model.LogisticRegression else rng.gauss(0, 1) for _ in range(60)],
    )
    whole = predict_many(fitted, Rows.of(rows))
    assert [predict_many(fitted, Rows.of([row]))[0] for row in rows] == whole
    assert predict_many(fitted, Rows.of(rows[7:40])) + predict_many(fitted, Rows.of(rows[40:])) == whole[7:]
    assert predict_many(fitted, Rows.of([{**row, "never seen": 3.0} for row in rows])) == whole
