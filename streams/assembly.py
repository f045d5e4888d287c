"""The analysis's monitors, each built from its settings section.

This is the one place where a setting's name meets a monitor's argument: the
analysis (:mod:`streams.analysis`) asks for its monitors here instead of
copying values out of the settings. The monitors keep plain constructor
arguments (they never see a settings object); where a monitor still has a
default of its own for a library user, a test checks that it is the
setting's default.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from monitors._evidently import Kind
from monitors.alerts import Observation
from monitors.conditions import DriftConditions
from monitors.drift import DriftMonitor
from monitors.multivariate import MultivariateDriftMonitor, MultivariateResult, multivariate_observation
from monitors.quality import DataQualityMonitor, ReferenceProfile
from streams.events import PREDICTION_COLUMN
from streams.settings import ConditionSettings, DriftSettings, QualitySettings, Task

__all__ = ["drift_conditions", "drift_monitor", "multivariate_condition", "multivariate_monitor", "quality_monitor"]


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


def drift_conditions(conditions: ConditionSettings) -> DriftConditions:
    """What turns a window's drift result into alert conditions."""
    return DriftConditions(
        critical_p_factor=conditions.critical_p_factor,
        critical_distance_factor=conditions.critical_distance_factor,
        prediction_drift=conditions.prediction_drift,
    )


def multivariate_condition(
    conditions: ConditionSettings, model: str, result: MultivariateResult, annotations: Mapping[str, str]
) -> Observation:
    """A window's multivariate drift as an alert condition: critical, as a distance is, at ``critical_distance_factor``."""
    return multivariate_observation(model, result, annotations, critical_factor=conditions.critical_distance_factor)
