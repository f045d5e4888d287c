"""The local broker launcher, against a real Apache Kafka broker on free ports."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from streams.errors import BrokerError
from streams.local.broker.install import KAFKA_VERSION
from streams.local.broker.process import KafkaBroker
from tests.helpers import free_ports

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def libs_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One jar cache for the whole session, so Maven runs once."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not on PATH: apt-get install openjdk-17-jre-headless maven"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return tmp_path_factory.mktemp("kafka-libs")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, libs_home: Path) -> Iterator[KafkaBroker]:
    port, controller_port = free_ports(2)
    kafka = KafkaBroker(
        tmp_path_factory.mktemp("broker"),
        port=port,
        controller_port=controller_port,
        libs_home=libs_home,
    )
    yield kafka
    kafka.stop()


@pytest.fixture
def running(broker: KafkaBroker) -> KafkaBroker:
    """The module's broker, started once and restarted only if a test stopped it."""
    broker.start()
    return broker


def test_started_broker_serves_a_topic_end_to_end(running: KafkaBroker) -> None:
    servers = running.status().bootstrap_servers
    topic = "test-broker-roundtrip"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=servers)
    try:
        producer.send(topic, key=b"model-a", value=b'{"prediction": 1}').get(timeout=30)
    finally:
        producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id="test-broker-roundtrip",
        auto_offset_reset="earliest",
        consumer_timeout_ms=30_000,
    )
    try:
        message = next(iter(consumer))
    finally:
        consumer.close()
    assert (message.key, message.value) == (b"model-a", b'{"prediction": 1}')


def test_second_start_reuses_the_running_broker(running: KafkaBroker) -> None:
    pid = running.status().pid
    again = KafkaBroker(
        running.home,
        port=running.port,
        controller_port=running.controller_port,
        libs_home=running.libs_home,
    )

    took = again.start()

    assert again.status().pid == pid
    assert took < 5.0


def test_status_reports_the_running_broker(running: KafkaBroker) -> None:
    status = running.status()

    assert status.running
    assert status.pid is not None
    assert status.bootstrap_servers == f"127.0.0.1:{running.port}"
    assert status.version == KAFKA_VERSION
    assert status.home == running.home
    assert status.log_file == running.home / f"run-{running.port}" / "broker.log"
    assert "Kafka Server started" in status.log_file.read_text()


def test_stop_ends_the_broker(running: KafkaBroker) -> None:
    pid = running.status().pid
    assert pid is not None

    assert running.stop() is True

    status = running.status()
    assert not status.running
    assert status.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert running.stop() is False


@pytest.mark.parametrize("taken", ["port", "controller_port"])
def test_start_refuses_a_port_held_by_another_process(tmp_path: Path, libs_home: Path, taken: str) -> None:
    port, controller_port = free_ports(2)
    held = port if taken == "port" else controller_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", held))
        squatter.listen()
        broker = KafkaBroker(tmp_path, port=port, controller_port=controller_port, libs_home=libs_home)
        began = time.monotonic()

        with pytest.raises(BrokerError, match=f"port {held}"):
            broker.start()

    assert time.monotonic() - began < 5.0
    assert not broker.status().running


def test_start_names_a_missing_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    port, controller_port = free_ports(2)
    broker = KafkaBroker(tmp_path / "home", port=port, controller_port=controller_port)

    with pytest.raises(BrokerError, match=r"`java` is not on PATH.*apt-get install"):
        broker.start()


def test_start_reports_the_log_of_a_broker_that_dies(tmp_path: Path, libs_home: Path) -> None:
    port, controller_port = free_ports(2)
    broker = KafkaBroker(tmp_path, port=port, controller_port=controller_port, heap="lots", libs_home=libs_home)

    with pytest.raises(BrokerError, match=r"exited while starting(.|\n)*Invalid .*heap size"):
        broker.start()

    assert broker.status().pid is None
