"""The project's Evidently dashboard: a tab per model whose panels find data in the runs streammon stores."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import numpy as np

from monitors.labels.performance import PerformanceJob
from monitors.windows.watch import DriftWatch, WindowJob
from streams.settings import DriftSettings
from streams.worker.analysis import SCORE_COLUMN, AnalysisSpec, analyse, evaluate_performance, full_report
from streams.workspace.dashboard import OVERVIEW_TAB, model_tab

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently.ui.service.base import SeriesFilter
    from evidently.ui.service.storage.local.base import InMemoryDataStorage
    from evidently.ui.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def window_jobs(model: str, windows: int, shift: float, seed: int) -> list[WindowJob]:
    """``windows`` windows of 200 rows after a reference of 300; ``a`` shifted by ``shift`` from the second window.

    The prediction is a classifier's decision, with its score (so each window gets an accuracy estimate).
    """
    rng = np.random.default_rng(seed)
    watch = DriftWatch(window_size=200, window_duration_s=3600, reference_size=300)
    jobs: list[WindowJob] = []
    rows = 300 + 200 * windows
    for i, (x, y) in enumerate(rng.normal(size=(rows, 2))):
        moved = shift if i >= 500 else 0.0
        score = 1 / (1 + np.exp(-2 * y))
        row = {"a": float(x) + moved, "b": float(y), "prediction": int(score > 0.5), SCORE_COLUMN: float(score)}
        jobs += watch.add(model, T0 + timedelta(seconds=i), row)
    return jobs


def series(path: Path, project_id: str, panel_values: list[dict[str, object]]) -> dict[str, list[float | None]]:
    """What Evidently's UI plots for these panel values: series id to values."""
    storage = InMemoryDataStorage(str(path))
    filters = [SeriesFilter(**value) for value in panel_values]  # type: ignore[arg-type]
    response = asyncio.run(storage.get_data_series(UUID(project_id), filters, None, None))
    return {f"{s.metric_type}:{sorted(s.params.items())}": list(s.values) for s in response.series}


def test_each_model_gets_a_tab_whose_panels_all_show_its_windows(tmp_path: Path) -> None:
    spec = AnalysisSpec().stored_in(tmp_path)
    drifted: dict[str, list[int]] = {}
    for seed, model in enumerate(["churn", "fraud"]):
        drifted[model] = []
        for job in window_jobs(model, windows=3, shift=1.5, seed=seed):
            report = analyse(job, spec).report
            drifted[model].append(report.drifted_features)
            assert report.snapshot is not None and report.estimate is not None
            pairs = tuple((int(i % 3 == 0), int(i % 2 == 0), None) for i in range(60))
            evaluate_performance(PerformanceJob(model, job.window.index, 1, 200, pairs, (1.0,) * 60, False), spec)
    assert drifted["churn"][1:] != [0, 0]  # the shift is seen

    workspace = Workspace(str(tmp_path))
    (project,) = workspace.search_project("streammon")
    dashboard = workspace.get_dashboard(project.id)
    assert [tab.title for tab in dashboard.tabs] == [OVERVIEW_TAB, model_tab("churn"), model_tab("fraud")]
    panels = {panel.id: panel for panel in dashboard.panels}
    for model in ["churn", "fraud"]:
        (tab,) = [tab for tab in dashboard.tabs if tab.title == model_tab(model)]
        assert len(tab.panels) == 5
        for panel_id in tab.panels:
            panel = panels[panel_id]
            values = [value.dict(include={"tags", "metadata", "metric", "metric_labels"}) for value in panel.values]
            for value in values:
                found = series(tmp_path, str(project.id), [value])
                assert found, f"{panel.title}: no data for {value['metric']}"
                assert all(len([v for v in s if v is not None]) == 3 for s in found.values()), (panel.title, found)
        # The drifted-features panel plots streammon's decisions, window after window.
        (bars,) = [panels[p] for p in tab.panels if "features drifted" in panels[p].title]
        [plotted] = series(
            tmp_path, str(project.id), [bars.values[0].dict(include={"tags", "metadata", "metric", "metric_labels"})]
        ).values()
        assert plotted == [float(n) for n in drifted[model]]


def test_a_model_that_appears_later_gets_its_tab_and_none_is_added_twice(tmp_path: Path) -> None:
    spec = AnalysisSpec().stored_in(tmp_path)
    first, *_ = window_jobs("churn", windows=1, shift=0.0, seed=1)
    analyse(first, spec)
    analyse(replace(first, window=replace(first.window, index=first.window.index + 1)), spec)
    # Another process (a second worker) stores a new model's window in the same workspace.
    other = AnalysisSpec(drift=DriftSettings(max_rows=4999)).stored_in(tmp_path)
    analyse(replace(first, model="fraud"), other)
    workspace = Workspace(str(tmp_path))
    (project,) = workspace.search_project("streammon")
    titles = [tab.title for tab in workspace.get_dashboard(project.id).tabs]
    assert titles == [OVERVIEW_TAB, model_tab("churn"), model_tab("fraud")]


def test_a_columns_drift_is_one_series_and_a_windows_quality_is_plotted_at_the_window(tmp_path: Path) -> None:
    spec = AnalysisSpec().stored_in(tmp_path)
    reports = []
    for job in window_jobs("churn", windows=3, shift=1.5, seed=0):
        reports.append(analyse(job, spec).report)
        if job.window.index == 1:  # the window people open: Evidently's full report takes its run's place
            assert reports[-1].snapshot is not None
            full_report(job, spec, reports[-1].snapshot)
        pairs = tuple((int(i % 3 == 0), int(i % 2 == 0), None) for i in range(60))
        quality = evaluate_performance(PerformanceJob("churn", job.window.index, 1, 200, pairs, (1.0,) * 60, False), spec).report
        assert quality.snapshot is not None
        workspace = Workspace(str(tmp_path))
        drift_run = workspace.get_run(quality.snapshot.project_id, reports[-1].snapshot.snapshot_id)  # type: ignore[union-attr]
        quality_run = workspace.get_run(quality.snapshot.project_id, quality.snapshot.snapshot_id)
        assert quality_run.timestamp == drift_run.timestamp == job.window.end

    (project,) = Workspace(str(tmp_path)).search_project("streammon")
    scores = series(
        tmp_path,
        str(project.id),
        [{"tags": ["model:churn"], "metadata": {}, "metric": "evidently:metric_v2:ValueDrift", "metric_labels": {}}],
    )
    assert len(scores) == 3 and all(None not in values and len(values) == 3 for values in scores.values()), scores


def test_a_tab_another_process_wrote_over_comes_back(tmp_path: Path) -> None:
    from streams.workspace.runs import RunNotes
    from streams.workspace.store import EvidentlyWorkspace
    from tests.streams.workspace.test_workspace import snapshot

    workspace = EvidentlyWorkspace(tmp_path, "streammon", rescan_interval_s=0.0)
    workspace.add(snapshot(T0), "churn window 0", RunNotes("churn"))
    evidently = Workspace(str(tmp_path))
    dashboard = evidently.get_dashboard(workspace.project_id)  # type: ignore[arg-type]
    evidently.save_dashboard(workspace.project_id, dashboard.copy(update={"tabs": dashboard.tabs[:1]}))  # type: ignore[arg-type]
    workspace.add(snapshot(T0), "churn window 1", RunNotes("churn"))
    assert [tab.title for tab in evidently.get_dashboard(workspace.project_id).tabs] == [OVERVIEW_TAB, model_tab("churn")]  # type: ignore[arg-type]
