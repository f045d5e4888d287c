import pytest

from monitors.drift import DriftResult, FeatureDrift
from monitors.fingerprint import fingerprint
from monitors.rules import DriftRule


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Test vectors of prometheus/common model/signature_test.go (LabelSet fingerprints).
        ({}, 14695981039346656037),
        ({"first_name": "electro", "occupation": "robot", "manufacturer": "westinghouse"}, 5911716720268894962),
        ({"x": "y"}, 8241431561484471700),
        ({"a": "bb", "b": "c"}, 3016285359649981711),
    ],
)
def test_fingerprint_matches_prometheus(labels: dict[str, str], expected: int) -> None:
    assert int(fingerprint(labels), 16) == expected


def test_fingerprint_depends_on_labels_not_their_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1", "b": "2"}) != fingerprint({"a": "1", "b": "3"})
    assert fingerprint({"a": "bb", "b": "c"}) != fingerprint({"a": "b", "bb": "c"})


def feature(name: str, drifted: bool) -> FeatureDrift:
    return FeatureDrift(name, 1e-6 if drifted else 0.5, "K-S p_value", 0.001, drifted)


def result(drifted: int, total: int, prediction: bool | None = None) -> DriftResult:
    features = tuple(feature(f"f{i:02d}", i < drifted) for i in range(total))
    pred = None if prediction is None else FeatureDrift("prediction", 0.0, "K-S p_value", 0.001, prediction)
    return DriftResult(features=features, prediction=pred, n_current=100, n_reference=100)


def test_no_alert_below_the_minimum_of_drifted_features() -> None:
    assert DriftRule(min_drifted_features=2).evaluate(result(1, 10)) == []
    (alert,) = DriftRule(min_drifted_features=2).evaluate(result(2, 10))
    assert alert.kind == "data_drift" and [f.feature for f in alert.features] == ["f00", "f01"]


def test_severity_follows_the_drifted_share() -> None:
    rule = DriftRule(critical_share=0.3)
    assert [a.severity for a in rule.evaluate(result(2, 10))] == ["warning"]
    assert [a.severity for a in rule.evaluate(result(3, 10))] == ["critical"]


def test_prediction_drift_is_its_own_alert_and_can_be_turned_off() -> None:
    assert [a.kind for a in DriftRule().evaluate(result(0, 5, prediction=True))] == ["prediction_drift"]
    assert DriftRule(prediction_drift=False).evaluate(result(0, 5, prediction=True)) == []
    assert DriftRule().evaluate(result(0, 5, prediction=False)) == []


@pytest.mark.parametrize("kwargs", [{"min_drifted_features": 0}, {"critical_share": 0}, {"critical_share": 1.5}])
def test_invalid_rules_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DriftRule(**kwargs)  # type: ignore[arg-type]
