"""Evidently itself: the classes and functions of it that streammon uses, imported in one place.

Evidently moves things between versions (0.7 dropped ``evidently.report`` and
``evidently.metric_preset``), so the paths it is imported from are written once,
here, for Evidently 0.7.23; the other modules of :mod:`monitors.evidently` take
its names from this module. Importing it loads Evidently, which takes seconds.
"""

from __future__ import annotations

import warnings

# Importing Evidently 0.7.23 emits DeprecationWarnings that are not ours to fix:
# evidently/legacy/tests/utils.py touches ``numpy.core`` (renamed in NumPy 2), and
# Evidently's UI code calls litestar's deprecated ``Dependency``/``DependencyKwarg``.
# With warnings as errors they would break every import of this module, so
# DeprecationWarnings attributed to evidently.* and litestar.* modules are ignored,
# only while importing. Running a report (include_tests=True) emits no warning.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently import (
        BinaryClassification,
        DataDefinition,
        Dataset,
        MulticlassClassification,
        Regression,
        Report,
    )
    from evidently.core.metric_types import MeanStdValue, MetricConfig, SingleValue, single_value_location
    from evidently.core.report import Snapshot
    from evidently.core.serialization import ReportModel, SnapshotModel
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        StatTestInvalidFeatureTypeError,
        StatTestNotFoundError,
        get_registered_stattest,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType
    from evidently.legacy.model.widget import BaseWidgetInfo
    from evidently.metrics import (
        MAE,
        MAPE,
        RMSE,
        Accuracy,
        F1Score,
        Precision,
        Recall,
        RocAuc,
        ValueDrift,
    )
    from evidently.presets import DataDriftPreset

__all__ = [
    "MAE",
    "MAPE",
    "RMSE",
    "Accuracy",
    "BaseWidgetInfo",
    "BinaryClassification",
    "ColumnType",
    "DataDefinition",
    "DataDriftPreset",
    "Dataset",
    "F1Score",
    "MeanStdValue",
    "MetricConfig",
    "MulticlassClassification",
    "Precision",
    "Recall",
    "Regression",
    "Report",
    "ReportModel",
    "RocAuc",
    "SingleValue",
    "Snapshot",
    "SnapshotModel",
    "StatTest",
    "StatTestInvalidFeatureTypeError",
    "StatTestNotFoundError",
    "ValueDrift",
    "get_registered_stattest",
    "get_stattest",
    "register_stattest",
    "single_value_location",
]
