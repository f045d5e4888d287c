"""The CLI's Kafka commands against the real broker: publish and alerts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from monitors.alerting.fingerprint import fingerprint
from streams.admin import ensure_topics
from streams.codec import encode
from streams.events import AlertEvent, Window
from streams.settings import Settings
from streams.worker.runner import spawn_worker, stop_worker
from tests.helpers import wait_until

pytestmark = pytest.mark.integration


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    kafka = settings.kafka
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMMON_")}
    env.update(
        STREAMMON_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        STREAMMON_KAFKA__PREDICTIONS_TOPIC=kafka.predictions_topic,
        STREAMMON_KAFKA__LABELS_TOPIC=kafka.labels_topic,
        STREAMMON_KAFKA__ALERTS_TOPIC=kafka.alerts_topic,
        STREAMMON_KAFKA__SILENCES_TOPIC=kafka.silences_topic,
        COLUMNS="200",
    )
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=120, env=env)


def read_all(settings: Settings, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values = [m.value for m in consumer]
    consumer.close()
    return values


def test_publish_replays_a_csv_file_into_the_predictions_topic(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings.kafka)
    path = tmp_path / "predictions.csv"
    pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(1200)],
            "event_time": ["2026-11-24T12:00:00Z"] * 1200,
            "prediction": [i % 2 for i in range(1200)],
            "age": [float(i % 70) for i in range(1200)],
        }
    ).to_csv(path, index=False)

    result = cli(settings, "publish", str(path), "--kind", "predictions", "--model", "churn", "--model-version", "2")

    assert result.returncode == 0, result.stderr
    assert "published 1200 predictions events" in result.stderr
    values = read_all(settings, settings.kafka.predictions_topic)
    assert len(values) == 1200
    first = orjson.loads(sorted(values, key=lambda v: int(orjson.loads(v)["prediction_id"][1:]))[0])
    assert first["model"] == "churn" and first["model_version"] == "2" and first["features"] == {"age": 0.0}


def test_publish_refuses_an_invalid_event_unless_told_not_to_validate(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings.kafka)
    path = tmp_path / "labels.jsonl"
    path.write_text('{"prediction_id": "p1", "event_time": "2026-11-24T12:00:00Z", "label": [1]}\n')

    refused = cli(settings, "publish", str(path), "--kind", "labels")
    assert refused.returncode == 1 and "not a valid labels event" in refused.stderr
    assert "Traceback" not in refused.stderr

    sent = cli(settings, "publish", str(path), "--kind", "labels", "--no-validate")
    assert sent.returncode == 0, sent.stderr
    assert len(read_all(settings, settings.kafka.labels_topic)) == 1


def test_alerts_shows_each_alert_readably(settings: Settings) -> None:
    ensure_topics(settings.kafka)
    labels = {"model": "churn", "kind": "data_drift", "feature": "age", "severity": "critical"}
    alert = AlertEvent(
        fingerprint=fingerprint(labels),
        status="firing",
        labels=labels,
        annotations={
            "summary": "churn: age drifted (K-S p_value 1e-12, threshold 0.003)",
            "runbook_url": "https://runbooks.example/data_drift",
        },
        starts_at=datetime(2026, 11, 24, 12, 6, tzinfo=UTC),
        ends_at=None,
        window=Window(
            index=7,
            start=datetime(2026, 11, 24, 12, tzinfo=UTC),
            end=datetime(2026, 11, 24, 12, 5, tzinfo=UTC),
            events=1000,
            closed_by="count",
        ),
        snapshot=None,
    )
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    producer.send(settings.kafka.alerts_topic, key=alert.fingerprint.encode(), value=encode(alert))
    producer.send(settings.kafka.alerts_topic, value=b"not an alert")
    producer.flush()
    producer.close()

    result = cli(settings, "alerts", "--from-beginning", "--no-follow")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CRITICAL" in out and "churn" in out and "data_drift" in out and "feature=age" in out
    assert "churn: age drifted (K-S p_value 1e-12, threshold 0.003)" in out
    assert "window 7: 2026-11-24 12:00:00 → 12:05:00 UTC, 1000 events" in out
    assert "since 2026-11-24 12:06:00 UTC" in out and alert.fingerprint in out
    assert "runbook https://runbooks.example/data_drift" in out
    assert cli(settings, "alerts", "--from-beginning", "--no-follow", "--match", 'model="other"').stdout.strip() == ""
    assert alert.fingerprint in cli(settings, "alerts", "--from-beginning", "--no-follow", "-m", "severity=~crit.*").stdout
    firing = cli(settings, "alerts", "firing")
    assert firing.returncode == 0 and alert.fingerprint in firing.stdout and "1 alerts firing" in firing.stderr


def test_silences_are_created_listed_and_expired_from_the_cli(settings: Settings) -> None:
    ensure_topics(settings.kafka)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = cli(settings, *args)
        assert result.returncode == 0, result.stderr
        return result

    created = run(
        "alerts",
        "silence",
        "-m",
        'model="churn"',
        "-m",
        "kind=data_drift",
        "--duration",
        "2h",
        "--author",
        "ana",
        "--comment",
        "retraining",
    )
    silence_id = created.stdout.strip().splitlines()[-1]
    listed = run("alerts", "silences").stdout
    assert silence_id in listed and 'model="churn"' in listed and "active" in listed and "ana" in listed

    run("alerts", "unsilence", silence_id)
    assert silence_id not in run("alerts", "silences").stdout
    everything = run("alerts", "silences", "--all").stdout
    assert silence_id in everything and "expired" in everything

    refused = cli(settings, "alerts", "silence", "--duration", "1h")
    assert refused.returncode == 2 and "at least one matcher" in refused.stderr
    unknown = cli(settings, "alerts", "unsilence", "no-such-id")
    assert unknown.returncode == 1 and "no silence no-such-id" in unknown.stderr


def test_the_worker_logs_one_json_object_per_line(settings, tmp_path) -> None:
    """`--log-format json`: the worker's records and its libraries' (Faust, aiokafka), nothing else on the stream."""
    ensure_topics(settings.kafka)
    log_file = tmp_path / "worker.log"
    worker = spawn_worker(settings, tmp_path / "worker.yaml", log_file, log_format="json")
    try:
        wait_until(lambda: "no checkpoint, starting fresh" in log_file.read_text(), 60, "the worker's partitions assigned")
    finally:
        stop_worker(worker)
    entries = [orjson.loads(line) for line in log_file.read_text().splitlines()]
    assert {"streams.worker.partitions", "aiokafka.consumer.group_coordinator"} <= {entry["logger"] for entry in entries}
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
