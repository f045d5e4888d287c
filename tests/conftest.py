"""Shared fixtures: the local broker, per-test topics, and a worker in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.admin import admin_client, delete_topics_under, ensure_topics
from streams.errors import BrokerError
from streams.local.alertmanager import (
    ALERTMANAGER_PACKAGE,
    LocalAlertmanager,
    find_alertmanager,
)
from streams.settings import KafkaSettings, Settings, receiver_topics
from streams.worker.runner import spawn_worker
from tests.helpers import EvidentlyUI, RunningWorker, TopicReader, free_port

BOOTSTRAP = os.environ.get("STREAMMON_TEST_BOOTSTRAP", "127.0.0.1:9092")
# In every topic and group name this run makes, so that the run deletes its own and no
# other's (runs may share the broker).
RUN = f"test-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def bootstrap_servers() -> Iterator[str]:
    """The local broker's address; fails in CI when it is missing, skips loudly elsewhere.

    At the end of the run it deletes the topics the run made (Faust's own included): the
    broker loads every partition it holds at each start, and a few thousand left by earlier
    runs made it start slower than ``streammon broker start`` waits.
    """
    kafka = KafkaSettings(bootstrap_servers=BOOTSTRAP)
    try:
        admin_client(kafka, timeout_s=10).close()
    except BrokerError as exc:
        message = f"no Kafka broker at {BOOTSTRAP} (run `streammon broker start`): {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPING INTEGRATION TEST: " + message)
    yield BOOTSTRAP
    delete_topics_under(kafka, [f"{RUN}-", f"streammon-{RUN}-"])


@pytest.fixture()
def settings(bootstrap_servers: str, tmp_path: Path) -> Settings:
    """Settings with topics and a consumer group of this test's own."""
    kafka = Settings().kafka.model_copy(update={"bootstrap_servers": bootstrap_servers})
    return Settings(
        kafka=kafka.namespaced(f"{RUN}-{uuid.uuid4().hex[:8]}"),
        window={"size": 500, "duration_s": 3600},
        reference={"size": 1000},
        workspace={"path": str(tmp_path / "workspace")},
        worker={"metrics_port": free_port(), "state_dir": str(tmp_path / "state"), "batch_within_s": 0.2},
    )


@pytest.fixture()
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], RunningWorker]]:
    """Start `streammon worker` in a child process; stopped with SIGTERM at teardown."""
    started: list[RunningWorker] = []

    def start(settings: Settings) -> RunningWorker:
        ensure_topics(settings.kafka, extra=receiver_topics(settings.alerting))
        log_file = tmp_path / f"worker-{len(started)}.log"
        worker = RunningWorker(spawn_worker(settings, tmp_path / f"worker-{len(started)}.yaml", log_file), log_file)
        started.append(worker)
        return worker

    yield start
    # Every worker is told to stop before any is waited for: stopped one by one, the workers of one
    # group would hand their partitions to each other on the way out, each restoring state to stop again.
    # (Not stop_worker: it would signal each worker again.)
    for worker in started:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in started:
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


@pytest.fixture(scope="session")
def evidently_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvidentlyUI]:
    """One Evidently UI for the whole run, on a workspace in which each test that uses it writes a project of its own."""
    ui = EvidentlyUI(tmp_path_factory.mktemp("evidently-ui-workspace"))
    yield ui
    ui.stop()


@pytest.fixture()
def topic_reader(bootstrap_servers: str) -> Iterator[Callable[..., TopicReader]]:
    readers: list[TopicReader] = []

    def open_reader(*topics: str) -> TopicReader:
        reader = TopicReader(bootstrap_servers, *topics)
        readers.append(reader)
        return reader

    yield open_reader
    for reader in readers:
        reader.close()


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[LocalAlertmanager]:
    """A real Alertmanager on a free port; a missing binary fails in CI and skips loudly elsewhere."""
    if find_alertmanager() is None:
        message = f"no Alertmanager binary (install it with `apt-get install {ALERTMANAGER_PACKAGE}`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPING INTEGRATION TEST: " + message)
    am = LocalAlertmanager(tmp_path / "alertmanager", free_port())
    am.start()
    yield am
    am.stop()
