"""On the real broker: a checkpoint written to the state topic by anyone but a worker holding the key is never unpickled."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from streams.compacted import read_latest
from streams.events import ModelStatus
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from streams.worker.checkpoint import StateKeys, dump, pack, partition_checkpoint
from streams.worker.runner import stop_worker
from tests.helpers import RunningWorker, TopicReader, free_port, metric, produce, wait_until

pytestmark = pytest.mark.integration

KEY = "the workers' key, from a vault, 32+ characters"
MODEL_KEY = b"credit-risk"
EVENTS = 20


class Forged:
    """What an attacker puts in a checkpoint: unpickling it runs code (here, makes a directory)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def keyed(settings: Settings, **worker: object) -> Settings:
    return settings.model_copy(
        update={
            "worker": settings.worker.model_validate(
                {**settings.worker.model_dump(), "state_keys": [KEY], "checkpoint_interval": 1.0, **worker}
            )
        }
    )


def test_a_tampered_checkpoint_on_the_state_topic_is_refused(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    tmp_path: Path,
) -> None:
    kafka = settings.kafka
    first = start_worker(keyed(settings))
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    events = [e.prediction for e in synthetic_stream(EVENTS, EVENTS, start, id_prefix="tamper")]
    [(partition, _), *_] = produce(
        kafka.bootstrap_servers, kafka.predictions_topic, [orjson.dumps(e) for e in events], key=MODEL_KEY
    )
    statuses = topic_reader(kafka.model_status_topic)
    statuses.until(
        lambda records: any(
            ModelStatus.model_validate_json(r.value).predictions == EVENTS for r in records[kafka.model_status_topic]
        ),
        120,
        "a checkpoint holding the events (its model status)",
        first,
    )
    stop_worker(first.process)
    assert "state_keys (STREAMMON_WORKER__STATE_KEYS) is not set" not in first.log()

    # Someone who can write the state topic replaces the partition's checkpoint: a newer generation,
    # chunks and checksum consistent, signed with a key of their own.
    name = partition_checkpoint(kafka.group_id, partition)
    manifest = orjson.loads(read_latest(kafka, kafka.state_topic, decode=bytes)[f"{name}/manifest".encode()])
    assert manifest["format"] == 2 and manifest["signature"]
    marker = tmp_path / "code-ran"
    forged = pack(dump(Forged(marker)), name, manifest["generation"] + 1, StateKeys((b"the attacker's own key, long enough",)))
    for key, value in forged:
        produce(kafka.bootstrap_servers, kafka.state_topic, [value], key=key)

    port = free_port()
    second = start_worker(keyed(settings, metrics_port=port))
    wait_until(lambda: f"partition {partition} not started" in second.log(), 90, "the refusal in the worker's log")
    line = next(line for line in second.log().splitlines() if f"partition {partition} not started" in line)
    assert "none of worker.state_keys (STREAMMON_WORKER__STATE_KEYS) verifies" in line
    wait_until(lambda: _refused(port, partition) == 1, 30, "the refusal counted")
    assert not marker.exists(), "the forged checkpoint was unpickled"
    # The other partitions' signed checkpoints are restored; the worker runs on.
    others = sorted(set(range(kafka.partitions)) - {partition})
    wait_until(
        lambda: all(re.search(rf"partition {p}: resumed from checkpoint \d+", second.log()) for p in others),
        30,
        "the other partitions resumed from their signed checkpoints",
    )
    # Until someone acts, the forged checkpoint stays as it is (evidence), while the others are checkpointed on.
    wait_until(
        lambda: _generation(settings, partition_checkpoint(kafka.group_id, others[0])) > manifest["generation"] + 1,
        30,
        "a later checkpoint of another partition",
    )
    assert _generation(settings, name) == manifest["generation"] + 1
    # The refused partition's input is not read: of new events there and on another partition, read
    # after them, only the other partition's are applied.
    more = [orjson.dumps(e.prediction) for e in synthetic_stream(10, 10, start, id_prefix="after")]
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        for i, value in enumerate(more):
            producer.send(kafka.predictions_topic, key=MODEL_KEY, value=value, partition=partition if i < 5 else others[0])
        producer.flush()
    finally:
        producer.close()
    applied = lambda: metric(port, "streammon_events_total", topic=kafka.predictions_topic, outcome="accepted")  # noqa: E731
    wait_until(lambda: applied() >= 5, 30, "the other partition's new events applied")
    assert applied() == 5
    paused = {
        topic: metric(port, "streammon_inputs_paused", topic=topic, partition=str(partition), reason="refused")
        for topic in (kafka.predictions_topic, kafka.features_topic, kafka.labels_topic)
    }
    assert paused == dict.fromkeys(paused, 1.0)
    assert metric(port, "streammon_inputs_paused", partition=str(others[0]), reason="refused") == 0
    second.assert_alive()
    assert not marker.exists()


def test_a_worker_without_a_key_says_what_it_risks(settings: Settings, start_worker: Callable[[Settings], RunningWorker]) -> None:
    worker = start_worker(settings)
    expected = (
        f"worker.state_keys (STREAMMON_WORKER__STATE_KEYS) is not set: checkpoints on {settings.kafka.state_topic} are "
        "written unsigned and restored without verification, so whoever can write to that topic can run code in this worker"
    )
    wait_until(lambda: expected in worker.log(), 60, "the warning at start")
    worker.assert_alive()


def _refused(port: int, partition: int) -> float:
    try:
        return metric(port, "streammon_checkpoints_refused_total", partition=str(partition), reason="bad_signature")
    except OSError:
        return -1.0  # not serving yet


def _generation(settings: Settings, name: str) -> int:
    manifest = read_latest(settings.kafka, settings.kafka.state_topic, decode=bytes).get(f"{name}/manifest".encode())
    return int(orjson.loads(manifest)["generation"]) if manifest is not None else -1
