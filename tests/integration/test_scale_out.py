"""Scale-out on the real broker: two workers in one group give the results one worker gives.

The same input is read twice, by two consumer groups that write to topics of their own:
once by a single worker, and once by a worker that is joined by a second one halfway
through, when every model has a window open. The partitions split between the two, the
moved partitions' state (open windows, references, alert lifecycles) is handed over
through its checkpoint, and the window reports and alerts of both runs must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streams.events import AlertEvent, WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, free_port, metric, wait_until

pytestmark = pytest.mark.integration

WINDOW = 400
REFERENCE = 400
WINDOWS = 4
# Model i is written to partition i; two of the three drift (salary and age shift) from a window on.
DRIFT_FROM = {"m0": 2, "m1": None, "m2": 1}
# Part one ends inside window 1 of every model: the hand-over carries open windows.
SPLIT = REFERENCE + WINDOW + WINDOW // 2


def _events(model: str) -> list[bytes]:
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    drift = DRIFT_FROM[model]
    drift_at = REFERENCE + drift * WINDOW if drift is not None else 10**9
    stream = synthetic_stream(REFERENCE + WINDOWS * WINDOW, drift_at, start, model_name=model, id_prefix=model)
    return [orjson.dumps(event.prediction) for event in stream]


def _produce(bootstrap: str, topic: str, part: slice) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    sent = 0
    try:
        for partition, model in enumerate(DRIFT_FROM):
            for value in _events(model)[part]:
                producer.send(topic, key=model.encode(), value=value, partition=partition)
                sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def _run_settings(settings: Settings, run: str) -> Settings:
    """The same input topics, but a group and outputs of this run's own."""
    kafka = settings.kafka
    own = kafka.namespaced(f"{kafka.predictions_topic.rsplit('.', 1)[0]}-{run}")
    kafka = own.model_copy(
        update={
            "predictions_topic": kafka.predictions_topic,
            "features_topic": kafka.features_topic,
            "labels_topic": kafka.labels_topic,
        }
    )
    return settings.model_copy(
        update={
            "kafka": kafka,
            "window": settings.window.model_copy(update={"size": WINDOW}),
            "reference": settings.reference.model_copy(update={"size": REFERENCE}),
            "worker": settings.worker.model_copy(update={"metrics_port": free_port(), "checkpoint_interval": 2.0}),
        }
    )


def _results(
    reader: TopicReader, settings: Settings, worker: Callable[[], None]
) -> tuple[dict[str, Any], set[tuple[str, str, int | None]]]:
    """Every window report by key (duplicates must be identical) and every alert change, once all windows are reported."""
    kafka = settings.kafka
    expected = len(DRIFT_FROM) * WINDOWS

    def reports(records: dict[str, list[Any]]) -> dict[str, Any]:
        by_key: dict[str, Any] = {}
        for record in records[kafka.reports_topic]:
            report = WindowReport.model_validate_json(record.value)
            if report.key.endswith("/drift/v1"):
                content = report.model_dump(mode="json", exclude={"snapshot"})
                assert by_key.setdefault(report.key, content) == content, f"a repeated report of {report.key} differs"
        return by_key

    def complete(records: dict[str, list[Any]]) -> bool:
        worker()
        return len(reports(records)) >= expected

    records = reader.until(complete, 240, f"{expected} window reports")
    records = reader.until_end(30, "every result written so far")
    alerts = {
        (event.fingerprint, event.status, event.window.index if event.window else None)
        for event in (AlertEvent.model_validate_json(r.value) for r in records[kafka.alerts_topic])
    }
    return reports(records), alerts


def test_two_workers_in_one_group_give_the_results_of_one(settings, start_worker, bootstrap_servers) -> None:
    topic = settings.kafka.predictions_topic
    single, pair = _run_settings(settings, "single"), _run_settings(settings, "pair")

    # One worker over the whole input, in a group of its own; it runs alongside the pair (the runs
    # share nothing but the input topics), so that neither waits for the other to start or finish.
    alone = start_worker(single)
    # Two workers: the first reads part one alone, then a second joins the group.
    first = start_worker(pair)
    half = _produce(bootstrap_servers, topic, slice(0, SPLIT))
    port = pair.worker.metrics_port
    wait_until(lambda: _accepted(first, port, topic) >= half, 120, f"the first worker read part one ({half} events)")
    second_settings = pair.model_copy(update={"worker": pair.worker.model_copy(update={"metrics_port": free_port()})})
    second = start_worker(second_settings)
    wait_until(lambda: "resumed from checkpoint" in second.log(), 120, "the second worker restored a partition's state")
    wait_until(lambda: "handed over" in first.log(), 30, "the first worker handed partitions over")
    _produce(bootstrap_servers, topic, slice(SPLIT, None))

    pair_reader = TopicReader(bootstrap_servers, pair.kafka.reports_topic, pair.kafka.alerts_topic)
    try:
        pair_reports, pair_alerts = _results(pair_reader, pair, lambda: (first.assert_alive(), second.assert_alive()))
    finally:
        pair_reader.close()

    single_reader = TopicReader(bootstrap_servers, single.kafka.reports_topic, single.kafka.alerts_topic)
    try:
        single_reports, single_alerts = _results(single_reader, single, alone.assert_alive)
    finally:
        single_reader.close()

    assert pair_reports == single_reports
    assert pair_alerts == single_alerts
    drifted = {key.split("/")[0] for key, report in single_reports.items() if report["drifted_features"]}
    assert drifted == {"m0", "m2"}
    assert {status for _, status, _ in single_alerts} == {"firing"}


def _accepted(worker: RunningWorker, port: int, topic: str) -> float:
    worker.assert_alive()
    try:
        return metric(port, "streammon_events_total", topic=topic, outcome="accepted")
    except OSError:
        return 0.0
