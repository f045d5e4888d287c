"""The Evidently workspace stays within its bounds, and what it removes Evidently no longer lists."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from monitors.evidently.library import DataDefinition, Dataset, Report, Snapshot
from monitors.workspace.retention import Retention
from streams.settings import WorkspaceSettings
from streams.workspace.store import EvidentlyWorkspace

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently.metrics import RowCount
    from evidently.ui.service.storage.local.base import LocalState
    from evidently.ui.workspace import Workspace

NOW = datetime.now(UTC)
DAY = 86400.0
FRAME = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def snapshot(timestamp: datetime) -> Snapshot:
    data = Dataset.from_pandas(FRAME, data_definition=DataDefinition(numerical_columns=["x"]))
    return Report([RowCount()]).run(data, None, timestamp=timestamp)


def run_files(workspace: EvidentlyWorkspace) -> dict[str, Path]:
    folder = workspace.path / workspace.project_id / "snapshots"
    return {file.stem: file for file in folder.glob("*.json")}


def total_bytes(workspace: EvidentlyWorkspace) -> int:
    return sum(file.stat().st_size for file in run_files(workspace).values())


def listed_by_evidently(workspace: EvidentlyWorkspace) -> set[str]:
    """The runs as Evidently lists them: its SDK, and the state its UI loads on start."""
    sdk = {str(run_id) for run_id in Workspace(str(workspace.path)).list_runs(workspace.project_id)}
    ui = {str(run_id) for runs in LocalState.load(str(workspace.path), None).snapshots.values() for run_id in runs}
    assert sdk == ui
    return sdk


def written_ago(file: Path, days: float) -> None:
    """Make ``file`` look written ``days`` ago."""
    then = (NOW - timedelta(days=days)).timestamp()
    os.utime(file, (then, then))


def test_runs_past_max_age_go_and_the_rest_fits_in_max_bytes(tmp_path: Path) -> None:
    one = EvidentlyWorkspace(tmp_path / "probe", "p", retention=Retention())
    one.add(snapshot(NOW), "window 00")
    run_size = total_bytes(one)
    max_bytes = 6 * run_size + run_size // 2

    # A workspace that grew without bounds: ten runs stored days ago, of windows that ended then...
    unbounded = EvidentlyWorkspace(tmp_path / "ws", "streammon", retention=Retention())
    ages = [10, 9, 8, 7, 6, 5, 4, 3, 1.5, 0.5]
    old = [unbounded.add(snapshot(NOW - timedelta(days=age)), f"window {i:02d}").snapshot_id for i, age in enumerate(ages)]
    for run_id, age in zip(old, ages):
        written_ago(run_files(unbounded)[run_id], days=age)
    # ...opened with bounds: the runs past two days go as soon as it is used...
    workspace = EvidentlyWorkspace(tmp_path / "ws", "streammon", retention=Retention(max_age_s=2 * DAY, max_bytes=max_bytes))
    first = workspace.add(snapshot(NOW - timedelta(minutes=20)), "window 10").snapshot_id
    assert listed_by_evidently(workspace) == {*old[8:], first}
    # ...and the oldest while the runs are past max_bytes.
    new = [first] + [
        workspace.add(snapshot(NOW - timedelta(minutes=20 - i)), f"window {i:02d}").snapshot_id for i in range(11, 20)
    ]
    assert workspace.enforce_retention() == []  # each add kept the bounds already

    assert total_bytes(workspace) <= max_bytes
    left = listed_by_evidently(workspace)
    assert left == set(run_files(workspace))
    assert left == set(new[-len(left) :]) and len(left) == 6  # the newest, as many as fit


def test_the_bounds_hold_after_every_add_without_a_rescan(tmp_path: Path) -> None:
    workspace = EvidentlyWorkspace(tmp_path, "streammon", retention=Retention(max_bytes=5_000), rescan_interval_s=3600)
    ids = []
    for i in range(12):
        ids.append(workspace.add(snapshot(NOW + timedelta(seconds=i)), f"window {i}").snapshot_id)
        assert total_bytes(workspace) <= 5_000
    assert set(run_files(workspace)) == set(ids[-len(run_files(workspace)) :])
    assert listed_by_evidently(workspace) == set(run_files(workspace))


def test_a_replayed_old_window_stays_for_max_age_after_it_was_written(tmp_path: Path) -> None:
    workspace = EvidentlyWorkspace(tmp_path, "streammon", retention=Retention(max_age_s=7 * DAY))
    replayed = workspace.add(snapshot(NOW - timedelta(days=30)), "window of last month").snapshot_id
    assert workspace.enforce_retention() == []
    assert listed_by_evidently(workspace) == {replayed}
    written_ago(run_files(workspace)[replayed], days=8)
    assert workspace.enforce_retention() == [replayed]
    assert listed_by_evidently(workspace) == set()


def test_a_run_stored_long_ago_of_a_recent_window_stays(tmp_path: Path) -> None:
    # The age runs from the later of the two times: a window's end after the write (clock skew) counts.
    workspace = EvidentlyWorkspace(tmp_path, "streammon", retention=Retention(max_age_s=DAY))
    run_id = workspace.add(snapshot(NOW), "window").snapshot_id
    written_ago(run_files(workspace)[run_id], days=3)
    assert workspace.enforce_retention() == []


def test_processes_sharing_a_folder_remove_each_others_runs_without_failing(tmp_path: Path) -> None:
    retention = Retention(max_bytes=4_000)
    first = EvidentlyWorkspace(tmp_path, "streammon", retention=retention, rescan_interval_s=3600)
    early = [first.add(snapshot(NOW + timedelta(seconds=i)), f"first {i}").snapshot_id for i in range(3)]
    second = EvidentlyWorkspace(tmp_path, "streammon", retention=retention, rescan_interval_s=3600)
    assert second.project_id == first.project_id
    later = [second.add(snapshot(NOW + timedelta(seconds=10 + i)), f"second {i}").snapshot_id for i in range(8)]
    assert not set(early) & set(run_files(second))  # the second removed the first's runs
    # The first still has them in its index: removing them again is no error.
    newest = first.add(snapshot(NOW + timedelta(seconds=30)), "first again").snapshot_id
    first.enforce_retention()
    second.enforce_retention()
    assert total_bytes(first) <= retention.max_bytes  # type: ignore[operator]
    kept = listed_by_evidently(first)
    assert kept == set(run_files(first))
    assert newest in kept and kept - {newest} == set(later[len(later) - len(kept) + 1 :])


def test_without_bounds_nothing_is_removed(tmp_path: Path) -> None:
    workspace = EvidentlyWorkspace(tmp_path, "streammon", retention=Retention())
    ids = {workspace.add(snapshot(NOW - timedelta(days=400)), f"window {i}").snapshot_id for i in range(3)}
    for file in run_files(workspace).values():
        written_ago(file, days=400)
    assert workspace.enforce_retention() == []
    assert listed_by_evidently(workspace) == ids


def test_the_settings_bound_a_week_and_5_gb_by_default_and_a_plain_workspace_keeps_everything(tmp_path: Path) -> None:
    assert WorkspaceSettings().retention() == Retention(max_age_s=7 * DAY, max_bytes=5_000_000_000)
    assert WorkspaceSettings(max_age=None, max_bytes=None).retention() == Retention()
    assert WorkspaceSettings(max_age="12h").retention().max_age_s == 12 * 3600
    workspace = EvidentlyWorkspace(tmp_path, "streammon")
    assert workspace.retention == Retention()
    ref = workspace.add(snapshot(NOW), "window 0")
    assert ref.project_id == workspace.project_id and listed_by_evidently(workspace) == {ref.snapshot_id}


@pytest.mark.parametrize("bounds", [{"max_age": 0}, {"max_bytes": 0}, {"max_age": "soon"}])
def test_bounds_are_checked_when_settings_load(bounds: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="max_"):
        WorkspaceSettings(**bounds)  # type: ignore[arg-type]


def test_a_window_computed_again_replaces_its_run_and_keeps_its_alerts(tmp_path: Path) -> None:
    import streams.worker.analysis
    from streams.worker.analysis import AnalysisSpec, annotate_run
    from streams.workspace.runs import alert_notes
    from tests.streams.workspace.test_run_notes import alert, drift_outcome

    spec = AnalysisSpec().stored_in(tmp_path)
    first = drift_outcome(spec).report
    assert first.snapshot is not None
    raised = alert("a", "warning")
    annotate_run(spec, first.snapshot, alert_notes(first.model, [raised]))
    streams.worker.analysis._workspaces.clear()  # a restarted worker's analysis process
    again = drift_outcome(spec).report  # recomputed: its alert was raised already, nothing changes now

    assert again.snapshot == first.snapshot
    workspace = EvidentlyWorkspace(tmp_path, "streammon")
    assert listed_by_evidently(workspace) == {first.snapshot.snapshot_id}
    run = workspace._read(first.snapshot.snapshot_id)
    assert run is not None and "alerting" in run.tags and run.metadata["alerts_raised"] == raised.fingerprint
    # Another window of the same model, and the same window of a segment, are runs of their own.
    other = drift_outcome(spec, segment=("region", "eu")).report
    assert other.snapshot is not None and other.snapshot.snapshot_id != first.snapshot.snapshot_id
    assert len(listed_by_evidently(workspace)) == 2


def test_a_run_that_cannot_be_read_is_written_over_by_its_window(tmp_path: Path) -> None:
    workspace = EvidentlyWorkspace(tmp_path, "streammon")
    ref = workspace.add(snapshot(NOW), "window 0", key="m/*/0/drift/v1")
    run_files(workspace)[ref.snapshot_id].write_text("{half a file")
    again = workspace.add(snapshot(NOW), "window 0", key="m/*/0/drift/v1")
    assert again == ref and listed_by_evidently(workspace) == {ref.snapshot_id}


def test_a_new_project_and_its_runs_are_laid_out_as_evidently_writes_them_with_nothing_left_over(tmp_path: Path) -> None:
    workspace = EvidentlyWorkspace(tmp_path, "streammon")
    ref = workspace.add(snapshot(NOW), "window 0", key="m/*/0/drift/v1")
    workspace.add(snapshot(NOW), "window 0", key="m/*/0/drift/v1")  # computed again: written over
    folder = tmp_path / workspace.project_id
    assert sorted(p.name for p in folder.iterdir()) == ["dashboard.json", "metadata.json", "snapshots"]
    assert [p.name for p in (folder / "snapshots").iterdir()] == [f"{ref.snapshot_id}.json"]
    assert [p.name for p in Workspace(str(tmp_path)).search_project("streammon")] == ["streammon"]
    assert listed_by_evidently(workspace) == {ref.snapshot_id}
