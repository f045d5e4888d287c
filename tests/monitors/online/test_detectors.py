import pickle
import random
from datetime import UTC, datetime, timedelta

import pytest
from river import base

from monitors.alerting.lifecycle import AlertLifecycle
from monitors.online.detectors import (
    BINARY,
    DEFAULT_PARAMS,
    DETECTORS,
    ConceptDriftRule,
    Detection,
    Detections,
    ErrorMonitor,
    build_detector,
)


def errors(rate: float, n: int, rng: random.Random) -> list[bool]:
    """n Bernoulli errors: True when the model was wrong."""
    return [rng.random() < rate for _ in range(n)]


def feed(stream: ErrorMonitor, model: str, errs: list[bool]) -> list[Detection]:
    # prediction = the error, label = False: misclassified exactly when the error is True
    return [d for e in errs if (d := stream.update(model, e, False)) is not None]


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_builds_with_its_calibrated_defaults(name: str) -> None:
    detector = build_detector(name)
    assert isinstance(detector, base.DriftDetector | base.BinaryDriftDetector)
    for key, value in DEFAULT_PARAMS[name].items():
        assert getattr(detector, key) == value
    assert (name in BINARY) == isinstance(detector, base.BinaryDriftDetector)


def test_unknown_detector_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown detector 'cusum'; choose one of adwin, page_hinkley, kswin"):
        build_detector("cusum")
    with pytest.raises(ValueError, match="cusum"):
        ErrorMonitor("cusum")


@pytest.mark.parametrize("params", [{"deltaa": 0.1}, {"mode": "sideways"}])
def test_bad_params_are_value_errors(params: dict[str, object]) -> None:
    name = "adwin" if "deltaa" in params else "page_hinkley"
    with pytest.raises(ValueError, match=f"bad parameters for detector '{name}'"):
        build_detector(name, params)
    with pytest.raises(ValueError):
        ErrorMonitor(name, params)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_detectors_reject_regression(name: str) -> None:
    with pytest.raises(ValueError, match="needs 0/1 errors"):
        ErrorMonitor(name, task="regression")


@pytest.mark.parametrize("name", ["adwin", "page_hinkley", "kswin"])
def test_numeric_detectors_accept_regression(name: str) -> None:
    stream = ErrorMonitor(name, task="regression")
    assert stream.update("m", 2.5, 1.0) is None
    with pytest.raises(ValueError, match="regression needs numbers"):
        stream.update("m", "high", 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        stream.update("m", float("nan"), 1.0)


def test_abrupt_change_is_detected_soon_and_summarised() -> None:
    rng = random.Random(3)
    stream = ErrorMonitor()
    assert feed(stream, "churn", errors(0.1, 3000, rng)) == []
    detections = feed(stream, "churn", errors(0.3, 1000, rng))
    assert len(detections) == 1
    d = detections[0]
    assert (d.model, d.detector) == ("churn", "adwin")
    assert 3000 < d.at <= 3500
    assert d.error_before is not None and d.error_after is not None
    assert abs(d.error_before - 0.1) < 0.03 and d.error_after > 0.2 and d.worsened


def test_no_detection_on_a_stationary_stream_with_the_defaults() -> None:
    rng = random.Random(11)
    stream = ErrorMonitor()
    assert feed(stream, "m", errors(0.1, 20_000, rng)) == []
    assert feed(stream, "n", errors(0.3, 20_000, rng)) == []


def test_warmup_suppresses_early_detections() -> None:
    # A change at pair 50, inside the warm-up of 2,000: any alarm is swallowed there.
    rng = random.Random(5)
    stream = ErrorMonitor(warmup=2000)
    early = errors(0.05, 50, rng) + errors(0.6, 1950, rng)
    assert feed(stream, "m", early) == []
    # Without the warm-up, the same stream is detected.
    assert feed(ErrorMonitor(warmup=0), "m", early) != []


def test_state_is_per_model() -> None:
    rng = random.Random(8)
    stream = ErrorMonitor()
    feed(stream, "good", errors(0.05, 3000, rng))
    detections = feed(stream, "bad", errors(0.05, 2000, rng) + errors(0.5, 1000, rng))
    assert [d.model for d in detections] == ["bad"]
    assert feed(stream, "good", errors(0.05, 3000, rng)) == []
    assert stream.models == ("bad", "good")


@pytest.mark.parametrize("warmup, detected", [(600, False), (0, True)])
def test_the_warmup_starts_again_after_a_detection(warmup: int, detected: bool) -> None:
    rng = random.Random(8)
    stream = ErrorMonitor(warmup=warmup)
    errs = iter(errors(0.05, 2000, rng) + errors(0.5, 2000, rng))
    while stream.update("m", next(errs), False) is None:
        pass
    # 200 more pairs at 0.5, then none wrong: a drop the fresh detector sees within 500
    # pairs, but inside a warm-up of 600 it stays quiet.
    after = feed(stream, "m", errors(0.5, 200, rng) + [False] * 300)
    assert bool(after) is detected
    if detected:
        assert not after[0].worsened


def test_observations_fire_on_a_rise_and_resolve_at_the_next_close() -> None:
    rng = random.Random(3)
    stream, rule, lifecycle = ErrorMonitor(), ConceptDriftRule(), AlertLifecycle()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert stream.close("churn") is None  # never seen
    changes = []
    for window, rate in enumerate([0.1, 0.1, 0.1, 0.3, 0.3, 0.3]):
        feed(stream, "churn", errors(rate, 1000, rng))
        detections = stream.close("churn")
        assert detections is not None
        (obs,) = rule.evaluate("churn", detections)
        assert obs.labels == {"model": "churn", "kind": "concept_drift", "feature": "adwin"}
        assert (obs.warning_at, obs.critical_at) == (1.0, None)
        changes += [(window, a.status) for a in lifecycle.observe([obs], t0 + timedelta(minutes=window))]
    assert changes == [(3, "firing"), (4, "resolved")]


def test_a_detection_in_which_the_error_fell_is_no_alert() -> None:
    rng = random.Random(4)
    stream = ErrorMonitor()
    detections = feed(stream, "m", errors(0.4, 3000, rng) + errors(0.05, 1000, rng))
    assert detections and not detections[-1].worsened
    closed = stream.close("m")
    assert closed == Detections("adwin", "classification", None, 0)
    (obs,) = ConceptDriftRule().evaluate("m", closed)
    assert obs.value == 0.0


@pytest.mark.parametrize("name", DETECTORS)
def test_pickle_round_trip_continues_identically(name: str) -> None:
    rng = random.Random(9)
    first, second = errors(0.1, 2000, rng), errors(0.1, 300, rng) + errors(0.5, 1700, rng)
    if name == "kswin":  # a KS test per pair: ~0.4 ms
        first, second = first[:600], second[:600]
    stream = ErrorMonitor(name)
    feed(stream, "m", first)
    twin = pickle.loads(pickle.dumps(stream))
    detections = feed(stream, "m", second)
    assert detections == feed(twin, "m", second)
    assert stream.close("m") == twin.close("m")
    if name != "kswin":
        assert detections, "the rise to 0.5 should be detected, so the comparison means something"
