"""Data quality on the real broker: broken data is alerted as such, beside drift."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest

from streams.events import AlertEvent, WindowReport
from tests.integration.test_alerting import (
    REFERENCE,
    START,
    WINDOW,
    alerting_settings,
    produce,
    settled,
)

pytestmark = pytest.mark.integration


def events(n: int, offset: int, rng: np.random.Generator, *, broken: bool = False) -> list[bytes]:
    out = []
    for i in range(offset, offset + n):
        features: dict[str, object] = {
            "f00": float(rng.normal()),
            "f01": float(rng.normal()),
            "plan": str(rng.choice(["free", "pro", "team"])),
        }
        if broken:
            if rng.random() < 0.4:
                features["f00"] = None
            if rng.random() < 0.3:
                features["plan"] = "enterprise"
            features["f01"] = f"{features['f01']:.3f}"  # a producer started sending numbers as strings
        out.append(
            orjson.dumps(
                {
                    "model": "dq",
                    "model_version": "1",
                    "prediction_id": f"dq-{i}",
                    "event_time": (START + timedelta(seconds=i)).isoformat(),
                    "features": features,
                    "prediction": 0,
                }
            )
        )
    return out


def test_nulls_new_categories_and_type_changes_are_their_own_alerts(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    rng = np.random.default_rng(9)
    worker = start_worker(settings)
    produce(settings, events(REFERENCE + WINDOW, 0, rng) + events(WINDOW, REFERENCE + WINDOW, rng, broken=True), b"dq")

    reader = topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic)
    records = reader.until(settled(settings, 2), 120, "2 windows", worker)

    clean, broken = sorted(
        (WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]), key=lambda r: r.window.index
    )
    assert clean.quality == []
    failed = {(q.check, q.feature) for q in broken.quality}
    assert {("missing_values", "f00"), ("unseen_categories", "plan"), ("schema", "f01")} <= failed

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
    raised = {(a.labels["kind"], a.labels["feature"]) for a in alerts if a.status == "firing"}
    assert {("missing_values", "f00"), ("unseen_categories", "plan"), ("schema", "f01")} <= raised
    assert all(a.window is not None and a.window.index == 1 for a in alerts), "the clean window raised an alert"
