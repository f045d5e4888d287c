import math
import pickle
from typing import Any

import numpy as np
import pytest

from monitors.labels.estimates import Calibration, Estimate, estimate_accuracy, expected_calibration_error, reconcile
from monitors.labels.rules import EstimateRule

WINDOWS, ROWS = 400, 500


def coverage(scores: np.ndarray, predictions: np.ndarray, labels: np.ndarray) -> float:
    """Share of windows (rows of the arrays) whose realized accuracy lies in the estimate's interval."""
    inside = 0
    for s, p, y in zip(scores, predictions, labels):
        e = estimate_accuracy(s, p)
        inside += e.low <= float(np.mean(p == y)) <= e.high
    return inside / len(scores)


def test_the_interval_covers_the_realized_accuracy_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(20260101)
    scores = rng.beta(2.0, 2.0, size=(WINDOWS, ROWS))
    labels = rng.uniform(size=scores.shape) < scores  # perfectly calibrated
    measured = coverage(scores, scores >= 0.5, labels)
    assert 0.90 <= measured <= 0.99, measured


def test_any_decision_threshold_is_estimated() -> None:
    rng = np.random.default_rng(11)
    scores = rng.beta(2.0, 2.0, size=(WINDOWS, ROWS))
    labels = rng.uniform(size=scores.shape) < scores
    measured = coverage(scores, scores >= 0.3, labels)
    assert 0.90 <= measured <= 0.99, measured


def test_the_estimate_is_the_exact_poisson_binomial_mean_and_variance() -> None:
    e = estimate_accuracy([0.9, 0.2, 0.6, 0.5] * 25, [True, 0, 1, False] * 25)
    right = np.array([0.9, 0.8, 0.6, 0.5] * 25)  # right when positive with s, when negative with 1 - s
    sd = math.sqrt(float(np.sum(right * (1 - right)))) / 100
    assert e.accuracy == pytest.approx(0.7)
    assert (e.low, e.high) == (pytest.approx(0.7 - 1.959964 * sd), pytest.approx(0.7 + 1.959964 * sd))
    assert e.n == 100


def test_the_interval_is_clipped_to_0_1() -> None:
    e = estimate_accuracy([0.999, 0.998, 0.001], [1, 1, 0])
    assert e.high == 1.0 and e.low < e.accuracy
    certain = estimate_accuracy([1.0, 0.0], [1, 0])
    assert (certain.accuracy, certain.low, certain.high) == (1.0, 1.0, 1.0)


def test_the_estimate_tracks_a_covariate_shift() -> None:
    rng = np.random.default_rng(5)

    def window(spread: float) -> tuple[Estimate, float]:
        x = rng.normal(0.0, spread, size=5000)
        scores = 1.0 / (1.0 + np.exp(-3.0 * x))  # P(y | x) stays the same: a covariate shift only
        labels = rng.uniform(size=x.size) < scores
        predictions = scores >= 0.5
        return estimate_accuracy(scores, predictions), float(np.mean(predictions == labels))

    before, realized_before = window(1.0)
    after, realized_after = window(0.25)  # inputs near 0: scores near 0.5
    assert before.accuracy - after.accuracy > 0.1
    assert realized_before - realized_after > 0.1
    assert before.low <= realized_before <= before.high and after.low <= realized_after <= after.high
    assert abs((before.accuracy - after.accuracy) - (realized_before - realized_after)) < 0.03


def test_recalibration_repairs_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(42)

    def period(rows: int) -> tuple[np.ndarray, np.ndarray]:
        scores = rng.beta(2.0, 1.0, size=rows)
        return scores, rng.uniform(size=rows) < scores**3  # the model is overconfident

    calibration = Calibration().fit(*period(20_000))
    assert calibration.ece is not None and calibration.ece > 0.05 and not calibration.calibrated

    fresh, fresh_labels = period(WINDOWS * ROWS)
    recalibrated = np.asarray(calibration.transform(fresh))
    assert expected_calibration_error(fresh, fresh_labels) > 0.05
    assert expected_calibration_error(recalibrated, fresh_labels) < 0.05

    # The model's decisions are unchanged; only the probabilities that they are right are repaired.
    predictions = (fresh >= 0.5).reshape(WINDOWS, ROWS)
    labels = fresh_labels.reshape(WINDOWS, ROWS)
    assert coverage(fresh.reshape(WINDOWS, ROWS), predictions, labels) < 0.1
    measured = coverage(recalibrated.reshape(WINDOWS, ROWS), predictions, labels)
    assert 0.90 <= measured <= 0.99, measured


def test_calibrated_scores_pass_the_check() -> None:
    rng = np.random.default_rng(8)
    scores = rng.uniform(size=5000)
    calibration = Calibration(bins=10, max_ece=0.05).fit(scores, rng.uniform(size=5000) < scores)
    assert calibration.ece is not None and calibration.ece < 0.05 and calibration.calibrated


def test_before_fit_transform_is_the_identity() -> None:
    calibration = Calibration()
    assert calibration.ece is None and not calibration.calibrated
    assert calibration.transform([0.1, 0.7]) == [0.1, 0.7]


def test_the_isotonic_map_is_monotone_and_clipped_outside_its_range() -> None:
    calibration = Calibration(bins=2).fit([0.2, 0.4, 0.6, 0.8], [0, 1, 0, 1])
    mapped = calibration.transform([0.0, 0.2, 0.5, 0.8, 1.0])
    assert mapped == sorted(mapped) and all(0.0 <= v <= 1.0 for v in mapped)
    assert mapped[0] == mapped[1] and mapped[-1] == mapped[-2]


def test_ece_uses_equal_count_bins() -> None:
    # Two bins of two: |0.15 - 0| and |0.85 - 1|, weighted equally.
    assert expected_calibration_error([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], bins=2) == pytest.approx(0.15)
    assert expected_calibration_error([0.1, 0.9], [1, 0], bins=1) == pytest.approx(0.0)


def test_conditions_fire_only_when_the_high_end_is_below_the_bound() -> None:
    rule = EstimateRule(max_drop=0.05, min_rows=100)
    # Bound 0.85: the point estimate is below it, but the interval reaches above: no alert.
    (unsure,) = rule.evaluate("m", Estimate(0.83, 0.80, 0.86, 500), reference_accuracy=0.90)
    assert unsure.level(None, 0.0) is None and "above 0.85" in unsure.annotations["summary"]
    (sure,) = rule.evaluate("m", Estimate(0.80, 0.77, 0.83, 500), reference_accuracy=0.90)
    assert sure.level(None, 0.0) == "warning"
    assert sure.labels == {"model": "m", "kind": "estimated_performance", "feature": "accuracy"}
    assert sure.value == pytest.approx(0.17) and sure.warning_at == pytest.approx(0.15)
    assert sure.critical_at is None
    (fine,) = rule.evaluate("m", Estimate(0.91, 0.88, 0.94, 500), reference_accuracy=0.90)
    assert fine.level(None, 0.0) is None


def test_the_rule_needs_min_rows_and_the_reference_accuracy() -> None:
    rule = EstimateRule(min_rows=100)
    assert rule.evaluate("m", Estimate(0.5, 0.3, 0.7, 99), reference_accuracy=0.9) == []
    assert len(rule.evaluate("m", Estimate(0.5, 0.4, 0.6, 100), reference_accuracy=0.9)) == 1
    assert rule.evaluate("m", Estimate(0.5, 0.4, 0.6, 100)) == []  # nothing to judge it against yet


def test_annotations_say_it_is_an_estimate_and_keep_the_context() -> None:
    (obs,) = EstimateRule().evaluate("churn", Estimate(0.8, 0.77, 0.83, 640), {"window": "w3"}, reference_accuracy=0.9)
    summary = obs.annotations["summary"]
    assert "estimated from scores" in summary and "640" in summary and "0.77-0.83" in summary
    assert obs.annotations["window"] == "w3"
    assert float(obs.annotations["value"]) == pytest.approx(0.8)
    assert float(obs.annotations["threshold"]) == pytest.approx(0.85)


def test_conditions_from_a_real_estimate() -> None:
    rng = np.random.default_rng(9)
    good = rng.beta(8.0, 2.0, size=2000)  # confident scores: accuracy about 0.8
    weak = rng.beta(3.0, 2.0, size=2000)  # scores nearer 0.5: lower accuracy
    rule = EstimateRule(max_drop=0.05)
    reference = estimate_accuracy(good, good >= 0.5).accuracy
    (ok,) = rule.evaluate("m", estimate_accuracy(good[:1000], good[:1000] >= 0.5), reference_accuracy=reference)
    (bad,) = rule.evaluate("m", estimate_accuracy(weak, weak >= 0.5), reference_accuracy=reference)
    assert ok.level(None, 0.1) is None and bad.level(None, 0.1) == "warning"


def test_reconcile() -> None:
    e = Estimate(0.82, 0.79, 0.85, 600)
    assert reconcile(e, 0.80, 600) == {
        "estimated": 0.82,
        "realized": 0.80,
        "error": pytest.approx(-0.02),
        "within_interval": 1.0,
        "labelled": 600.0,
        "label_coverage": 1.0,
    }
    outside = reconcile(e, 0.70, 300)
    assert outside["within_interval"] == 0.0 and outside["label_coverage"] == 0.5


@pytest.mark.parametrize(
    ("scores", "predictions", "match"),
    [
        ([], [], "empty"),
        ([0.5, float("nan")], [1, 0], r"\[0, 1\]"),
        ([0.5, 1.2], [1, 1], r"\[0, 1\]"),
        ([-0.1], [0], r"\[0, 1\]"),
        ([0.5, 0.6], [1], "2 scores"),
        ([0.5, 0.6], [1, 2], "0/1"),
        ([0.5], ["yes"], "0/1"),
        (["a"], [1], "numbers"),
        ([[0.5]], [1], "flat"),
    ],
)
def test_estimate_input_is_validated(scores: Any, predictions: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_accuracy(scores, predictions)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Calibration(bins=0), "bins"),
        (lambda: Calibration(max_ece=-0.1), "max_ece"),
        (lambda: Calibration(bins=5).fit([0.1, 0.2], [0, 1]), "at least 5"),
        (lambda: Calibration().fit([0.1] * 10, [0, 1] * 4), "8 values"),
        (lambda: Calibration().fit([0.1] * 10, [0.5] * 10), "0/1"),
        (lambda: Calibration().transform([1.5]), r"\[0, 1\]"),
        (lambda: expected_calibration_error([0.1], [1], bins=0), "bins"),
        (lambda: EstimateRule(max_drop=-0.01), "max_drop"),
        (lambda: EstimateRule(max_drop=float("nan")), "max_drop"),
        (lambda: EstimateRule(min_rows=0), "min_rows"),
        (lambda: EstimateRule().evaluate("m", Estimate(0.8, 0.7, 0.9, 500), reference_accuracy=1.2), "reference_accuracy"),
        (lambda: Estimate(0.8, 0.85, 0.9, 10), "low <= accuracy"),
        (lambda: Estimate(0.8, 0.7, 0.9, 0), "n must"),
        (lambda: reconcile(Estimate(0.8, 0.7, 0.9, 10), 1.5, 10), "realized_accuracy"),
        (lambda: reconcile(Estimate(0.8, 0.7, 0.9, 10), 0.8, 11), "labelled"),
        (lambda: reconcile(Estimate(0.8, 0.7, 0.9, 10), 0.8, 0), "labelled"),
    ],
)
def test_arguments_are_validated(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_everything_pickles() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(size=1000)
    calibration = Calibration(bins=5).fit(scores, rng.uniform(size=1000) < scores**2)
    copy = pickle.loads(pickle.dumps(calibration))
    assert (copy.bins, copy.ece, copy.calibrated) == (5, calibration.ece, calibration.calibrated)
    assert copy.transform([0.1, 0.5, 0.9]) == calibration.transform([0.1, 0.5, 0.9])
    estimate = estimate_accuracy(scores, scores >= 0.5)
    assert pickle.loads(pickle.dumps(estimate)) == estimate
    rule = pickle.loads(pickle.dumps(EstimateRule(max_drop=0.02, min_rows=10)))
    assert (rule.max_drop, rule.min_rows) == (0.02, 10)
    assert pickle.loads(pickle.dumps(Calibration())).transform([0.3]) == [0.3]
