"""Evidently snapshots of metrics' values alone, made without running a report.

A report's plots cost far more than its values (:mod:`.drift_report`,
:mod:`.quality_report`): where only the values are wanted, they are written into
a snapshot under the metric ids and configurations a report would give them, so
Evidently's UI reads one series from full reports and from these alike. For the
modules of this package: :func:`_located` names a metric as a report does,
:func:`_values_snapshot` makes the snapshot.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitors.evidently.library import MeanStdValue, MetricConfig, ReportModel, SingleValue, Snapshot, SnapshotModel

__all__: list[str] = []

_Params = tuple[tuple[str, Any], ...]


@functools.lru_cache(maxsize=4096)
def _located(metric_class: type[Any], asked: _Params, resolved: _Params) -> tuple[str, MetricConfig, str]:
    """A metric's id, configuration (what it was asked, and what a report resolves) and display name.

    Cached: building a metric and its calculation costs more than the value it
    holds, and a stream's windows ask the same metrics again and again.
    """
    metric = metric_class(**dict(asked))
    given = {**dict(resolved), **metric.dict(exclude_none=True)}
    # In the order of the metric's fields, as a report writes them: Evidently's UI names a
    # dashboard series by its parameters in their order, so another order is another series.
    fields = list(metric.dict())
    params = {**{k: given[k] for k in fields if k in given}, **{k: v for k, v in given.items() if k not in fields}}
    return metric.get_metric_id(), MetricConfig(metric_id=metric.metric_id, params=params), metric.to_calculation().display_name()


#: A value of a snapshot without plots: a single value, or a mean and a spread, each (value, display name).
_SnapshotValue = float | tuple[tuple[float, str], tuple[float, str]]


def _values_snapshot(
    values: Sequence[tuple[tuple[str, MetricConfig, str], _SnapshotValue]], timestamp: datetime | None
) -> Snapshot:
    """A snapshot of metrics' values, each given as (:func:`_located` metric, value), without plots."""
    results: dict[str, SingleValue | MeanStdValue] = {}
    for (metric_id, config, display_name), value in values:
        result: SingleValue | MeanStdValue
        if isinstance(value, tuple):
            (mean, mean_name), (std, std_name) = value
            result = MeanStdValue(
                mean=SingleValue(value=mean, display_name=mean_name),
                std=SingleValue(value=std, display_name=std_name),
                display_name=display_name,
            )
        else:
            result = SingleValue(value=value, display_name=display_name)
        result.set_metric_location(config)
        results[metric_id] = result
    model = SnapshotModel(
        report=ReportModel(items=[]),
        name=None,
        timestamp=timestamp or datetime.now(),
        metadata={},
        tags=[],
        metric_results=results,
        top_level_metrics=list(results),
        widgets=[],
        tests_widgets=[],
    )
    return Snapshot.load_model(model)
