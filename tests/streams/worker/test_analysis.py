from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from monitors.labels.estimates import Calibration
from monitors.labels.performance import PerformanceJob
from monitors.windows.watch import DriftWatch, WindowJob
from streams.settings import DriftSettings, PerformanceSettings
from streams.worker.analysis import EVENT_TIME_COLUMN, SCORE_COLUMN, AnalysisSpec, WindowOutcome, analyse, evaluate_performance

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = AnalysisSpec()


def outcome(
    window_rows: list[dict[str, object]], seed: int = 0, spec: AnalysisSpec = SPEC, scores: bool = False
) -> WindowOutcome:
    rng = np.random.default_rng(seed)
    watch = DriftWatch(window_size=len(window_rows), window_duration_s=3600, reference_size=300)
    reference = [
        {"a": float(x), "b": float(y), "prediction": float(x) if scores else int(x > 0)} for x, y in rng.normal(size=(300, 2))
    ]
    for i, row in enumerate(reference + window_rows):
        jobs = watch.add("m", T0 + timedelta(seconds=i), row)
    (job,) = jobs
    return analyse(replace(job, model=f"m-{seed}"), spec)


def test_a_shifted_feature_is_reported_and_observed() -> None:
    rng = np.random.default_rng(1)
    result = outcome(
        [{"a": float(x) + 1.0, "b": float(y), "prediction": int(y > 0)} for x, y in rng.normal(size=(200, 2))], seed=1
    )
    report = result.report
    assert [f.feature for f in report.features if f.drifted] == ["a"]
    assert report.correction == "bh" and report.snapshot is None and report.quality[0].check == "out_of_range"
    kinds = {(o.labels["kind"], o.labels["feature"]) for o in result.observations if o.level(None, 0.0)}
    assert ("data_drift", "a") in kinds and ("data_drift", "b") not in kinds


def test_a_window_whose_values_all_have_the_wrong_type_still_reports_its_quality() -> None:
    result = outcome([{"a": "1.0", "b": "2.0", "prediction": "0"} for _ in range(100)], seed=2)
    report = result.report
    assert report.features == [] and report.prediction is None
    assert {(q.check, q.feature) for q in report.quality} >= {("schema", "a"), ("schema", "b")}


def timed_outcome(window_gaps_s: list[float], first: datetime | None = None, as_datetimes: bool = False) -> WindowOutcome:
    """A window after a reference of one event a second, its rows carrying their event times as the worker's do.

    ``as_datetimes`` stores them as releases before POSIX seconds did (in checkpoints they may restore).
    """
    watch = DriftWatch(window_size=len(window_gaps_s), window_duration_s=10**10, reference_size=300)
    stamp = (lambda t: t) if as_datetimes else (lambda t: t.timestamp())
    at = T0
    for i in range(300):
        at = T0 + timedelta(seconds=i)
        watch.add("m", at, {"a": float(i % 7), EVENT_TIME_COLUMN: stamp(at)})
    jobs = []
    for i, gap in enumerate(window_gaps_s):
        at += timedelta(seconds=gap)
        when = first if i == 0 and first is not None else at
        jobs += watch.add("m", when, {"a": float(i % 7), EVENT_TIME_COLUMN: stamp(when)})
    (job,) = jobs
    return analyse(job, SPEC)


def test_one_event_dated_1970_does_not_make_a_window_look_silent() -> None:
    result = timed_outcome([1.0] * 200, first=datetime(1970, 1, 1, tzinfo=UTC))
    assert result.report.window.start.year == 1970  # the window says what it holds ...
    assert "volume" not in {q.check for q in result.report.quality}  # ... but its rate ignores the straggler


def test_a_window_at_a_tenth_of_the_reference_rate_is_a_volume_finding() -> None:
    (volume,) = [q for q in timed_outcome([10.0] * 200).report.quality if q.check == "volume"]
    assert volume.value > 9 and volume.summary.startswith("0.1 events/s")


def test_event_times_restored_as_datetimes_from_an_older_checkpoint_give_the_same_rate() -> None:
    seconds, datetimes = (timed_outcome([10.0] * 200, as_datetimes=old).report.quality for old in (False, True))
    assert [q for q in datetimes if q.check == "volume"] == [q for q in seconds if q.check == "volume"] != []


def test_the_prediction_is_tested_as_the_task_says() -> None:
    rng = np.random.default_rng(3)
    rows = [{"a": float(x), "b": float(y), "prediction": int(y > 0)} for x, y in rng.normal(size=(200, 2))]
    classifier = outcome(rows, seed=3).report.prediction
    assert classifier is not None and classifier.method == "chi-square homogeneity p_value"
    regressor = outcome(rows, seed=4, spec=replace(SPEC, performance=PerformanceSettings(task="regression"))).report.prediction
    assert regressor is not None and regressor.method == "K-S p_value"


def test_a_classifiers_prediction_given_as_a_score_is_tested_as_a_number() -> None:
    rng = np.random.default_rng(5)
    rows = [{"a": float(x), "b": float(y), "prediction": float(y)} for x, y in rng.normal(size=(200, 2))]
    prediction = outcome(rows, seed=5, scores=True).report.prediction
    assert prediction is not None and prediction.method == "K-S p_value"


def pair_rows(rng: np.random.Generator, n: int, rho: float) -> list[dict[str, object]]:
    """Two standard normal features correlated at ``rho`` and an independent third: each keeps its distribution."""
    x, y, z = rng.normal(size=(3, n))
    b = rho * x + np.sqrt(1 - rho**2) * y
    return [{"a": float(p), "b": float(q), "c": float(r), "prediction": int(r > 0)} for p, q, r in zip(x, b, z)]


def pair_outcome(rho: float, spec: AnalysisSpec = SPEC) -> WindowOutcome:
    rng = np.random.default_rng(7)
    watch = DriftWatch(window_size=500, window_duration_s=10**10, reference_size=1000)
    jobs = []
    for i, row in enumerate(pair_rows(rng, 1000, 0.9) + pair_rows(rng, 500, rho)):
        jobs += watch.add("pairs", T0 + timedelta(seconds=i), row)
    (job,) = jobs
    return analyse(job, spec)


def test_a_broken_correlation_is_a_multivariate_drift_condition_and_no_feature_drifts() -> None:
    result = pair_outcome(rho=-0.9)
    multivariate = result.report.multivariate
    assert multivariate is not None and multivariate.drifted
    assert multivariate.error > multivariate.threshold and set(multivariate.top_features) == {"a", "b"}
    assert result.report.drifted_features == 0 and not result.report.prediction.drifted  # type: ignore[union-attr]
    firing = {o.labels["kind"] for o in result.observations if o.level(None, 0.0)}
    assert firing == {"multivariate_drift"}
    (obs,) = [o for o in result.observations if o.labels["kind"] == "multivariate_drift"]
    assert obs.labels["feature"] == "*" and obs.annotations["top_features"].startswith(("a (", "b ("))


def test_an_unchanged_window_is_within_its_multivariate_threshold() -> None:
    multivariate = pair_outcome(rho=0.9).report.multivariate
    assert multivariate is not None and not multivariate.drifted and multivariate.error < multivariate.threshold


def test_the_multivariate_check_can_be_turned_off() -> None:
    result = pair_outcome(rho=-0.9, spec=replace(SPEC, drift=DriftSettings(multivariate=False)))
    assert result.report.multivariate is None
    assert "multivariate_drift" not in {o.labels["kind"] for o in result.observations}


def scored_job(scores: list[float], segment: tuple[str, str] | None = None) -> WindowJob:
    """A classifier's window whose predictions come with their scores, after a reference of 300."""
    watch = DriftWatch(window_size=len(scores), window_duration_s=3600, reference_size=300)
    rows = [{"a": float(i % 7), "prediction": int(s > 0.5), SCORE_COLUMN: s} for i, s in enumerate([0.5] * 300 + scores)]
    jobs = [job for i, row in enumerate(rows) for job in watch.add("m", T0 + timedelta(seconds=i), row, segment=segment)]
    (job,) = jobs
    return job


def test_a_classifiers_window_is_estimated_from_its_scores_through_the_models_calibration() -> None:
    scores = [0.9, 0.8, 0.3, 0.6] * 50
    plain = analyse(scored_job(scores), SPEC).report.estimate
    assert plain is not None and not plain.recalibrated and plain.rows == 200
    assert abs(plain.accuracy - 0.75) < 1e-9 and plain.low < 0.75 < plain.high  # mean of 0.9, 0.8, 0.7, 0.6
    rng = np.random.default_rng(0)
    overconfident = rng.uniform(size=2000)
    calibration = Calibration().fit(overconfident, rng.uniform(size=2000) < overconfident**3)
    mapped = analyse(scored_job(scores), SPEC, calibration=calibration).report.estimate
    assert mapped is not None and mapped.recalibrated and mapped.accuracy < plain.accuracy - 0.1


def test_no_estimate_for_a_segment_a_regressor_or_scores_that_are_not_probabilities(caplog) -> None:  # type: ignore[no-untyped-def]
    scores = [0.9, 0.2] * 100
    assert analyse(scored_job(scores, segment=("region", "eu")), SPEC).report.estimate is None
    assert analyse(scored_job(scores), replace(SPEC, performance=PerformanceSettings(task="regression"))).report.estimate is None
    assert analyse(scored_job([2.0, 0.2] * 100), SPEC).report.estimate is None
    assert "no accuracy estimate from its scores: scores must be probabilities in [0, 1]" in caplog.text


def test_the_reference_periods_quality_fits_the_models_score_calibration() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(size=400)
    pairs = tuple((int(s > 0.5), int(rng.uniform() < s**3), float(s)) for s in scores)  # overconfident scores

    def outcome(window: int | None, kept: tuple[tuple[int, int, float | None], ...] = pairs):  # type: ignore[no-untyped-def]
        return evaluate_performance(PerformanceJob("m", window, 1, len(kept), kept, (1.0,) * len(kept), False), SPEC)

    calibration = outcome(None).calibration
    assert calibration is not None and not calibration.calibrated
    assert outcome(0).calibration is None  # a window's pairs never recalibrate
    assert outcome(None, pairs[:50]).calibration is None  # fewer than min_labelled (100)
    assert outcome(None, pairs[:-1] + ((1, 1, None),)).calibration is None  # a pair without its score
    segment = PerformanceJob("m", None, 1, len(pairs), pairs, (1.0,) * len(pairs), False, ("region", "eu"))
    assert evaluate_performance(segment, SPEC).calibration is None  # the calibration is the model's, not a segment's


def test_a_segments_quality_report_says_its_segment() -> None:
    pairs = ((1, 1, 0.9), (0, 1, 0.4), (1, 1, 0.8))
    report = evaluate_performance(PerformanceJob("m", 3, 2, 4, pairs, (1.0,) * 3, False, ("region", "eu")), SPEC).report
    assert (report.key, report.segment, report.labelled) == ("m/region=eu/3/performance/v2", "region=eu", 3)
    whole = evaluate_performance(PerformanceJob("m", 3, 2, 4, pairs, (1.0,) * 3, False), SPEC).report
    assert (whole.key, whole.segment) == ("m/*/3/performance/v2", None)
