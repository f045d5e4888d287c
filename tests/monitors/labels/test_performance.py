import math
import pickle
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from monitors.evidently.quality_report import (
    classification_quality,
    positive_label,
    regression_quality,
)
from monitors.labels.join import LabelledPair, PendingPrediction
from monitors.labels.performance import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    PerformanceJob,
    PerformanceResult,
    PerformanceWindows,
    evaluate,
)
from monitors.labels.rules import PerformanceRule

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pair(i: int, window: int | None, model: str = "m", delay_s: float = 60.0) -> LabelledPair:
    prediction = PendingPrediction(model, window, i % 2 == 0, i / 100, None, {}, T0)
    return LabelledPair(f"{model}-{window}-{i}", prediction, i % 3 == 0, T0 + timedelta(seconds=delay_s))


def job(pairs: Sequence[tuple[Any, Any, Any]], predictions: int | None = None) -> PerformanceJob:
    delays = tuple(float(i) for i in range(len(pairs)))
    return PerformanceJob("m", 0, 1, len(pairs) if predictions is None else predictions, tuple(pairs), delays, False)


# --- PerformanceWindows -------------------------------------------------------


def test_a_window_gets_a_new_version_each_time_its_pairs_grow() -> None:
    windows = PerformanceWindows()
    for _ in range(10):
        windows.predicted("m", 0)
    windows.add(pair(0, 0))
    assert windows.due() == []  # not closed yet
    windows.close("m", 0)
    (first,) = windows.due()
    assert (first.model, first.window, first.version, first.predictions, first.final) == ("m", 0, 1, 10, False)
    assert first.pairs == ((True, True, 0.0),) and first.delays_s == (60.0,)
    assert windows.due() == []
    windows.add(pair(1, 0))
    windows.add(pair(2, 0, delay_s=90))
    (second,) = windows.due()
    # A version carries every pair so far: it replaces the one before.
    assert second.version == 2 and second.labelled == 3 and second.delays_s == (60.0, 60.0, 90.0)
    assert second.pairs[0] == first.pairs[0] and second.coverage == 0.3


def test_min_new_pairs_holds_a_version_back_until_enough_labels_came() -> None:
    windows = PerformanceWindows()
    windows.close("m", 0)
    for i in range(4):
        windows.add(pair(i, 0))
    assert windows.due(min_new_pairs=5) == []
    windows.add(pair(4, 0))
    assert [j.labelled for j in windows.due(min_new_pairs=5)] == [5]
    with pytest.raises(ValueError, match="min_new_pairs"):
        windows.due(min_new_pairs=0)


def test_the_reference_period_is_versioned_without_being_closed() -> None:
    windows = PerformanceWindows()
    assert windows.reference_job("m") is None
    windows.predicted("m", None)
    windows.predicted("m", None)
    windows.add(pair(0, None))
    peek = windows.reference_job("m")
    assert peek is not None and (peek.window, peek.version, peek.labelled, peek.predictions) == (None, 0, 1, 2)
    (job1,) = windows.due()
    assert (job1.window, job1.version) == (None, 1)
    windows.add(pair(1, None))
    peek = windows.reference_job("m")
    assert peek is not None and (peek.version, peek.labelled) == (1, 2)  # peeking bumps nothing
    assert [j.version for j in windows.due()] == [2]
    # finalise never touches the reference period
    assert windows.finalise("m", before_window=100) == [] and windows.windows("m") == [None]


def test_finalise_hands_out_a_last_version_only_for_unreported_pairs() -> None:
    windows = PerformanceWindows()
    for w in range(3):
        windows.predicted("m", w)
        windows.add(pair(0, w))
        windows.close("m", w)
    assert [j.version for j in windows.due()] == [1, 1, 1]
    windows.add(pair(1, 1))
    final = windows.finalise("m", before_window=2)
    assert [(j.window, j.version, j.labelled, j.final) for j in final] == [(1, 2, 2, True)]
    assert windows.windows("m") == [2]
    # Labels that come for a finalised window are dropped and counted.
    windows.add(pair(2, 0))
    windows.predicted("m", 1)
    assert windows.discarded == 2 and windows.windows("m") == [2] and windows.due() == []


def test_keep_windows_bounds_memory_by_finalising_the_oldest() -> None:
    windows = PerformanceWindows(keep_windows=3)
    finals = []
    for w in range(10):
        windows.predicted("m", w)
        windows.add(pair(w, w))
        finals += windows.close("m", w)
        assert len(windows.windows("m")) <= 3
    assert [(j.window, j.version, j.final) for j in finals] == [(w, 1, True) for w in range(7)]
    assert windows.windows("m") == [7, 8, 9]
    assert [j.window for j in windows.due()] == [7, 8, 9]
    with pytest.raises(ValueError, match="keep_windows"):
        PerformanceWindows(keep_windows=0)


def test_models_are_independent_and_jobs_come_in_order() -> None:
    windows = PerformanceWindows()
    for model in ("b", "a"):
        for w in (1, 0):
            windows.add(pair(0, w, model=model))
            windows.close(model, w)
        windows.add(pair(0, None, model=model))
    assert [(j.model, j.window) for j in windows.due()] == [("b", None), ("b", 0), ("b", 1), ("a", None), ("a", 0), ("a", 1)]
    assert [j.window for j in windows.finalise("a", 5)] == []  # already reported
    assert windows.windows("a") == [None] and windows.windows("b") == [None, 0, 1]


def test_windows_pickle_mid_stream_and_keep_counting_versions() -> None:
    windows = PerformanceWindows(keep_windows=5)
    windows.predicted("m", 0)
    windows.add(pair(0, 0))
    windows.close("m", 0)
    windows.due()
    windows.add(pair(1, 0))
    restored: PerformanceWindows = pickle.loads(pickle.dumps(windows))
    (job2,) = restored.due()
    assert (job2.version, job2.labelled) == (2, 2)
    assert pickle.loads(pickle.dumps(job2)) == job2


# --- evaluate: classification -------------------------------------------------


def random_binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.35
    scores = np.clip(0.4 * labels + 0.6 * rng.random(n), 0, 1)
    predictions = scores > rng.uniform(0.3, 0.7)
    return predictions, labels, scores


def sklearn_binary(y_pred: Any, y_true: Any, scores: Any, pos: Any) -> dict[str, float]:
    return {
        "accuracy": sk.accuracy_score(y_true, y_pred),
        "precision": sk.precision_score(y_true, y_pred, pos_label=pos),
        "recall": sk.recall_score(y_true, y_pred, pos_label=pos),
        "f1": sk.f1_score(y_true, y_pred, pos_label=pos),
        "roc_auc": sk.roc_auc_score(np.asarray(y_true) == pos, scores),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("encoding", ["bool", "int", "str"])
def test_binary_metrics_equal_scikit_learn(seed: int, encoding: str) -> None:
    predictions, labels, scores = random_binary(500, seed)
    encoders: dict[str, Callable[[bool], Any]] = {"bool": bool, "int": int, "str": lambda v: "spam" if v else "ham"}
    encode = encoders[encoding]
    y_pred = [encode(bool(v)) for v in predictions]
    y_true = [encode(bool(v)) for v in labels]
    pos = {"bool": True, "int": 1, "str": "spam"}[encoding]
    result, snapshot = evaluate(job(list(zip(y_pred, y_true, scores.tolist()))), "classification", pos_label=pos)
    assert snapshot is not None and result.labelled == 500
    expected = sklearn_binary(y_pred, y_true, scores, pos)
    assert result.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name


def test_the_models_own_decisions_are_scored_not_its_scores_at_one_half() -> None:
    # Evidently, given labels and scores in one task, re-derives the classes as
    # score >= 0.5; a model deciding at another threshold must be judged as it is.
    y_true = [True, True, False, False, True, False]
    scores = [0.3, 0.4, 0.1, 0.2, 0.45, 0.35]
    y_pred = [s >= 0.3 for s in scores]
    metrics, _ = classification_quality(y_pred, y_true, scores)
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert metrics["recall"] == 1.0 and metrics["precision"] == pytest.approx(0.75)


def test_pos_label_defaults() -> None:
    assert positive_label([True, False]) is True and positive_label([False]) is True
    assert positive_label([0, 1]) == 1 and positive_label([0]) == 1
    assert positive_label([-1, 1]) == 1 and positive_label([2, 10]) == 10
    assert positive_label(["fraud", "legit"]) == "legit"
    with pytest.raises(ValueError):
        positive_label([])
    # The lexically larger class is positive unless told otherwise.
    by_default, _ = classification_quality(["a", "b", "b"], ["a", "a", "b"])
    told, _ = classification_quality(["a", "b", "b"], ["a", "a", "b"], pos_label="a")
    assert by_default["precision"] == pytest.approx(0.5) and by_default["recall"] == 1.0
    assert told["precision"] == 1.0 and told["recall"] == pytest.approx(0.5)


def test_undefined_metrics_are_left_out() -> None:
    # No predicted positive: precision undefined (Evidently would say 0.0).
    metrics, _ = classification_quality([0, 0, 0, 0], [1, 0, 1, 0], [0.4, 0.1, 0.3, 0.2])
    assert metrics == {"accuracy": 0.5, "recall": 0.0, "f1": 0.0, "roc_auc": 1.0}
    # Only negatives: Evidently's macro average would say 1.0 for all three.
    metrics, _ = classification_quality([False] * 5, [False] * 5, [0.1] * 5)
    assert metrics == {"accuracy": 1.0}
    # Only positives: precision and recall are defined, ROC AUC is not.
    metrics, _ = classification_quality([True, False], [True, True], [0.9, 0.2])
    assert metrics == {"accuracy": 0.5, "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3)}
    # A positive class configured but absent.
    metrics, _ = classification_quality(["a", "b"], ["b", "b"], pos_label="fraud")
    assert metrics == {"accuracy": 0.5}


def test_roc_auc_needs_a_score_for_every_pair() -> None:
    predictions, labels, scores = random_binary(100, 3)
    partial: list[float | None] = list(scores)
    partial[7] = None
    metrics, _ = classification_quality(list(predictions), list(labels), partial)
    assert "roc_auc" not in metrics and "accuracy" in metrics
    metrics, _ = classification_quality(list(predictions), list(labels), None)
    assert "roc_auc" not in metrics


def test_scores_outside_zero_one_keep_their_auc() -> None:
    _, labels, scores = random_binary(300, 4)
    margins = np.round((scores - 0.5) * 20, 1)  # log-odds-like, with ties
    metrics, _ = classification_quality(list(margins > 0), list(labels), margins.tolist())
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(labels, margins), abs=1e-12)


def test_multiclass_metrics_are_scikit_learns_macro_averages() -> None:
    rng = np.random.default_rng(5)
    y_true = rng.choice(["a", "b", "c", "d"], 400).tolist()
    y_pred = [t if rng.random() < 0.6 else rng.choice(["a", "b", "c"]) for t in y_true]  # "d" never predicted
    result, _ = evaluate(job([(p, t, 0.5) for p, t in zip(y_pred, y_true)]), "classification")
    assert result.metrics == pytest.approx(
        {
            "accuracy": sk.accuracy_score(y_true, y_pred),
            "precision": sk.precision_score(y_true, y_pred, average="macro", zero_division=0),
            "recall": sk.recall_score(y_true, y_pred, average="macro", zero_division=0),
            "f1": sk.f1_score(y_true, y_pred, average="macro", zero_division=0),
        },
        abs=1e-12,
    )


def test_equal_values_are_one_class() -> None:
    metrics, _ = classification_quality([1, 0.0, True], [1.0, False, 1])
    assert metrics["accuracy"] == 1.0 and metrics["precision"] == 1.0


# --- evaluate: regression, coverage, delays -----------------------------------


def test_regression_metrics_equal_numpy() -> None:
    rng = np.random.default_rng(6)
    y_true = rng.uniform(5, 50, 1000)
    y_pred = y_true + rng.normal(0, 3, 1000)
    result, snapshot = evaluate(job(list(zip(y_pred.tolist(), y_true.tolist(), [None] * 1000))), "regression")
    errors = y_pred - y_true
    assert snapshot is not None
    assert result.metrics == pytest.approx(
        {
            "mae": np.mean(np.abs(errors)),
            "rmse": np.sqrt(np.mean(errors**2)),
            "mape": np.mean(np.abs(errors) / np.abs(y_true)),  # a fraction, not a percentage
        },
        rel=1e-12,
    )
    assert result.metrics["mape"] == pytest.approx(sk.mean_absolute_percentage_error(y_true, y_pred))


def test_mape_only_with_positive_targets() -> None:
    metrics, _ = regression_quality([1.0, 2.5, -0.5], [1.0, 2.0, -1.0])
    assert metrics == pytest.approx({"mae": 1 / 3, "rmse": math.sqrt(0.5 / 3)})
    metrics, _ = regression_quality([0.5, 2.0], [0.0, 2.0])
    assert set(metrics) == {"mae", "rmse"}
    # Evidently 0.7.23 cannot evaluate targets that are all zero.
    assert regression_quality([1.0, 2.0], [0.0, 0.0]) == ({}, None)
    # One pair is enough.
    assert regression_quality([3.0], [2.0])[0] == {"mae": 1.0, "rmse": 1.0, "mape": 0.5}


def test_regression_needs_numbers() -> None:
    with pytest.raises(ValueError, match="regression needs numbers"):
        evaluate(job([("a", 1.0, None)]), "regression")
    with pytest.raises(ValueError, match="task"):
        evaluate(job([]), "ranking")  # type: ignore[arg-type]


def test_no_pairs_no_metrics() -> None:
    for task in ("classification", "regression"):
        result, snapshot = evaluate(job([], predictions=40), task)  # type: ignore[arg-type]
        assert snapshot is None
        assert result == PerformanceResult({}, labelled=0, coverage=0.0)


def test_coverage_and_delays() -> None:
    predictions, labels, scores = random_binary(200, 7)
    delays = np.random.default_rng(8).exponential(600, 200)
    pairs = tuple(zip(predictions.tolist(), labels.tolist(), scores.tolist()))
    result, _ = evaluate(PerformanceJob("m", 3, 2, 800, pairs, tuple(delays.tolist()), True), "classification")
    assert result.labelled == 200 and result.coverage == 0.25
    assert result.delay_p50_s == pytest.approx(np.percentile(delays, 50))
    assert result.delay_p90_s == pytest.approx(np.percentile(delays, 90))
    assert result.delay_max_s == pytest.approx(delays.max())


def test_pairs_missing_a_value_are_skipped() -> None:
    pairs = [(True, True, 0.9), (None, True, 0.8), (False, float("nan"), 0.1), (False, False, 0.2)]
    result, _ = evaluate(job(pairs, predictions=8), "classification")
    assert result.labelled == 2 and result.coverage == 0.25 and result.metrics["accuracy"] == 1.0
    assert result.delay_max_s == 3.0


def test_snapshot_carries_the_timestamp() -> None:
    stamp = datetime(2026, 3, 1, 12, 0)
    _, snapshot = evaluate(job([(1.0, 2.0, None), (2.0, 2.5, None)]), "regression", timestamp=stamp)
    assert snapshot is not None and snapshot._timestamp == stamp


# --- PerformanceRule ----------------------------------------------------


def result(labelled: int = 500, coverage: float = 0.5, **metrics: float) -> PerformanceResult:
    return PerformanceResult(metrics, labelled=labelled, coverage=coverage)


def test_a_fixed_minimum() -> None:
    rule = PerformanceRule(minimum={"accuracy": 0.8})
    (obs,) = rule.evaluate("churn", result(accuracy=0.75, f1=0.5), {"window": "7"})
    assert obs.labels == {"model": "churn", "kind": "performance", "feature": "accuracy"}
    assert obs.value == pytest.approx(0.25) and obs.warning_at == pytest.approx(0.2)
    assert obs.critical_at == pytest.approx(0.4) and obs.level(None, 0.0) == "warning"
    assert obs.annotations == {
        "window": "7",
        "summary": "churn: accuracy 0.75 below 0.8 (minimum) over 500 labelled predictions",
        "value": "0.75",
        "threshold": "0.8",
        "labelled": "500",
        "coverage": "0.5",
    }
    (ok,) = rule.evaluate("churn", result(accuracy=0.9))
    assert ok.level(None, 0.0) is None and "above 0.8" in ok.annotations["summary"]
    (bad,) = rule.evaluate("churn", result(accuracy=0.55))
    assert bad.level(None, 0.0) == "critical"


def test_a_drop_from_the_reference_and_the_stricter_bound() -> None:
    rule = PerformanceRule(minimum={"accuracy": 0.7, "f1": 0.8}, max_drop={"accuracy": 0.05, "f1": 0.05})
    reference = result(labelled=2000, accuracy=0.9, f1=0.6)
    accuracy, f1 = rule.evaluate("m", result(accuracy=0.84, f1=0.7), reference=reference)
    assert accuracy.warning_at == pytest.approx(0.15) and accuracy.level(None, 0.0) == "warning"
    assert "(reference 0.9 - 0.05)" in accuracy.annotations["summary"]
    assert accuracy.annotations["threshold"] == "0.85"
    assert f1.warning_at == pytest.approx(0.2) and f1.level(None, 0.0) == "warning"  # the minimum is stricter
    assert "(minimum)" in f1.annotations["summary"]


def test_a_reference_with_too_few_labels_is_no_reference() -> None:
    rule = PerformanceRule(max_drop={"accuracy": 0.05}, min_labelled=100)
    assert rule.evaluate("m", result(accuracy=0.5), reference=result(labelled=99, accuracy=0.9)) == []
    assert len(rule.evaluate("m", result(accuracy=0.5), reference=result(labelled=100, accuracy=0.9))) == 1
    assert rule.evaluate("m", result(accuracy=0.5), reference=result(labelled=1000, f1=0.9)) == []


def test_too_few_labels_neither_fire_nor_clear() -> None:
    rule = PerformanceRule(minimum={"accuracy": 0.8}, min_labelled=100)
    assert rule.evaluate("m", result(labelled=99, accuracy=0.1)) == []
    assert len(rule.evaluate("m", result(labelled=100, accuracy=0.1))) == 1


def test_lower_is_better_metrics() -> None:
    rule = PerformanceRule(maximum={"mae": 3.0, "mape": 0.5}, max_drop={"mae": 0.5, "rmse": 1.0})
    reference = result(labelled=1000, mae=2.0, rmse=4.0, mape=0.2)
    mae, rmse, mape = rule.evaluate("m", result(mae=2.6, rmse=4.5, mape=0.1), reference=reference)
    assert (mae.value, mae.warning_at, mae.critical_at) == (2.6, 2.5, 5.0)
    assert mae.level(None, 0.0) == "warning" and "above 2.5 (reference 2 + 0.5)" in mae.annotations["summary"]
    assert (rmse.warning_at, rmse.level(None, 0.0)) == (5.0, None)
    assert (mape.warning_at, mape.critical_at, mape.level(None, 0.0)) == (0.5, 1.0, None)
    assert "below 0.5 (maximum)" in mape.annotations["summary"]


def test_critical_is_capped_or_absent() -> None:
    rule = PerformanceRule(minimum={"accuracy": 0.3, "recall": 1.0, "precision": 0.0}, critical_factor=3.0)
    accuracy, precision, recall = rule.evaluate("m", result(accuracy=0.2, precision=0.5, recall=0.99))
    assert accuracy.warning_at == pytest.approx(0.7) and accuracy.critical_at == 1.0
    assert accuracy.level(None, 0.0) == "warning"
    assert precision.warning_at == 1.0 and precision.critical_at is None and precision.level(None, 0.0) is None
    assert recall.warning_at == 0.0 and recall.critical_at is None and recall.level(None, 0.0) == "warning"


def test_condition_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown metrics"):
        PerformanceRule(minimum={"auc": 0.8})
    with pytest.raises(ValueError, match="use maximum"):
        PerformanceRule(minimum={"mae": 1.0})
    with pytest.raises(ValueError, match="use minimum"):
        PerformanceRule(maximum={"accuracy": 0.9})
    with pytest.raises(ValueError, match="max_drop"):
        PerformanceRule(max_drop={"f1": -0.1})
    with pytest.raises(ValueError, match="finite"):
        PerformanceRule(maximum={"rmse": float("nan")})
    with pytest.raises(ValueError, match="min_labelled"):
        PerformanceRule(min_labelled=0)
    with pytest.raises(ValueError, match="critical_factor"):
        PerformanceRule(critical_factor=1.0)


def test_every_metric_has_an_orientation() -> None:
    rule = PerformanceRule(minimum={m: 0.5 for m in CLASSIFICATION_METRICS}, maximum={m: 1.0 for m in REGRESSION_METRICS})
    everything = PerformanceResult({m: 0.7 for m in CLASSIFICATION_METRICS + REGRESSION_METRICS}, 500, 0.5)
    observations = rule.evaluate("m", everything)
    assert [o.labels["feature"] for o in observations] == list(CLASSIFICATION_METRICS + REGRESSION_METRICS)
    assert all(o.level(None, 0.0) is None for o in observations)
    assert pickle.loads(pickle.dumps(rule)).minimum == rule.minimum


def test_targets_evidently_cannot_take_are_not_evaluated() -> None:
    # Evidently's dummy MAPE divides by the sum of 1/target: zero here.
    assert regression_quality([3.5, 0.0, 3.5], [1.0, -2.0, -2.0]) == ({}, None)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([True, False]), st.sampled_from([True, False]), st.floats(-5, 5)), max_size=8),
    st.sampled_from(["bool", "int", "str3"]),
)
def test_small_classification_windows_never_warn_or_fail(pairs: list[tuple[bool, bool, float]], encoding: str) -> None:
    def encode(value: bool, salt: float) -> Any:
        if encoding == "int":
            return int(value)
        if encoding == "str3":
            return "abc"[int(value) + (salt > 4)]
        return value

    encoded = [(encode(p, s), encode(t, -s), s) for p, t, s in pairs]
    result, snapshot = evaluate(job(encoded), "classification")  # warnings are errors here
    assert (snapshot is None) == (not pairs)
    assert set(result.metrics) <= set(CLASSIFICATION_METRICS)
    assert all(0.0 <= v <= 1.0 for v in result.metrics.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([-2.0, 0.0, 1.0, 3.5]), st.sampled_from([-2.0, 0.0, 1.0, 3.5])), max_size=8))
def test_small_regression_windows_never_warn_or_fail(pairs: list[tuple[float, float]]) -> None:
    result, _ = evaluate(job([(p, t, None) for p, t in pairs]), "regression")
    assert set(result.metrics) <= set(REGRESSION_METRICS)
    if result.metrics:
        errors = np.array([p - t for p, t in pairs])
        assert result.metrics["mae"] == pytest.approx(np.mean(np.abs(errors)))
