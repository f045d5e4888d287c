"""What streammon adds to an Evidently run: its own values, tags, metadata and a headline.

A run in the workspace is a SnapshotModel. Its dashboard series are read by
Evidently's UI from ``metric_results`` (each value's ``metric_value_location``:
the metric's type and parameters); its report page shows ``widgets`` and
``tests_widgets`` as they were stored, in order. streammon's own values (the
features it decided drifted, its quality findings, label coverage, the
estimated accuracy) are stored there as single values of metric types of its
own, named ``evidently:metric_v2:Streammon...`` as Evidently names a custom
metric (dashboard panels only accept that prefix); the UI needs no class to
plot them. The headline is a counter widget put first on the report page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.evidently.library import BaseWidgetInfo, MetricConfig, SingleValue, SnapshotModel, single_value_location

__all__ = [
    "DRIFTED_FEATURES",
    "ESTIMATED_ACCURACY",
    "LABEL_COVERAGE",
    "QUALITY_FINDINGS",
    "RunValue",
    "annotated",
    "streammon_values",
]

#: streammon's decision: features drifted at the corrected threshold, per window.
DRIFTED_FEATURES = "evidently:metric_v2:StreammonDriftedFeatures"
#: Features at or above a quality check's warning level, per window, labelled ``check``.
QUALITY_FINDINGS = "evidently:metric_v2:StreammonQualityFindings"
#: The share of a window's predictions that have a label.
LABEL_COVERAGE = "evidently:metric_v2:StreammonLabelCoverage"
#: A window's accuracy estimated from its scores before labels (CBPE).
ESTIMATED_ACCURACY = "evidently:metric_v2:StreammonEstimatedAccuracy"

_HEADLINE_ID = "streammon-headline"
# The label of the counter a DataDriftPreset puts first (Evidently 0.7.23's DriftedColumnsCount widget).
_DATASET_VERDICT = "Dataset drift detection threshold is"
# The title of the preset's table of columns ("Drift is detected for 25.0% of columns (1 out of 4).").
_COLUMNS_SUMMARY = "Drift is detected for"
_NOT_USED = "Not used by streammon"


@dataclass(frozen=True)
class RunValue:
    """One of streammon's values in a run: a metric type of its own, its labels, the value."""

    metric_type: str
    value: float
    display_name: str
    labels: tuple[tuple[str, str], ...] = ()

    def result(self) -> tuple[str, SingleValue]:
        """The value as Evidently stores a metric's result, under a stable metric id."""
        params = {"type": self.metric_type, **dict(self.labels)}
        metric_id = hashlib.md5(json.dumps(params, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        result = SingleValue(value=self.value, display_name=self.display_name)
        result.metric_value_location = single_value_location(MetricConfig(metric_id=metric_id, params=params))
        return metric_id, result


def annotated(
    model: SnapshotModel,
    *,
    tags: Sequence[str],
    metadata: Mapping[str, str],
    values: Sequence[RunValue] = (),
    headline: tuple[str, str] | None = None,
) -> SnapshotModel:
    """``model`` with these tags, metadata and values, and ``headline`` (value, label) first on its page.

    Values and a headline already in ``model`` are replaced by new ones of the
    same metric and by the new headline. When the page holds Evidently's
    dataset-drift verdict (drifted share against 0.5), its label says that
    streammon does not use it: it is not streammon's decision, and must not
    read as the headline of a run an alert points to.
    """
    results = dict(model.metric_results)
    top_level = list(model.top_level_metrics)
    for value in values:
        metric_id, result = value.result()
        results[metric_id] = result
        if metric_id not in top_level:
            top_level.append(metric_id)
    widgets = [_not_used(w) for w in model.widgets if w.id != _HEADLINE_ID]
    if headline is not None:
        counters = [{"value": headline[0], "label": headline[1]}]
        widgets.insert(0, BaseWidgetInfo(type="counter", title="", size=2, id=_HEADLINE_ID, params={"counters": counters}))
    return model.copy(
        update={
            "tags": list(tags),
            "metadata": dict(metadata),
            "metric_results": results,
            "top_level_metrics": top_level,
            "widgets": widgets,
        }
    )


def streammon_values(model: SnapshotModel) -> list[RunValue]:
    """The values :func:`annotated` put in ``model``."""
    values = []
    for result in model.metric_results.values():
        params = result.metric_value_location.metric.params if result.metric_value_location is not None else {}
        if str(params.get("type", "")).startswith("evidently:metric_v2:Streammon") and isinstance(result, SingleValue):
            labels = tuple((k, str(v)) for k, v in params.items() if k != "type")
            values.append(RunValue(params["type"], float(result.value), str(result.display_name), labels))
    return values


def _not_used(widget: BaseWidgetInfo) -> BaseWidgetInfo:
    """Evidently's dataset-level verdict and count, labelled for what they are next to streammon's decision."""
    if widget.title.startswith(_COLUMNS_SUMMARY):
        # Evidently decides each p-value column at alpha / m (Bonferroni), the lowest of the
        # corrections' thresholds: the correction streammon applies may find more drifted.
        return widget.copy(update={"title": f"Evidently's tests, each p-value at alpha/m: {widget.title}"})
    counters = widget.params.get("counters") if widget.type == "counter" and isinstance(widget.params, dict) else None
    if not counters or not any(_is_verdict(c) for c in counters):
        return widget
    relabelled = [
        {
            **c,
            "value": f"{c.get('value', '')}: not used",
            "label": f"{_NOT_USED} (see its decision above). Evidently's dataset-level verdict: {c['label']}",
        }
        if _is_verdict(c)
        else c
        for c in counters
    ]
    return widget.copy(update={"params": {**widget.params, "counters": relabelled}})


def _is_verdict(counter: Mapping[str, Any]) -> bool:
    label = str(counter.get("label", ""))
    return _DATASET_VERDICT in label and not label.startswith(_NOT_USED)
