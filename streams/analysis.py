"""Window analysis, run in a separate process so the event loop never waits for Evidently.

:func:`analyse` takes a :class:`~monitors.watch.WindowJob` and an
:class:`AnalysisSpec` (plain, picklable values), runs the drift monitor, stores
the snapshot in the Evidently workspace and returns the report and alerts to
publish. Everything it returns is built here; the worker only sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from monitors._evidently import Snapshot
from monitors.alerts import Observation
from monitors.conditions import DriftConditions
from monitors.drift import DriftMonitor, FeatureDrift
from monitors.watch import WindowJob
from streams.events import (
    PREDICTION_COLUMN,
    FeatureDriftOut,
    SnapshotRef,
    Window,
    WindowReport,
)
from streams.workspace import EvidentlyWorkspace

VERSION_COLUMN = "__model_version__"


@dataclass(frozen=True)
class AnalysisSpec:
    """How windows are analysed: drift tests, alert rule and where snapshots go."""

    num_method: str | None = "ks"
    cat_method: str | None = "chi2_homogeneity"
    alpha: float | None = 0.01
    per_feature_method: dict[str, str] = field(default_factory=dict)
    per_feature_threshold: dict[str, float] = field(default_factory=dict)
    max_rows: int = 5000
    critical_p_factor: float = 1000.0
    critical_distance_factor: float = 2.0
    prediction_drift: bool = True
    workspace: Path | None = None
    project: str = "streammon"


@dataclass(frozen=True)
class WindowOutcome:
    """What one analysed window produces: its report, and its observations for the alert lifecycle."""

    report: WindowReport
    observations: tuple[Observation, ...]


_workspaces: dict[tuple[Path, str], EvidentlyWorkspace] = {}


def analyse(job: WindowJob, spec: AnalysisSpec) -> WindowOutcome:
    """Analyse one closed window against its reference."""
    current = _frame(job.window.rows, spec.max_rows, seed=job.window.index)
    reference = _frame(job.reference, spec.max_rows, seed=0)
    versions = sorted({str(v) for v in current.pop(VERSION_COLUMN).dropna()}) if VERSION_COLUMN in current else []
    reference = reference.drop(columns=[VERSION_COLUMN], errors="ignore")
    monitor = DriftMonitor(
        reference,
        prediction=PREDICTION_COLUMN if PREDICTION_COLUMN in reference.columns else None,
        num_method=spec.num_method,
        cat_method=spec.cat_method,
        alpha=spec.alpha,
        per_feature_method=spec.per_feature_method,
        per_feature_threshold=spec.per_feature_threshold,
    )
    result, snapshot = monitor.run(current.reindex(columns=reference.columns), timestamp=job.window.end)
    window = Window(
        index=job.window.index,
        start=job.window.start,
        end=job.window.end,
        events=len(job.window.rows),
        closed_by=job.window.reason,
    )
    snapshot_ref = _store(snapshot, f"{job.model} window {job.window.index}", spec)
    conditions = DriftConditions(spec.critical_p_factor, spec.critical_distance_factor, spec.prediction_drift)
    context = {"window": f"{job.model} window {job.window.index} ({window.start:%Y-%m-%d %H:%M:%S} to {window.end:%H:%M:%S} UTC)"}
    if snapshot_ref is not None:
        context["snapshot"] = snapshot_ref.snapshot_id
    observations = tuple(conditions.observe(job.model, result, context))
    report = WindowReport(
        key=f"{job.model}/{job.window.index}/drift/v1",
        model=job.model,
        model_versions=versions,
        window=window,
        reference_events=len(job.reference),
        features=[_out(f) for f in result.features],
        prediction=_out(result.prediction) if result.prediction is not None else None,
        drifted_features=len(result.drifted_features),
        drifted_share=result.drifted_share,
        snapshot=snapshot_ref,
    )
    return WindowOutcome(report, observations)


def _frame(rows: tuple[object, ...], max_rows: int, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows))
    if len(frame) > max_rows:
        # A report's cost grows with its rows; a seeded sample keeps it bounded and repeatable.
        frame = frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    return frame


def _store(snapshot: Snapshot, name: str, spec: AnalysisSpec) -> SnapshotRef | None:
    if spec.workspace is None:
        return None
    key = (spec.workspace, spec.project)
    if key not in _workspaces:
        _workspaces[key] = EvidentlyWorkspace(spec.workspace, spec.project)
    return _workspaces[key].add(snapshot, name)


def _out(drift: FeatureDrift) -> FeatureDriftOut:
    return FeatureDriftOut(
        feature=drift.feature,
        score=drift.score,
        method=drift.method,
        threshold=drift.threshold,
        drifted=drift.drifted,
    )
