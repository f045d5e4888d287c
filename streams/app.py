"""The stream worker: a Faust app that feeds model events to the monitors.

Predictions and separately logged features are validated, joined by
``prediction_id`` and routed per model into a reference and then into windows.
Each closed window is analysed in a separate process (Evidently is CPU-bound
and would stall consumption); its report and alerts are published when the
analysis returns. Invalid messages go to the dead-letter topic with their
error and coordinates; nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import faust
from faust.types import EventT

from monitors.freshness import Freshness
from monitors.join import KeyedJoin
from monitors.segments import SegmentBuckets
from monitors.silences import Silence
from monitors.watch import DriftWatch, WindowJob
from streams import metrics
from streams.alerting import AlertService, utc_now
from streams.analysis import (
    EVENT_TIME_COLUMN,
    VERSION_COLUMN,
    AnalysisSpec,
    WindowOutcome,
    analyse,
)
from streams.codec import E, dead_letter, decode, encode
from streams.errors import DecodeError
from streams.events import PREDICTION_COLUMN, FeatureEvent, LabelEvent, PredictionEvent
from streams.settings import Settings

log = logging.getLogger(__name__)

# Analyses queued beyond this make the consumer wait: memory stays bounded when
# windows close faster than Evidently can analyse them.
MAX_PENDING_ANALYSES = 4
SHUTDOWN_GRACE_S = 20.0


def analysis_spec(settings: Settings) -> AnalysisSpec:
    """The analysis parameters, as plain values a worker process can receive."""
    drift, conditions, quality = settings.drift, settings.alerting.conditions, settings.quality
    return AnalysisSpec(
        num_method=drift.num_method,
        cat_method=drift.cat_method,
        alpha=drift.alpha,
        correction=drift.correction,
        per_feature_method=dict(drift.per_feature_method),
        per_feature_threshold=dict(drift.per_feature_threshold),
        max_rows=drift.max_rows,
        critical_p_factor=conditions.critical_p_factor,
        critical_distance_factor=conditions.critical_distance_factor,
        prediction_drift=conditions.prediction_drift,
        missing_increase=quality.missing_increase,
        out_of_range_share=quality.out_of_range_share,
        unseen_share=quality.unseen_share,
        volume_ratio=quality.volume_ratio,
        min_rows=quality.min_rows,
        workspace=settings.workspace.path.resolve(),
        project=settings.workspace.project,
    )


class StreamWorker:
    """Owns the Faust app, the monitors' state and the analysis process."""

    def __init__(
        self,
        settings: Settings,
        reference: list[dict[str, Any]] | None = None,
        alert_state: Mapping[str, Any] | None = None,
        silences: Iterable[Silence] = (),
    ) -> None:
        self.settings = settings
        self.spec = analysis_spec(settings)
        self.watch = DriftWatch(
            settings.window.size,
            settings.window.duration_s,
            settings.reference.size,
            reference=reference,
        )
        self.join: KeyedJoin[PredictionEvent, FeatureEvent] = KeyedJoin(settings.worker.join_capacity)
        self._buckets: dict[str, SegmentBuckets] = {}
        no_data_after = settings.quality.no_data_after
        self.freshness = Freshness(no_data_after) if no_data_after else None
        self._pending: set[asyncio.Future[None]] = set()
        self._watermark: tuple[datetime, float] | None = None
        # spawn, not fork: the child must not inherit the event loop and Kafka sockets.
        # Its process starts with the first window, not here.
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.app = self._build_app()
        self.alerting = AlertService(settings, self._send, alert_state, silences)

    def _build_app(self) -> faust.App:
        kafka = self.settings.kafka
        app = faust.App(
            kafka.group_id,
            broker=f"kafka://{kafka.bootstrap_servers}",
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            web_enabled=False,
            topic_partitions=kafka.partitions,
            producer_acks=-1,
            consumer_auto_offset_reset="earliest",
        )
        self.dead_letters = app.topic(kafka.dead_letter_topic, value_serializer="raw", key_serializer="raw")
        events = app.topic(kafka.predictions_topic, kafka.features_topic, value_serializer="raw", key_serializer="raw")
        labels = app.topic(kafka.labels_topic, value_serializer="raw", key_serializer="raw")
        app.agent(events, name="streammon.predictions")(self._consume_predictions)
        app.agent(labels, name="streammon.labels")(self._consume_labels)
        app.timer(interval=1.0)(self._expire_windows)
        app.timer(interval=1.0)(self._tick_alerts)
        if self.freshness is not None:
            app.timer(interval=self.settings.quality.freshness_check_interval)(self._check_freshness)
        app.task(self._run_alerting)
        app.on_before_shutdown.connect(self._on_before_shutdown)  # type: ignore[arg-type]
        return app

    async def _run_alerting(self) -> None:
        await self.alerting.start()
        await self.alerting.follow_silences()

    async def _tick_alerts(self) -> None:
        await self.alerting.tick()

    async def _check_freshness(self) -> None:
        assert self.freshness is not None, "the freshness timer runs only with a freshness check"
        observations = self.freshness.observe(utc_now())
        if observations:
            await self.alerting.observe(observations, window=None, snapshot=None)

    async def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        # Wait for the broker's acknowledgement: alert state written here must
        # survive a restart, and alerts must not be reported sent before they are.
        pending = await self.app.send(topic, key=key, value=value)
        await pending

    async def _on_before_shutdown(self, app: faust.App, **_: Any) -> None:
        # Windows already closed are worth their reports: give their analyses a
        # bounded time to finish and publish before the producer stops.
        if self._pending:
            log.info("waiting for %d window analyses before stopping", len(self._pending))
            await asyncio.wait(self._pending, timeout=SHUTDOWN_GRACE_S)
        await self.alerting.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _consume_predictions(self, stream: faust.StreamT[bytes]) -> None:
        worker = self.settings.worker
        async for batch in stream.take_events(worker.batch_size, within=worker.batch_within_s):  # type: ignore[attr-defined]
            jobs: list[WindowJob] = []
            for event in batch:
                pair = await self._join(event)
                if pair is not None:
                    jobs += self._observe(*pair)
            metrics.JOIN_PENDING.set(len(self.join))
            metrics.JOIN_EVICTED.set(self.join.evicted)
            for job in jobs:
                await self._submit(job)

    async def _consume_labels(self, stream: faust.StreamT[bytes]) -> None:
        # Labels are validated and counted here; joining them to predictions is
        # the quality monitor's job (issue: delayed labels and online learning).
        worker = self.settings.worker
        async for batch in stream.take_events(worker.batch_size, within=worker.batch_within_s):  # type: ignore[attr-defined]
            for event in batch:
                await self._accept(LabelEvent, event)

    async def _join(self, event: EventT) -> tuple[PredictionEvent, FeatureEvent | None] | None:
        """Decode a prediction or feature event; return the prediction once its features are known."""
        if event.message.topic == self.settings.kafka.predictions_topic:
            prediction = await self._accept(PredictionEvent, event)
            if prediction is None:
                return None
            if prediction.features:
                return prediction, None
            return self.join.add_left(prediction.prediction_id, prediction)
        features = await self._accept(FeatureEvent, event)
        return None if features is None else self.join.add_right(features.prediction_id, features)

    async def _accept(self, model: type[E], event: EventT) -> E | None:
        """Decode one message, or dead-letter it and return None."""
        try:
            decoded = decode(model, event.value)
        except DecodeError as exc:
            await self._dead_letter(event, str(exc))
            return None
        metrics.EVENTS.labels(topic=event.message.topic, outcome="accepted").inc()
        return decoded

    def _observe(self, prediction: PredictionEvent, features: FeatureEvent | None) -> list[WindowJob]:
        row: dict[str, Any] = dict(features.features if features is not None else prediction.features)
        row[PREDICTION_COLUMN] = prediction.prediction
        row[VERSION_COLUMN] = prediction.model_version
        row[EVENT_TIME_COLUMN] = prediction.event_time
        self._advance_watermark(prediction.event_time)
        if self.freshness is not None:
            self.freshness.seen(prediction.model, utc_now())
        destination = "window" if self.watch.reference_ready(prediction.model) else "reference"
        metrics.ROWS.labels(model=prediction.model, destination=destination).inc()
        jobs = self.watch.add(prediction.model, prediction.event_time, row)
        for segment in self._segments(prediction):
            jobs += self.watch.add(prediction.model, prediction.event_time, row, segment)
        return jobs

    def _segments(self, prediction: PredictionEvent) -> list[tuple[str, str]]:
        """The segment buckets this prediction also counts in (none while they are being learned)."""
        config = self.settings.segments
        if not config.keys:
            return []
        buckets = self._buckets.setdefault(prediction.model, SegmentBuckets(config.keys, config.top_k))
        if not buckets.frozen:
            # The top values are learned over as many events as a stream reference holds.
            buckets.learn(prediction.segment)
            if buckets.learned >= self.settings.reference.size:
                buckets.freeze()
            return []
        return list(buckets.segments(prediction.segment).items())

    def _advance_watermark(self, event_time: datetime) -> None:
        loop_now = asyncio.get_running_loop().time()
        if self._watermark is None or event_time > self._watermark[0]:
            self._watermark = (event_time, loop_now)

    async def _expire_windows(self) -> None:
        if self._watermark is None:
            return
        latest, seen_at = self._watermark
        # Event time keeps moving while a model is silent: its last window must
        # still close once its span has passed.
        now = latest + timedelta(seconds=asyncio.get_running_loop().time() - seen_at)
        for job in self.watch.expire(now):
            await self._submit(job)

    async def _submit(self, job: WindowJob) -> None:
        while len(self._pending) >= MAX_PENDING_ANALYSES:
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
        metrics.WINDOWS_CLOSED.labels(model=job.model, reason=job.window.reason).inc()
        task = asyncio.ensure_future(self._analyse_and_publish(job))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _analyse_and_publish(self, job: WindowJob) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            outcome: WindowOutcome = await loop.run_in_executor(self._pool, analyse, job, self.spec)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("analysis of %s window %d failed", job.model, job.window.index)
            return
        metrics.ANALYSIS_SECONDS.observe(loop.time() - started)
        report = outcome.report
        changes = await self.alerting.observe(outcome.observations, report.window, report.snapshot)
        report = report.model_copy(update={"alerts": [alert.fingerprint for alert in changes]})
        await self._send(self.settings.kafka.reports_topic, report.key.encode(), encode(report))
        metrics.REPORTS.labels(model=job.model).inc()
        log.info(
            "%s window %d (%d events): %d/%d features drifted, %d alert changes",
            job.model,
            job.window.index,
            report.window.events,
            report.drifted_features,
            len(report.features),
            len(changes),
        )

    async def _dead_letter(self, event: EventT, error: str) -> None:
        message = event.message
        record = dead_letter(
            error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
            key=message.key,
            value=message.value,
        )
        await self.dead_letters.send(key=message.key, value=encode(record))
        metrics.EVENTS.labels(topic=message.topic, outcome="dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, error)
