"""Segments on the real broker: a drift in one country is alerted with its segment, rare values share "other"."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest

from streams.events import AlertEvent, WindowReport
from tests.integration.test_alerting import START, alerting_settings, produce

pytestmark = pytest.mark.integration


def events(n: int, offset: int, rng: np.random.Generator, shift_de: float = 0.0) -> list[bytes]:
    out = []
    for i in range(offset, offset + n):
        draw = rng.random()
        country = "FR" if draw < 0.5 else "DE" if draw < 0.8 else f"rare-{rng.integers(50)}"
        shift = shift_de if country == "DE" else 0.0
        out.append(
            orjson.dumps(
                {
                    "model": "seg",
                    "model_version": "1",
                    "prediction_id": f"seg-{i}",
                    "event_time": (START + timedelta(seconds=i)).isoformat(),
                    "features": {"f00": float(rng.normal(shift)), "f01": float(rng.normal())},
                    "prediction": 0,
                    "segment": {"country": country},
                }
            )
        )
    return out


def test_a_drift_in_one_segment_is_alerted_with_its_segment(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    settings = settings.model_copy(update={"segments": settings.segments.model_copy(update={"keys": ["country"], "top_k": 2})})
    rng = np.random.default_rng(10)
    worker = start_worker(settings)
    produce(settings, events(2400, 0, rng) + events(1000, 2400, rng, shift_de=1.5), b"seg")

    def de_drift_window_reported(records: dict[str, list]) -> bool:
        reports = [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]
        announced = sum(len(r.alerts) for r in reports)
        done = any(r.segment == "country=DE" and r.window.index >= 1 for r in reports)
        return done and len(records[settings.kafka.alerts_topic]) >= announced

    reader = topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic)
    records = reader.until(de_drift_window_reported, 180, "the drifted DE window", worker)

    reports = [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]
    assert {r.segment for r in reports} <= {None, "country=FR", "country=DE", "country=other"}
    alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
    drift = {(a.labels.get("segment"), a.labels["feature"]) for a in alerts if a.labels["kind"] == "data_drift"}
    assert ("country=DE", "f00") in drift
    assert not any(segment in ("country=FR", "country=other") for segment, _ in drift)
    assert ("country=DE", "f01") not in drift
