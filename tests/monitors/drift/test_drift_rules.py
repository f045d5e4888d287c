import math

import pytest

from monitors.drift.results import DriftResult, FeatureDrift
from monitors.drift.rules import DriftRule


def result(*features: FeatureDrift, prediction: FeatureDrift | None = None) -> DriftResult:
    return DriftResult(features=features, prediction=prediction, n_current=1000, n_reference=2000)


def test_p_values_become_strengths_with_warning_at_the_threshold() -> None:
    (obs,) = DriftRule(critical_p_factor=100).evaluate("m", result(FeatureDrift("age", 1e-4, "K-S p_value", 1e-3, True)))
    assert obs.labels == {"model": "m", "kind": "data_drift", "feature": "age"}
    assert obs.value == pytest.approx(4.0) and obs.warning_at == pytest.approx(3.0)
    assert obs.critical_at == pytest.approx(5.0)
    assert obs.level(None, 0.1) == "warning"


def test_the_level_agrees_with_evidentlys_decision_at_the_threshold() -> None:
    rule = DriftRule()
    for score, drifted in [(0.0011, False), (0.0009, True), (0.5, False), (0.0, True)]:
        (obs,) = rule.evaluate("m", result(FeatureDrift("x", score, "K-S p_value", 0.001, drifted)))
        assert (obs.level(None, 0.0) is not None) == drifted


def test_distances_keep_their_scale() -> None:
    (obs,) = DriftRule(critical_distance_factor=3).evaluate(
        "m", result(FeatureDrift("plan", 0.35, "Jensen-Shannon distance", 0.1, True))
    )
    assert (obs.value, obs.warning_at, obs.critical_at) == (0.35, 0.1, pytest.approx(0.3))
    assert obs.level(None, 0.1) == "critical"


def test_prediction_drift_is_its_own_kind_and_optional() -> None:
    drift = result(prediction=FeatureDrift("prediction", 1e-9, "chi-square homogeneity p_value", 1e-3, True))
    (obs,) = DriftRule().evaluate("m", drift)
    assert obs.labels["kind"] == "prediction_drift" and obs.labels["feature"] == "prediction"
    assert DriftRule(prediction_drift=False).evaluate("m", drift) == []


def test_annotations_say_what_and_keep_the_context() -> None:
    (obs,) = DriftRule().evaluate("m", result(FeatureDrift("age", 2e-7, "K-S p_value", 1e-3, True)), {"window": "w7"})
    assert obs.annotations["window"] == "w7" and obs.annotations["method"] == "K-S p_value"
    assert obs.annotations["correction"] == "bh"
    assert "age drifted" in obs.annotations["summary"]
    assert float(obs.annotations["value"]) == pytest.approx(2e-7)


def test_a_zero_p_value_is_the_strongest_finite_value() -> None:
    (obs,) = DriftRule().evaluate("m", result(FeatureDrift("age", 0.0, "K-S p_value", 1e-3, True)))
    assert math.isfinite(obs.value) and obs.value > 300


@pytest.mark.parametrize("kwargs", [{"critical_p_factor": 1}, {"critical_distance_factor": 0.5}])
def test_invalid_factors_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DriftRule(**kwargs)
