"""On the real broker: every file a worker writes is under worker.state_dir or the workspace, none in its working directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.events import WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from streams.worker.runner import stop_worker
from tests.helpers import RunningWorker, TopicReader, produce

pytestmark = pytest.mark.integration

# The checkout under test: the worker, started in an empty directory, must import this code.
CHECKOUT = Path(__file__).resolve().parents[2]
REFERENCE = WINDOW = 100


def test_a_worker_writes_nothing_into_its_working_directory(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # the worker's working directory: it inherits this process's
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])))
    settings = settings.model_copy(
        update={
            "reference": settings.reference.model_copy(update={"size": REFERENCE}),
            "window": settings.window.model_copy(update={"size": WINDOW}),
            "worker": settings.worker.model_copy(update={"checkpoint_interval": 1.0}),
        }
    )
    kafka = settings.kafka
    worker = start_worker(settings)
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    events = [
        e.prediction for e in synthetic_stream(REFERENCE + 2 * WINDOW + 1, REFERENCE + 2 * WINDOW + 1, start, id_prefix="cwd")
    ]
    produce(kafka.bootstrap_servers, kafka.predictions_topic, [orjson.dumps(e) for e in events])
    reports = topic_reader(kafka.reports_topic)
    # Windows analysed (by the analysis processes), reports written to the workspace, checkpoints taken.
    reports.until(
        lambda records: {WindowReport.model_validate_json(r.value).window.index for r in records[kafka.reports_topic]} >= {0, 1},
        120,
        "two window reports",
        worker,
    )
    stop_worker(worker.process)
    assert worker.process.returncode == 0, worker.log()[-3000:]

    assert sorted(p.name for p in workdir.iterdir()) == []
    # What Faust keeps on disk went under the state directory.
    assert (settings.worker.state_dir / f"{kafka.group_id}.runtime-data").is_dir()
    assert any(settings.workspace.path.iterdir())
