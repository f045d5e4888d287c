"""Every monitor, built from its settings section.

This is the one place where a setting's name meets a monitor's argument: the
analysis (:mod:`streams.worker.analysis`) and a partition's state
(:func:`streams.worker.state.new_state`) ask for their monitors here instead of
copying values out of the settings. The monitors keep plain constructor
arguments (they never see a settings object); where a monitor still has a
default of its own for a library user, a test checks that it is the
setting's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from monitors.alerting.lifecycle import AlertLifecycle
from monitors.drift.monitor import DriftMonitor
from monitors.drift.multivariate import MultivariateDriftMonitor
from monitors.drift.rules import DriftRule, MultivariateRule
from monitors.evidently.methods import Kind
from monitors.intake.duplicates import SeenPredictions
from monitors.intake.freshness import FreshnessMonitor, NoDataRule
from monitors.labels.join import LabelJoin
from monitors.labels.rules import EstimateRule, PerformanceRule
from monitors.online.challenger import Challenger
from monitors.online.detectors import ErrorMonitor
from monitors.partition import PartitionRules
from monitors.quality.monitor import DataQualityMonitor
from monitors.quality.profile import ReferenceProfile
from monitors.windows.watch import DriftWatch
from streams.events import PREDICTION_COLUMN
from streams.settings import (
    ConditionSettings,
    DriftSettings,
    LabelSettings,
    OnlineSettings,
    PerformanceSettings,
    QualitySettings,
    Settings,
    Task,
)

__all__ = [
    "alert_lifecycle",
    "challenger",
    "drift_monitor",
    "drift_rule",
    "drift_watch",
    "error_monitor",
    "estimate_rule",
    "freshness_monitor",
    "label_join",
    "multivariate_monitor",
    "multivariate_rule",
    "no_data_rule",
    "partition_rules",
    "performance_rule",
    "quality_monitor",
    "seen_predictions",
]


def drift_monitor(drift: DriftSettings, reference: pd.DataFrame, task: Task) -> DriftMonitor:
    """The per-column drift monitor of ``reference``, whose prediction column (if it has one) is the model's.

    The per-feature methods and thresholds of columns that ``reference`` does
    not hold (a window left them empty) are left out: the monitor rejects a
    column it does not know.
    """
    columns = set(reference.columns)
    prediction = PREDICTION_COLUMN if PREDICTION_COLUMN in columns else None
    return DriftMonitor(
        reference,
        prediction=prediction,
        prediction_kind=_prediction_kind(task, reference[prediction]) if prediction is not None else None,
        num_method=drift.num_method,
        cat_method=drift.cat_method,
        alpha=drift.alpha,
        correction=drift.correction,
        calibrate_distances=drift.calibrate_distances,
        per_feature_method={k: v for k, v in drift.per_feature_method.items() if k in columns},
        per_feature_threshold={k: v for k, v in drift.per_feature_threshold.items() if k in columns},
    )


def _prediction_kind(task: Task, reference: pd.Series) -> Kind | None:
    """How the prediction column is tested: a classifier's classes are categories, even as numbers (0/1).

    A classifier whose ``prediction`` holds numbers that are not whole (a
    probability or score) and a regressor's predictions are numbers: None
    leaves it to the column's dtype.
    """
    if task != "classification":
        return None
    values = reference.dropna()
    is_float = pd.api.types.is_float_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return None if is_float and not (values == values.round()).all() else "categorical"


def multivariate_monitor(drift: DriftSettings, features: pd.DataFrame) -> MultivariateDriftMonitor:
    """The multivariate drift monitor fitted on the reference's ``features``.

    Raises
    ------
    ValueError
        When ``features`` are too few rows or hold no feature it can analyse.
    """
    return MultivariateDriftMonitor(features, level=drift.multivariate_level)


def quality_monitor(quality: QualitySettings, profile: ReferenceProfile) -> DataQualityMonitor:
    """The data-quality monitor of a reference's ``profile``."""
    return DataQualityMonitor(
        profile,
        missing_increase=quality.missing_increase,
        out_of_range_share=quality.out_of_range_share,
        unseen_share=quality.unseen_share,
        volume_ratio=quality.volume_ratio,
        min_rows=quality.min_rows,
    )


def drift_rule(conditions: ConditionSettings) -> DriftRule:
    """What turns a window's drift result into alert observations."""
    return DriftRule(
        critical_p_factor=conditions.critical_p_factor,
        critical_distance_factor=conditions.critical_distance_factor,
        prediction_drift=conditions.prediction_drift,
    )


def multivariate_rule(conditions: ConditionSettings) -> MultivariateRule:
    """What turns a window's multivariate drift into its alert observation: critical, as a distance is, at ``critical_distance_factor``."""
    return MultivariateRule(critical_factor=conditions.critical_distance_factor)


# -- a partition's monitors (streams.worker.state) ---------------------------------


def drift_watch(settings: Settings, reference: list[dict[str, Any]] | None) -> DriftWatch:
    """Windows and references per model (and segment): ``reference`` rows from ``reference.path``, or None for each model's first events."""
    return DriftWatch(
        settings.window.size,
        settings.window.duration_s,
        settings.reference.size,
        reference=reference,
        rolling_windows=settings.reference.rolling_windows,
    )


def label_join(labels: LabelSettings) -> LabelJoin:
    """Predictions waiting for their labels, and labels for their predictions."""
    return LabelJoin(labels.ttl, labels.capacity, dict(labels.per_model_ttl))


def seen_predictions(ttl_s: float, per_model_ttl_s: Mapping[str, float], capacity: int) -> SeenPredictions:
    """Prediction ids remembered as long as a label could still join them (the longest ttl), ``capacity`` at most.

    From the label join's own values, not its settings section: a checkpoint
    written before ids were remembered gets them from its restored join.
    """
    return SeenPredictions(max([ttl_s, *per_model_ttl_s.values()]), capacity)


def error_monitor(performance: PerformanceSettings) -> ErrorMonitor | None:
    """The error-rate detector per model, or None when ``performance.detector`` is off."""
    if performance.detector is None:
        return None
    return ErrorMonitor(
        performance.detector, dict(performance.detector_params), task=performance.task, warmup=performance.detector_warmup
    )


def challenger(online: OnlineSettings, task: Task) -> Challenger | None:
    """The online challengers per model, or None when ``online.enabled`` is off."""
    if not online.enabled:
        return None
    return Challenger(
        online.model,
        dict(online.params),
        task=task,
        metric=online.metric,
        window=online.window,
        margin=online.margin,
        min_labelled=online.min_labelled,
        batch_size=online.batch_size,
    )


def alert_lifecycle(conditions: ConditionSettings) -> AlertLifecycle:
    """When observations become alerts, change severity and resolve."""
    return AlertLifecycle(
        conditions.for_windows, conditions.keep_firing_for, conditions.hysteresis, critical_for_windows=conditions.for_critical
    )


def freshness_monitor(quality: QualitySettings) -> FreshnessMonitor | None:
    """The time since each model's last event, or None when ``quality.no_data_after`` is off."""
    return FreshnessMonitor() if quality.no_data_after else None


def no_data_rule(quality: QualitySettings) -> NoDataRule | None:
    """What turns a model's silence into its ``no_data`` observation, or None when ``quality.no_data_after`` is off."""
    return NoDataRule(quality.no_data_after) if quality.no_data_after else None


def performance_rule(performance: PerformanceSettings) -> PerformanceRule:
    """The bounds on a window's measured quality."""
    return PerformanceRule(
        minimum=dict(performance.minimum),
        max_drop=dict(performance.max_drop),
        maximum=dict(performance.maximum),
        min_labelled=performance.min_labelled,
    )


def estimate_rule(performance: PerformanceSettings) -> EstimateRule:
    """The bound on a window's accuracy as its scores estimate it: the measured accuracy's drop bound (none set: CBPE's default)."""
    bound = performance.max_drop.get("accuracy")
    return (
        EstimateRule(min_rows=performance.min_labelled)
        if bound is None
        else EstimateRule(max_drop=bound, min_rows=performance.min_labelled)
    )


def partition_rules(settings: Settings) -> PartitionRules:
    """The rules of a partition's monitor, from the settings they read."""
    online, segments = settings.online, settings.segments
    return PartitionRules(
        window_size=settings.window.size,
        segment_keys=tuple(segments.keys),
        segment_top_k=segments.top_k,
        # The top values are learned over as many events as a stream reference holds.
        segment_learn=settings.reference.size,
        pause_on_quality_alerts=online.pause_on_quality_alerts,
        learn_min_labelled=online.min_labelled,
        pause_below_coverage=online.pause_below_coverage,
        performance=performance_rule(settings.performance),
        estimate=estimate_rule(settings.performance),
        no_data=no_data_rule(settings.quality),
    )
