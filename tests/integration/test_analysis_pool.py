"""Windows analysed by several processes at once: every window reported, each model's in window order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from streams.events import WindowReport
from streams.settings import Settings
from tests.helpers import analysis_processes, prediction_events, wait_until

pytestmark = pytest.mark.integration

MODELS = ("pool-a", "pool-b", "pool-c", "pool-d", "pool-e")
REFERENCE, WINDOW, WINDOWS = 300, 100, 8
START = datetime(2026, 11, 30, tzinfo=UTC)


def events(model: str, seed: int) -> list[bytes]:
    # Every other window drifts, so some analyses (and their full reports) take longer than others.
    def shift(i: int) -> float:
        return 0.0 if i < REFERENCE or ((i - REFERENCE) // WINDOW) % 2 == 0 else 2.0

    return prediction_events(model, REFERENCE + WINDOW * WINDOWS, START, seed, shift)


def test_several_analysis_processes_publish_each_models_windows_in_order(settings, start_worker, topic_reader) -> None:
    settings = Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 3600},
            "reference": {"size": REFERENCE},
            "worker": {**settings.worker.model_dump(mode="json"), "analysis_processes": 3},
        }
    )
    worker = start_worker(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    streams = {model: events(model, seed) for seed, model in enumerate(MODELS)}
    for model, values in streams.items():  # model after model: one model's windows close back to back
        for value in values:
            producer.send(settings.kafka.predictions_topic, key=model.encode(), value=value)
    producer.flush()
    producer.close()

    reader = topic_reader(settings.kafka.reports_topic)
    records = reader.until(
        lambda r: len(r[settings.kafka.reports_topic]) >= len(MODELS) * WINDOWS, 180, "every window's report", worker
    )
    reports = [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]
    assert sorted((r.model, r.window.index) for r in reports) == sorted((m, i) for m in MODELS for i in range(WINDOWS))
    assert {r.drifted_features > 0 for r in reports if r.window.index % 2} == {True}

    # The worker logs each report once the broker has it: per model, the windows come in order.
    def published() -> list[tuple[str, str]]:
        return re.findall(r"(pool-\w) window (\d+) \(", worker.log())

    wait_until(lambda: len(published()) >= len(MODELS) * WINDOWS, 30, "every report in the worker's log")
    logged = published()
    for model in MODELS:
        assert [int(i) for m, i in logged if m == model] == list(range(WINDOWS))
    pool = analysis_processes(worker)
    assert len(pool) == 3, "the windows were not analysed by the 3 processes asked for"
