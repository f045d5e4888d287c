"""The monitor of one input partition: its monitoring state and the rules that act on it.

A worker owns input partitions; each partition's predictions, features and
labels (co-partitioned by model) go to one :class:`PartitionMonitor`. It holds
what monitoring remembers of them (windows and references, the feature and
label joins, model quality per window, the error detectors, the online
challengers, the alert lifecycle, freshness, segment buckets, score
calibrations and estimates) and decides what each event causes, as values the
worker carries out (:class:`Effects`): windows and quality versions to analyse,
observations for the alert lifecycle, labelled pairs for the challengers,
labels of the wrong kind to report.

The rules live here, each with its unit tests, so that the worker only moves
data between Kafka, this monitor, the analysis processes and the alert service:

* learning pauses while a model's labels look untrustworthy (:meth:`PartitionMonitor.may_learn`);
* a concept-drift alert resolves after a window's worth of labelled predictions
  without a new rise (:meth:`PartitionMonitor.label`, :meth:`PartitionMonitor.update`);
* a model's segment buckets freeze once they have seen as many events as a
  reference holds (:meth:`PartitionMonitor.segments`);
* a window's score-based estimate is kept until its labels land, and judged
  against the reference period's accuracy (:meth:`PartitionMonitor.estimated`);
* a late quality version of an older window never clears what a newer window
  raised (:meth:`PartitionMonitor.measured`);
* a labelled prediction also counts in the quality of the segment windows it
  counted in, judged against that segment's own reference period, with the
  same window keeping as its model's (:meth:`PartitionMonitor.measured`), and
  feeds that segment's own error detector (:meth:`PartitionMonitor.label`).

The rules read a :class:`PartitionRules`, built from the settings at each start
and never checkpointed, so a changed setting applies from the next start.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> from monitors.labels.rules import EstimateRule, PerformanceRule
>>> rules = PartitionRules(window_size=3, segment_keys=(), segment_top_k=5, segment_learn=3,
...                        pause_on_quality_alerts=True, learn_min_labelled=200, pause_below_coverage=0.5,
...                        performance=PerformanceRule(), estimate=EstimateRule())
>>> monitor = PartitionMonitor.fresh(rules, reference_size=3)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> class Prediction:  # what a decoded prediction event offers
...     def __init__(self, i):
...         self.model, self.prediction_id, self.prediction = "churn", f"p{i}", i % 2 == 0
...         self.score, self.probabilities, self.segment = None, None, {}
...         self.event_time = t0 + timedelta(seconds=i)
>>> closed = []
>>> for i in range(7):
...     closed += monitor.update(Prediction(i), {"age": 40 + i}, b"{}").windows
>>> [job.window.index for job in closed]  # three to the reference, then a window of three
[0]
>>> effects = monitor.label("p4", True, t0 + timedelta(seconds=9), None)
>>> monitor.labels.counts("churn").joined, [job.window for job in monitor.performance_due()]
(1, [0])
"""

# Over 500 lines on purpose: one class, whose rules act between the concepts it composes.
# The segments' quality and error detectors are the model's rules applied to each segment
# bucket, through the same helpers (_judged, _detected); apart, each would be read with
# the other open.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from monitors.alerting.alerts import Alert, Observation
from monitors.alerting.lifecycle import AlertLifecycle
from monitors.intake.duplicates import SeenPredictions
from monitors.intake.freshness import FreshnessMonitor, NoDataRule
from monitors.intake.join import KeyedJoin
from monitors.labels.estimates import Calibration, Estimate, reconcile
from monitors.labels.join import LabelJoin, LabelledPair, PendingPrediction
from monitors.labels.performance import PerformanceJob, PerformanceResult, PerformanceWindows
from monitors.labels.rules import EstimateRule, PerformanceRule
from monitors.online.challenger import Challenger
from monitors.online.detectors import ConceptDriftRule, Detection, ErrorMonitor
from monitors.windows.segments import SegmentBuckets
from monitors.windows.watch import DriftWatch, Segment, WindowJob

__all__ = [
    "UNTRUSTWORTHY_KINDS",
    "Effects",
    "Measured",
    "PartitionMonitor",
    "PartitionRules",
    "Prediction",
    "untrusted_models",
]

# Data-quality alerts that make a model's labelled pairs untrustworthy to learn from.
UNTRUSTWORTHY_KINDS = frozenset({"schema", "missing_values", "out_of_range", "unseen_categories", "constant"})
# The latest windows whose estimates wait for their labels; older ones are forgotten.
KEPT_ESTIMATES = 200

_Key = TypeVar("_Key", str, tuple[str, Segment])


class Prediction(Protocol):
    """What the monitor reads of a decoded prediction event."""

    @property
    def model(self) -> str: ...
    @property
    def prediction_id(self) -> str: ...
    @property
    def prediction(self) -> Any: ...
    @property
    def score(self) -> float | None: ...
    @property
    def probabilities(self) -> Mapping[str, float] | None: ...
    @property
    def segment(self) -> Mapping[str, str]: ...
    @property
    def event_time(self) -> datetime: ...


@dataclass(frozen=True)
class PartitionRules:
    """The settings the partition's rules read.

    Parameters
    ----------
    window_size
        Labelled predictions without a new rise of the error rate after which a
        concept-drift alert resolves (as many as a window holds).
    segment_keys, segment_top_k
        The segment keys, and how many values of each get buckets of their own.
    segment_learn
        Events over which a model's top segment values are learned before its
        buckets freeze (as many as a stream reference holds).
    pause_on_quality_alerts, learn_min_labelled, pause_below_coverage
        When the challengers stop learning a model's pairs: while a data-quality
        alert that makes its labels untrustworthy fires, or once
        ``learn_min_labelled`` predictions are settled and fewer than
        ``pause_below_coverage`` of them found their label.
    performance, estimate
        The rules that turn a window's measured and estimated quality into observations.
    concept_drift
        The rule that turns a model's error detections into observations.
    no_data
        The rule that turns a model's silence into observations; None: silence is no alert.
    """

    window_size: int
    segment_keys: tuple[str, ...]
    segment_top_k: int
    segment_learn: int
    pause_on_quality_alerts: bool
    learn_min_labelled: int
    pause_below_coverage: float
    performance: PerformanceRule
    estimate: EstimateRule
    concept_drift: ConceptDriftRule = field(default_factory=ConceptDriftRule)
    no_data: NoDataRule | None = None


@dataclass
class Effects:
    """What events applied to a partition monitor caused, in the order they caused it.

    ``windows`` and ``performance`` are due for analysis; ``observations`` go to
    the alert lifecycle now; ``learn`` are labelled pairs for the challengers,
    each with whether its labels are trusted enough to learn from; ``rejected``
    are pairs whose label does not suit the task (model, prediction id, reason);
    ``joined`` are the models of predictions that met their label;
    ``expired`` the models of predictions whose label wait ran out;
    ``routed`` is where each prediction's row went (model, ``window`` or ``reference``).
    """

    windows: list[WindowJob] = field(default_factory=list)
    performance: list[PerformanceJob] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    learn: list[tuple[LabelledPair, bool]] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    routed: list[tuple[str, str]] = field(default_factory=list)

    def __iadd__(self, other: Effects) -> Effects:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))
        return self


@dataclass(frozen=True)
class Measured:
    """What a quality version of a window means once it is measured.

    ``observations`` is None when the version must not change alerts (a newer
    window's quality is already judged); ``reconciled`` compares the window's
    estimate with the measured accuracy; ``reference_metrics`` is the reference
    period's quality, to report next to it.
    """

    observations: list[Observation] | None
    reconciled: dict[str, float]
    reference_metrics: dict[str, float]


def untrusted_models(firing: list[Alert]) -> set[str]:
    """The models with a firing data-quality alert that makes their labels untrustworthy."""
    return {alert.labels.get("model", "") for alert in firing if alert.labels.get("kind") in UNTRUSTWORTHY_KINDS}


@dataclass
class PartitionMonitor:
    """Everything monitored for one input partition, with the rules that act on it (see the module docstring).

    Pickled whole into the worker's checkpoints, but for ``rules`` and the
    derived set of untrusted models: a restored monitor gets them again from
    :meth:`configure`.
    """

    rules: PartitionRules = field(repr=False, compare=False)
    watch: DriftWatch
    features: KeyedJoin[Any, Any]
    labels: LabelJoin
    seen: SeenPredictions
    performance: PerformanceWindows
    errors: ErrorMonitor | None
    challenger: Challenger | None
    lifecycle: AlertLifecycle
    freshness: FreshnessMonitor | None = None
    buckets: dict[str, SegmentBuckets] = field(default_factory=dict)
    reference_results: dict[str, PerformanceResult] = field(default_factory=dict)
    last_results: dict[str, tuple[int, PerformanceResult]] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)  # model -> labelled predictions when its detector last fired
    # Per segment bucket: its windows' labelled pairs, and their latest and reference quality by (model, segment).
    segment_performance: dict[Segment, PerformanceWindows] = field(default_factory=dict)
    segment_reference_results: dict[tuple[str, Segment], PerformanceResult] = field(default_factory=dict)
    segment_last_results: dict[tuple[str, Segment], tuple[int, PerformanceResult]] = field(default_factory=dict)
    # Per segment bucket: an error detector like the model's, fed the segment's labelled pairs; by (model, segment),
    # the pairs fed and how many there were when it last fired.
    segment_errors: dict[Segment, ErrorMonitor] = field(default_factory=dict)
    segment_labelled: dict[tuple[str, Segment], int] = field(default_factory=dict)
    segment_detections: dict[tuple[str, Segment], int] = field(default_factory=dict)
    calibrations: dict[str, Calibration] = field(default_factory=dict)
    estimates: dict[tuple[str, int], Estimate] = field(default_factory=dict)  # the latest windows' estimates
    event_time: datetime | None = None
    label_time: datetime | None = None
    untrusted: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def fresh(cls, rules: PartitionRules, reference_size: int, capacity: int = 100_000) -> PartitionMonitor:
        """A monitor of plain parts, for examples and tests: windows of ``rules.window_size`` events, no detector, no challenger."""
        return cls(
            rules=rules,
            watch=DriftWatch(rules.window_size, 3600.0, reference_size),
            features=KeyedJoin(capacity),
            labels=LabelJoin(86_400.0, capacity),
            seen=SeenPredictions(86_400.0, capacity),
            performance=PerformanceWindows(keep_predictions=capacity),
            errors=None,
            challenger=None,
            lifecycle=AlertLifecycle(),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(models={list(self.labels.models)!r}, event_time={self.event_time!r}, "
            f"label_time={self.label_time!r}, detector={self.errors!r}, challenger={self.challenger is not None}, "
            f"freshness={self.freshness!r}, firing={len(self.lifecycle.firing())})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name not in ("rules", "untrusted")}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        # No rules until configure(): a monitor must never act on rules it was not given.
        # A part added since the checkpoint was written starts empty.
        for name, spec in self.__dataclass_fields__.items():
            if name not in saved and spec.default_factory is not MISSING:
                saved[name] = spec.default_factory()
        self.__dict__.update(saved)
        self.untrusted = set()

    def configure(self, rules: PartitionRules) -> None:
        """Give a restored monitor the rules of this start's settings."""
        self.rules = rules
        self.review_trust()

    # -- events -------------------------------------------------------------

    def update(
        self, prediction: Prediction, row: Mapping[str, Any], features_json: bytes, into: Effects | None = None
    ) -> Effects:
        """Count a prediction (its features joined) in its model's windows and the label join.

        ``row`` is what the windows keep of it; ``features_json`` what a
        challenger learns from once its label lands. What it causes is added to
        ``into`` (a batch's effects, in order), or to new effects; either is returned.
        """
        effects = Effects() if into is None else into
        model, when = prediction.model, prediction.event_time
        self.advance(when)
        effects.routed.append((model, "window" if self.watch.reference_ready(model) else "reference"))
        closed = self.watch.advance(model, when) + self.watch.add(model, when, row)
        window = self.watch.window_index(model)
        segments: list[tuple[Segment, int | None]] = []
        for segment in self.segments(model, prediction.segment):
            closed += self.watch.add(model, when, row, segment)
            segments.append((segment, self.watch.window_index(model, segment)))
        self._closed(closed, effects)
        self.performance.predicted(model, window)
        for segment, index in segments:
            self._segment_windows(segment).predicted(model, index)
        pending = PendingPrediction(
            model=model,
            window=window,
            prediction=prediction.prediction,
            score=prediction.score,
            probabilities=prediction.probabilities,
            features=features_json,
            predicted_at=when,
            segments=tuple(segments),
        )
        pair = self.labels.add_prediction(prediction.prediction_id, pending)
        if pair is not None:
            self._labelled(pair, effects)
        return effects

    def label(
        self, prediction_id: str, label: Any, event_time: datetime, model: str | None, into: Effects | None = None
    ) -> Effects:
        """Join a label with its prediction, if that was seen; what the pair causes (added to ``into``, as in :meth:`update`)."""
        effects = Effects() if into is None else into
        self.advance_labels(event_time)
        pair = self.labels.add_label(prediction_id, label, event_time, model)
        if pair is not None:
            self._labelled(pair, effects)
        return effects

    def expire(self, into: Effects | None = None) -> Effects:
        """Settle the label waits that the event time read so far has passed (added to ``into``, as in :meth:`update`).

        A label is late against the label stream's own clock, and it cannot be
        expected before its prediction was made: the earlier clock decides.
        """
        effects = Effects() if into is None else into
        if self.event_time is not None and self.label_time is not None:
            effects.expired += [expired.model for _, expired in self.labels.expire(min(self.event_time, self.label_time))]
        if self.event_time is not None:
            self.seen.expire(self.event_time)
        return effects

    def idle(self, idle_s: float) -> Effects:
        """The inputs were read to their end ``idle_s`` seconds ago: time moves on without events.

        Windows open longer than their duration close, and label waits expire,
        as if event time had gone on by ``idle_s``.
        """
        effects = Effects()
        self._closed(self.watch.expire_idle(idle_s), effects)
        if self.event_time is not None and self.label_time is not None:
            now = min(self.event_time, self.label_time) + timedelta(seconds=idle_s)
            effects.expired = [expired.model for _, expired in self.labels.expire(now)]
        return effects

    def performance_due(self) -> list[PerformanceJob]:
        """Quality versions due since the last call (new labels for windows already closed): the models', then their segments'."""
        jobs = self.performance.due()
        for windows in self.segment_performance.values():
            jobs += windows.due()
        return jobs

    def set_reference(self, rows: list[Mapping[str, Any]], model: str | None) -> int:
        """Replace a model's reference (or every model's); windows closing from now on use it. Its version."""
        return self.watch.set_reference(rows, model)

    # -- rules --------------------------------------------------------------

    def segments(self, model: str, segment: Mapping[str, str]) -> list[tuple[str, str]]:
        """The segment buckets an event of ``model`` also counts in (none while they are being learned)."""
        rules = self.rules
        if not rules.segment_keys:
            return []
        buckets = self.buckets.get(model)
        if buckets is None:
            buckets = self.buckets[model] = SegmentBuckets(rules.segment_keys, rules.segment_top_k)
        if not buckets.frozen:
            buckets.learn(segment)
            if buckets.learned >= rules.segment_learn:
                buckets.freeze()
            return []
        return list(buckets.segments(segment).items())

    def review_trust(self) -> int:
        """Take the models whose labels are untrustworthy from the alerts firing now; how many fire."""
        firing = self.lifecycle.firing()
        self.untrusted = untrusted_models(firing)
        return len(firing)

    def may_learn(self, model: str) -> bool:
        """Whether ``model``'s labels look trustworthy enough for the challengers to learn from."""
        rules = self.rules
        if rules.pause_on_quality_alerts and model in self.untrusted:
            return False
        stats = self.labels.counts(model)
        settled = stats.joined + stats.expired
        return settled < rules.learn_min_labelled or stats.coverage >= rules.pause_below_coverage

    def estimated(self, job: WindowJob, estimate: Estimate) -> list[Observation]:
        """Keep a window's estimate until its labels land; what it says against the reference period's accuracy."""
        self.estimates[(job.model, job.window.index)] = estimate
        for stale in sorted(self.estimates)[: max(0, len(self.estimates) - KEPT_ESTIMATES)]:
            del self.estimates[stale]
        reference = self.reference_results.get(job.model)
        # None until the reference period's labels are in: nothing to compare with, no observation.
        accuracy = reference.metrics.get("accuracy") if reference is not None else None
        context = {"window": f"{job.name} (estimated from scores, before labels)"}
        return self.rules.estimate.evaluate(job.model, estimate, context, reference_accuracy=accuracy)

    def silences(self, now: datetime) -> list[Observation]:
        """Each model's ``no_data`` observation at ``now`` (none when silence is no alert)."""
        rule = self.rules.no_data
        if self.freshness is None or rule is None:
            return []
        return [obs for model, silent_s in self.freshness.silences(now).items() for obs in rule.evaluate(model, silent_s)]

    def calibrated(self, model: str, calibration: Calibration) -> None:
        """Keep the score calibration fitted on a model's reference period."""
        self.calibrations[model] = calibration

    def measured(self, job: PerformanceJob, result: PerformanceResult) -> Measured:
        """Take a quality version of a window (or of the reference period, ``job.window`` None)."""
        if job.segment is not None:
            key = (job.model, job.segment)
            observations = self._judged(key, job, result, self.segment_reference_results, self.segment_last_results)
            reference = self.segment_reference_results.get(key)
            return Measured(observations, {}, dict(reference.metrics) if reference is not None else {})
        reconciled: dict[str, float] = {}
        if job.window is not None:
            estimate = self.estimates.get((job.model, job.window))
            if estimate is not None and "accuracy" in result.metrics and result.labelled:
                reconciled = reconcile(estimate, result.metrics["accuracy"], min(result.labelled, estimate.n))
        observations = self._judged(job.model, job, result, self.reference_results, self.last_results)
        reference = self.reference_results.get(job.model)
        return Measured(observations, reconciled, dict(reference.metrics) if reference is not None else {})

    def _judged(
        self,
        key: _Key,
        job: PerformanceJob,
        result: PerformanceResult,
        references: dict[_Key, PerformanceResult],
        latest: dict[_Key, tuple[int, PerformanceResult]],
    ) -> list[Observation] | None:
        """Keep a version's result under ``key`` (a model, or a model's segment); what it says, None if nothing may change."""
        if job.window is None:
            references[key] = result
            return None
        last = latest.get(key)
        # A late label for an older window must not clear what a newer window raised.
        if last is not None and job.window < last[0]:
            return None
        latest[key] = (job.window, result)
        segment = None if job.segment is None else f"{job.segment[0]}={job.segment[1]}"
        where = job.model if segment is None else f"{job.model} [{segment}]"
        context = {"window": f"{where} window {job.window} (version {job.version})"}
        return self.rules.performance.evaluate(job.model, result, context, reference=references.get(key), segment=segment)

    # -- clocks -------------------------------------------------------------

    def advance(self, event_time: datetime) -> None:
        """Move the predictions' event-time watermark forward (never back)."""
        if self.event_time is None or event_time > self.event_time:
            self.event_time = event_time

    def advance_labels(self, event_time: datetime) -> None:
        """Move the labels' event-time watermark forward (never back)."""
        if self.label_time is None or event_time > self.label_time:
            self.label_time = event_time

    # -- internals ----------------------------------------------------------

    def _closed(self, windows: list[WindowJob], effects: Effects) -> None:
        """Closed windows to analyse; a model's own window (not a segment's) also closes its quality window."""
        for job in windows:
            effects.windows.append(job)
            if job.segment is None:
                effects.performance += self.performance.close(job.model, job.window.index)
            else:
                effects.performance += self._segment_windows(job.segment).close(job.model, job.window.index)

    def _labelled(self, pair: LabelledPair, effects: Effects) -> None:
        """One prediction met its label: quality, change detection, and a pair for the challengers."""
        self.performance.add(pair)
        for segment, window in pair.prediction.segments:
            self._segment_windows(segment).add_at(pair, window)
        model = pair.model
        effects.joined.append(model)
        if self.errors is not None:
            try:
                effects.observations += self._detect(model, pair.prediction.prediction, pair.label)
            except (ValueError, TypeError) as exc:  # a label of the wrong kind for the task
                effects.rejected.append((model, pair.prediction_id, str(exc)))
                return
            # The model's detector took the pair, so each segment's (of the same kind) takes it too.
            for segment, _ in pair.prediction.segments:
                effects.observations += self._detect_segment(model, segment, pair.prediction.prediction, pair.label)
        if self.challenger is not None:
            effects.learn.append((pair, self.may_learn(model)))

    def _segment_windows(self, segment: Segment) -> PerformanceWindows:
        """A segment bucket's quality windows, kept as its models' are (the buckets are capped, so these are bounded)."""
        windows = self.segment_performance.get(segment)
        if windows is None:
            model = self.performance
            windows = self.segment_performance[segment] = PerformanceWindows(
                model.keep_windows, model.keep_predictions, segment=segment
            )
        return windows

    def _detect(self, model: str, prediction: Any, label: Any) -> list[Observation]:
        """Feed the model's error detector (see :meth:`_detected`)."""
        assert self.errors is not None
        detection = self.errors.update(model, prediction, label)
        return self._detected(self.errors, model, model, None, detection, self.labels.counts(model).joined, self.detections)

    def _detect_segment(self, model: str, segment: Segment, prediction: Any, label: Any) -> list[Observation]:
        """Feed the error detector of ``model``'s segment (see :meth:`_detected`)."""
        assert self.errors is not None
        errors = self.segment_errors.get(segment)
        if errors is None:
            model_errors = self.errors
            errors = self.segment_errors[segment] = ErrorMonitor(
                model_errors.detector, model_errors.params, model_errors.task, model_errors.warmup
            )
        detection = errors.update(model, prediction, label)
        key = (model, segment)
        labelled = self.segment_labelled[key] = self.segment_labelled.get(key, 0) + 1
        return self._detected(errors, key, model, segment, detection, labelled, self.segment_detections)

    def _detected(
        self,
        errors: ErrorMonitor,
        key: _Key,
        model: str,
        segment: Segment | None,
        detection: Detection | None,
        labelled: int,
        detections: dict[_Key, int],
    ) -> list[Observation]:
        """Fire at once when the error rises, resolve a window's worth of labelled pairs (``labelled`` so far) later."""
        if detection is not None and detection.worsened:
            detections[key] = labelled
            return self._concept_drift(errors, model, segment)
        if key in detections and labelled - detections[key] >= self.rules.window_size:
            del detections[key]
            return self._concept_drift(errors, model, segment)
        return []

    def _concept_drift(self, errors: ErrorMonitor, model: str, segment: Segment | None) -> list[Observation]:
        detections = errors.close(model)
        if detections is None:
            return []
        named = None if segment is None else f"{segment[0]}={segment[1]}"
        return self.rules.concept_drift.evaluate(model, detections, segment=named)
