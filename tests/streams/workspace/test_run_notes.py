"""Every run in the workspace carries tags and metadata to find it by, and what its alerts did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from monitors.alerting.alerts import Alert
from monitors.labels.performance import PerformanceJob
from monitors.windows.watch import DriftWatch, Segment, WindowJob
from streams.worker.analysis import VERSION_COLUMN, AnalysisSpec, WindowOutcome, analyse, annotate_run, evaluate_performance
from streams.workspace.runs import alert_notes
from streams.workspace.store import EvidentlyWorkspace

T = datetime(2026, 1, 1, tzinfo=UTC)


def drift_job(segment: Segment | None = None) -> WindowJob:
    """One window of model ``m`` (version ``v7``) whose feature ``a`` drifted."""
    rng = np.random.default_rng(3)
    watch = DriftWatch(window_size=200, window_duration_s=3600, reference_size=300)
    for i, (x, y) in enumerate(rng.normal(size=(500, 2))):
        row = {"a": float(x) + (1.5 if i >= 300 else 0.0), "b": float(y), "prediction": int(y > 0), VERSION_COLUMN: "v7"}
        jobs = watch.add("m", T + timedelta(seconds=i), row, segment=segment)
    (job,) = jobs
    return job


def drift_outcome(spec: AnalysisSpec, segment: Segment | None = None) -> WindowOutcome:
    """The analysis of :func:`drift_job`."""
    return analyse(drift_job(segment), spec)


def alert(feature: str, severity: str, resolved: bool = False) -> Alert:
    labels = {"model": "churn", "kind": "data_drift", "feature": feature, "severity": severity}
    return Alert(labels, {}, T, ends_at=T if resolved else None)


def test_alert_changes_tell_raised_escalated_and_resolved_apart() -> None:
    raised, was_warning, escalated, cleared = (
        alert("age", "warning"),
        alert("salary", "warning", resolved=True),
        alert("salary", "critical"),
        alert("city", "warning", resolved=True),
    )
    notes = alert_notes("churn", [raised, was_warning, escalated, cleared])
    assert notes.tags == ("alerting", "raised", "escalated", "resolved")
    assert notes.metadata["alerts_raised"] == raised.fingerprint
    assert notes.metadata["alerts_escalated"] == escalated.fingerprint
    assert notes.metadata["alerts_resolved"] == cleared.fingerprint  # the warning that made way is no resolution
    assert "raised warning data_drift age" in notes.metadata["alerts"]
    only_resolved = alert_notes("churn", [cleared])
    assert only_resolved.tags == ("resolved",) and "alerting" not in only_resolved.tags


def test_a_drift_run_is_found_by_model_version_segment_window_and_alert(tmp_path: Path) -> None:
    spec = AnalysisSpec().stored_in(tmp_path)
    report = drift_outcome(spec, segment=("region", "eu")).report
    assert report.snapshot is not None
    raised = alert("a", "warning")
    annotate_run(spec, report.snapshot, alert_notes(report.model, [raised]))

    run = EvidentlyWorkspace(tmp_path, "streammon")._read(report.snapshot.snapshot_id)
    assert run is not None
    assert {"model:m", "kind:drift", "segment:region=eu", "version:v7", "alerting", "raised"} <= set(run.tags)
    meta = run.metadata
    assert meta["model"] == "m" and meta["segment"] == "region=eu" and meta["kind"] == "drift"
    assert meta["model_versions"] == "v7" and meta["window_index"] == str(report.window.index)
    assert meta["window_start"] == report.window.start.isoformat() and meta["window_end"] == report.window.end.isoformat()
    assert meta["drifted_features"] == "a" and meta["alerts_raised"] == raised.fingerprint
    assert meta["threshold_source"].startswith("bh: alpha=0.01")


def test_a_performance_run_is_tagged_with_its_model_kind_and_window(tmp_path: Path) -> None:
    spec = AnalysisSpec().stored_in(tmp_path)
    pairs = tuple((int(i % 3 == 0), int(i % 2 == 0), None) for i in range(40))
    report = evaluate_performance(PerformanceJob("churn", 4, 2, 80, pairs, (1.0,) * 40, True), spec).report
    assert report.snapshot is not None
    run = EvidentlyWorkspace(tmp_path, "streammon")._read(report.snapshot.snapshot_id)
    assert run is not None and {"model:churn", "kind:performance", "final"} <= set(run.tags)
    assert run.metadata["window_index"] == "4" and run.metadata["result_version"] == "2"
    assert run.metadata["labelled"] == "40" and run.metadata["predictions"] == "80"


def page(run: object) -> list[tuple[str, str]]:
    """A run's report page as the UI shows it: each counter's value and label, and each other widget's title."""
    shown = []
    for widget in run.widgets:  # type: ignore[attr-defined]
        counters = widget.params.get("counters", []) if isinstance(widget.params, dict) else []
        shown += [(str(c["value"]), str(c["label"])) for c in counters] or [("", widget.title)]
    return shown


def test_a_report_opens_with_streammons_decision_and_not_evidentlys_dataset_verdict(tmp_path: Path) -> None:
    from streams.worker.analysis import full_report

    spec = AnalysisSpec().stored_in(tmp_path)
    report = drift_outcome(spec).report
    assert report.snapshot is not None
    raised = alert("a", "warning")
    annotate_run(spec, report.snapshot, alert_notes(report.model, [raised]))
    workspace = EvidentlyWorkspace(tmp_path, "streammon")

    scores_only = page(workspace._read(report.snapshot.snapshot_id))
    assert scores_only[0][0] == "Drift in a"
    assert "1 of 2 features drifted: a (K-S p_value" in scores_only[0][1] and raised.fingerprint in scores_only[0][1]

    # The full report, plots included, that takes the run's place.
    full_report(drift_job(), spec, report.snapshot)
    full = page(workspace._read(report.snapshot.snapshot_id))
    headline, *rest = full
    assert headline == scores_only[0] and len(rest) > 3  # the report's widgets follow
    verdicts = [label for _, label in rest if "Dataset drift detection threshold" in label]
    assert verdicts and all(label.startswith("Not used by streammon") for label in verdicts)
    assert all(not title.startswith("Drift is detected") for _, title in rest)
    run = workspace._read(report.snapshot.snapshot_id)
    assert run is not None and "alerting" in run.tags  # its tags and metadata stay


def test_a_run_that_cannot_be_annotated_is_logged_and_left(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    spec = AnalysisSpec().stored_in(tmp_path)
    report = drift_outcome(spec).report
    assert report.snapshot is not None
    run_file = tmp_path / report.snapshot.project_id / "snapshots" / f"{report.snapshot.snapshot_id}.json"
    run_file.write_text("{not json")
    annotate_run(spec, report.snapshot, alert_notes("m", [alert("a", "warning")]))
    assert "could not add its alerts" in caplog.text and run_file.read_text() == "{not json"
