"""Model quality per segment on the real broker: labels that flip in one region are alerted with that region, and only it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest
from kafka import KafkaProducer

from streams.events import AlertEvent, PerformanceReport
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader

pytestmark = pytest.mark.integration

MODEL = "heldout"
SIZE = 200  # a reference and a window, the model's and each segment's
REGIONS = ("eu", "us", "asia")
EVENTS = 2400  # each region: its reference (after the buckets froze at SIZE), then two full windows, with room to spare
FLIP = 900  # from this prediction on, eu's labels say the opposite of what they said
START = datetime(2026, 11, 26, 8, tzinfo=UTC)


def segment_settings(settings: Settings) -> Settings:
    return Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": SIZE, "duration_s": 36000},
            "reference": {"size": SIZE},
            "segments": {"keys": ["region"]},
            "labels": {"ttl": "30m", "update_interval": "1s"},
            "performance": {"max_drop": {"accuracy": 0.1}, "min_labelled": 100},
            "quality": {"no_data_after": None},
        }
    )


class HeldOut:
    """A held-out stream: the model is right 90 % of the time, until eu's labels flip at ``FLIP``."""

    def __init__(self, seed: int = 18) -> None:
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=EVENTS)
        self.region = rng.choice(REGIONS, size=EVENTS)
        self.predicted = self.x > 0
        right = rng.random(EVENTS) < 0.9
        flipped = (self.region == "eu") & (np.arange(EVENTS) >= FLIP)
        self.truth = np.where(right ^ flipped, self.predicted, ~self.predicted)

    def prediction(self, i: int) -> bytes:
        return orjson.dumps(
            {
                "model": MODEL,
                "model_version": "1",
                "prediction_id": f"h{i}",
                "event_time": (START + timedelta(seconds=i)).isoformat(),
                "features": {"x": float(self.x[i])},
                "prediction": bool(self.predicted[i]),
                "segment": {"region": str(self.region[i])},
            }
        )

    def label(self, i: int) -> bytes:
        return orjson.dumps(
            {
                "prediction_id": f"h{i}",
                "model": MODEL,
                "event_time": (START + timedelta(seconds=i + 5)).isoformat(),
                "label": bool(self.truth[i]),
            }
        )


def performance_reports(records: list[object]) -> list[PerformanceReport]:
    values = [orjson.loads(r.value) for r in records]  # type: ignore[attr-defined]
    return [PerformanceReport.model_validate(v) for v in values if v.get("kind") == "performance"]


def test_labels_that_flip_in_one_region_alert_model_quality_for_that_region_only(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    settings = segment_settings(settings)
    kafka = settings.kafka
    stream = HeldOut()
    worker = start_worker(settings)
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    for i in range(EVENTS):
        producer.send(kafka.predictions_topic, key=MODEL.encode(), value=stream.prediction(i))
    for i in range(EVENTS):
        producer.send(kafka.labels_topic, key=MODEL.encode(), value=stream.label(i))
    producer.flush()
    producer.close()

    def every_regions_windows_judged(records: dict[str, list[object]]) -> bool:
        reports = performance_reports(records[kafka.reports_topic])
        judged = {(r.segment, r.window_index) for r in reports if r.labelled == r.predictions}
        announced = sum(len(r.alerts) for r in reports)
        return all((f"region={region}", 1) in judged for region in REGIONS) and (len(records[kafka.alerts_topic]) >= announced)

    reader = topic_reader(kafka.reports_topic, kafka.alerts_topic)
    records = reader.until(every_regions_windows_judged, 120, "every region's second window fully labelled", worker)

    reports = performance_reports(records[kafka.reports_topic])
    assert {r.segment for r in reports} == {None, "region=eu", "region=us", "region=asia"}
    eu = [r for r in reports if r.segment == "region=eu" and r.window_index == 1]
    assert eu[-1].key.startswith(f"{MODEL}/region=eu/1/performance/v")
    assert eu[-1].metrics["accuracy"] < 0.3 and eu[-1].reference_metrics["accuracy"] > 0.8

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[kafka.alerts_topic]]  # type: ignore[attr-defined]
    quality = [a for a in alerts if a.labels["kind"] == "performance" and a.status == "firing"]
    assert {a.labels.get("segment") for a in quality if a.labels["feature"] == "accuracy"} >= {"region=eu"}
    assert not any(a.labels.get("segment") in ("region=us", "region=asia") for a in quality)
    first = next(a for a in quality if a.labels.get("segment") == "region=eu" and a.labels["feature"] == "accuracy")
    assert first.labels["model"] == MODEL and "[region=eu]" in first.annotations["summary"]
    # The segment's own error detector saw the rise in eu's error stream, and no other region's.
    concept = {a.labels.get("segment") for a in alerts if a.labels["kind"] == "concept_drift" and a.status == "firing"}
    assert "region=eu" in concept and not concept & {"region=us", "region=asia"}
