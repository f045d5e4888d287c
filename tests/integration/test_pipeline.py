"""End to end on the real broker: events in with kafka-python, reports, alerts and dead letters out."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from monitors.alerting.fingerprint import fingerprint
from streams.events import AlertEvent, DeadLetter, WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

REFERENCE = 1000
WINDOW = 500


def _produce(settings: Settings, topic: str, values: list[bytes], key: bytes | None = b"credit-risk") -> list[tuple[int, int]]:
    """Produce raw values; return each one's (partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    futures = [producer.send(topic, key=key, value=value) for value in values]
    producer.flush()
    coordinates = [(f.get(timeout=10).partition, f.get(timeout=10).offset) for f in futures]
    producer.close()
    return coordinates


def _stream(n: int, drift_at: int) -> list[dict[str, object]]:
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    return [e.prediction for e in synthetic_stream(n, drift_at, start, id_prefix=f"it{n}")]


def _metric(port: int, name: str, present: bool = False, **labels: str) -> float:
    """The sum of a metric's samples with these labels; with ``present``, NaN when there is none."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    total, found = 0.0, False
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found or not present else float("nan")


def test_drift_in_the_stream_ends_as_an_alert_only_after_the_drift(settings, start_worker, topic_reader, evidently_ui) -> None:
    settings = evidently_ui.settings_for(settings)
    drift_at = REFERENCE + 3 * WINDOW
    events = _stream(REFERENCE + 5 * WINDOW, drift_at)
    drift_time = datetime.fromisoformat(str(events[drift_at]["event_time"]))
    worker = start_worker(settings)
    _produce(settings, settings.kafka.predictions_topic, [orjson.dumps(e) for e in events])

    reader = topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic)

    def complete(records: dict[str, list]) -> bool:
        reports = [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]
        announced = sum(len(report.alerts) for report in reports)
        return len(reports) >= 5 and len(records[settings.kafka.alerts_topic]) >= announced

    records = reader.until(complete, 180, "5 window reports and the alerts they announce", worker)

    reports = sorted(
        (WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]), key=lambda r: r.window.index
    )
    assert [r.window.index for r in reports] == [0, 1, 2, 3, 4]
    assert all(r.window.events == WINDOW and r.reference_events == REFERENCE for r in reports)
    assert [r.drifted_features > 0 for r in reports] == [False, False, False, True, True]
    assert reports[3].window.start == drift_time
    assert {f.feature for f in reports[3].features if f.drifted} >= {"salary", "age"}

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
    assert sorted(a.fingerprint for a in alerts) == sorted(f for r in reports for f in r.alerts)
    assert all(a.window is not None and a.window.start >= drift_time for a in alerts), "an alert came from before the drift"
    # One alert per drifted feature, fired by the first drifted window and not repeated by the next.
    drift_alerts = {a.labels["feature"]: a for a in alerts if a.labels["kind"] == "data_drift"}
    assert set(drift_alerts) >= {"salary", "age"}
    assert {a.window.index for a in drift_alerts.values()} == {3}
    for alert in drift_alerts.values():
        assert alert.status == "firing" and alert.ends_at is None
        assert alert.labels["model"] == "credit-risk" and alert.labels["severity"] in ("warning", "critical")
        assert float(alert.annotations["value"]) < float(alert.annotations["threshold"]) < 0.01
        assert alert.annotations["method"] == "K-S p_value"
        assert alert.fingerprint == fingerprint(alert.labels)
    alert = drift_alerts["age"]
    # The workspace is one Evidently can serve: its UI lists one run per window.
    assert Path(alert.snapshot.workspace) == evidently_ui.workspace
    evidently_ui.reload(alert.snapshot.project_id)
    url = f"{evidently_ui.url}/api/projects/{alert.snapshot.project_id}/snapshots"
    runs = orjson.loads(urllib.request.urlopen(url, timeout=30).read())
    assert sorted(run["name"] for run in runs) == [f"credit-risk window {i}" for i in range(5)]
    assert alert.snapshot.snapshot_id in {run["id"] for run in runs}

    # Whoever follows the alert lands on Evidently's full report, plots included; a window that
    # changed no alert keeps its scores where the UI plots them over time, without plots.
    folder = Path(alert.snapshot.workspace) / alert.snapshot.project_id / "snapshots"
    wait_until(lambda: _stored(folder, alert.snapshot.snapshot_id).get("widgets"), 60, "the full report of the alert's window")
    assert reports[3].snapshot == alert.snapshot
    quiet = _stored(folder, reports[0].snapshot.snapshot_id)
    assert [w["id"] for w in quiet["widgets"]] == ["streammon-headline"]  # streammon's decision, no plots
    scores = {
        r["metric_value_location"]["metric"]["params"]["column"]: r["value"]
        for r in quiet["metric_results"].values()
        if r["metric_value_location"]["metric"]["params"]["type"] == "evidently:metric_v2:ValueDrift"
    }
    assert scores == {f.feature: f.score for f in [*reports[0].features, reports[0].prediction]}


def _stored(folder: Path, snapshot_id: str) -> dict[str, object]:
    """A run's snapshot as Evidently stored it; empty while it is being rewritten."""
    try:
        return orjson.loads((folder / f"{snapshot_id}.json").read_bytes())
    except orjson.JSONDecodeError:
        return {}


def test_bad_events_are_dead_lettered_with_their_error_and_the_worker_goes_on(settings, start_worker, topic_reader) -> None:
    kafka = settings.kafka
    worker = start_worker(settings)
    good = _stream(REFERENCE + WINDOW, drift_at=10**9)
    broken = {
        kafka.predictions_topic: [b"{not json", b'{"model": "credit-risk"}', b"\x00\xff\xfe"],
        kafka.features_topic: [
            b'{"model": "m", "prediction_id": "p", "event_time": "2026-01-01T00:00:00Z", "features": {"a": [1]}}'
        ],
        kafka.labels_topic: [b'{"prediction_id": "p", "event_time": "2026-01-01T00:00:00Z", "label": {"nested": 1}}'],
    }
    produced = {topic: _produce(settings, topic, values) for topic, values in broken.items()}
    _produce(settings, kafka.predictions_topic, [orjson.dumps(e) for e in good])

    reader = topic_reader(kafka.dead_letter_topic, kafka.reports_topic)
    records = reader.until(
        lambda r: len(r[kafka.dead_letter_topic]) >= 5 and len(r[kafka.reports_topic]) >= 1,
        120,
        "5 dead letters and a report",
        worker,
    )
    letters = [DeadLetter.model_validate_json(r.value) for r in records[kafka.dead_letter_topic]]
    by_coordinates = {(d.topic, d.partition, d.offset): d for d in letters}
    for topic, values in broken.items():
        for value, (partition, offset) in zip(values, produced[topic]):
            letter = by_coordinates[(topic, partition, offset)]
            assert letter.value_b64 and __import__("base64").b64decode(letter.value_b64) == value
    errors = {(d.topic, d.offset): d.error for d in letters}
    assert errors[(kafka.predictions_topic, produced[kafka.predictions_topic][0][1])].startswith("not valid JSON")
    assert "model_version: Field required" in errors[(kafka.predictions_topic, produced[kafka.predictions_topic][1][1])]
    assert "features.a: wrong type (list)" in errors[(kafka.features_topic, produced[kafka.features_topic][0][1])]
    assert "label: wrong type (dict)" in errors[(kafka.labels_topic, produced[kafka.labels_topic][0][1])]
    worker.assert_alive()
    report = WindowReport.model_validate_json(records[kafka.reports_topic][0].value)
    assert report.window.events == WINDOW


def test_every_produced_event_is_accounted_for(settings, start_worker) -> None:
    kafka = settings.kafka
    worker = start_worker(settings)
    good = _stream(REFERENCE + 2 * WINDOW + 123, drift_at=10**9)
    separate = good[::10]
    predictions = [orjson.dumps({**e, "features": {}} if e in separate else e) for e in good]
    features = [orjson.dumps({k: e[k] for k in ("model", "prediction_id", "event_time", "features")}) for e in separate]
    labels = [orjson.dumps({"prediction_id": e["prediction_id"], "event_time": e["event_time"], "label": 1}) for e in good]
    bad = [b"oops"] * 7
    _produce(settings, kafka.predictions_topic, predictions + bad)
    _produce(settings, kafka.features_topic, features)
    _produce(settings, kafka.labels_topic, labels)
    port = settings.worker.metrics_port

    produced = len(predictions) + len(bad) + len(features) + len(labels)

    def consumed() -> float:
        worker.assert_alive()
        try:
            return _metric(port, "streammon_events_total")
        except OSError:
            return 0.0

    def routed() -> float:
        return _metric(port, "streammon_rows_total")

    wait_until(lambda: consumed() >= produced and routed() >= len(good), 120, f"{produced} events counted")
    assert _metric(port, "streammon_events_total", outcome="dead_lettered") == len(bad)
    assert _metric(port, "streammon_events_total", topic=kafka.predictions_topic, outcome="accepted") == len(predictions)
    assert _metric(port, "streammon_events_total", topic=kafka.features_topic, outcome="accepted") == len(features)
    assert _metric(port, "streammon_events_total", topic=kafka.labels_topic, outcome="accepted") == len(labels)
    # Every prediction, joined to its features, went into the reference or a window.
    assert _metric(port, "streammon_rows_total", destination="reference") == REFERENCE
    assert _metric(port, "streammon_rows_total", destination="window") == len(good) - REFERENCE
    wait_until(lambda: _metric(port, "streammon_windows_closed_total") >= 2, 60, "2 windows closed")
    assert _metric(port, "streammon_windows_closed_total") == 2
    assert _metric(port, "streammon_join_pending") == 0
    assert _metric(port, "streammon_join_evicted") == 0
    # Caught up: nothing behind on any input partition, and what went out was acknowledged.
    wait_until(lambda: _metric(port, "streammon_messages_out_total", topic=kafka.reports_topic) >= 2, 60, "2 reports out")
    wait_until(lambda: _metric(port, "streammon_messages_out_total", topic=kafka.state_topic) >= 2, 60, "a checkpoint out")
    inputs = [
        (topic, str(p))
        for topic in (kafka.predictions_topic, kafka.features_topic, kafka.labels_topic)
        for p in range(kafka.partitions)
    ]

    def caught_up() -> bool:
        return all(_metric(port, "streammon_consumer_lag", topic=t, partition=p, present=True) == 0 for t, p in inputs)

    wait_until(caught_up, 30, "a consumer lag of 0 on every input partition")
    assert _metric(port, "streammon_consumer_lag") == 0
    assert _metric(port, "streammon_event_loop_lag_seconds_count") > 0


def test_a_quiet_models_window_closes_when_its_time_span_has_passed(settings, start_worker, topic_reader) -> None:
    settings = settings.model_copy(
        update={
            "window": settings.window.model_copy(update={"size": 100_000, "duration_s": 3.0}),
            "reference": settings.reference.model_copy(update={"size": 200}),
        }
    )
    now = datetime.now(UTC)
    events = _stream(250, drift_at=10**9)
    for i, event in enumerate(events):
        event["event_time"] = (now + timedelta(milliseconds=i)).isoformat()
    worker = start_worker(settings)
    _produce(settings, settings.kafka.predictions_topic, [orjson.dumps(e) for e in events])

    reader = topic_reader(settings.kafka.reports_topic)
    records = reader.until(lambda r: len(r[settings.kafka.reports_topic]) >= 1, 60, "a window closed by time", worker)

    report = WindowReport.model_validate_json(records[settings.kafka.reports_topic][0].value)
    assert report.window.closed_by == "time"
    assert report.window.events == 50
