"""A worker that is behind waits instead of evicting, on the real broker; and a far-future event moves no other clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from streams.admin import ensure_topics
from streams.events import ModelStatus
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, metric, produce, wait_until

pytestmark = pytest.mark.integration

MODEL = "backlog"
N = 3_000
LAG = 300  # each label comes this many predictions after its prediction, in event time
START = datetime(2026, 12, 1, tzinfo=UTC)


def backlog_settings(settings: Settings, **sections: object) -> Settings:
    base = settings.model_dump(mode="json", by_alias=True)
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}  # type: ignore[dict-item]
    return Settings.model_validate(base)


def prediction(i: int, features: bool = True) -> bytes:
    event: dict[str, object] = {
        "model": MODEL,
        "model_version": "1",
        "prediction_id": f"p{i}",
        "event_time": (START + timedelta(seconds=i)).isoformat(),
        "prediction": i % 3 == 0,
    }
    if features:
        event["features"] = {"x": float(i % 17), "colour": "red" if i % 2 else "blue"}
    return orjson.dumps(event)


def label(i: int) -> bytes:
    at = START + timedelta(seconds=i + LAG)
    return orjson.dumps({"prediction_id": f"p{i}", "model": MODEL, "event_time": at.isoformat(), "label": i % 2 == 0})


def statuses(reader: TopicReader, topic: str) -> list[ModelStatus]:
    return [ModelStatus.model_validate_json(r.value) for r in reader.records[topic]]  # type: ignore[attr-defined]


def test_a_backlog_of_predictions_and_labels_written_in_one_burst_joins_every_label(
    settings: Settings, start_worker: object, topic_reader: object
) -> None:
    settings = backlog_settings(
        settings,
        labels={"capacity": 100, "ttl": "1d"},
        online={"enabled": False},
        worker={"checkpoint_interval": "1s"},
    )
    kafka = settings.kafka
    ensure_topics(kafka)
    # Labels first: by record time they are the older input, as when a labelling job's backlog landed first.
    produce(kafka.bootstrap_servers, kafka.labels_topic, [label(i) for i in range(N)], key=MODEL.encode())
    produce(kafka.bootstrap_servers, kafka.predictions_topic, [prediction(i) for i in range(N)], key=MODEL.encode())
    worker: RunningWorker = start_worker(settings)  # type: ignore[operator]
    reader: TopicReader = topic_reader(kafka.model_status_topic)  # type: ignore[operator]
    reader.until(
        lambda records: any(s.joined == N for s in statuses(reader, kafka.model_status_topic)),
        timeout_s=120,
        what=f"every one of {N} labels joined",
        worker=worker,
    )
    final = next(s for s in statuses(reader, kafka.model_status_topic) if s.joined == N)
    assert (final.predictions, final.labels, final.evicted, final.expired, final.orphaned) == (N, N, 0, 0, 0)
    assert final.evicted_at is None
    assert "evicts" not in worker.log()


def test_a_backlog_of_predictions_and_their_features_written_in_one_burst_loses_no_prediction(
    settings: Settings, start_worker: object, topic_reader: object
) -> None:
    settings = backlog_settings(settings, worker={"join_capacity": 100, "checkpoint_interval": "1s"}, online={"enabled": False})
    kafka = settings.kafka
    ensure_topics(kafka)
    features = [
        orjson.dumps(
            {
                "model": MODEL,
                "prediction_id": f"p{i}",
                "event_time": (START + timedelta(seconds=i)).isoformat(),
                "features": {"x": float(i % 17), "colour": "red" if i % 2 else "blue"},
            }
        )
        for i in range(N)
    ]
    produce(kafka.bootstrap_servers, kafka.features_topic, features, key=MODEL.encode())
    produce(
        kafka.bootstrap_servers, kafka.predictions_topic, [prediction(i, features=False) for i in range(N)], key=MODEL.encode()
    )
    worker: RunningWorker = start_worker(settings)  # type: ignore[operator]
    port = settings.worker.metrics_port

    def routed() -> float:
        try:
            return metric(port, "streammon_rows_total", model=MODEL)
        except OSError:
            return 0.0

    wait_until(lambda: routed() == N, timeout_s=120, what=f"all {N} predictions joined with their features")
    worker.assert_alive()
    assert metric(port, "streammon_join_evicted") == 0
    assert metric(port, "streammon_join_pending") == 0


def test_an_event_far_in_the_future_is_dead_lettered_and_moves_no_other_models_windows(
    settings: Settings, start_worker: object, topic_reader: object
) -> None:
    settings = backlog_settings(
        settings, window={"size": 100, "duration_s": 3600}, reference={"size": 100}, online={"enabled": False}
    )
    kafka = settings.kafka
    ensure_topics(kafka)
    future = orjson.dumps(
        {
            "model": "other",
            "model_version": "1",
            "prediction_id": "f1",
            "event_time": "8999-01-01T00:00:00+00:00",
            "prediction": 1,
            "features": {"x": 1.0},
        }
    )
    soon = orjson.dumps(
        {
            "model": "other",
            "model_version": "1",
            "prediction_id": "f2",
            "event_time": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            "prediction": 1,
            "features": {"x": 1.0},
        }
    )
    values = [prediction(i) for i in range(100)] + [future, soon] + [prediction(i) for i in range(100, 400)]
    produce(kafka.bootstrap_servers, kafka.predictions_topic, values, key=b"same-partition")
    worker: RunningWorker = start_worker(settings)  # type: ignore[operator]
    reader: TopicReader = topic_reader(kafka.reports_topic, kafka.dead_letter_topic)  # type: ignore[operator]
    reports = lambda records: [orjson.loads(r.value) for r in records[kafka.reports_topic]]  # noqa: E731
    records = reader.until(
        lambda records: (
            len([r for r in reports(records) if r.get("model") == MODEL]) >= 3 and bool(records[kafka.dead_letter_topic])
        ),
        timeout_s=60,
        what="three windows of 100 and a dead letter",
        worker=worker,
    )
    windows = [r for r in reports(records) if r.get("model") == MODEL]
    # Every window closed by count, none cut short by the other model's clock.
    assert [(w["window"]["index"], w["window"]["events"], w["window"]["closed_by"]) for w in windows[:3]] == [
        (0, 100, "count"),
        (1, 100, "count"),
        (2, 100, "count"),
    ]
    letters = [orjson.loads(r.value) for r in records[kafka.dead_letter_topic]]  # type: ignore[attr-defined]
    assert len(letters) == 1 and "worker.max_future_skew" in letters[0]["error"] and "8999" in letters[0]["error"]
