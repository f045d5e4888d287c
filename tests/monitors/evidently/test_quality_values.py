"""Model quality values without a report are scikit-learn's, to 1e-12.

``classification_quality(..., plots=False)`` and ``regression_quality(...,
plots=False)`` compute the metrics from confusion counts, score ranks and
errors with NumPy. Here they are checked against scikit-learn called as
Evidently's report calls it (classes by name, binary metrics of the positive
class with two classes, macro averages otherwise, ROC AUC as the macro average
over the [positive, negative] probability columns), on random windows
(bool, int and string classes, ties in scores, scores outside [0, 1], a class
absent from labels or from predictions, all predictions alike) and on fixed
cases a random draw could miss; regression values against Evidently's report
itself, snapshot included.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn import metrics as sk
from sklearn.exceptions import UndefinedMetricWarning

from monitors.evidently.quality_report import classification_quality, positive_label, regression_quality

TOLERANCE = 1e-12


def sklearn_quality(
    predictions: Sequence[Any], labels: Sequence[Any], scores: Sequence[float] | None, pos_label: Any = None
) -> dict[str, float]:
    """The metrics as Evidently's report gets them from scikit-learn, with the metrics streammon asks for."""
    classes = list(dict.fromkeys([*labels, *predictions]))
    name = {c: str(c) for c in classes}  # 1, 1.0 and True: one class, named as it first occurs
    target = np.array([name[v] for v in labels], dtype=object)
    predicted = np.array([name[v] for v in predictions], dtype=object)
    expected: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        expected["accuracy"] = sk.accuracy_score(target, predicted)
        if len(classes) > 2:
            for name, scorer in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
                expected[name] = scorer(target, predicted, average="macro")
            return expected
        positive = positive_label(classes) if pos_label is None else pos_label
        averaging: dict[str, Any] = {"pos_label": name.get(positive)} if len(classes) == 2 else {"average": "macro"}
        predicted_positive = any(v == positive for v in predictions)
        true_positive = any(v == positive for v in labels)
        if predicted_positive:
            expected["precision"] = sk.precision_score(target, predicted, **averaging)
        if true_positive:
            expected["recall"] = sk.recall_score(target, predicted, **averaging)
        if predicted_positive or true_positive:
            expected["f1"] = sk.f1_score(target, predicted, **averaging)
        if scores is not None and true_positive and not all(v == positive for v in labels):
            p = np.asarray(scores, dtype=float)
            if p.min() < 0 or p.max() > 1:  # as the report is given scores outside [0, 1]: their scaled ranks
                p = rankdata(p) / len(p)
            truth = np.column_stack([target == name[positive], target != name[positive]]).astype(int)
            expected["roc_auc"] = sk.roc_auc_score(truth, np.column_stack([p, 1 - p]), average="macro")
    return {name: float(value) for name, value in expected.items()}


def assert_same(predictions: Sequence[Any], labels: Sequence[Any], scores: Sequence[float] | None, pos_label: Any = None) -> None:
    got, snapshot = classification_quality(predictions, labels, scores, pos_label=pos_label, plots=False)
    expected = sklearn_quality(predictions, labels, scores, pos_label)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert abs(got[name] - value) <= TOLERANCE, (name, got[name], value)
    assert snapshot is not None
    assert sorted(m["value"] for m in snapshot.dict()["metrics"]) == sorted(got.values())


CLASS_SETS: dict[str, list[Any]] = {
    "int": [0, 1],
    "bool": [False, True],
    "str": ["legit", "fraud"],
    "int, not 0/1": [3, 7],
}
# Few distinct values, so many ties; values outside [0, 1] too.
TIED_SCORES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000000000000001, 0.9, 1.0])
ANY_SCORES = st.floats(-50, 50, allow_nan=False)


@st.composite
def binary_windows(draw: st.DrawFn) -> tuple[list[Any], list[Any], list[float] | None, Any]:
    classes = CLASS_SETS[draw(st.sampled_from(sorted(CLASS_SETS)))]
    n = draw(st.integers(1, 60))
    pairs = st.tuples(st.sampled_from(classes), st.sampled_from(classes))
    drawn = draw(st.lists(pairs, min_size=n, max_size=n))
    if draw(st.booleans()):  # all predictions alike
        drawn = [(drawn[0][0], label) for _, label in drawn]
    predictions, labels = [p for p, _ in drawn], [v for _, v in drawn]
    scores = draw(st.none() | st.lists(draw(st.sampled_from([TIED_SCORES, ANY_SCORES])), min_size=n, max_size=n))
    pos_label = draw(st.none() | st.sampled_from(classes))
    return predictions, labels, scores, pos_label


@st.composite
def multiclass_windows(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    classes = draw(st.sampled_from([["a", "b", "c", "d"], [0, 1, 2], [10, 2, 33, 4, 5], ["x", 1, "y"]]))
    n = draw(st.integers(2, 80))
    labels = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    # Predictions from a part of the classes at times: a class never predicted, or predicted and never a label.
    predicted_from = draw(st.lists(st.sampled_from(classes), min_size=1, max_size=len(classes), unique=True))
    predictions = draw(st.lists(st.sampled_from(predicted_from), min_size=n, max_size=n))
    return predictions, labels


@settings(max_examples=300, deadline=None)
@given(binary_windows())
def test_binary_values_are_scikit_learns(window: tuple[list[Any], list[Any], list[float] | None, Any]) -> None:
    assert_same(*window)


@settings(max_examples=200, deadline=None)
@given(multiclass_windows())
def test_multiclass_values_are_scikit_learns(window: tuple[list[Any], list[Any]]) -> None:
    predictions, labels = window
    if len(set(predictions) | set(labels)) < 3:
        labels = [*labels, "third"]
        predictions = [*predictions, "third"]
    assert_same(predictions, labels, None)


def fixed_cases() -> dict[str, tuple[list[Any], list[Any], list[float] | None, Any]]:
    rng = np.random.default_rng(7)
    n = 1000
    truth = rng.integers(0, 2, n)
    score = np.clip(truth * 0.3 + rng.random(n) * 0.7, 0, 1)
    predicted = (score > 0.5).astype(int)
    classes = np.array(["cat", "dog", "eel", "fox", "gnu"])
    many = rng.integers(0, 5, n)
    many_predicted = np.where(rng.random(n) < 0.6, many, rng.integers(0, 5, n))
    return {
        "1,000 binary pairs with scores": (predicted.tolist(), truth.tolist(), score.tolist(), None),
        "scores rounded: many ties": (predicted.tolist(), truth.tolist(), np.round(score, 1).tolist(), None),
        "margins: scores outside [0, 1], tied": (predicted.tolist(), truth.tolist(), np.round(score * 8 - 4).tolist(), None),
        "every score the same": (predicted.tolist(), truth.tolist(), [0.5] * n, None),
        "bools, scores above 1": ([bool(v) for v in predicted], [bool(v) for v in truth], (score * 100).tolist(), None),
        "strings, negative class as positive": (
            [["a", "b"][v] for v in predicted],
            [["a", "b"][v] for v in truth],
            score.tolist(),
            "a",
        ),
        "positive never predicted": ([0] * n, truth.tolist(), score.tolist(), None),
        "positive never a label": (predicted.tolist(), [0] * n, score.tolist(), None),
        "one class, the positive": ([1] * n, [1] * n, score.tolist(), None),
        "one class, not the positive": ([0] * n, [0] * n, score.tolist(), None),
        "positive not among the classes": (["a", "b"], ["b", "b"], None, "fraud"),
        "1, 1.0 and True are one class": ([1, 0.0, True, 0], [1.0, False, 1, 1], [0.9, 0.1, 0.8, 0.3], None),
        "five classes": (classes[many_predicted].tolist(), classes[many].tolist(), None, None),
        "a class never predicted": (classes[np.minimum(many_predicted, 3)].tolist(), classes[many].tolist(), None, None),
        "a class never a label": (classes[many_predicted].tolist(), classes[np.minimum(many, 3)].tolist(), None, None),
        "all predictions one class of three": (["a"] * 6, ["a", "b", "c", "a", "b", "c"], None, None),
    }


FIXED = fixed_cases()


@pytest.mark.parametrize("case", list(FIXED))
def test_fixed_cases_are_scikit_learns(case: str) -> None:
    assert_same(*FIXED[case])


def test_ties_count_half() -> None:
    # Of the 4 (positive, negative) pairs, 3 are ordered and one is tied (0.6, 0.6): 3.5 / 4.
    # Counting the tie as not ordered would give 0.75, as ordered 1.0.
    metrics, _ = classification_quality([1, 1, 0, 0], [1, 0, 1, 0], [0.6, 0.6, 0.9, 0.1], plots=False)
    assert metrics["roc_auc"] == pytest.approx(0.875, abs=TOLERANCE)


REGRESSION_CASES: dict[str, tuple[list[float], list[float]]] = {
    "1,000 pairs": (
        np.random.default_rng(3).normal(10, 2, 1000).tolist(),
        np.random.default_rng(4).normal(10, 2, 1000).tolist(),
    ),
    "one pair": ([3.0], [2.0]),
    "labels of both signs: no MAPE": ([1.0, 2.5, -0.5, 4.0], [1.0, 2.0, -1.0, 3.0]),
    "a zero label": ([0.5, 2.0, 1.0], [0.0, 2.0, 1.5]),
    "labels below machine epsilon": ([1e-17, 2.0, 0.5], [1e-18, 2.0, 1.0]),
    "exact predictions": ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("case", list(REGRESSION_CASES))
def test_regression_values_are_the_reports(case: str) -> None:
    predictions, labels = REGRESSION_CASES[case]
    fast, light = regression_quality(predictions, labels, plots=False)
    full, report = regression_quality(predictions, labels)
    assert fast.keys() == full.keys()
    for name, value in full.items():
        assert abs(fast[name] - value) <= TOLERANCE * max(1.0, abs(value)), name
    assert light is not None and report is not None
    light_metrics = {m["id"]: m for m in light.dict()["metrics"]}
    report_metrics = {m["id"]: m for m in report.dict()["metrics"]}
    assert light_metrics.keys() == report_metrics.keys()
    for metric_id, metric in report_metrics.items():
        assert light_metrics[metric_id]["config"] == metric["config"]
        assert np.allclose(
            np.array(list(np.atleast_1d(_flat(light_metrics[metric_id]["value"])))),
            np.array(list(np.atleast_1d(_flat(metric["value"])))),
            rtol=TOLERANCE,
            atol=TOLERANCE,
            equal_nan=True,
        ), metric_id
    assert not light.dump_dict()["widgets"]


def test_a_value_not_finite_goes_to_the_report() -> None:
    predictions, labels = [np.inf, 2.0, 3.0, 1.0], [1.0, 2.5, 3.0, 2.0]
    with warnings.catch_warnings():
        # Evidently's dataset statistics meet the infinity before it drops the pair.
        warnings.filterwarnings("ignore", message="invalid value encountered", category=RuntimeWarning)
        fast, light = regression_quality(predictions, labels, plots=False)
        full, _ = regression_quality(predictions, labels)
    assert fast == full and fast["mae"] == pytest.approx(0.5)
    assert light is not None and light.dump_dict()["widgets"]


def _flat(value: Any) -> list[float]:
    return [value["mean"], value["std"]] if isinstance(value, dict) else [value]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(1e-3, 1e3, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_regression_values_are_scikit_learns(pairs: list[tuple[float, float]]) -> None:
    predictions, labels = [p for p, _ in pairs], [v for _, v in pairs]
    metrics, _ = regression_quality(predictions, labels, plots=False)
    expected = {
        "mae": sk.mean_absolute_error(labels, predictions),
        "rmse": sk.root_mean_squared_error(labels, predictions),
        "mape": sk.mean_absolute_percentage_error(labels, predictions),
    }
    assert metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert abs(metrics[name] - value) <= TOLERANCE * max(1.0, abs(value)), name
