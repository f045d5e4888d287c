"""A result too large for the reports topic is dropped with its key logged and counted, not retried for ever."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from streams import metrics
from streams.events import FeatureDriftOut, Window, WindowReport
from streams.settings import Settings
from streams.worker.app import StreamWorker
from streams.worker.state import new_state

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def report(features: int) -> WindowReport:
    return WindowReport(
        key="wide/*/0/drift/v1",
        model="wide",
        model_versions=["1"],
        window=Window(index=0, start=T0, end=T0, events=100, closed_by="count"),
        reference_events=100,
        features=[
            FeatureDriftOut(feature=f"feature-{i:05d}-" + "n" * 200, score=0.5, method="ks", threshold=0.01, drifted=False)
            for i in range(features)
        ],
        prediction=None,
        drifted_features=0,
        drifted_share=0.0,
        snapshot=None,
    )


def test_a_report_too_large_for_its_topic_is_dropped_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings()
    worker = StreamWorker(settings)
    try:
        state = new_state(settings)
        state.unpublished["drift/wide/None/0"] = None  # type: ignore[assignment]
        topic = settings.kafka.reports_topic
        before = metrics.TOO_LARGE.labels(topic=topic)._value.get()
        with caplog.at_level(logging.ERROR, logger="streams.worker.output"):
            published = asyncio.run(worker.output.publish_result(state, "drift/wide/None/0", "wide window 0", report(20_000)))
        assert published is False
        assert "drift/wide/None/0" not in state.unpublished  # not retried after a restart either
        assert metrics.TOO_LARGE.labels(topic=topic)._value.get() == before + 1
        [record] = [r for r in caplog.records if "not published" in r.getMessage()]
        assert "wide window 0" in record.getMessage() and "wide/*/0/drift/v1" in record.getMessage()
        assert "does not fit the producer's limit of 1,000,000 bytes" in record.getMessage()
    finally:
        worker.results.pool.shutdown(wait=False)


def test_a_report_that_fails_to_send_for_another_reason_stays_unpublished() -> None:
    settings = Settings()
    worker = StreamWorker(settings)

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker unreachable")

    try:
        state = new_state(settings)
        state.unpublished["drift/wide/None/0"] = None  # type: ignore[assignment]
        worker.app.send = unreachable  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            asyncio.run(worker.output.publish_result(state, "drift/wide/None/0", "wide window 0", report(3)))
        assert "drift/wide/None/0" in state.unpublished  # retried from the checkpoint
    finally:
        worker.results.pool.shutdown(wait=False)
