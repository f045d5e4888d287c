"""A commit refused by a rebalance, on the real broker: a member killed while it joins, and the worker that stays.

Worker A reads alone. Worker B starts; A is killed (SIGKILL) while it joins the
generation B's arrival began: the group has its assignment, A has read nothing
of it. B owns its partition and checkpoints every second while the dead A is
still a member. A's session (10 s) ends and the group rebalances; B's hand-over
waits for its window analyses (queued, their process held as a slow one would
be) for longer than the group waits for B to join again (the rebalance timeout,
10 s), so the group drops B and refuses B's next commit (UnknownMemberIdError).
B must live through it without an error, take every partition over from the
checkpoints, keep reading, and count every prediction once.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.events import ModelStatus, WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, analysis_processes, free_port, metric_so_far, wait_until

pytestmark = pytest.mark.integration

MODELS = ("m0", "m1", "m2")  # model i is written to partition i
REFERENCE = 100
WINDOW = 50
WINDOWS = 10
# Per model: the reference and part of window 0 for A alone (no analysis to wait for in its
# hand-over); a burst closing eight windows once A is dead; the last two once the group has
# settled on B alone.
CUTS = (REFERENCE + 20, REFERENCE + 8 * WINDOW, REFERENCE + WINDOWS * WINDOW)
FORBIDDEN = re.compile(r" ERROR |Task exception was never retrieved|Crashed")


def _produce(bootstrap: str, topic: str, part: slice) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for partition, model in enumerate(MODELS):
            start = datetime(2026, 11, 30, 9, tzinfo=UTC)
            stream = list(synthetic_stream(CUTS[-1], 10**9, start, model_name=model, id_prefix=model))
            for event in stream[part]:
                producer.send(topic, key=model.encode(), value=orjson.dumps(event.prediction), partition=partition)
        producer.flush()
    finally:
        producer.close()


def _running(worker: RunningWorker) -> None:
    """Fail at once when the worker exited or crashed (a crashed Faust app takes a while to exit)."""
    worker.assert_alive()
    assert "Crashed" not in worker.log(), worker.log()[-4000:]


def _statuses(records: dict[str, list[Any]], topic: str) -> dict[str, ModelStatus]:
    """The latest status of each model (one key, one partition: topic order is publication order)."""
    latest: dict[str, ModelStatus] = {}
    for record in records[topic]:
        status = ModelStatus.model_validate_json(record.value)
        latest[status.model] = status
    return latest


def test_a_worker_lives_through_a_commit_refused_after_a_member_died_joining_and_counts_every_prediction_once(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    settings = settings.model_copy(
        update={
            "window": settings.window.model_copy(update={"size": WINDOW}),
            "reference": settings.reference.model_copy(update={"size": REFERENCE}),
            # Checkpoints, and their commits, every second: one falls after the group dropped B.
            "worker": settings.worker.model_copy(update={"checkpoint_interval": 1.0, "analysis_processes": 1}),
        }
    )
    kafka = settings.kafka
    group = kafka.group_id

    first = start_worker(settings)
    _produce(bootstrap_servers, kafka.predictions_topic, slice(0, CUTS[0]))
    wait_until(
        lambda: (
            metric_so_far(first, settings.worker.metrics_port, "streammon_events_total", outcome="accepted")
            >= len(MODELS) * CUTS[0]
        ),
        60,
        "the first worker read part one",
    )

    second = start_worker(
        settings.model_copy(update={"worker": settings.worker.model_copy(update={"metrics_port": free_port()})})
    )
    # A hands its partitions over and joins the second generation; once the group has its
    # assignment, and before A reads, A is killed.
    wait_until(
        lambda: f"Successfully synced group {group} with generation 2\n" in first.log(), 60, "the second generation", poll_s=0.01
    )
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    _produce(bootstrap_servers, kafka.predictions_topic, slice(CUTS[0], CUTS[1]))

    # B's analyses of the windows the burst closes stay queued: its analysis process is held.
    wait_until(lambda: _running(second) or bool(analysis_processes(second)), 60, "the second worker's analysis process")
    (analyser,) = analysis_processes(second)
    os.kill(analyser, signal.SIGSTOP)
    try:
        refused = f"OffsetCommit failed for group {group} due to group error ([Error 25] UnknownMemberIdError"
        wait_until(lambda: _running(second) or refused in second.log(), 60, "the group to refuse a commit of B's")
    finally:
        os.kill(analyser, signal.SIGCONT)

    reader = topic_reader(kafka.model_status_topic, kafka.reports_topic)

    def counted(per_model: int) -> Callable[[dict[str, list[Any]]], bool]:
        def check(records: dict[str, list[Any]]) -> bool:
            _running(second)
            latest = _statuses(records, kafka.model_status_topic)
            return all(model in latest and latest[model].predictions >= per_model for model in MODELS)

        return check

    reader.until(counted(CUTS[1]), 90, "every model's status counting part two", second)
    # The group has settled on B alone, and B keeps reading.
    _produce(bootstrap_servers, kafka.predictions_topic, slice(CUTS[1], CUTS[2]))
    reader.until(counted(CUTS[2]), 60, "every model's status counting part three", second)
    records = reader.until_end(30, "everything written so far", second)

    _running(second)
    log = second.log()
    assert not FORBIDDEN.findall(log), [line for line in log.splitlines() if FORBIDDEN.search(line)]
    assert re.search(r" WARNING streams\.worker\.partitions: offsets of checkpoint \d+ of partition \d not committed", log)
    # Every prediction counted once: a count the state carries from worker to worker, checkpoint to checkpoint.
    latest = _statuses(records, kafka.model_status_topic)
    assert {model: latest[model].predictions for model in MODELS} == dict.fromkeys(MODELS, CUTS[2])
    # Every window reported; one reported again after a hand-over says the same.
    contents: dict[str, set[bytes]] = {}
    for record in records[kafka.reports_topic]:
        report = WindowReport.model_validate_json(record.value)
        if report.key.endswith("/drift/v1"):
            contents.setdefault(report.key, set()).add(
                orjson.dumps(report.model_dump(mode="json", exclude={"snapshot", "alerts"}))
            )
    assert len(contents) == len(MODELS) * WINDOWS and all(len(c) == 1 for c in contents.values())
