"""The rules of a partition's monitor, without a broker: what each event causes."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitors.alerting.alerts import Alert
from monitors.intake.freshness import FreshnessMonitor, NoDataRule
from monitors.labels.estimates import Estimate
from monitors.labels.performance import PerformanceJob, PerformanceResult, PerformanceWindows
from monitors.labels.rules import EstimateRule, PerformanceRule
from monitors.online.challenger import Challenger
from monitors.online.detectors import ErrorMonitor
from monitors.partition import KEPT_ESTIMATES, Effects, PartitionMonitor, PartitionRules, untrusted_models

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = "churn"
RULES = PartitionRules(
    window_size=20,
    segment_keys=(),
    segment_top_k=5,
    segment_learn=30,
    pause_on_quality_alerts=True,
    learn_min_labelled=10,
    pause_below_coverage=0.5,
    performance=PerformanceRule(max_drop={"accuracy": 0.05}, min_labelled=10),
    estimate=EstimateRule(max_drop=0.05, min_rows=10),
)


@dataclass
class Prediction:
    prediction_id: str
    prediction: Any
    event_time: datetime
    model: str = MODEL
    score: float | None = None
    probabilities: dict[str, float] | None = None
    segment: dict[str, str] = field(default_factory=dict)


def monitor(rules: PartitionRules = RULES, *, detector: bool = False, challenger: bool = False) -> PartitionMonitor:
    made = PartitionMonitor.fresh(rules, reference_size=rules.window_size)
    if detector:
        made.errors = ErrorMonitor("adwin", warmup=30)
    if challenger:
        made.challenger = Challenger("logistic_regression", {}, task="classification")
    return made


def feed(made: PartitionMonitor, n: int, start: int = 0, label: Any = None, right: bool = True) -> Effects:
    """``n`` predictions of ``True`` and, unless ``label`` is None, their labels (right or wrong)."""
    effects = Effects()
    for i in range(start, start + n):
        at = T0 + timedelta(seconds=i)
        effects += made.update(Prediction(f"p{i}", True, at), {"x": float(i % 7)}, b'{"x": 1.0}')
        if label is not None:
            effects += made.label(f"p{i}", label if right else not label, at + timedelta(milliseconds=1), MODEL)
    return effects


# -- windows ------------------------------------------------------------------


def test_a_prediction_counts_in_its_models_windows_and_its_segments_once_the_buckets_froze() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=5))
    effects = Effects()
    for i in range(RULES.window_size * 3):
        at = T0 + timedelta(seconds=i)
        effects += made.update(Prediction(f"p{i}", True, at, segment={"region": "eu"}), {"x": 1.0}, b"{}")
        effects += made.label(f"p{i}", True, at, MODEL)
    assert [job.window.index for job in effects.windows if job.segment is None] == [0, 1]
    # The segment's reference fills from the 6th event on (its bucket froze after 5), so one window fewer.
    assert [job.window.index for job in effects.windows if job.segment == ("region", "eu")] == [0]
    assert effects.routed[: RULES.window_size] == [(MODEL, "reference")] * RULES.window_size
    assert effects.routed[RULES.window_size] == (MODEL, "window")
    assert effects.joined == [MODEL] * RULES.window_size * 3
    # Quality per window: versions for the model's windows, and for the segment's reference and window.
    due = made.performance_due()
    assert {job.window for job in due if job.segment is None} >= {0, 1}
    assert {job.window for job in due if job.segment == ("region", "eu")} == {None, 0}


# -- quality per segment --------------------------------------------------------------


def accuracy(job: PerformanceJob) -> PerformanceResult:
    """A version's accuracy, as the analysis would measure it."""
    right = sum(prediction == label for prediction, label, _ in job.pairs)
    return PerformanceResult({"accuracy": right / job.labelled}, job.labelled, job.coverage)


def segmented_stream(made: PartitionMonitor, n: int, eu_wrong_from: int) -> list[Any]:
    """``n`` predictions alternating between regions eu and us, all labelled; eu's labels flip from ``eu_wrong_from``.

    Every quality version due is measured at once; the observations it gave are returned.
    """
    observations: list[Any] = []
    for i in range(n):
        region = "eu" if i % 2 else "us"
        at = T0 + timedelta(seconds=i)
        effects = made.update(Prediction(f"p{i}", True, at, segment={"region": region}), {"x": 1.0}, b"{}")
        effects += made.label(f"p{i}", not (region == "eu" and i >= eu_wrong_from), at, MODEL)
        for job in effects.performance + made.performance_due():
            observations += made.measured(job, accuracy(job)).observations or []
    return observations


def breaching(observations: list[Any]) -> list[Any]:
    return [obs for obs in observations if obs.value >= obs.warning_at]


def test_labels_that_flip_in_one_segment_alert_that_segment_and_no_other() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=10))
    observations = segmented_stream(made, 240, eu_wrong_from=140)
    segments = {obs.labels.get("segment") for obs in breaching(observations)}
    assert segments == {None, "region=eu"}  # the model as a whole, and eu; never us
    assert any(obs.labels.get("segment") == "region=us" for obs in observations)  # us was judged, and was fine
    eu = [obs for obs in breaching(observations) if obs.labels.get("segment") == "region=eu"]
    assert {(obs.labels["model"], obs.labels["kind"], obs.labels["feature"]) for obs in eu} == {
        (MODEL, "performance", "accuracy")
    }
    assert eu[0].annotations["summary"].startswith(f"{MODEL} [region=eu]: accuracy ")
    assert "below 0.95 (reference 1 - 0.05)" in eu[-1].annotations["summary"]
    assert eu[-1].annotations["window"].startswith(f"{MODEL} [region=eu] window ") and eu[-1].value == 1.0  # all wrong
    assert made.segment_reference_results[(MODEL, ("region", "eu"))].metrics == {"accuracy": 1.0}


def test_before_the_flip_no_segment_alerts() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=10))
    observations = segmented_stream(made, 240, eu_wrong_from=10_000)
    assert observations and breaching(observations) == []


def test_a_segments_quality_windows_are_kept_as_its_models_are() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=10))
    made.performance = PerformanceWindows(keep_windows=2)
    segmented_stream(made, 600, eu_wrong_from=10_000)
    for segment in (("region", "eu"), ("region", "us")):
        windows = made.segment_performance[segment]
        assert (windows.keep_windows, windows.keep_predictions, windows.segment) == (2, None, segment)
        assert windows.windows(MODEL)[0] is None and len(windows.windows(MODEL)) <= 4  # the reference, 2 closed, 1 open
    assert set(made.segment_performance) == {("region", "eu"), ("region", "us")}


def test_a_late_version_of_an_older_segment_window_never_clears_what_a_newer_one_raised() -> None:
    made = monitor()
    eu = ("region", "eu")
    made.measured(replace(quality(None, 1, 0.90)[0], segment=eu), quality(None, 1, 0.90)[1])
    newer = made.measured(replace(quality(3, 1, 0.60)[0], segment=eu), quality(3, 1, 0.60)[1])
    assert newer.observations and newer.observations[0].labels["segment"] == "region=eu"
    assert newer.reference_metrics == {"accuracy": 0.90}
    assert made.measured(replace(quality(2, 2, 0.95)[0], segment=eu), quality(2, 2, 0.95)[1]).observations is None
    # The model's own windows are judged apart: its reference is not the segment's.
    assert made.reference_results == {} and made.last_results == {}


def test_idle_time_closes_an_open_window_and_expires_label_waits() -> None:
    made = monitor()
    made.watch = type(made.watch)(RULES.window_size, 60.0, RULES.window_size)
    feed(made, RULES.window_size + 3, label=None)
    made.advance_labels(T0)
    effects = made.idle(idle_s=86_400 * 2)
    assert [job.window.index for job in effects.windows] == [0]
    assert effects.expired == [MODEL] * (RULES.window_size + 3)


# -- segment buckets ------------------------------------------------------------


def test_segment_buckets_are_learned_over_segment_learn_events_then_freeze() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=30))
    learning = [made.segments(MODEL, {"region": "eu" if i % 3 else "us"}) for i in range(30)]
    assert all(buckets == [] for buckets in learning)  # learning: the event counts for the model only
    assert made.buckets[MODEL].frozen
    assert made.segments(MODEL, {"region": "eu"}) == [("region", "eu")]


def test_without_segment_keys_no_buckets_are_kept() -> None:
    made = monitor()
    assert made.segments(MODEL, {"region": "eu"}) == [] and made.buckets == {}


# -- when learning pauses -------------------------------------------------------


def firing(kind: str) -> Alert:
    return Alert({"model": MODEL, "kind": kind, "severity": "warning"}, {}, T0)


@pytest.mark.parametrize(
    "kind, untrusted", [("schema", True), ("missing_values", True), ("data_drift", False), ("performance", False)]
)
def test_data_quality_alerts_make_labels_untrustworthy_drift_does_not(kind: str, untrusted: bool) -> None:
    assert (MODEL in untrusted_models([firing(kind)])) is untrusted


def test_learning_pauses_while_a_quality_alert_fires_and_resumes_after_it() -> None:
    made = monitor(challenger=True)
    made.untrusted = untrusted_models([firing("schema")])
    assert not made.may_learn(MODEL)
    assert feed(made, 1, label=True).learn[0][1] is False  # the pair is still handed over, marked untrusted
    made.review_trust()  # nothing fires in its own lifecycle
    assert made.may_learn(MODEL)
    ignoring = monitor(replace(RULES, pause_on_quality_alerts=False))
    ignoring.untrusted = {MODEL}
    assert ignoring.may_learn(MODEL)


def test_learning_pauses_when_too_few_settled_predictions_found_their_label() -> None:
    made = monitor(challenger=True)
    feed(made, RULES.learn_min_labelled * 3)  # no labels yet
    assert made.may_learn(MODEL)  # nothing settled: the labels may still come
    made.advance(T0 + timedelta(days=30))
    made.advance_labels(T0 + timedelta(days=30))
    assert len(made.expire().expired) == RULES.learn_min_labelled * 3  # every wait ran out: coverage 0
    assert not made.may_learn(MODEL)


# -- when a concept-drift alert resolves --------------------------------------------


def test_a_rise_of_the_error_rate_fires_at_once_and_resolves_a_window_of_labels_later() -> None:
    made = monitor(detector=True)
    assert feed(made, 300, label=True, right=True).observations == []
    i, fired = 300, []
    while not fired and i < 1000:  # wrong from now on, until the detector fires
        fired = feed(made, 1, start=i, label=True, right=False).observations
        i += 1
    assert fired and all(o.value >= o.warning_at for o in fired), "the detector fires when the errors rise"
    fired_at = made.detections[MODEL]
    made.errors = ErrorMonitor("adwin", warmup=10**9)  # from here no further rise can be detected
    before = feed(made, RULES.window_size - 1, start=i, label=True, right=True)
    assert before.observations == [] and made.detections[MODEL] == fired_at
    after = feed(made, 1, start=i + RULES.window_size - 1, label=True, right=True)
    assert MODEL not in made.detections
    assert after.observations and all(o.labels["model"] == MODEL for o in after.observations)


def test_errors_that_rise_in_one_segment_fire_its_own_detector_and_resolve_a_window_of_its_labels_later() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=10), detector=True)
    eu = ("region", "eu")
    observations: list[Any] = []
    fired_at: int | None = None
    for i in range(1600):
        region = "eu" if i % 2 else "us"
        at = T0 + timedelta(seconds=i)
        wrong = region == "eu" and 600 <= i < 1000  # eu's labels flip for a while, then agree again
        made.update(Prediction(f"p{i}", True, at, segment={"region": region}), {"x": 1.0}, b"{}")
        observations += made.label(f"p{i}", not wrong, at, MODEL).observations
        if fired_at is None and (MODEL, eu) in made.segment_detections:
            fired_at = i
    assert fired_at is not None and 600 < fired_at < 1000
    eu_drift = [o for o in observations if o.labels.get("segment") == "region=eu"]
    assert eu_drift[0].labels["kind"] == "concept_drift" and eu_drift[0].value >= eu_drift[0].warning_at
    assert eu_drift[0].annotations["summary"].startswith(f"{MODEL} [region=eu]: error rate rose")
    assert eu_drift[-1].value < eu_drift[-1].warning_at  # resolved once eu's labels agreed again
    assert (MODEL, eu) not in made.segment_detections
    assert not any(o.labels.get("segment") == "region=us" for o in observations)  # us never changed
    assert set(made.segment_errors) == {eu, ("region", "us")}
    assert made.segment_labelled[(MODEL, eu)] + made.segment_labelled[(MODEL, ("region", "us"))] == 1600 - 10


def test_a_label_of_the_wrong_kind_is_rejected_and_not_learned() -> None:
    made = monitor(detector=True, challenger=True)
    made.errors = ErrorMonitor("adwin", task="regression")
    effects = feed(made, 1, label="yes")
    assert [(model, pid) for model, pid, _ in effects.rejected] == [(MODEL, "p0")]
    assert effects.learn == [] and effects.joined == [MODEL]


# -- estimates -------------------------------------------------------------------


def window_job(index: int) -> Any:
    made = monitor()
    effects = feed(made, RULES.window_size * (index + 2))
    return [job for job in effects.windows if job.window.index == index][0]


def test_an_estimate_is_judged_only_once_the_reference_accuracy_is_known() -> None:
    made = monitor()
    job = window_job(0)
    low = Estimate(0.70, 0.65, 0.75, 500)
    assert made.estimated(job, low) == []
    assert made.estimates[(MODEL, 0)] == low  # kept for when the labels land
    made.reference_results[MODEL] = PerformanceResult({"accuracy": 0.90}, 500, 1.0)
    [observation] = made.estimated(job, low)
    assert observation.labels["model"] == MODEL and observation.value >= observation.warning_at


def test_only_the_latest_estimates_are_kept() -> None:
    made = monitor()
    job = window_job(0)
    for index in range(KEPT_ESTIMATES + 5):
        made.estimated(replace(job, window=replace(job.window, index=index)), Estimate(0.9, 0.85, 0.95, 100))
    assert len(made.estimates) == KEPT_ESTIMATES and min(index for _, index in made.estimates) == 5


# -- late quality versions ----------------------------------------------------------


def quality(window: int | None, version: int, accuracy: float) -> tuple[PerformanceJob, PerformanceResult]:
    return PerformanceJob(MODEL, window, version, 100, (), (), False), PerformanceResult({"accuracy": accuracy}, 100, 1.0)


def test_a_late_version_of_an_older_window_never_clears_what_a_newer_window_raised() -> None:
    made = monitor()
    assert made.measured(*quality(None, 1, 0.90)).observations is None  # the reference period: no alert of its own
    newer = made.measured(*quality(3, 1, 0.60))
    assert newer.observations and newer.reference_metrics == {"accuracy": 0.90}
    older = made.measured(*quality(2, 2, 0.95))  # good, but late
    assert older.observations is None
    assert made.last_results[MODEL][0] == 3


def test_a_measured_window_reconciles_its_estimate() -> None:
    made = monitor()
    made.estimates[(MODEL, 4)] = Estimate(0.80, 0.75, 0.85, 100)
    measured = made.measured(*quality(4, 1, 0.82))
    assert measured.reconciled and measured.reconciled["estimated"] == pytest.approx(0.80)


# -- silence ----------------------------------------------------------------------


def test_a_silent_model_is_an_alert_only_with_a_no_data_rule() -> None:
    made = monitor(replace(RULES, no_data=NoDataRule(max_silence_s=60)))
    made.freshness = FreshnessMonitor()
    made.freshness.update(MODEL, T0)
    (obs,) = made.silences(T0 + timedelta(seconds=90))
    assert (obs.labels["model"], obs.labels["kind"], obs.level(None, 0.0)) == (MODEL, "no_data", "warning")
    made.configure(RULES)  # the setting turned off at the next start
    assert made.silences(T0 + timedelta(seconds=90)) == []


# -- checkpoints ------------------------------------------------------------------


def test_rules_are_never_checkpointed_a_restored_monitor_takes_this_starts() -> None:
    made = monitor(detector=True)
    feed(made, 50, label=True)
    restored = pickle.loads(pickle.dumps(made))
    assert not hasattr(restored, "rules")
    changed = replace(RULES, window_size=7)
    restored.configure(changed)
    assert restored.rules is changed
    assert restored.labels.counts(MODEL).joined == 50


def test_a_monitor_checkpointed_before_segments_had_quality_restores_with_none() -> None:
    made = monitor(replace(RULES, segment_keys=("region",), segment_learn=10))
    saved = made.__getstate__()
    for name in ("segment_performance", "segment_reference_results", "segment_last_results"):
        del saved[name]
    old = PartitionMonitor.__new__(PartitionMonitor)
    old.__setstate__(saved)
    old.configure(made.rules)
    assert old.segment_performance == {} and old.segment_last_results == {}
    segmented_stream(old, 100, eu_wrong_from=10_000)
    assert set(old.segment_performance) == {("region", "eu"), ("region", "us")}
