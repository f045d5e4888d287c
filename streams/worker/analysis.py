"""Window analysis, run in a separate process so the event loop never waits for Evidently.

:func:`analyse` takes a :class:`~monitors.windows.watch.WindowJob` and an
:class:`AnalysisSpec` (the settings sections it reads, picklable), runs the
monitors :mod:`streams.assembly` builds from them, stores the snapshot in the
Evidently workspace and returns the report and alerts to publish. Everything
it returns is built here; the worker only sends it.
"""

# About 500 lines, kept whole: the window analysis and the performance evaluation
# run in the same analysis process and share its caches (the monitors of each
# reference version, the open workspaces) and the workspace's run keys (a window's
# quality is plotted at the time of its drift run). Split, those would become a
# third module's public surface for two callers.

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from monitors.alerting.alerts import Observation
from monitors.drift.monitor import DriftMonitor
from monitors.drift.multivariate import MultivariateDriftMonitor, MultivariateResult
from monitors.drift.results import DriftResult, FeatureDrift
from monitors.evidently.library import Snapshot
from monitors.labels.estimates import Calibration, fit_calibration, window_estimate
from monitors.labels.performance import PerformanceJob, PerformanceResult, evaluate
from monitors.quality.monitor import DataQualityMonitor, QualityFinding
from monitors.quality.profile import ReferenceProfile
from monitors.quality.rules import QualityRule
from monitors.windows.watch import WindowJob
from streams.assembly import drift_monitor, drift_rule, multivariate_monitor, multivariate_rule, quality_monitor
from streams.events import (
    PREDICTION_COLUMN,
    EstimateOut,
    FeatureDriftOut,
    MultivariateOut,
    PerformanceReport,
    QualityOut,
    SnapshotRef,
    Window,
    WindowReport,
)
from streams.settings import (
    ConditionSettings,
    DriftSettings,
    PerformanceSettings,
    QualitySettings,
    Settings,
    WorkspaceSettings,
)
from streams.workspace.runs import RunNotes, performance_notes, window_notes
from streams.workspace.store import EvidentlyWorkspace

log = logging.getLogger(__name__)

VERSION_COLUMN = "__model_version__"
# A row's event time as POSIX seconds (a float): pickled for the analysis process and into
# every checkpoint, a window's 1,000 datetimes took 3.4 ms, as floats 0.02 ms.
EVENT_TIME_COLUMN = "__event_time__"
SCORE_COLUMN = "__score__"
_META_COLUMNS = [VERSION_COLUMN, EVENT_TIME_COLUMN, SCORE_COLUMN]


@dataclass(frozen=True)
class AnalysisSpec:
    """How windows are analysed: the settings sections the analysis reads, and where snapshots go.

    Each section is the frozen one of :class:`~streams.settings.Settings`
    (:func:`analysis_spec`), so a section's defaults are the settings' own. A
    spec is sent to the analysis processes with every job: it holds only what
    the analysis reads. ``workspace`` None stores nothing (calibration,
    benchmarks, tests): ``dataclasses.replace(spec, workspace=None)``;
    :meth:`stored_in` stores in another directory.
    """

    drift: DriftSettings = DriftSettings()
    quality: QualitySettings = QualitySettings()
    conditions: ConditionSettings = ConditionSettings()
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    workspace: WorkspaceSettings | None = None

    def stored_in(self, path: Path) -> AnalysisSpec:
        """This spec with its snapshots stored in the workspace at ``path`` (the workspace's other settings kept)."""
        workspace = self.workspace or WorkspaceSettings()
        return replace(self, workspace=workspace.model_copy(update={"path": path.resolve()}))


def analysis_spec(settings: Settings) -> AnalysisSpec:
    """The settings sections the analysis reads, for a worker process to receive.

    The workspace's path is made absolute: an analysis process must store
    where the worker was told to, whatever its working directory.
    """
    spec = AnalysisSpec(
        drift=settings.drift,
        quality=settings.quality,
        conditions=settings.alerting.conditions,
        performance=settings.performance,
        workspace=settings.workspace,
    )
    return spec.stored_in(settings.workspace.path)


@dataclass(frozen=True)
class ReferenceRows:
    """The reference a window is compared with, pickled once for all the analyses that use it.

    A model's windows carry the same reference one after the other: sent as rows
    with each, pickling it took a tenth of the worker's time at the default
    settings. Its bytes cost a copy to send, and an analysis process reads them
    only for a version it has not seen.
    """

    version: int
    count: int
    data: bytes

    @classmethod
    def of(cls, job: WindowJob) -> ReferenceRows:
        """The reference of ``job``, packed."""
        return cls(job.reference_version, len(job.reference), pickle.dumps(job.reference, protocol=5))

    @staticmethod
    def key_of(job: WindowJob) -> tuple[int, int]:
        """What tells one reference of a model (or segment) from another: its version and size."""
        return job.reference_version, len(job.reference)

    @property
    def key(self) -> tuple[int, int]:
        """This reference's :meth:`key_of`."""
        return self.version, self.count

    def rows(self) -> list[Mapping[str, Any]]:
        """The reference's rows."""
        return list(pickle.loads(self.data))


@dataclass(frozen=True)
class WindowOutcome:
    """What one analysed window produces: its report, and its observations for the alert lifecycle."""

    report: WindowReport
    observations: tuple[Observation, ...]


@dataclass(frozen=True)
class PerformanceOutcome:
    """What one version of a window's model quality produces: its result and its report.

    For the reference period, also the model's score calibration fitted on its pairs
    (:func:`~monitors.labels.estimates.fit_calibration`), when they allow one.
    """

    result: PerformanceResult
    report: PerformanceReport
    calibration: Calibration | None = None


_workspaces: dict[tuple[Path, str], EvidentlyWorkspace] = {}
_annotating = threading.Lock()


@dataclass(frozen=True)
class _ModelMonitors:
    reference: pd.DataFrame
    spec: AnalysisSpec
    quality: DataQualityMonitor
    drift_by_columns: dict[tuple[str, ...], DriftMonitor] = field(default_factory=dict)
    fitted: dict[str, MultivariateDriftMonitor | None] = field(default_factory=dict)

    def multivariate(self) -> MultivariateDriftMonitor | None:
        """The multivariate drift monitor of the reference's features, fitted on first use; None when it cannot be."""
        if "multivariate" not in self.fitted:
            features = self.reference.drop(columns=[PREDICTION_COLUMN], errors="ignore")
            try:
                monitor: MultivariateDriftMonitor | None = multivariate_monitor(self.spec.drift, features)
            except ValueError as exc:  # too few rows, or no feature to analyse
                log.info("no multivariate drift check for this reference: %s", exc)
                monitor = None
            self.fitted["multivariate"] = monitor
        return self.fitted["multivariate"]

    def drift(self, columns: tuple[str, ...]) -> DriftMonitor:
        """The drift monitor of these reference columns (all of them, but those a window left empty)."""
        if columns not in self.drift_by_columns:
            reference = self.reference[list(columns)]
            self.drift_by_columns[columns] = drift_monitor(self.spec.drift, reference, self.spec.performance.task)
        return self.drift_by_columns[columns]


# A reference changes only when it is replaced or rolls (its version changes):
# its profile and drift set-up are computed once per version, not once per window.
_monitors: dict[tuple[str, tuple[str, str] | None], tuple[tuple[int, int], _ModelMonitors]] = {}


def follow_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Make this analysis process exit when the worker that started it is gone (even after ``kill -9``).

    Used as the process pool's initializer: without it, a killed worker would
    leave its analysis process running, orphaned.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


@dataclass(frozen=True)
class _Prepared:
    """One window as its analyses see it: all its rows, and the rows drift is tested on."""

    monitors: _ModelMonitors
    current: pd.DataFrame
    versions: list[str]
    tested: pd.DataFrame
    name: str
    conformed: pd.DataFrame

    @property
    def drift(self) -> DriftMonitor | None:
        """The drift monitor of the tested columns; None when the window left every column empty."""
        return self.monitors.drift(tuple(self.tested.columns)) if len(self.tested.columns) else None


def _prepare(job: WindowJob, spec: AnalysisSpec, reference: ReferenceRows) -> _Prepared:
    monitors = _monitors_for(job, spec, reference)
    # The meta columns are not built into the frame: the versions are read from their own column.
    current = job.window.columns.frame(exclude=_META_COLUMNS)
    version_values = job.window.columns.get(VERSION_COLUMN)
    versions = sorted({str(v) for v in pd.Series(version_values).dropna()}) if version_values is not None else []
    sample = _sample(current, spec.drift.max_rows, seed=job.window.index)
    conformed = _conform(sample, monitors.reference)
    # A column the window left empty has no distribution to compare (the quality
    # checks report it); drift is tested on the others.
    tested = list(conformed.columns[conformed.notna().any().to_numpy()])
    return _Prepared(monitors, current, versions, conformed[tested], job.name, conformed)


def _segment(job: WindowJob) -> str | None:
    return f"{job.segment[0]}={job.segment[1]}" if job.segment is not None else None


def analyse(
    job: WindowJob, spec: AnalysisSpec, reference: ReferenceRows | None = None, calibration: Calibration | None = None
) -> WindowOutcome:
    """Analyse one closed window against its reference: drift, data quality and the accuracy estimate, in milliseconds.

    ``reference`` is the job's reference, packed (by default packed here); the
    job's own rows are then not read. ``calibration`` is the model's score
    calibration, if the worker has fitted one. The window's drift scores are
    stored in the workspace as a snapshot without plots; :func:`full_report` puts
    Evidently's full report in its place for the windows people open.
    """
    reference = reference or ReferenceRows.of(job)
    prepared = _prepare(job, spec, reference)
    monitors, current, drift = prepared.monitors, prepared.current, prepared.drift
    if drift is not None:
        result, snapshot = drift.run(prepared.tested, timestamp=job.window.end)
    else:  # nothing usable to compare: the schema check says why
        result, snapshot = DriftResult((), None, len(current), len(monitors.reference)), None
    multivariate = _multivariate(prepared, spec)
    # The volume check's rate comes from the events' times without the stragglers at either
    # end: one event dated 1970 in a window must not read as 56 years of silence.
    event_times = job.window.columns.get(EVENT_TIME_COLUMN)
    if event_times is not None and None not in event_times:
        findings = monitors.quality.run(current, event_times=_datetimes(event_times))
    else:
        seconds = (job.window.end - job.window.start).total_seconds()
        findings = monitors.quality.run(current, window_seconds=seconds or None)
    window = Window(
        index=job.window.index,
        start=job.window.start,
        end=job.window.end,
        events=len(job.window),
        closed_by=job.window.reason,
    )
    segment = _segment(job)
    report = WindowReport(
        key=_drift_key(job.model, segment, job.window.index),
        model=job.model,
        segment=segment,
        model_versions=prepared.versions,
        window=window,
        reference_events=reference.count,
        quality=[_quality_out(f) for f in findings if f.value >= f.warning_at],
        features=[_out(f) for f in result.features],
        prediction=_out(result.prediction) if result.prediction is not None else None,
        drifted_features=len(result.drifted_features),
        drifted_share=result.drifted_share,
        correction=result.correction,
        multivariate=_multivariate_out(multivariate) if multivariate is not None else None,
        estimate=_estimate(job, spec, calibration),
        snapshot=None,
    )
    snapshot_ref = _store(snapshot, prepared.name, spec, window_notes(report), report.key) if snapshot is not None else None
    report = report.model_copy(update={"snapshot": snapshot_ref})
    context = {"window": f"{prepared.name} ({window.start:%Y-%m-%d %H:%M:%S} to {window.end:%H:%M:%S} UTC)"}
    if snapshot_ref is not None:
        context["snapshot"] = snapshot_ref.snapshot_id
    observations = tuple(drift_rule(spec.conditions).evaluate(job.model, result, context)) + tuple(
        QualityRule().evaluate(job.model, findings, context)
    )
    if multivariate is not None:
        observations += tuple(multivariate_rule(spec.conditions).evaluate(job.model, multivariate, context))
    if segment is not None:
        observations = tuple(replace(o, labels={**o.labels, "segment": segment}) for o in observations)
    return WindowOutcome(report, observations)


def _estimate(job: WindowJob, spec: AnalysisSpec, calibration: Calibration | None) -> EstimateOut | None:
    """The whole model's window accuracy estimated from its scores (CBPE), for a classifier; None when there is nothing to estimate from."""
    if job.segment is not None or spec.performance.task != "classification":
        return None
    columns = job.window.columns
    try:
        estimate = window_estimate(columns.get(SCORE_COLUMN), columns.get(PREDICTION_COLUMN), calibration)
    except ValueError as exc:
        log.warning("%s: no accuracy estimate from its scores: %s", job.name, exc)
        return None
    if estimate is None:
        return None
    recalibrated = calibration is not None
    return EstimateOut(
        accuracy=estimate.accuracy, low=estimate.low, high=estimate.high, rows=estimate.n, recalibrated=recalibrated
    )


def _multivariate(prepared: _Prepared, spec: AnalysisSpec) -> MultivariateResult | None:
    """The window's multivariate drift; None when it is off, cannot be fitted, or the window is too small to judge.

    A window of fewer than ``min_rows`` rows (the quality checks' floor for shares)
    is not judged: the mean error of a handful of rows says little.
    """
    if not spec.drift.multivariate or len(prepared.conformed) < spec.quality.min_rows:
        return None
    monitor = prepared.monitors.multivariate()
    return None if monitor is None else monitor.run(prepared.conformed)


def full_report(job: WindowJob, spec: AnalysisSpec, snapshot: SnapshotRef, reference: ReferenceRows | None = None) -> None:
    """Put Evidently's full drift report of a window, plots included, in place of its scores-only snapshot.

    The report is of the rows :func:`analyse` tested, with the same methods and
    thresholds, so it shows the decisions the window's alerts were made with;
    it keeps the snapshot's id, so whatever points to the window's snapshot
    (its report event, its alerts) opens the full report.
    """
    prepared = _prepare(job, spec, reference or ReferenceRows.of(job))
    if prepared.drift is None or spec.workspace is None:
        return
    _, report = prepared.drift.report(prepared.tested, timestamp=job.window.end)
    _workspace(spec).replace(snapshot, report, prepared.name)


def evaluate_performance(job: PerformanceJob, spec: AnalysisSpec) -> PerformanceOutcome:
    """Evaluate one version of a window's model quality on its labelled predictions.

    Its snapshot holds the metrics' values; :func:`full_performance_report`
    puts Evidently's report, plots included, in its place where people look. The
    reference period's version also fits the model's score calibration, for a classifier.
    """
    task = spec.performance.task
    result, snapshot = evaluate(job, task, plots=False, timestamp=_window_time(job, spec))
    where = "reference" if job.window is None else str(job.window)
    segment = _performance_segment(job)
    report = PerformanceReport(
        key=f"{job.model}/{segment or '*'}/{where}/performance/v{job.version}",
        version=job.version,
        final=job.final,
        model=job.model,
        segment=segment,
        task=task,
        window_index=job.window,
        predictions=job.predictions,
        labelled=result.labelled,
        coverage=result.coverage,
        delay_p50_s=result.delay_p50_s,
        delay_p90_s=result.delay_p90_s,
        delay_max_s=result.delay_max_s,
        metrics=dict(result.metrics),
        snapshot=None,
    )
    if snapshot is not None:
        ref = _store(snapshot, performance_name(job), spec, performance_notes(report), report.key)
        report = report.model_copy(update={"snapshot": ref})
    # The score calibration is the model's, fitted on its own reference period only.
    calibrates = job.window is None and job.segment is None and task == "classification"
    calibration = fit_calibration(job.pairs, spec.performance.min_labelled) if calibrates else None
    return PerformanceOutcome(result, report, calibration)


def full_performance_report(job: PerformanceJob, spec: AnalysisSpec, snapshot: SnapshotRef) -> None:
    """Put Evidently's model quality report, plots included, in place of a version's values-only snapshot."""
    _, report = evaluate(job, spec.performance.task, timestamp=_window_time(job, spec))
    if report is not None and spec.workspace is not None:
        _workspace(spec).replace(snapshot, report, performance_name(job))


def _drift_key(model: str, segment: str | None, index: int) -> str:
    return f"{model}/{segment or '*'}/{index}/drift/v1"


def _window_time(job: PerformanceJob, spec: AnalysisSpec) -> datetime | None:
    """The time of the window's drift run (its end), so that the dashboard plots a window's quality at its window.

    None (the time of evaluation) for the reference period, without a workspace,
    or when the drift run is not stored (yet, or any more).
    """
    if job.window is None or spec.workspace is None:
        return None
    return _workspace(spec).run_time(_drift_key(job.model, _performance_segment(job), job.window))


def _performance_segment(job: PerformanceJob) -> str | None:
    return f"{job.segment[0]}={job.segment[1]}" if job.segment is not None else None


def performance_name(job: PerformanceJob) -> str:
    """A quality version as people read it: model, segment if any, window and version."""
    segment = _performance_segment(job)
    where = job.model if segment is None else f"{job.model} [{segment}]"
    return f"{where} window {'reference' if job.window is None else job.window} performance v{job.version}"


def _datetimes(event_times: Iterable[float | datetime]) -> list[datetime]:
    """The rows' event times as datetimes, from POSIX seconds.

    Windows and references restored from a checkpoint of a release before event
    times became seconds hold datetimes: they are taken as they are.
    """
    return [t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC) for t in event_times]


def _monitors_for(job: WindowJob, spec: AnalysisSpec, packed: ReferenceRows) -> _ModelMonitors:
    key = (job.model, job.segment)
    cached = _monitors.get(key)
    if cached is not None and cached[0] == packed.key:
        return cached[1]
    # The profile sees every reference row (it is computed once); Evidently a bounded sample.
    full = pd.DataFrame.from_records(packed.rows())
    event_times = _datetimes(full[EVENT_TIME_COLUMN]) if EVENT_TIME_COLUMN in full else None
    full = full.drop(columns=_META_COLUMNS, errors="ignore")
    reference = _sample(full, spec.drift.max_rows, seed=0)
    profile = ReferenceProfile.of(full, event_times=event_times)
    monitors = _ModelMonitors(reference, spec, quality_monitor(spec.quality, profile))
    _monitors[key] = (packed.key, monitors)
    return monitors


def _conform(current: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The window with the reference's columns and types, for the drift tests.

    A value of the wrong type (a string where the reference has numbers) becomes
    missing here: the schema check reports it, and drift is tested on the rest.
    """
    current = current.reindex(columns=reference.columns)
    for column in reference.columns:
        if _is_number(reference[column]) and not _is_number(current[column]):  # a column of numbers is kept as it is
            values = current[column].map(lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
            current[column] = pd.to_numeric(values, errors="coerce")
    return current


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    # A report's cost grows with its rows; a seeded sample keeps it bounded and repeatable.
    return frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)


def _workspace(spec: AnalysisSpec) -> EvidentlyWorkspace:
    settings = spec.workspace
    assert settings is not None
    key = (settings.path, settings.project)
    if key not in _workspaces:
        _workspaces[key] = EvidentlyWorkspace(settings.path, settings.project, settings.retention(), task=spec.performance.task)
    return _workspaces[key]


def _store(snapshot: Snapshot, name: str, spec: AnalysisSpec, notes: RunNotes, key: str) -> SnapshotRef | None:
    """Store a result's run under its key: a result computed again replaces it (one run per window and version)."""
    return None if spec.workspace is None else _workspace(spec).add(snapshot, name, notes, key=key)


def annotate_run(spec: AnalysisSpec, snapshot: SnapshotRef, notes: RunNotes) -> None:
    """Add to a stored run what the worker learned after its analysis (run in a thread: it reads and writes a file).

    A run that cannot be read or written is logged and left as it is: its
    result is published all the same.
    """
    if spec.workspace is None:
        return
    try:
        with _annotating:  # the worker's threads share one workspace and its index
            _workspace(spec).annotate(snapshot, notes)
    except (OSError, ValueError) as exc:
        log.warning("run %s of %s: could not add its alerts and estimate: %s", snapshot.snapshot_id, notes.model, exc)


def _quality_out(finding: QualityFinding) -> QualityOut:
    return QualityOut(
        check=finding.check, feature=finding.feature, value=finding.value, threshold=finding.warning_at, summary=finding.summary
    )


def _multivariate_out(result: MultivariateResult) -> MultivariateOut:
    return MultivariateOut(
        error=result.error,
        threshold=result.threshold,
        drifted=result.drifted,
        top_features={name: share for name, share in result.top_features},
        components=result.components,
        threshold_source=result.threshold_source,
    )


def _out(drift: FeatureDrift) -> FeatureDriftOut:
    return FeatureDriftOut(
        feature=drift.feature,
        score=drift.score,
        method=drift.method,
        threshold=drift.threshold,
        drifted=drift.drifted,
        threshold_source=drift.threshold_source,
    )
