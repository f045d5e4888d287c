"""Model quality per window, as its labels arrive.

Labels come late, so a window's quality is never known at once: it is known
better as more of the window's predictions get their label. A window's
labelled pairs are kept in :class:`PerformanceWindows` (per model and drift
window, the reference period being window None); each time they have grown
enough, the window gets a new *version*: a :class:`PerformanceJob` that carries
all its pairs so far, so a version replaces the one before. Once no label can
come any more (the join's ttl has passed), the window's last version is marked
``final`` and the window is forgotten.

:func:`evaluate` turns a job into a :class:`PerformanceResult` with Evidently
(heavy: run it off the event loop), and
:class:`~monitors.labels.rules.PerformanceRule` turns a window's result,
compared with fixed bounds and with the reference period's result, into alert
observations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from monitors.evidently.library import Snapshot
from monitors.evidently.quality_report import classification_quality, regression_quality
from monitors.labels.join import LabelledPair
from monitors.labels.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS

__all__ = [
    "CLASSIFICATION_METRICS",
    "PerformanceJob",
    "PerformanceResult",
    "PerformanceWindows",
    "REGRESSION_METRICS",
    "Task",
    "evaluate",
]

Task = Literal["classification", "regression"]
# A segment bucket, ``(key, value)``, as the drift windows name it.
Segment = tuple[str, str]


Pair = tuple[Any, Any, float | None]


@dataclass(frozen=True)
class PerformanceJob:
    """Everything needed to evaluate one version of one window (picklable, for another process).

    Attributes
    ----------
    model
        The model.
    window
        The drift window's index; None for the reference period.
    version
        1, 2, ...: a new version each time the window's labelled pairs grew.
        ``(model, window, version)`` names a result, so a replay is idempotent
        downstream.
    predictions
        Predictions counted in the window (for the label coverage).
    pairs
        ``(prediction, label, score)`` of every labelled pair so far, in arrival order.
    delays_s
        Seconds from prediction to label, pair by pair.
    final
        No later version will come.
    segment
        The segment bucket ``(key, value)`` whose window this is; None for the whole model.

    Examples
    --------
    >>> job = PerformanceJob("churn", 4, 2, 10, ((True, True, 0.9), (False, True, 0.4)), (60.0, 95.0), False)
    >>> job.labelled, job.coverage
    (2, 0.2)
    """

    model: str
    window: int | None
    version: int
    predictions: int
    pairs: tuple[Pair, ...]
    delays_s: tuple[float, ...]
    final: bool
    segment: Segment | None = None

    @property
    def labelled(self) -> int:
        """Labelled pairs in the job."""
        return len(self.pairs)

    @property
    def coverage(self) -> float:
        """``labelled / predictions`` (0.0 without predictions)."""
        return len(self.pairs) / self.predictions if self.predictions else 0.0


@dataclass
class _Window:
    predictions: int = 0
    pairs: list[Pair] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)
    version: int = 0
    reported: int = 0  # pairs in the last version handed out
    closed: bool = False

    def job(self, model: str, window: int | None, version: int, final: bool, segment: Segment | None) -> PerformanceJob:
        return PerformanceJob(model, window, version, self.predictions, tuple(self.pairs), tuple(self.delays_s), final, segment)


class PerformanceWindows:
    """Labelled pairs per (model, window); a new version of a window's job whenever late labels grow it.

    A window is created by its first prediction or pair. Once closed (the
    drift window is complete), :meth:`due` hands out a job for it each time its
    pairs grew by ``min_new_pairs``; :meth:`finalise` hands out the last,
    ``final`` version of windows whose labels can no longer come, and forgets
    them. The reference period (window None) is never closed or finalised; it
    too gets a version from :meth:`due` when its pairs grow.

    Parameters
    ----------
    keep_windows
        Closed windows kept per model. Closing one more finalises the oldest
        (its final job is returned by :meth:`close`), so memory stays bounded
        whether or not :meth:`finalise` is called. A window holds one pair per
        prediction at most, since the join pairs each prediction once.
    keep_predictions
        Predictions in a model's kept closed windows, at most (None: no bound
        but ``keep_windows``): large windows finalise sooner, so the pairs held
        stay bounded whatever the window size. The newest closed window is
        always kept.
    segment
        The segment bucket ``(key, value)`` these windows are of (its jobs say
        it); None for the models' own windows. A pair of a segment's window is
        added with :meth:`add_at`, since its prediction's window is the model's.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from monitors.labels.join import LabelledPair, PendingPrediction
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> def pair(i, window):
    ...     p = PendingPrediction("churn", window, i % 2 == 0, None, None, {}, t0)
    ...     return LabelledPair(f"p{i}", p, True, t0 + timedelta(minutes=i))
    >>> windows = PerformanceWindows(keep_windows=10)
    >>> for i in range(4):
    ...     windows.predicted("churn", 0)
    >>> windows.close("churn", 0)
    []
    >>> windows.add(pair(0, 0)); windows.add(pair(1, 0))
    >>> [(j.window, j.version, j.labelled, j.final) for j in windows.due()]
    [(0, 1, 2, False)]
    >>> windows.due()      # nothing new
    []
    >>> windows.add(pair(2, 0))
    >>> [(j.window, j.version, j.labelled, j.final) for j in windows.finalise("churn", before_window=1)]
    [(0, 2, 3, True)]
    """

    # A class default, so windows pickled before segments had windows of their own load as the model's.
    segment: Segment | None = None

    def __init__(self, keep_windows: int = 50, keep_predictions: int | None = None, segment: Segment | None = None) -> None:
        if keep_windows < 1:
            raise ValueError(f"keep_windows must be at least 1, got {keep_windows}")
        if keep_predictions is not None and keep_predictions < 1:
            raise ValueError(f"keep_predictions must be at least 1 or None, got {keep_predictions}")
        self.keep_windows = keep_windows
        self.keep_predictions = keep_predictions
        self.segment = segment
        self._windows: dict[str, dict[int | None, _Window]] = {}
        # Per model: windows below this index are finalised; their late pairs are dropped.
        self._finalised_below: dict[str, int] = {}
        self._discarded = 0

    @property
    def discarded(self) -> int:
        """Pairs (and predictions) that arrived for a window already finalised, and were dropped."""
        return self._discarded

    def windows(self, model: str) -> list[int | None]:
        """The windows kept for ``model``: the reference period (None) first, then by index."""
        kept = self._windows.get(model, {})
        return sorted(kept, key=lambda w: -1 if w is None else w)

    def predicted(self, model: str, window: int | None) -> None:
        """Count one prediction in a window."""
        state = self._window(model, window)
        if state is not None:
            state.predictions += 1

    def add(self, pair: LabelledPair) -> None:
        """Add a labelled pair to its prediction's model and window."""
        self.add_at(pair, pair.window)

    def add_at(self, pair: LabelledPair, window: int | None) -> None:
        """Add a labelled pair to ``window`` of its prediction's model (a segment's window, numbered apart)."""
        state = self._window(pair.model, window)
        if state is not None:
            state.pairs.append((pair.prediction.prediction, pair.label, pair.prediction.score))
            state.delays_s.append(pair.delay_s)

    def close(self, model: str, window: int) -> list[PerformanceJob]:
        """Mark a drift window complete: it may now be evaluated.

        Returns the final jobs of the oldest windows pushed out by
        ``keep_windows`` or ``keep_predictions`` (those with pairs not yet reported).

        >>> windows = PerformanceWindows(keep_predictions=5)
        >>> for w in range(3):
        ...     for _ in range(3):
        ...         windows.predicted("churn", w)
        ...     _ = windows.close("churn", w)
        >>> windows.windows("churn")   # 3 + 3 predictions would be over 5
        [2]
        """
        state = self._window(model, window)
        if state is not None:
            state.closed = True
        kept = self._windows.get(model, {})
        closed = sorted(w for w, s in kept.items() if w is not None and s.closed)
        keep = closed[-self.keep_windows :]
        if self.keep_predictions is not None:
            held = 0
            for i in range(len(keep) - 1, -1, -1):
                held += kept[keep[i]].predictions
                if held > self.keep_predictions and i < len(keep) - 1:
                    keep = keep[i + 1 :]
                    break
        if len(keep) == len(closed):
            return []
        return self.finalise(model, keep[0])

    def due(self, min_new_pairs: int = 1) -> list[PerformanceJob]:
        """A new version of every closed window, and of the reference period, whose pairs grew by ``min_new_pairs``.

        Jobs come by model, then by window (the reference period first).
        """
        if min_new_pairs < 1:
            raise ValueError(f"min_new_pairs must be at least 1, got {min_new_pairs}")
        jobs: list[PerformanceJob] = []
        for model in self._windows:
            for window in self.windows(model):
                state = self._windows[model][window]
                if (window is None or state.closed) and len(state.pairs) - state.reported >= min_new_pairs:
                    jobs.append(self._next(model, window, state, final=False))
        return jobs

    def finalise(self, model: str, before_window: int) -> list[PerformanceJob]:
        """Finish ``model``'s windows below ``before_window``, closed or not: their labels can no longer come.

        Returns a final job for each that has pairs not yet reported (the last
        version handed out stands for the others), and forgets them all; pairs
        that arrive for them later are dropped and counted in :attr:`discarded`.
        """
        kept = self._windows.get(model, {})
        done = sorted(w for w in kept if w is not None and w < before_window)
        jobs = [self._next(model, w, kept[w], final=True) for w in done if len(kept[w].pairs) > kept[w].reported]
        for window in done:
            del kept[window]
        self._finalised_below[model] = max(self._finalised_below.get(model, 0), before_window)
        return jobs

    def reference_job(self, model: str) -> PerformanceJob | None:
        """The reference period's state now, without handing out a version.

        Its ``version`` is the last one handed out (0 before any), even though
        it may carry more pairs than that version did. None when the model has
        no reference period.
        """
        state = self._windows.get(model, {}).get(None)
        return None if state is None else state.job(model, None, state.version, False, self.segment)

    def _window(self, model: str, window: int | None) -> _Window | None:
        if window is not None and window < self._finalised_below.get(model, 0):
            self._discarded += 1
            return None
        kept = self._windows.setdefault(model, {})
        state = kept.get(window)
        if state is None:
            state = kept[window] = _Window()
        return state

    def _next(self, model: str, window: int | None, state: _Window, final: bool) -> PerformanceJob:
        state.version += 1
        state.reported = len(state.pairs)
        return state.job(model, window, state.version, final, self.segment)


@dataclass(frozen=True)
class PerformanceResult:
    """A window's model quality, and how much of it was labelled.

    Attributes
    ----------
    metrics
        Metric name (from :data:`CLASSIFICATION_METRICS` or
        :data:`REGRESSION_METRICS`) to value; a metric that is undefined for the
        window is absent (see :func:`monitors.evidently.quality_report.classification_quality`).
    labelled
        Labelled pairs evaluated.
    coverage
        ``labelled / predictions`` of the window (0.0 without predictions).
    delay_p50_s, delay_p90_s, delay_max_s
        Label delay percentiles in seconds (None without pairs).

    Examples
    --------
    >>> PerformanceResult({"accuracy": 0.91}, labelled=812, coverage=0.81).metrics["accuracy"]
    0.91
    """

    metrics: Mapping[str, float]
    labelled: int
    coverage: float
    delay_p50_s: float | None = None
    delay_p90_s: float | None = None
    delay_max_s: float | None = None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def evaluate(
    job: PerformanceJob, task: Task, *, timestamp: datetime | None = None, pos_label: Any = None, plots: bool = True
) -> tuple[PerformanceResult, Snapshot | None]:
    """Evaluate one version of a window with Evidently.

    Pairs whose prediction or label is missing (None or NaN) are skipped. For a
    classifier, a pair's score is its prediction's score for the positive class
    (``pos_label``; None chooses ``True``, ``1``, or the larger class, see
    :func:`monitors.evidently.quality_report.positive_label`). For a regressor, predictions
    and labels must be numbers.

    Cost (2 cores, Evidently 0.7.23), for 1,000 pairs, with Evidently's report:
    about 0.15 s; run it off the event loop. With ``plots`` False the metrics
    are computed without the report, as it computes them, and the snapshot
    holds their values alone (under a millisecond for the metrics).

    Returns
    -------
    result, snapshot
        The result, and Evidently's snapshot (None when nothing could be
        evaluated, e.g. no pairs).

    Examples
    --------
    >>> job = PerformanceJob("churn", 0, 1, 5, ((True, True, 0.9), (True, False, 0.6),
    ...                                        (False, False, 0.2), (False, True, 0.3)),
    ...                      (30.0, 60.0, 90.0, 120.0), False)
    >>> result, snapshot = evaluate(job, "classification")
    >>> {name: round(value, 2) for name, value in result.metrics.items()}
    {'accuracy': 0.5, 'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'roc_auc': 0.75}
    >>> result.labelled, result.coverage, result.delay_p50_s, result.delay_max_s
    (4, 0.8, 75.0, 120.0)
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    kept = [(pair, delay) for pair, delay in zip(job.pairs, job.delays_s) if not (_missing(pair[0]) or _missing(pair[1]))]
    predictions = [pair[0] for pair, _ in kept]
    labels = [pair[1] for pair, _ in kept]
    metrics: dict[str, float]
    snapshot: Snapshot | None
    if task == "classification":
        scores = [pair[2] for pair, _ in kept]
        metrics, snapshot = classification_quality(
            predictions, labels, scores, pos_label=pos_label, timestamp=timestamp, plots=plots
        )
    else:
        try:
            numbers = [float(p) for p in predictions], [float(v) for v in labels]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"regression needs numbers: model {job.model!r} window {job.window}: {exc}") from exc
        metrics, snapshot = regression_quality(*numbers, timestamp=timestamp, plots=plots)
    delays = np.asarray([delay for _, delay in kept], dtype=float)
    p50, p90 = (float(v) for v in np.percentile(delays, [50, 90])) if len(delays) else (None, None)
    result = PerformanceResult(
        metrics=metrics,
        labelled=len(kept),
        coverage=len(kept) / job.predictions if job.predictions else 0.0,
        delay_p50_s=p50,
        delay_p90_s=p90,
        delay_max_s=float(delays.max()) if len(delays) else None,
    )
    return result, snapshot
