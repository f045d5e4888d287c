"""A prediction id sent twice, on the real broker: the first event stands, a resend is counted, a conflict dead-lettered."""

from __future__ import annotations

import orjson
import pytest

from streams.admin import ensure_topics
from streams.events import ModelStatus
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, metric, produce
from tests.integration.test_backpressure import MODEL, backlog_settings, prediction

pytestmark = pytest.mark.integration


def test_a_resend_is_counted_once_and_a_conflicting_event_is_dead_lettered(
    settings: Settings, start_worker: object, topic_reader: object
) -> None:
    settings = backlog_settings(
        settings,
        window={"size": 100, "duration_s": 3600},
        reference={"size": 100},
        online={"enabled": False},
        worker={"checkpoint_interval": "1s"},
    )
    kafka = settings.kafka
    ensure_topics(kafka)
    conflicting = orjson.loads(prediction(160))
    conflicting["prediction"] = not conflicting["prediction"]
    values = (
        [prediction(i) for i in range(155)]
        + [prediction(150), orjson.dumps(conflicting)]
        + [prediction(i) for i in range(155, 300)]
    )
    produce(kafka.bootstrap_servers, kafka.predictions_topic, values, key=MODEL.encode())
    worker: RunningWorker = start_worker(settings)  # type: ignore[operator]
    reader: TopicReader = topic_reader(kafka.reports_topic, kafka.dead_letter_topic, kafka.model_status_topic)  # type: ignore[operator]

    def status() -> ModelStatus | None:
        latest = [ModelStatus.model_validate_json(r.value) for r in reader.records[kafka.model_status_topic]]  # type: ignore[attr-defined]
        return latest[-1] if latest else None

    def windows() -> list[dict[str, object]]:
        reports = [orjson.loads(r.value) for r in reader.records[kafka.reports_topic]]  # type: ignore[attr-defined]
        return [r["window"] for r in reports if r.get("kind") == "drift" and "/*/" in r["key"]]

    reader.until(
        lambda records: len(windows()) >= 2 and (s := status()) is not None and s.predictions == 300,
        timeout_s=90,
        what="two windows and every prediction counted",
        worker=worker,
    )
    # Windows count the first event of each id only: 300 distinct ids less the reference's 100.
    assert [(w["index"], w["events"]) for w in windows()[:2]] == [(0, 100), (1, 100)]
    final = status()
    assert final is not None and (final.predictions, final.resent_predictions, final.conflicting_predictions) == (300, 1, 1)
    letters = [orjson.loads(r.value) for r in reader.records[kafka.dead_letter_topic]]  # type: ignore[attr-defined]
    assert len(letters) == 1
    assert "'p160'" in letters[0]["error"] and "other content" in letters[0]["error"], letters[0]["error"]
    port = settings.worker.metrics_port
    assert metric(port, "streammon_duplicate_predictions_total", model=MODEL, outcome="resent") == 1
    assert metric(port, "streammon_duplicate_predictions_total", model=MODEL, outcome="conflict") == 1
    assert metric(port, "streammon_events_total", outcome="repeated") == 1
    assert metric(port, "streammon_events_total", topic=kafka.predictions_topic, outcome="accepted") == 300
