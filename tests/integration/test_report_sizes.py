"""Reports, alerts and notifications fit their topics whatever values they quote (real broker)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest
from kafka.admin import NewTopic

from streams.admin import admin_client
from streams.events import AlertEvent, WindowReport
from tests.helpers import metric, wait_until
from tests.integration.test_alerting import (
    REFERENCE,
    START,
    WINDOW,
    Stream,
    alerting_settings,
    notifications_topic,
    produce,
    reader_for,
    settled,
)

pytestmark = pytest.mark.integration

HUGE = 990_000  # characters of one categorical value: an input message stays under 1,000,000 bytes
LIMIT = 1_000_000  # the worker producer's max_request_size (its default)
PLANS = ["free", "pro", "team"]


def events(rng: np.random.Generator) -> list[bytes]:
    """A reference, then one window where a tenth of the plans are distinct values of 990 kB each."""
    out = []
    for i in range(REFERENCE + WINDOW):
        plan = str(rng.choice(PLANS))
        if i >= REFERENCE and (i - REFERENCE) % 10 == 0:
            plan = chr(ord("a") + (i - REFERENCE) // 10) * HUGE
        event = {
            "model": "sizes",
            "model_version": "1",
            "prediction_id": f"sizes-{i}",
            "event_time": (START + timedelta(seconds=i)).isoformat(),
            "features": {"f00": float(rng.normal()), "plan": plan},
            "prediction": 0,
        }
        out.append(orjson.dumps(event))
    assert max(len(e) for e in out) < LIMIT
    return out


def test_a_window_quoting_values_of_990_kb_is_reported_alerted_and_notified(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    worker = start_worker(settings)
    produce(settings, events(np.random.default_rng(25)), b"sizes")

    reader = reader_for(topic_reader, settings)
    records = reader.until(settled(settings, 1), 180, "the window's report and its alerts", worker)
    [record] = records[settings.kafka.reports_topic]
    assert len(record.key) + len(record.value) < LIMIT // 10  # the values are quoted, not copied
    report = WindowReport.model_validate_json(record.value)
    [unseen] = [q for q in report.quality if (q.check, q.feature) == ("unseen_categories", "plan")]
    assert "(989,920 more characters)" in unseen.summary

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
    [alert] = [a for a in alerts if a.labels["kind"] == "unseen_categories"]
    assert alert.status == "firing" and alert.fingerprint in report.alerts
    assert "more characters" in alert.annotations["summary"] and len(alert.annotations["summary"]) < 1_000

    topic = notifications_topic(settings)
    records = reader.until(
        lambda r: any(orjson.loads(n.value)["groupLabels"].get("kind") == "unseen_categories" for n in r[topic]),
        60,
        "the unseen categories' notification",
        worker,
    )
    assert all(len(n.value) < LIMIT // 10 for n in records[topic])
    assert metric(settings.worker.metrics_port, "streammon_messages_too_large_total") == 0
    worker.assert_alive()


def test_reports_the_broker_refuses_as_too_large_are_dropped_once_and_the_worker_goes_on(
    settings, start_worker, topic_reader
) -> None:
    settings = alerting_settings(settings)
    # A reports topic whose own limit is below any report: the producer's check passes, the broker refuses.
    admin = admin_client(settings.kafka)
    try:
        admin.create_topics(
            [
                NewTopic(
                    settings.kafka.reports_topic,
                    num_partitions=settings.kafka.partitions,
                    replication_factor=settings.kafka.replication_factor,
                    topic_configs={"max.message.bytes": "200"},
                )
            ]
        )
    finally:
        admin.close()
    worker = start_worker(settings)
    stream = Stream("refused")
    produce(settings, stream.rows(REFERENCE) + stream.windows(0, 0, 0), b"refused")

    port = settings.worker.metrics_port

    def refused() -> float:
        try:
            return metric(port, "streammon_messages_too_large_total", topic=settings.kafka.reports_topic)
        except OSError:
            return 0.0

    wait_until(lambda: refused() >= 3, 120, "the three windows' reports refused")
    worker.assert_alive()
    log = worker.log()
    for index in range(3):
        assert log.count(f"refused window {index}: report not published, dropped") == 1, log[-3000:]
    assert "MessageSizeTooLarge" in log  # the broker's refusal, named
    assert "Task exception was never retrieved" not in log
    reader = topic_reader(settings.kafka.reports_topic)
    assert reader.collect_for(2)[settings.kafka.reports_topic] == []
