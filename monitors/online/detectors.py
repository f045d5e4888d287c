"""Detectors: has a model's error changed, pair by labelled pair, between window closes?

Window analyses see a model's performance once per window. A change detector sees
every labelled pair as it is joined: :class:`ErrorMonitor` turns each
(prediction, label) pair of a model into an error (0/1 misclassification for
classification, absolute error for regression) and feeds it to one River drift
detector per model. A :class:`Detection` is reported when the detector fires; the
model's detector then starts afresh. At each window close, :meth:`ErrorMonitor.close`
gives what happened since the previous close (:class:`Detections`), and
:class:`ConceptDriftRule` turns that into a ``concept_drift``
:class:`~monitors.alerting.alerts.Observation`, so an alert fires on a detection in which the
error rose and resolves at the next close without one.

River's default parameters are not an alerting policy: on stationary Bernoulli errors
EDDM raises tens of alarms per 100k pairs, HDDM-W tens at an error rate of 0.3 and
Page-Hinkley several. :data:`DEFAULT_PARAMS` holds parameters calibrated with
``bench/detectors.py`` (at most about one false alarm per 100k stationary pairs at error
rates 0.1 and 0.3; the benchmark prints the table) and :func:`build_detector` applies
them under any parameters given. ADWIN, the default, raised none in 2 million stationary
pairs and finds a 0.1 -> 0.3 rise in about 120 pairs. KSWIN compares distributions and
is meant for continuous errors (regression; not benchmarked): on 0/1 errors it misses
half of such rises even calibrated, and it costs ~0.3 ms a pair against ~1 µs for ADWIN.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from river import base, drift
from river.drift import binary

from monitors.alerting.alerts import Observation

__all__ = [
    "BINARY",
    "DEFAULT_PARAMS",
    "DETECTORS",
    "ConceptDriftRule",
    "Detection",
    "Detections",
    "ErrorMonitor",
    "Task",
    "build_detector",
]

Task = Literal["classification", "regression"]

DETECTORS: tuple[str, ...] = ("adwin", "page_hinkley", "kswin", "ddm", "eddm", "hddm_a", "hddm_w")
"""Detector names, as :func:`build_detector` and :class:`ErrorMonitor` take them."""

BINARY: frozenset[str] = frozenset({"ddm", "eddm", "hddm_a", "hddm_w"})
"""Detectors that need 0/1 errors, so classification only."""

_CLASSES: dict[str, type[base.DriftDetector] | type[base.BinaryDriftDetector]] = {
    "adwin": drift.ADWIN,
    "page_hinkley": drift.PageHinkley,
    "kswin": drift.KSWIN,
    "ddm": binary.DDM,
    "eddm": binary.EDDM,
    "hddm_a": binary.HDDMA,
    "hddm_w": binary.HDDMW,
}

DEFAULT_PARAMS: Mapping[str, Mapping[str, Any]] = {
    # River's 0.002 also raised no false alarm in the benchmark, but 0.01 did: 0.001 keeps a
    # factor of ten from there, for ~15 % more delay on a 0.1 -> 0.3 rise (120 vs 104 pairs).
    "adwin": {"delta": 0.001},
    # Only a rise in error is worth an alert; threshold 50 gave several alarms per 100k.
    # Its threshold is in error units, so a noisier stream (error rate 0.3) alarms more.
    "page_hinkley": {"mode": "up", "threshold": 120.0},
    # A fixed seed keeps replays deterministic (River's default draws from the OS). Larger
    # windows give a KS test on 0/1 values some power; it still misses half of 0.1 -> 0.3.
    "kswin": {"alpha": 0.001, "window_size": 500, "stat_size": 200, "seed": 1},
    # DDM's early minimum of p + s is noise: after 30 pairs it alarms before any change.
    "ddm": {"warm_start": 1000, "drift_threshold": 3.5},
    "eddm": {"warm_start": 300, "alpha": 0.8, "beta": 0.7},
    "hddm_a": {"drift_confidence": 1e-4, "warning_confidence": 1e-3},
    # A slower average (lambda) and a stricter bound: the defaults alarm ~40 times per 100k
    # at a 0.3 error rate. Even so HDDM-W is slow on a 0.1 -> 0.2 change.
    "hddm_w": {"drift_confidence": 1e-5, "warning_confidence": 1e-3, "lambda_val": 0.005},
}
"""Calibrated parameters per detector; parameters given to :func:`build_detector` override them."""

# How many of a model's latest errors describe "after" in a detection's summary: short,
# because most detections come within a few hundred pairs of the change.
_RECENT = 100


def build_detector(name: str, params: Mapping[str, Any] | None = None) -> base.DriftDetector | base.BinaryDriftDetector:
    """A fresh River detector by name, with :data:`DEFAULT_PARAMS` under ``params``.

    Parameters
    ----------
    name
        One of :data:`DETECTORS`.
    params
        Constructor arguments of the River class, overriding the calibrated defaults.

    Raises
    ------
    ValueError
        For an unknown name or parameters River rejects.

    Examples
    --------
    >>> detector = build_detector("adwin")
    >>> type(detector).__name__, detector.delta
    ('ADWIN', 0.001)
    >>> build_detector("page_hinkley", {"threshold": 20.0}).threshold
    20.0
    >>> build_detector("cusum")
    Traceback (most recent call last):
    ...
    ValueError: unknown detector 'cusum'; choose one of adwin, page_hinkley, kswin, ddm, eddm, hddm_a, hddm_w
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    arguments = {**DEFAULT_PARAMS.get(name, {}), **(params or {})}
    try:
        return _CLASSES[name](**arguments)
    except (TypeError, ValueError) as exc:
        # River reports an unknown argument as a TypeError and a bad value as a ValueError.
        raise ValueError(f"bad parameters for detector {name!r} {arguments}: {exc}") from exc


@dataclass(frozen=True)
class Detection:
    """A change in one model's error, as one detector saw it.

    Attributes
    ----------
    model
        The model whose errors changed.
    detector
        The detector's name.
    at
        How many labelled pairs of this model had been seen when it fired.
    error_before
        Mean error (error rate, or mean absolute error for regression) from the
        detector's start to shortly before it fired; None when too few pairs.
    error_after
        Mean error over the model's latest pairs (up to 100) when it fired.

    Examples
    --------
    >>> d = Detection("churn", "adwin", 2140, 0.1, 0.29)
    >>> d.worsened
    True
    """

    model: str
    detector: str
    at: int
    error_before: float | None
    error_after: float | None

    @property
    def worsened(self) -> bool:
        """Whether the error rose; True when there is nothing to compare (a change is news)."""
        if self.error_before is None or self.error_after is None:
            return True
        return self.error_after > self.error_before


class _ModelErrors:
    """One model's detector and the error summaries since it started."""

    def __init__(self, detector: base.DriftDetector | base.BinaryDriftDetector) -> None:
        self.detector = detector
        self.seen = 0  # all labelled pairs of the model
        self.since_start = 0  # pairs fed to the current detector
        self.total_since_start = 0.0
        self.recent: deque[float] = deque(maxlen=_RECENT)
        self.pending: Detection | None = None  # latest worsening detection since the last close()
        self.pending_count = 0

    def restart(self, detector: base.DriftDetector | base.BinaryDriftDetector) -> None:
        self.detector = detector
        self.since_start = 0
        self.total_since_start = 0.0
        self.recent.clear()


@dataclass(frozen=True)
class Detections:
    """What one model's detector found between two window closes.

    Attributes
    ----------
    detector
        The detector's name.
    task
        What the errors were: 0/1 misclassifications, or absolute errors.
    latest
        The latest detection in which the error rose, or None.
    count
        How many such detections there were.

    Examples
    --------
    >>> Detections("adwin", "classification", None, 0).worsened
    False
    """

    detector: str
    task: Task
    latest: Detection | None
    count: int

    @property
    def worsened(self) -> bool:
        """Whether the error rose at least once."""
        return self.latest is not None


class ErrorMonitor:
    """Change detection on each model's stream of errors.

    Parameters
    ----------
    detector
        One of :data:`DETECTORS`; ADWIN by default.
    params
        Detector parameters over :data:`DEFAULT_PARAMS`.
    task
        ``classification`` feeds 0/1 misclassifications; ``regression`` feeds absolute
        errors, in the label's units (ADWIN's bound loses power on errors much smaller
        than 1 and Page-Hinkley's ``delta`` and ``threshold`` are in those units, so
        rescale or set them for such targets).
    warmup
        Pairs after a detector starts (a model's first pair, or the pair after a
        detection) during which it learns but reports nothing: detectors are noisy
        at the start.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> errors = ErrorMonitor()
    >>> # 3,000 pairs at a 10 % error rate, then 30 %
    >>> for i in range(5000):
    ...     wrong = rng.random() < (0.1 if i < 3000 else 0.3)
    ...     detection = errors.update("churn", prediction=wrong, label=False)
    ...     if detection:
    ...         print(detection.at, round(detection.error_before, 2), round(detection.error_after, 2))
    3200 0.11 0.24
    >>> errors.close("churn").count, errors.close("churn").count  # the next close: none since
    (1, 0)
    """

    def __init__(
        self,
        detector: str = "adwin",
        params: Mapping[str, Any] | None = None,
        task: Task = "classification",
        warmup: int = 100,
    ) -> None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        if task == "regression" and detector in BINARY:
            raise ValueError(
                f"detector {detector!r} needs 0/1 errors (the DDM family), so classification only; "
                f"for regression choose one of {', '.join(d for d in DETECTORS if d not in BINARY)}"
            )
        if warmup < 0:
            raise ValueError(f"warmup must be at least 0, got {warmup}")
        build_detector(detector, params)  # fail now, not on a model's first pair
        self.detector = detector
        self.params: Mapping[str, Any] = dict(params or {})
        self.task = task
        self.warmup = warmup
        self._models: dict[str, _ModelErrors] = {}

    def __repr__(self) -> str:
        return (
            f"ErrorMonitor(detector={self.detector!r}, params={dict(self.params)!r}, task={self.task!r}, warmup={self.warmup!r})"
        )

    @property
    def models(self) -> tuple[str, ...]:
        """The models seen so far, sorted."""
        return tuple(sorted(self._models))

    def update(self, model: str, prediction: Any, label: Any) -> Detection | None:
        """Feed one labelled pair of ``model``; the detection it caused, if any.

        Raises
        ------
        ValueError
            For regression, when the prediction or label is not a finite number.
        """
        error = self._error(model, prediction, label)
        state = self._models.get(model)
        if state is None:
            state = self._models[model] = _ModelErrors(build_detector(self.detector, self.params))
        state.seen += 1
        state.since_start += 1
        state.total_since_start += error
        state.recent.append(error)
        if isinstance(state.detector, base.BinaryDriftDetector):
            state.detector.update(error == 1.0)  # classification only, so 0.0 or 1.0
        else:
            state.detector.update(error)
        if not state.detector.drift_detected:
            return None
        if state.since_start <= self.warmup:
            # A start-up alarm: begin again so the next pairs are not compared with it.
            state.restart(build_detector(self.detector, self.params))
            return None
        detection = Detection(model, self.detector, state.seen, *_before_after(state))
        if detection.worsened:
            state.pending = detection
            state.pending_count += 1
        # A fresh instance rather than River's own reset: the same behaviour for every
        # detector (ADWIN drops its whole window, KSWIN keeps its latest values).
        state.restart(build_detector(self.detector, self.params))
        return detection

    def close(self, model: str) -> Detections | None:
        """What ``model``'s detector found since the previous close, which this call is; None for an unseen model.

        Only detections in which the error rose count: a fall is no alert, the model got better.
        """
        state = self._models.get(model)
        if state is None:
            return None
        detections = Detections(self.detector, self.task, state.pending, state.pending_count)
        state.pending, state.pending_count = None, 0
        return detections

    def _error(self, model: str, prediction: Any, label: Any) -> float:
        if self.task == "classification":
            return 0.0 if prediction == label else 1.0
        try:
            error = abs(float(prediction) - float(label))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{model}: regression needs numbers, got prediction {prediction!r}, label {label!r}") from exc
        if not math.isfinite(error):
            # One NaN would poison a detector's running sums for good.
            raise ValueError(f"{model}: non-finite error from prediction {prediction!r}, label {label!r}")
        return error


def _before_after(state: _ModelErrors) -> tuple[float | None, float | None]:
    recent_n, recent_total = len(state.recent), sum(state.recent)
    after = recent_total / recent_n if recent_n else None
    earlier_n = state.since_start - recent_n
    before = (state.total_since_start - recent_total) / earlier_n if earlier_n > 0 else None
    return before, after


def _summary(detection: Detection, task: Task, count: int) -> str:
    what = "error rate" if task == "classification" else "mean absolute error"
    change = ""
    if detection.error_before is not None and detection.error_after is not None:
        change = f" from {detection.error_before:.3g} to {detection.error_after:.3g}"
    times = f" ({count} detections since the last window)" if count > 1 else ""
    return f"{detection.model}: {what} rose{change} ({detection.detector}, after {detection.at} labelled pairs){times}"


class ConceptDriftRule:
    """Turn a window's :class:`Detections` into its ``concept_drift`` observation (a :class:`~monitors.alerting.rule.Rule`).

    The value is 1.0 (warning, never critical) when the error rose since the
    previous close, else 0.0, so the alert resolves at the next close without
    a rise. The observation needs one window to fire: the detector has already
    weighed its evidence (calibrated to about no false alarm).

    Examples
    --------
    >>> rose = Detections("adwin", "classification", Detection("churn", "adwin", 3200, 0.11, 0.24), 1)
    >>> (obs,) = ConceptDriftRule().evaluate("churn", rose)
    >>> dict(obs.labels), obs.level(None, 0.0)
    ({'model': 'churn', 'kind': 'concept_drift', 'feature': 'adwin'}, 'warning')
    >>> obs.annotations["summary"]
    'churn: error rate rose from 0.11 to 0.24 (adwin, after 3200 labelled pairs)'
    """

    def __repr__(self) -> str:
        return "ConceptDriftRule()"

    def evaluate(
        self, model: str, result: Detections, context: Mapping[str, str] | None = None, *, segment: str | None = None
    ) -> list[Observation]:
        """The window's one observation, with shared annotations ``context``.

        ``segment`` (``"key=value"``) says the detections are of one segment's
        error stream: the observation carries it as its ``segment`` label.

        >>> rose = Detections("adwin", "classification", Detection("churn", "adwin", 900, 0.1, 0.9), 1)
        >>> (obs,) = ConceptDriftRule().evaluate("churn", rose, segment="region=eu")
        >>> obs.labels["segment"], obs.annotations["summary"]
        ('region=eu', 'churn [region=eu]: error rate rose from 0.1 to 0.9 (adwin, after 900 labelled pairs)')
        """
        annotations = {**(context or {}), "threshold": "1", "value": "1" if result.worsened else "0", "detector": result.detector}
        if result.latest is not None:
            latest = result.latest if segment is None else replace(result.latest, model=f"{model} [{segment}]")
            annotations["summary"] = _summary(latest, result.task, result.count)
        labels = {"model": model, "kind": "concept_drift", "feature": result.detector}
        if segment is not None:
            labels["segment"] = segment
        return [
            Observation(
                labels=labels,
                value=1.0 if result.worsened else 0.0,
                warning_at=1.0,
                critical_at=None,
                annotations=annotations,
                for_windows=1,
            )
        ]
