"""Every Kafka client streammon creates authenticates: against a real broker's SASL_PLAINTEXT listener (PLAIN).

The broker is one of this module's own, on free ports, so the shared local broker
stays plaintext and the other tests are unaffected.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.admin import admin_client, ensure_topics
from streams.alerting.silences import create_silence, list_silences
from streams.cli.models import model_statuses
from streams.compacted import follow_topic, read_latest
from streams.errors import BrokerError
from streams.local.broker.process import KafkaBroker
from streams.publish import Publisher
from streams.settings import BrokerSettings, KafkaSettings, Settings
from streams.worker.checkpoint import StateKeys, load_checkpoints, partition_checkpoint
from streams.worker.runner import spawn_worker, stop_worker
from tests.helpers import free_ports

pytestmark = pytest.mark.integration

USER, PASSWORD = "streammon", "sasl-pw-5c2e91"


@pytest.fixture(scope="module")
def sasl_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A broker of this module's own, with a SASL_PLAINTEXT listener; its port."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not on PATH: apt-get install openjdk-17-jre-headless maven"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip("SKIPPING INTEGRATION TEST: " + reason)
    port, controller_port, sasl = free_ports(3)
    broker = KafkaBroker(
        tmp_path_factory.mktemp("sasl-broker"),
        port=port,
        controller_port=controller_port,
        heap="384m",
        libs_home=BrokerSettings().home,  # the jars of the usual local broker, fetched once
        sasl_port=sasl,
        sasl_users={USER: PASSWORD},
    )
    broker.start(timeout=120)
    yield sasl
    broker.stop()


def sasl_kafka(port: int, password: str = PASSWORD) -> KafkaSettings:
    kafka = KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{port}",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=USER,
        sasl_password=password,
        partitions=1,
    )
    return kafka.namespaced(f"sasl-{uuid.uuid4().hex[:8]}")


def prediction(i: int) -> dict:
    return {
        "model": "sasl-model",
        "model_version": "1",
        "prediction_id": f"p-{i}",
        "event_time": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
        "features": {"x": float(i % 7)},
        "prediction": i % 2,
        "score": 0.5,
    }


def test_the_commands_clients_authenticate(sasl_port: int) -> None:
    kafka = sasl_kafka(sasl_port)
    assert kafka.silences_topic in ensure_topics(kafka, timeout_s=30)  # kafka-python admin
    silence = create_silence(kafka, ['model="sasl-model"'], 600, "tester", "over SASL")  # producer
    assert [s.id for s in list_silences(kafka)] == [silence.id]  # consumer
    with Publisher(kafka) as publisher:
        publisher.send("predictions", prediction(0))
    assert list(read_latest(kafka, kafka.predictions_topic, decode=bytes)) == [b"sasl-model"]

    async def first_silence() -> bytes | None:
        messages = follow_topic(kafka, kafka.silences_topic)  # aiokafka
        try:
            key, _ = await asyncio.wait_for(anext(messages), 30)
            return key
        finally:
            await messages.aclose()  # stops the consumer, in this loop

    assert asyncio.run(first_silence()) == silence.id.encode()


def test_a_wrong_password_is_refused_without_being_shown(sasl_port: int) -> None:
    wrong = "wrong-" + PASSWORD
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        admin_client(sasl_kafka(sasl_port, wrong), timeout_s=1).close()
    said = str(caught.value)
    assert wrong not in said and PASSWORD not in said
    assert "refused the credentials of kafka.sasl_username" in said and "broker start" not in said
    assert time.monotonic() - started < 10  # within its timeout, not kafka-python's 30 s of bootstrap retries


def test_the_worker_authenticates(sasl_port: int, tmp_path: Path) -> None:
    kafka = sasl_kafka(sasl_port)
    settings = Settings(
        kafka=kafka,
        reference={"size": 50},
        window={"size": 50, "duration_s": 3600},
        workspace={"path": str(tmp_path / "workspace")},
        worker={"metrics_port": 0, "state_dir": str(tmp_path / "state"), "checkpoint_interval": 1, "batch_within_s": 0.2},
    )
    log_file = tmp_path / "worker.log"
    worker = spawn_worker(settings, tmp_path / "worker.yaml", log_file)
    try:
        with Publisher(kafka) as publisher:
            for i in range(20):
                publisher.send("predictions", prediction(i))
        deadline = time.monotonic() + 120
        # The worker consumed them (Faust's consumer) and published the model's status
        # with its checkpoint (Faust's producer).
        while not [s for s in model_statuses(kafka) if s.predictions == 20]:
            assert worker.poll() is None, f"the worker exited:\n{log_file.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no model status from the worker:\n{log_file.read_text()[-3000:]}"
            time.sleep(0.5)
        names = [partition_checkpoint(kafka.group_id, p) for p in range(kafka.partitions)]
        assert load_checkpoints(kafka, kafka.state_topic, names, StateKeys.of(settings.worker))
    finally:
        stop_worker(worker)
    log = log_file.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert PASSWORD not in log and PASSWORD not in (tmp_path / "worker.yaml").read_text()
