"""A rebalance during a commit, on the real broker: a worker killed while it joins, and the one that stays.

A worker A reads alone; a worker B starts, and A is killed (SIGKILL) while it
joins the generation B's arrival began: after the group took its assignment,
before A read anything. B owns its partition, reads and checkpoints while the
dead A is still a member; A's session then ends, the group rebalances again
and B takes every partition over from A's checkpoints. B must live through it
all without an error, and every prediction must be counted once.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.events import ModelStatus, WindowReport
from streams.settings import Settings
from streams.synthetic import synthetic_stream
from tests.helpers import RunningWorker, TopicReader, free_port, metric, wait_until

pytestmark = pytest.mark.integration

MODELS = ("m0", "m1", "m2")  # model i is written to partition i
REFERENCE = 100
WINDOW = 50
# Per model: the reference and a window for A alone; windows closing in a burst while the
# dead A is still a member; more once the group has settled on B alone.
PARTS = (slice(0, REFERENCE + WINDOW + 10), slice(REFERENCE + WINDOW + 10, REFERENCE + 8 * WINDOW), slice(REFERENCE + 8 * WINDOW, REFERENCE + 10 * WINDOW))
START = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
FORBIDDEN = re.compile(r" ERROR |Task exception was never retrieved|Crashed")


def _produce(bootstrap: str, topic: str, part: slice) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    sent = 0
    try:
        for partition, model in enumerate(MODELS):
            stream = list(synthetic_stream(REFERENCE + 10 * WINDOW, 10**9, START, model_name=model, id_prefix=model))
            for event in stream[part]:
                producer.send(topic, key=model.encode(), value=orjson.dumps(event.prediction), partition=partition)
                sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def _counted(worker: RunningWorker, port: int) -> float:
    worker.assert_alive()
    try:
        return metric(port, "streammon_events_total", outcome="accepted")
    except OSError:
        return 0.0


def _statuses(records: dict[str, list[Any]], topic: str) -> dict[str, ModelStatus]:
    """The latest status of each model (one key, one partition: topic order is publication order)."""
    latest: dict[str, ModelStatus] = {}
    for record in records[topic]:
        status = ModelStatus.model_validate_json(record.value)
        latest[status.model] = status
    return latest


def test_a_worker_lives_through_a_member_killed_while_joining_and_counts_every_prediction_once(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    settings = settings.model_copy(
        update={
            "window": settings.window.model_copy(update={"size": WINDOW}),
            "reference": settings.reference.model_copy(update={"size": REFERENCE}),
            # Checkpoints (and their commits) every second: some fall in the rebalances.
            "worker": settings.worker.model_copy(update={"checkpoint_interval": 1.0}),
        }
    )
    kafka = settings.kafka
    group = kafka.group_id
    started = time.monotonic()

    first = start_worker(settings)
    produced = _produce(bootstrap_servers, kafka.predictions_topic, PARTS[0])
    wait_until(lambda: _counted(first, settings.worker.metrics_port) >= produced, 60, "the first worker read part one")

    second_settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"metrics_port": free_port()})})
    second = start_worker(second_settings)
    # The generation B's arrival began: once A has its assignment, it is killed before it reads.
    wait_until(
        lambda: f"Successfully synced group {group} with generation 2\n" in first.log(),
        60,
        "the first worker synced the group's second generation",
        poll_s=0.01,
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    killed = time.monotonic()
    produced += _produce(bootstrap_servers, kafka.predictions_topic, PARTS[1])

    reader = topic_reader(kafka.model_status_topic, kafka.reports_topic)

    def counted(n_per_model: int) -> Callable[[dict[str, list[Any]]], bool]:
        def check(records: dict[str, list[Any]]) -> bool:
            latest = _statuses(records, kafka.model_status_topic)
            return all(model in latest and latest[model].predictions >= n_per_model for model in MODELS)

        return check

    reader.until(counted(PARTS[1].stop), 90, "every model's status counting part two", second)
    settled = time.monotonic()
    # The group has settled on B alone: it keeps reading.
    assert f"Successfully synced group {group} with generation 3\n" in second.log(), second.log()[-3000:]
    produced += _produce(bootstrap_servers, kafka.predictions_topic, PARTS[2])
    records = reader.until(counted(PARTS[2].stop), 60, "every model's status counting part three", second)
    records = reader.until_end(30, "everything written so far", second)

    second.assert_alive()
    log = second.log()
    assert not FORBIDDEN.findall(log), [line for line in log.splitlines() if FORBIDDEN.search(line)]
    # Every prediction counted once: a count carried in the state from worker to worker, checkpoint to checkpoint.
    latest = _statuses(records, kafka.model_status_topic)
    assert {model: latest[model].predictions for model in MODELS} == dict.fromkeys(MODELS, PARTS[2].stop)
    assert produced == len(MODELS) * PARTS[2].stop
    # Every window reported, a repeat (published again after the hand-over) saying the same.
    by_key: dict[str, set[bytes]] = {}
    for record in records[kafka.reports_topic]:
        report = WindowReport.model_validate_json(record.value)
        if report.key.endswith("/drift/v1"):
            by_key.setdefault(report.key, set()).add(orjson.dumps(report.model_dump(mode="json", exclude={"snapshot", "alerts"})))
    assert len(by_key) == len(MODELS) * 10 and all(len(contents) == 1 for contents in by_key.values())
    refused = log.count("not committed, committed at the next")
    print(f"killed at {killed - started:.1f} s, settled {settled - killed:.1f} s later; commits refused: {refused}")
