"""A running ``evidently ui`` sees the projects and runs streammon creates after it started, without a restart.

The server learns of them from its file watcher only (a person following an
alert's link to a run opens a server that may have started long before the
run's project existed). Each test starts a server of its own on an empty
workspace: a watcher that failed would fail the tests that come after.
"""

from __future__ import annotations

import json
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitors.evidently.library import DataDefinition, Dataset, Report, Snapshot
from streams.workspace.runs import RunNotes
from streams.workspace.store import EvidentlyWorkspace
from tests.helpers import EvidentlyUI, wait_until

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently.metrics import RowCount

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
# How long the watcher may take to read a new file: it reads within a second on an idle machine.
SEEN_WITHIN_S = 15.0


@pytest.fixture()
def ui(tmp_path: Path) -> Iterator[EvidentlyUI]:
    """A server started, and answering, on an empty workspace before streammon writes to it."""
    server = EvidentlyUI(tmp_path / "workspace")
    assert get(server, "/api/projects") == []
    yield server
    server.stop()


@pytest.fixture()
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON file written is created, then stays empty for 0.3 s before its content is written.

    What a loaded machine does now and then, made to happen every time: the UI's watcher looks
    at a file as it is created, before its content is written.
    """
    dump = json.dump

    def slowly(obj: Any, fp: Any, **kwargs: Any) -> None:
        fp.flush()
        time.sleep(0.3)  # the file exists, empty, while the watcher looks at it
        dump(obj, fp, **kwargs)

    monkeypatch.setattr(json, "dump", slowly)


def get(ui: EvidentlyUI, path: str) -> Any:
    return json.loads(urllib.request.urlopen(ui.url + path, timeout=30).read())


def listed(ui: EvidentlyUI, project_id: str) -> bool:
    return project_id in {project["id"] for project in get(ui, "/api/projects")}


def runs(ui: EvidentlyUI, project_id: str) -> dict[str, dict[str, Any]]:
    """The project's runs as the UI lists them, by id; empty while it does not know the project."""
    if not listed(ui, project_id):
        return {}
    return {run["id"]: run for run in get(ui, f"/api/projects/{project_id}/snapshots")}


def snapshot(index: int) -> Snapshot:
    data = Dataset.from_pandas(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), data_definition=DataDefinition(numerical_columns=["x"]))
    return Report([RowCount()]).run(data, None, timestamp=START + timedelta(minutes=index))


def fill(ui: EvidentlyUI, project: str, windows: int) -> tuple[EvidentlyWorkspace, list[str]]:
    """Create ``project`` in the served workspace and store a run for each of ``windows`` windows."""
    workspace = EvidentlyWorkspace(ui.workspace, project)
    refs = [workspace.add(snapshot(i), f"window {i}", key=f"churn/*/{i}/drift/v1") for i in range(windows)]
    return workspace, [ref.snapshot_id for ref in refs]


def seen(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, SEEN_WITHIN_S, f"the running Evidently UI to list {what} (without a restart)")


def test_a_running_ui_lists_a_new_project_its_runs_and_their_updates(ui: EvidentlyUI) -> None:
    workspace, run_ids = fill(ui, "new-project", windows=3)
    seen(lambda: listed(ui, workspace.project_id), "the new project")
    seen(lambda: set(runs(ui, workspace.project_id)) == set(run_ids), "the new project's three runs")

    ref = workspace.add(snapshot(0), "window 0", key="churn/*/0/drift/v1")  # the window computed again
    workspace.annotate(ref, RunNotes("churn", tags=("alerting",)))
    seen(lambda: "alerting" in runs(ui, workspace.project_id)[ref.snapshot_id]["tags"], "the alert added to a run")
    assert set(runs(ui, workspace.project_id)) == set(run_ids)


@pytest.mark.usefixtures("slow_disk")
def test_a_project_seen_while_its_files_are_written_is_listed_and_so_are_the_next(ui: EvidentlyUI) -> None:
    first, first_runs = fill(ui, "written-slowly", windows=2)
    second, second_runs = fill(ui, "created-next", windows=1)
    seen(lambda: listed(ui, first.project_id), "the project written slowly")
    seen(lambda: listed(ui, second.project_id), "the project created next")
    seen(lambda: set(runs(ui, first.project_id)) == set(first_runs), "the runs of the project written slowly")
    seen(lambda: set(runs(ui, second.project_id)) == set(second_runs), "the run of the project created next")
