"""Shared fixtures: the local broker, per-test topics, and a worker in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from streams.admin import admin_client, ensure_topics
from streams.errors import BrokerError
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, free_port

BOOTSTRAP = os.environ.get("STREAMMON_TEST_BOOTSTRAP", "127.0.0.1:9092")


@pytest.fixture(scope="session")
def bootstrap_servers() -> str:
    """The local broker's address; fails in CI when it is missing, skips loudly elsewhere."""
    try:
        admin_client(BOOTSTRAP, timeout_s=10).close()
    except BrokerError as exc:
        message = f"no Kafka broker at {BOOTSTRAP} (run `streammon broker start`): {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPING INTEGRATION TEST: " + message)
    return BOOTSTRAP


@pytest.fixture()
def settings(bootstrap_servers: str, tmp_path: Path) -> Settings:
    """Settings with topics and a consumer group of this test's own."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    return Settings(
        kafka={
            "bootstrap_servers": bootstrap_servers,
            "predictions_topic": f"{prefix}.predictions",
            "features_topic": f"{prefix}.features",
            "labels_topic": f"{prefix}.labels",
            "reports_topic": f"{prefix}.reports",
            "alerts_topic": f"{prefix}.alerts",
            "dead_letter_topic": f"{prefix}.dead-letter",
            "group_id": f"streammon-{prefix}",
        },
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
        ensure_topics(settings.kafka)
        config = tmp_path / f"worker-{len(started)}.yaml"
        config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
        log_file = tmp_path / f"worker-{len(started)}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMMON_")}
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "--config", str(config), "worker"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        worker = RunningWorker(process, log_file)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()




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
