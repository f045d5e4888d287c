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
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
from faust.types import EventT

from monitors.alerts import Observation
from monitors.cbpe import (
    Calibration,
    CBPEConditions,
    Estimate,
    estimate_accuracy,
    reconcile,
)
from monitors.challenger import Promotion
from monitors.freshness import Freshness
from monitors.labels import LabelledPair, PendingPrediction
from monitors.performance import PerformanceConditions, PerformanceJob
from monitors.segments import SegmentBuckets
from monitors.silences import Silence
from monitors.watch import WindowJob
from streams import metrics
from streams.alerting import AlertService, follow_topic, utc_now
from streams.analysis import (
    EVENT_TIME_COLUMN,
    SCORE_COLUMN,
    VERSION_COLUMN,
    AnalysisSpec,
    PerformanceOutcome,
    WindowOutcome,
    analyse,
    evaluate_performance,
    follow_parent,
)
from streams.checkpoint import checkpoint_records
from streams.codec import E, dead_letter, decode, encode
from streams.errors import DecodeError
from streams.events import (
    PREDICTION_COLUMN,
    ChallengerOut,
    EstimateOut,
    FeatureEvent,
    LabelEvent,
    ModelStatus,
    PredictionEvent,
    PromotionEvent,
)
from streams.settings import Settings
from streams.worker_state import WorkerState, new_state

log = logging.getLogger(__name__)

# Analyses queued beyond this make the consumer wait: memory stays bounded when
# windows close faster than Evidently can analyse them.
MAX_PENDING_ANALYSES = 4
_KEPT_ESTIMATES = 200
SHUTDOWN_GRACE_S = 20.0
# Quality alerts that make a model's labelled pairs untrustworthy to learn from.
_UNTRUSTWORTHY_KINDS = frozenset({"schema", "missing_values", "out_of_range", "unseen_categories", "constant"})


def analysis_spec(settings: Settings) -> AnalysisSpec:
    """The analysis parameters, as plain values a worker process can receive."""
    drift, conditions, quality = settings.drift, settings.alerting.conditions, settings.quality
    return AnalysisSpec(
        num_method=drift.num_method,
        cat_method=drift.cat_method,
        alpha=drift.alpha,
        correction=drift.correction,
        calibrate_distances=drift.calibrate_distances,
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
        task=settings.performance.task,
        workspace=settings.workspace.path.resolve(),
        project=settings.workspace.project,
    )


class StreamWorker:
    """Owns the Faust app, the worker's state and the analysis process.

    Input messages are acknowledged to Faust only once a checkpoint reflects
    them (see :mod:`streams.checkpoint`); messages below the restored state's
    offsets are skipped, so each has exactly one effect on the state.
    """

    def __init__(
        self,
        settings: Settings,
        reference: list[dict[str, Any]] | None = None,
        alert_state: Mapping[str, Any] | None = None,
        silences: Iterable[Silence] = (),
        checkpoint: tuple[WorkerState, int] | None = None,
    ) -> None:
        self.settings = settings
        self.spec = analysis_spec(settings)
        self.state, self._generation = checkpoint if checkpoint is not None else (new_state(settings, reference), 0)
        performance = settings.performance
        self.performance_conditions = PerformanceConditions(
            minimum=dict(performance.minimum),
            max_drop=dict(performance.max_drop),
            maximum=dict(performance.maximum),
            min_labelled=performance.min_labelled,
        )
        self.cbpe_conditions = CBPEConditions(
            max_drop=performance.max_drop.get("accuracy", 0.05), min_rows=performance.min_labelled
        )
        no_data_after = settings.quality.no_data_after
        self.freshness = Freshness(no_data_after) if no_data_after else None
        self._pending: set[asyncio.Future[None]] = set()
        # Messages whose effect is in the state but not yet in a written checkpoint.
        self._held: list[EventT] = []
        self._state_lock = asyncio.Lock()
        self._anchors: dict[str, tuple[datetime, float]] = {}
        self._untrustworthy: set[str] = set()
        # spawn, not fork: the child must not inherit the event loop and Kafka sockets.
        # Its process starts with the first window, not here.
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=follow_parent,
            initargs=(os.getpid(),),
        )
        self.app = self._build_app()
        self.alerting = AlertService(settings, self._send, alert_state, silences)

    def _build_app(self) -> faust.App:
        from streams.kafka_clients import faust_credentials

        kafka = self.settings.kafka
        app = faust.App(
            kafka.group_id,
            broker=f"kafka://{kafka.bootstrap_servers}",
            broker_credentials=faust_credentials(kafka),
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            web_enabled=False,
            topic_partitions=kafka.partitions,
            producer_acks=-1,
            # Room for a dead letter as large as worker.max_message_bytes allows (Faust's default is 1,000,000).
            producer_max_request_size=max(1_000_000, self.settings.worker.max_message_bytes),
            consumer_auto_offset_reset="earliest",
            # Messages are held until a checkpoint reflects them; the final
            # checkpoint (on_before_shutdown) acknowledges them, after this wait.
            stream_wait_empty=False,
        )
        self.dead_letters = app.topic(kafka.dead_letter_topic, value_serializer="raw", key_serializer="raw")
        events = app.topic(kafka.predictions_topic, kafka.features_topic, value_serializer="raw", key_serializer="raw")
        labels = app.topic(kafka.labels_topic, value_serializer="raw", key_serializer="raw")
        app.agent(events, name="streammon.predictions")(self._consume_predictions)
        app.agent(labels, name="streammon.labels")(self._consume_labels)
        app.timer(interval=1.0)(self._advance_time)
        app.timer(interval=1.0)(self._tick_alerts)
        app.timer(interval=self.settings.labels.update_interval)(self._evaluate_performance)
        app.timer(interval=self.settings.worker.checkpoint_interval)(self._checkpoint)
        if self.freshness is not None:
            app.timer(interval=self.settings.quality.freshness_check_interval)(self._check_freshness)
        app.task(self._run_alerting)
        app.task(self._follow_control)
        app.task(self._resume_unpublished)
        app.on_before_shutdown.connect(self._on_before_shutdown)  # type: ignore[arg-type]
        return app

    async def _run_alerting(self) -> None:
        await self.alerting.start()
        await self.alerting.follow_silences()

    async def _follow_control(self) -> None:
        """Apply the commands of the compacted control topic (reference replacements), read from its start."""
        kafka = self.settings.kafka
        async for key, value in follow_topic(kafka, kafka.control_topic):
            if key is not None and value is not None:
                async with self._state_lock:
                    self._apply_command(key.decode(), value)

    def _apply_command(self, key: str, value: bytes) -> None:
        try:
            command = orjson.loads(value)
            if command.get("command") != "set_reference":
                raise ValueError(f"unknown command {command.get('command')!r}")
            command_id, model, rows = str(command["id"]), command.get("model"), command["rows"]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring an invalid command %s on the control topic: %s", key, exc)
            return
        if self.state.applied.get(key) == command_id:
            return  # already in the restored state
        version = self.state.watch.set_reference(rows, model)
        self.state.applied[key] = command_id
        log.info(
            "reference of %s replaced by %d rows from %s (version %d): windows closing from now on use it",
            model or "every model",
            len(rows),
            command.get("source", "?"),
            version,
        )

    async def _resume_unpublished(self) -> None:
        # Results computed before a crash but not published: compute and publish them again
        # (their keys are stable, so a duplicate downstream is recognisable).
        if self.state.unpublished:
            log.info("resuming %d unpublished results from the checkpoint", len(self.state.unpublished))
        for key, job in list(self.state.unpublished.items()):
            await self._submit(key, job)

    async def _tick_alerts(self) -> None:
        await self.alerting.tick()
        self._untrustworthy = {
            alert.labels.get("model", "")
            for alert in self.alerting.lifecycle.firing()
            if alert.labels.get("kind") in _UNTRUSTWORTHY_KINDS
        }

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
        await self._checkpoint()
        await self.alerting.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- input -------------------------------------------------------------

    async def _consume_predictions(self, stream: faust.StreamT[bytes]) -> None:
        worker = self.settings.worker
        async for batch in stream.take_events(worker.batch_size, within=worker.batch_within_s):  # type: ignore[attr-defined]
            async with self._state_lock:
                due: list[tuple[str, WindowJob | PerformanceJob]] = []
                for event in batch:
                    if not self._take(event):
                        continue
                    pair = await self._join(event)
                    if pair is not None:
                        due += await self._observe(*pair)
                metrics.JOIN_PENDING.set(len(self.state.features))
                metrics.JOIN_EVICTED.set(self.state.features.evicted)
            for key, job in due:
                await self._submit(key, job)

    async def _consume_labels(self, stream: faust.StreamT[bytes]) -> None:
        worker = self.settings.worker
        async for batch in stream.take_events(worker.batch_size, within=worker.batch_within_s):  # type: ignore[attr-defined]
            async with self._state_lock:
                for event in batch:
                    if not self._take(event):
                        continue
                    label = await self._accept(LabelEvent, event)
                    if label is None:
                        continue
                    self.state.advance_labels(label.event_time)
                    pair = self.state.labels.add_label(label.prediction_id, label.label, label.event_time, label.model)
                    if pair is not None:
                        await self._labelled(pair)

    def _take(self, event: EventT) -> bool:
        """Whether to process this message: False when the restored state already reflects it."""
        message = event.message
        if self.state.reflects(message.topic, message.partition, message.offset):
            metrics.EVENTS.labels(topic=message.topic, outcome="skipped").inc()
            return False
        self.state.consumed(message.topic, message.partition, message.offset)
        # Held until a checkpoint holds its effect; Faust commits only acknowledged offsets.
        message.incref()
        self._held.append(event)
        return True

    async def _join(self, event: EventT) -> tuple[PredictionEvent, FeatureEvent | None] | None:
        """Decode a prediction or feature event; return the prediction once its features are known."""
        if event.message.topic == self.settings.kafka.predictions_topic:
            prediction = await self._accept(PredictionEvent, event)
            if prediction is None:
                return None
            if prediction.features:
                return prediction, None
            return self.state.features.add_left(prediction.prediction_id, prediction)
        features = await self._accept(FeatureEvent, event)
        return None if features is None else self.state.features.add_right(features.prediction_id, features)

    async def _accept(self, model: type[E], event: EventT) -> E | None:
        """Decode one message, or dead-letter it and return None."""
        try:
            decoded = decode(model, event.value)
        except DecodeError as exc:
            await self._dead_letter(event, str(exc))
            return None
        metrics.EVENTS.labels(topic=event.message.topic, outcome="accepted").inc()
        return decoded

    async def _observe(
        self, prediction: PredictionEvent, features: FeatureEvent | None
    ) -> list[tuple[str, WindowJob | PerformanceJob]]:
        """Feed one prediction to the windows and the label join; return the results now due."""
        state = self.state
        values = dict(features.features if features is not None else prediction.features)
        row: dict[str, Any] = dict(values)
        row[PREDICTION_COLUMN] = prediction.prediction
        row[VERSION_COLUMN] = prediction.model_version
        row[EVENT_TIME_COLUMN] = prediction.event_time
        row[SCORE_COLUMN] = prediction.score
        state.advance(prediction.event_time)
        if self.freshness is not None:
            self.freshness.seen(prediction.model, utc_now())
        model = prediction.model
        destination = "window" if state.watch.reference_ready(model) else "reference"
        metrics.ROWS.labels(model=model, destination=destination).inc()
        jobs = state.watch.add(model, prediction.event_time, row)
        window = state.watch.window_index(model)
        for segment in self._segments(prediction):
            jobs += state.watch.add(model, prediction.event_time, row, segment)
        state.performance.predicted(model, window)
        pending = PendingPrediction(
            model=model,
            window=window,
            prediction=prediction.prediction,
            score=prediction.score,
            probabilities=prediction.probabilities,
            features=values,
            predicted_at=prediction.event_time,
        )
        pair = state.labels.add_prediction(prediction.prediction_id, pending)
        if pair is not None:
            await self._labelled(pair)
        return await self._register(jobs)

    async def _register(self, jobs: list[WindowJob]) -> list[tuple[str, WindowJob | PerformanceJob]]:
        """Keep closed windows in the state until their results are published (a crash must not lose them)."""
        due: list[tuple[str, WindowJob | PerformanceJob]] = []
        for job in jobs:
            key = f"drift/{job.model}/{job.segment}/{job.window.index}"
            self.state.unpublished[key] = job
            due.append((key, job))
            if job.segment is None:
                due += self._register_performance(self.state.performance.close(job.model, job.window.index))
        return due

    def _register_performance(self, jobs: list[PerformanceJob]) -> list[tuple[str, WindowJob | PerformanceJob]]:
        due: list[tuple[str, WindowJob | PerformanceJob]] = []
        for job in jobs:
            key = f"performance/{job.model}/{job.window}/{job.version}"
            self.state.unpublished[key] = job
            due.append((key, job))
        return due

    async def _labelled(self, pair: LabelledPair) -> None:
        """One prediction met its label: performance, change detection, online learning."""
        state = self.state
        state.performance.add(pair)
        model, pending = pair.prediction.model, pair.prediction
        metrics.LABELLED.labels(model=model).inc()
        try:
            if state.errors is not None:
                await self._detect(model, pending.prediction, pair.label)
            promotion = (
                state.challenger.learn(model, pending.features, pending.prediction, pair.label, learn=self._may_learn(model))
                if state.challenger is not None
                else None
            )
        except ValueError as exc:
            # A label of the wrong kind for the task (a string for a regression): counted, never fatal.
            metrics.LABELLED_REJECTED.labels(model=model).inc()
            log.warning("%s: labelled prediction %s not usable: %s", model, pair.prediction_id, exc)
            return
        if promotion is not None:
            await self._promote(promotion)

    async def _detect(self, model: str, prediction: Any, label: Any) -> None:
        """Feed the error detector; fire at once when the error rises, resolve a window's worth of labels later."""
        errors = self.state.errors
        assert errors is not None, "detection runs only with a detector"
        detection = errors.update(model, prediction, label)
        joined = self.state.labels.stats(model).joined
        if detection is not None and detection.worsened:
            self.state.detections[model] = joined
            await self.alerting.observe(errors.observe(model), window=None, snapshot=None)
        elif model in self.state.detections and joined - self.state.detections[model] >= self.settings.window.size:
            # As many labelled predictions as a window holds, without a new rise: clear.
            del self.state.detections[model]
            await self.alerting.observe(errors.observe(model), window=None, snapshot=None)

    async def _promote(self, promotion: Promotion) -> None:
        model = promotion.model
        event = PromotionEvent(
            model=model,
            challenger=promotion.challenger,
            metric=promotion.metric,
            challenger_score=promotion.challenger_score,
            deployed_score=promotion.deployed_score,
            margin=promotion.margin,
            labelled=promotion.labelled,
            at=utc_now(),
            offsets={f"{topic}/{partition}": offset for (topic, partition), offset in self.state.offsets.items()},
        )
        await self._send(self.settings.kafka.model_updates_topic, model.encode(), encode(event))
        log.warning(
            "%s: the online %s beats the deployed model (%s %.3f vs %.3f over %d labelled predictions)",
            model,
            promotion.challenger,
            promotion.metric,
            promotion.challenger_score,
            promotion.deployed_score,
            promotion.labelled,
        )

    def _may_learn(self, model: str) -> bool:
        """Whether labels look trustworthy enough to learn from."""
        online = self.settings.online
        if online.pause_on_quality_alerts and model in self._untrustworthy:
            return False
        stats = self.state.labels.stats(model)
        settled = stats.joined + stats.expired
        return settled < online.min_labelled or stats.coverage >= online.pause_below_coverage

    def _segments(self, prediction: PredictionEvent) -> list[tuple[str, str]]:
        """The segment buckets this prediction also counts in (none while they are being learned)."""
        config = self.settings.segments
        if not config.keys:
            return []
        buckets = self.state.buckets.setdefault(prediction.model, SegmentBuckets(config.keys, config.top_k))
        if not buckets.frozen:
            # The top values are learned over as many events as a stream reference holds.
            buckets.learn(prediction.segment)
            if buckets.learned >= self.settings.reference.size:
                buckets.freeze()
            return []
        return list(buckets.segments(prediction.segment).items())

    # -- time --------------------------------------------------------------

    def _event_now(self, clock: str, latest: datetime | None) -> datetime | None:
        """Event time now on one input's clock: its latest event time, moved on by the time since it was seen.

        Event time keeps moving while an input is silent: a model's last window
        must still close, and a label that never comes must still expire.
        """
        if latest is None:
            return None
        loop_now = asyncio.get_running_loop().time()
        anchor = self._anchors.get(clock)
        if anchor is None or anchor[0] != latest:
            anchor = self._anchors[clock] = (latest, loop_now)
        return latest + timedelta(seconds=loop_now - anchor[1])

    async def _advance_time(self) -> None:
        predictions_now = self._event_now("predictions", self.state.event_time)
        if predictions_now is None:
            return
        labels_now = self._event_now("labels", self.state.label_time)
        async with self._state_lock:
            due = await self._register(self.state.watch.expire(predictions_now))
            # A label is late against the label stream's own clock, and it cannot be
            # expected before its prediction was made: the earlier clock decides.
            if labels_now is not None:
                for _, expired in self.state.labels.expire(min(predictions_now, labels_now)):
                    metrics.LABELS_EXPIRED.labels(model=expired.model).inc()
        for key, job in due:
            await self._submit(key, job)

    async def _evaluate_performance(self) -> None:
        async with self._state_lock:
            due = self._register_performance(self.state.performance.due())
        for key, job in due:
            await self._submit(key, job)

    # -- results -----------------------------------------------------------

    async def _submit(self, key: str, job: WindowJob | PerformanceJob) -> None:
        while len(self._pending) >= MAX_PENDING_ANALYSES:
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
        if isinstance(job, WindowJob):
            metrics.WINDOWS_CLOSED.labels(model=job.model, reason=job.window.reason).inc()
            task = asyncio.ensure_future(self._analyse_and_publish(key, job))
        else:
            task = asyncio.ensure_future(self._evaluate_and_publish(key, job))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _analyse_and_publish(self, key: str, job: WindowJob) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            outcome: WindowOutcome = await loop.run_in_executor(self._pool, analyse, job, self.spec)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("analysis of %s window %d failed", job.model, job.window.index)
            self.state.unpublished.pop(key, None)
            return
        metrics.ANALYSIS_SECONDS.observe(loop.time() - started)
        report = outcome.report
        observations = list(outcome.observations)
        estimate = self._estimate(job)
        if estimate is not None:
            report = report.model_copy(update={"estimate": estimate})
            observations += self._estimate_observations(job, estimate)
        changes = await self.alerting.observe(observations, report.window, report.snapshot)
        report = report.model_copy(update={"alerts": [alert.fingerprint for alert in changes]})
        await self._send(self.settings.kafka.reports_topic, report.key.encode(), encode(report))
        self.state.unpublished.pop(key, None)
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

    def _estimate(self, job: WindowJob) -> EstimateOut | None:
        """The window's accuracy estimated from its scores (CBPE), for a binary classifier that sends scores."""
        if job.segment is not None or self.settings.performance.task != "classification":
            return None
        scores: list[float] = []
        predictions: list[int] = []
        for row in job.window.rows:
            score, prediction = row.get(SCORE_COLUMN), row.get(PREDICTION_COLUMN)
            if score is None or prediction not in (0, 1):
                return None  # no scores, or not a binary decision: nothing to estimate from
            scores.append(float(score))
            predictions.append(int(prediction))
        calibration = self.state.calibrations.get(job.model)
        try:
            values = calibration.transform(scores) if calibration is not None else scores
            estimate = estimate_accuracy(values, predictions)
        except ValueError as exc:
            log.warning("%s window %d: no accuracy estimate from its scores: %s", job.model, job.window.index, exc)
            return None
        self.state.estimates[(job.model, job.window.index)] = estimate
        for stale in sorted(self.state.estimates)[: max(0, len(self.state.estimates) - _KEPT_ESTIMATES)]:
            del self.state.estimates[stale]
        return EstimateOut(
            accuracy=estimate.accuracy,
            low=estimate.low,
            high=estimate.high,
            rows=estimate.n,
            recalibrated=calibration is not None,
        )

    def _estimate_observations(self, job: WindowJob, estimate: EstimateOut) -> list[Observation]:
        reference = self.state.reference_results.get(job.model)
        accuracy = reference.metrics.get("accuracy") if reference is not None else None
        if accuracy is None:
            return []  # nothing to compare with until the reference period's labels are in
        context = {"window": f"{job.model} window {job.window.index} (estimated from scores, before labels)"}
        return self.cbpe_conditions.observe(
            job.model, Estimate(estimate.accuracy, estimate.low, estimate.high, estimate.rows), accuracy, context
        )

    def _calibrate(self, job: PerformanceJob) -> None:
        """Fit the score calibration of a model on its reference period's labelled scores."""
        pairs = [(score, label) for _, label, score in job.pairs if score is not None and label in (0, 1)]
        if len(pairs) < self.settings.performance.min_labelled or len(pairs) < len(job.pairs):
            return
        calibration = Calibration().fit([s for s, _ in pairs], [bool(label) for _, label in pairs])
        self.state.calibrations[job.model] = calibration
        log.info(
            "%s: scores %s calibrated on the reference period (expected calibration error %.3f); "
            "accuracy estimates use the isotonic map",
            job.model,
            "are" if calibration.calibrated else "are NOT",
            calibration.ece or 0.0,
        )

    async def _evaluate_and_publish(self, key: str, job: PerformanceJob) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome: PerformanceOutcome = await loop.run_in_executor(self._pool, evaluate_performance, job, self.spec)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("performance of %s window %s version %d failed", job.model, job.window, job.version)
            self.state.unpublished.pop(key, None)
            return
        state, result = self.state, outcome.result
        changes = []
        reconciled: dict[str, float] = {}
        if job.window is None:
            state.reference_results[job.model] = result
            self._calibrate(job)
        else:
            estimate = state.estimates.get((job.model, job.window))
            if estimate is not None and "accuracy" in result.metrics and result.labelled:
                reconciled = reconcile(estimate, result.metrics["accuracy"], min(result.labelled, estimate.n))
            latest = state.last_results.get(job.model)
            # A late label for an older window must not clear what a newer window raised.
            if latest is None or job.window >= latest[0]:
                state.last_results[job.model] = (job.window, result)
                context = {"window": f"{job.model} window {job.window} (version {job.version})"}
                observations = self.performance_conditions.observe(
                    job.model, result, state.reference_results.get(job.model), context
                )
                changes = await self.alerting.observe(observations, window=None, snapshot=outcome.report.snapshot)
        report = outcome.report.model_copy(
            update={
                "alerts": [alert.fingerprint for alert in changes],
                "estimate": reconciled,
                "reference_metrics": dict(state.reference_results[job.model].metrics)
                if job.model in state.reference_results
                else {},
            }
        )
        await self._send(self.settings.kafka.reports_topic, report.key.encode(), encode(report))
        state.unpublished.pop(key, None)
        log.info(
            "%s window %s performance v%d: %d/%d labelled, %s",
            job.model,
            "reference" if job.window is None else job.window,
            job.version,
            result.labelled,
            job.predictions,
            ", ".join(f"{name} {value:.3f}" for name, value in sorted(result.metrics.items())) or "no metrics yet",
        )

    # -- checkpoints -------------------------------------------------------

    async def _checkpoint(self) -> None:
        """Save the state with the offsets it reflects, then let Faust commit those offsets."""
        async with self._state_lock:
            held, self._held = self._held, []
            self._generation += 1
            generation = self._generation
            # Pickled under the lock: the snapshot is of one consistent moment.
            records = checkpoint_records(self.state, self.settings.kafka.group_id, generation)
            statuses = [self._status(model) for model in self.state.labels.models]
        started = asyncio.get_running_loop().time()
        try:
            for key, value in records:
                await self._send(self.settings.kafka.state_topic, key, value)
        except Exception:
            # Not saved: these messages stay held (Faust commits only contiguous acknowledgements)
            # and the next checkpoint, which reflects them too, acknowledges them.
            self._held = held + self._held
            log.exception("checkpoint %d could not be written; retrying at the next interval", generation)
            # The retry writes the same slot again, not the one the manifest points to: were it
            # interrupted too, the previous checkpoint must still be whole.
            if self._generation == generation:
                self._generation -= 1
            return
        for event in held:
            event.ack()
        try:
            for status in statuses:
                await self._send(self.settings.kafka.model_status_topic, status.model.encode(), encode(status))
        except Exception:
            # The checkpoint is saved; the next one publishes the statuses again. Raising here
            # would crash the worker from its timer.
            log.exception("model statuses of checkpoint %d could not be published", generation)
        metrics.CHECKPOINT_BYTES.set(sum(len(value) for _, value in records))
        metrics.CHECKPOINT_SECONDS.observe(asyncio.get_running_loop().time() - started)

    def _status(self, model: str) -> ModelStatus:
        state = self.state
        stats = state.labels.stats(model)
        last = state.last_results.get(model)
        reference = state.reference_results.get(model)
        challenger = None
        if state.challenger is not None and model in state.challenger.models:
            own = state.challenger.state(model)
            challenger = ChallengerOut(**{name: getattr(own, name) for name in ChallengerOut.model_fields})
        return ModelStatus(
            model=model,
            at=utc_now(),
            predictions=stats.predictions,
            labels=stats.labels,
            joined=stats.joined,
            expired=stats.expired,
            orphaned=stats.orphaned,
            duplicates=stats.duplicates,
            evicted=stats.evicted,
            coverage=stats.joined / stats.predictions if stats.predictions else 0.0,
            settled_coverage=stats.coverage,
            last_window=last[0] if last is not None else None,
            last_metrics=dict(last[1].metrics) if last is not None else {},
            reference_metrics=dict(reference.metrics) if reference is not None else {},
            challenger=challenger,
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
            max_bytes=self.settings.worker.max_message_bytes,
        )
        from streams.codec import encode_dead_letter

        key, value = encode_dead_letter(record)
        # Acknowledged by the broker before the message can be (with the next checkpoint): a
        # dead letter whose send failed unawaited would be lost without a trace.
        await self._send(self.settings.kafka.dead_letter_topic, key, value)
        metrics.EVENTS.labels(topic=message.topic, outcome="dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, record.error)
