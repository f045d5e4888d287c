"""The analysis's monitors are built from their settings sections, and the monitors' own defaults are the settings'."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from monitors.alerting.lifecycle import AlertLifecycle
from monitors.drift.monitor import DriftMonitor
from monitors.drift.multivariate import MultivariateDriftMonitor
from monitors.drift.rules import DriftRule, MultivariateRule
from monitors.labels.rules import PerformanceRule
from monitors.quality.monitor import DataQualityMonitor
from monitors.quality.profile import ReferenceProfile
from streams.assembly import drift_monitor, drift_rule, multivariate_monitor, multivariate_rule, quality_monitor
from streams.events import PREDICTION_COLUMN
from streams.settings import ConditionSettings, DriftSettings, PerformanceSettings, QualitySettings

# The monitors/ classes people also use directly (their docstring examples do) keep
# defaults of their own; each must be the product's default, the setting's. An argument
# named as a field of its section is paired with it; ``renamed`` pairs the others.
MONITOR_SECTIONS: list[tuple[Callable[..., Any], type[BaseModel], dict[str, str]]] = [
    (DriftMonitor, DriftSettings, {}),
    (MultivariateDriftMonitor, DriftSettings, {"level": "multivariate_level"}),
    (DataQualityMonitor, QualitySettings, {}),
    (DriftRule, ConditionSettings, {}),
    (MultivariateRule, ConditionSettings, {"critical_factor": "critical_distance_factor"}),
    (AlertLifecycle, ConditionSettings, {"keep_firing_for_windows": "keep_firing_for"}),
    (PerformanceRule, PerformanceSettings, {}),
]
# Library defaults that are not the product's, on purpose: used alone, a lifecycle fires
# on the first window at warning, and performance conditions judge only what they are given.
DIFFERENT_ON_PURPOSE = {(AlertLifecycle, "for_windows"), (PerformanceRule, "max_drop")}


def paired_defaults(monitor: Callable[..., Any], section: type[BaseModel], renamed: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """(argument, the monitor's default, the setting's default) for each argument with a default that is a setting."""
    settings = section()
    pairs = []
    for name, parameter in inspect.signature(monitor).parameters.items():
        field = renamed.get(name, name)
        if parameter.default is inspect.Parameter.empty or field not in section.model_fields:
            continue
        pairs.append((name, parameter.default, getattr(settings, field)))
    return pairs


@pytest.mark.parametrize(("monitor", "section", "renamed"), MONITOR_SECTIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_monitors_default_is_its_settings_default(
    monitor: Callable[..., Any], section: type[BaseModel], renamed: dict[str, str]
) -> None:
    pairs = paired_defaults(monitor, section, renamed)
    assert {renamed.get(name, name) for name, _, _ in pairs} >= set(renamed.values())  # a renamed pair still exists
    # None (no mapping given) is the monitor's spelling of an empty mapping setting (per_feature_method).
    different = [
        (name, ours, theirs)
        for name, ours, theirs in pairs
        if ours != theirs and not (ours is None and theirs == {}) and (monitor, name) not in DIFFERENT_ON_PURPOSE
    ]
    assert pairs and different == []


def reference(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "y": rng.normal(size=rows),
            "plan": rng.choice(["a", "b"], rows),
            PREDICTION_COLUMN: rng.integers(0, 2, rows),
        }
    )


def test_the_drift_monitor_takes_every_drift_setting_and_the_prediction_column() -> None:
    drift = DriftSettings(
        num_method="wasserstein",
        cat_method="jensenshannon",
        alpha=0.05,
        correction="bonferroni",
        calibrate_distances=False,
        per_feature_method={"x": "psi", "gone": "ks"},
        per_feature_threshold={"y": 0.3, "gone": 0.1},
    )
    monitor = drift_monitor(drift, reference(), "classification")
    chosen = (monitor.num_method, monitor.cat_method, monitor.alpha, monitor.correction, monitor.calibrate_distances)
    assert chosen == ("wasserstein", "jensenshannon", 0.05, "bonferroni", False)
    # A column the reference does not hold (a window left it empty) is left out.
    assert monitor.per_feature_method == {"x": "psi"} and monitor.per_feature_threshold == {"y": 0.3}
    assert (monitor.prediction, monitor.prediction_kind) == (PREDICTION_COLUMN, "categorical")
    assert drift_monitor(drift, reference(), "regression").prediction_kind is None
    assert drift_monitor(drift, reference().drop(columns=[PREDICTION_COLUMN]), "classification").prediction is None


def test_a_classifiers_scores_are_numbers_and_its_classes_categories() -> None:
    scores = reference().assign(**{PREDICTION_COLUMN: np.linspace(0, 1, 400)})
    assert drift_monitor(DriftSettings(), scores, "classification").prediction_kind is None
    assert (
        drift_monitor(DriftSettings(), reference().astype({PREDICTION_COLUMN: float}), "classification").prediction_kind
        == "categorical"
    )


def test_the_other_monitors_take_every_setting_of_their_section() -> None:
    quality = quality_monitor(
        QualitySettings(missing_increase=0.1, out_of_range_share=0.2, unseen_share=0.3, volume_ratio=5.0, min_rows=7),
        ReferenceProfile.of(reference()),
    )
    assert (
        quality.missing_increase,
        quality.out_of_range_share,
        quality.unseen_share,
        quality.volume_ratio,
        quality.min_rows,
    ) == (
        0.1,
        0.2,
        0.3,
        5.0,
        7,
    )
    rule = drift_rule(ConditionSettings(critical_p_factor=50.0, critical_distance_factor=3.0, prediction_drift=False))
    assert (rule.critical_p_factor, rule.critical_distance_factor, rule.prediction_drift) == (50.0, 3.0, False)
    assert (
        multivariate_monitor(DriftSettings(multivariate_level=0.01), reference().drop(columns=[PREDICTION_COLUMN])).level == 0.01
    )
    assert multivariate_rule(ConditionSettings(critical_distance_factor=3.0)).critical_factor == 3.0
