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
import functools
import hashlib
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar, cast

import faust
import orjson
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from monitors.alerts import Alert
from monitors.backpressure import Admission, admit
from monitors.cbpe import Calibration, Estimate
from monitors.challenger import Promotion
from monitors.duplicates import Repeat
from monitors.full_reports import FullReportPolicy
from monitors.partition import Effects
from monitors.performance import PerformanceJob
from monitors.silences import Silence
from monitors.watch import WindowJob
from streams import metrics
from streams.alerting import AlertService, load_alert_states
from streams.clock import utc_now
from streams.compacted import follow_topic
from streams.analysis import (
    EVENT_TIME_COLUMN,
    SCORE_COLUMN,
    VERSION_COLUMN,
    AnalysisSpec,
    PerformanceOutcome,
    ReferenceRows,
    WindowOutcome,
    analyse,
    analysis_spec,
    annotate_run,
    evaluate_performance,
    follow_parent,
    full_performance_report,
    full_report,
)
from streams.checkpoint import StateKeys, pack, partition_checkpoint, read_checkpoints, snapshot
from streams.codec import dead_letter, encode, encode_dead_letter, kept_json, record_bytes
from streams.errors import DecodeError, MessageTooLargeError
from streams.input_events import FeaturesIn, LabelIn, PredictionIn, read_input
from streams.inputs import InputConsumer
from streams.learner import Learner, Outcome, Rejected
from streams.kafka_clients import faust_credentials
from streams.events import (
    PREDICTION_COLUMN,
    ChallengerOut,
    ModelStatus,
    PerformanceReport,
    PromotionEvent,
    SnapshotRef,
    WindowReport,
)
from streams.runs import alert_notes
from streams.settings import Settings
from streams.worker_state import WorkerState, new_state, partition_rules

log = logging.getLogger(__name__)

In = TypeVar("In", PredictionIn, FeaturesIn, LabelIn)

# Analyses queued beyond this (or twice the analysis processes, if more) make the
# consumer wait: memory stays bounded when windows close faster than they are analysed.
# Windows close in bursts (every model's and segment's at about the same event count):
# with room for 4 the worker waited on each burst while the analysis process worked
# through it, then the process waited for the next; 16 (a few MB of windows) overlaps them.
MAX_PENDING_ANALYSES = 16
# How often, at most, the log says that analyses hold the consumer back.
BEHIND_WARNING_INTERVAL_S = 60.0
LOOP_TICK_S = 0.1
LAG_INTERVAL_S = 2.0


class Held:
    """A message not applied: its input waits until a full join has room (see :mod:`monitors.backpressure`)."""


HELD = Held()


class StreamWorker:
    """Owns the Faust app, the worker's state and the analysis process.

    Input offsets are committed only once a checkpoint reflects them (see
    :mod:`streams.checkpoint`); messages below the restored state's offsets are
    skipped, so each has exactly one effect on the state.

    Every change to a partition's state holds ``_state_lock`` (changes span
    awaits: a batch, a result and its sends), so a checkpoint that forks its
    snapshot under the lock sees a state between changes, not within one.
    """

    def __init__(
        self,
        settings: Settings,
        reference: list[dict[str, Any]] | None = None,
        silences: Iterable[Silence] = (),
    ) -> None:
        self.settings = settings
        self.spec = analysis_spec(settings)
        self._reference = reference
        # The state of each input partition this worker owns, restored from its checkpoint when assigned.
        self.states: dict[int, WorkerState] = {}
        self._generations: dict[int, int] = {}
        # The latest command of each key on the control topic: applied to every partition, also to those assigned later.
        self._commands: dict[str, Mapping[str, Any]] = {}
        self.rules = partition_rules(settings)
        self._pending: set[asyncio.Future[None]] = set()
        # The latest result task of each ordered stream (a model's or segment's windows, a
        # model's performance versions): the next one publishes after it.
        self._tails: dict[tuple[str, tuple[str, str] | None, str], asyncio.Future[None]] = {}
        # Window analyses not returned yet: the state they belong to, and the window's end.
        self._unanalysed: dict[asyncio.Future[None], tuple[WorkerState, datetime]] = {}
        self._full_reports: set[asyncio.Future[None]] = set()
        self._references: dict[tuple[str, tuple[str, str] | None], ReferenceRows] = {}  # packed, by model and segment
        self.full_report_policy = FullReportPolicy(settings.workspace.full_report_interval)
        self._warned_behind_at = -math.inf
        self.inputs: InputConsumer | None = None  # created in the worker's event loop
        self._stopping = False
        self._state_lock = asyncio.Lock()
        # Per partition: since when (monotonic) it has had nothing new to process.
        self._idle_since: dict[int, float] = {}
        # Input partitions held because their next item would wait in a full join: which join.
        self._holds: dict[TopicPartition, str] = {}
        self._warned_eviction = False
        # spawn, not fork: a child must not inherit the event loop and Kafka sockets.
        # The processes start with the first windows, not here.
        processes = settings.worker.analysis_processes or max(1, (os.cpu_count() or 1) - 1)
        self._max_pending = max(MAX_PENDING_ANALYSES, 2 * processes)
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=follow_parent,
            initargs=(os.getpid(),),
        )
        # The online challengers learn in a process of their own, started with the first partition.
        self.learner = Learner(functools.partial(follow_parent, os.getpid())) if settings.online.enabled else None
        self.app = self._build_app()
        self.alerting = AlertService(settings, self._send, silences)

    def _build_app(self) -> faust.App:
        kafka = self.settings.kafka
        # Faust runs the worker (timers, tasks, the producer, shutdown); the inputs are read
        # by InputConsumer in the consumer group itself, so Faust's own (idle) consumer
        # must not join that group.
        app = faust.App(
            f"{kafka.group_id}.runtime",
            broker=f"kafka://{kafka.bootstrap_servers}",
            broker_credentials=faust_credentials(kafka),
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            # Faust makes its data directory even for in-memory tables: under state_dir, not the working
            # directory (braces escaped: Faust formats the path).
            datadir=str(self.settings.worker.state_dir / f"{kafka.group_id}.runtime-data").replace("{", "{{").replace("}", "}}"),
            web_enabled=False,
            topic_partitions=kafka.partitions,
            producer_acks=-1,
            # Room for a dead letter as large as worker.max_message_bytes allows (Faust's default is 1,000,000).
            producer_max_request_size=max(1_000_000, self.settings.worker.max_message_bytes),
            # Faust's idle consumer is still a member of its own group, and Faust starts the worker's tasks
            # only once it has joined: with Faust's default of 60 s, a worker replacing a killed one waited
            # up to a minute for the dead member to time out before it read anything. The input consumer's
            # session (aiokafka's default, 10 s) is the one that matters; this one need not be longer.
            broker_session_timeout=10.0,
        )
        app.task(self._consume_inputs)
        app.timer(interval=1.0)(self._advance_time)
        app.timer(interval=1.0)(self._tick_alerts)
        app.timer(interval=self.settings.labels.update_interval)(self._evaluate_performance)
        app.timer(interval=self.settings.worker.checkpoint_interval)(self._checkpoint_all)
        if self.settings.quality.no_data_after:
            app.timer(interval=self.settings.quality.freshness_check_interval)(self._check_freshness)
        app.task(self._run_alerting)
        app.task(self._follow_control)
        app.task(self._watch_loop)
        app.timer(interval=LAG_INTERVAL_S)(self._measure_consumer_lag)
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
                command = _command(key.decode(), value)
                if command is None:
                    continue
                async with self._state_lock:
                    self._commands[key.decode()] = command
                    for state in self.states.values():
                        self._apply_command(state, key.decode(), command)

    def _apply_command(self, state: WorkerState, key: str, command: Mapping[str, Any]) -> None:
        command_id, model, rows = str(command["id"]), command.get("model"), command["rows"]
        if state.applied.get(key) == command_id:
            return  # already in the restored state
        version = state.set_reference(rows, model)
        state.applied[key] = command_id
        log.info(
            "reference of %s replaced by %d rows from %s (version %d): windows closing from now on use it",
            model or "every model",
            len(rows),
            command.get("source", "?"),
            version,
        )

    async def _watch_loop(self) -> None:
        """Measure how late the event loop runs a tick: the time work on it did not yield."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LOOP_TICK_S
            await asyncio.sleep(LOOP_TICK_S)
            metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))

    async def _measure_consumer_lag(self) -> None:
        self._measure_analysis_backlog()
        if self.inputs is None:
            return
        offsets = {tp: offset for state in self.states.values() for tp, offset in state.offsets.items()}
        for (topic, partition), behind in (await self.inputs.lag(offsets)).items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(behind)

    async def _tick_alerts(self) -> None:
        await self.alerting.tick()
        firing = 0
        for state in list(self.states.values()):
            state.review_trust()
            firing += len(state.lifecycle.firing())
        metrics.ALERTS_FIRING.set(firing)

    async def _check_freshness(self) -> None:
        async with self._state_lock:
            for p, state in self.states.items():
                # A worker that is behind has the data still to read: silence is judged only once caught up.
                if state.freshness is not None and self._idle_s(p, state, self.settings.kafka.predictions_topic) is not None:
                    observations = state.freshness.observe(utc_now())
                    if observations:
                        await self.alerting.observe(p, state.lifecycle, observations, window=None, snapshot=None)

    async def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce one message and wait for the broker's acknowledgement.

        Raises :class:`MessageTooLargeError`, counted, for a message that does
        not fit: checked against the producer's ``max_request_size`` before
        sending, and mapped from the client's or the broker's refusal.
        """
        limit = self.app.conf.producer_max_request_size
        size = record_bytes(key, value)
        if size > limit:
            metrics.TOO_LARGE.labels(topic=topic).inc()
            raise MessageTooLargeError(topic, key, size, limit)
        # Wait for the broker's acknowledgement: alert state written here must
        # survive a restart, and alerts must not be reported sent before they are.
        try:
            pending = await self.app.send(topic, key=key, value=value)
            await pending
        except Exception as exc:
            # The broker's message.max.bytes (or the topic's) may be below the producer's limit.
            # Faust wraps the client's refusal in a ProducerSendError; the broker's comes as is.
            refusal = exc if isinstance(exc, MessageSizeTooLargeError) else exc.__cause__
            if not isinstance(refusal, MessageSizeTooLargeError):
                raise
            metrics.TOO_LARGE.labels(topic=topic).inc()
            raise MessageTooLargeError(topic, key, size, limit, str(refusal)) from exc
        metrics.MESSAGES_OUT.labels(topic=topic).inc()

    async def _publish_result(self, state: WorkerState, key: str, what: str, report: WindowReport | PerformanceReport) -> bool:
        """Send a result to the reports topic and take it off the unpublished ones; False when it could not fit.

        A report too large for its topic would fail again on every retry (and after
        every restart): it is logged with its key, counted, and dropped.
        """
        try:
            await self._send(self.settings.kafka.reports_topic, report.key.encode(), encode(report))
        except MessageTooLargeError as exc:
            log.error("%s: report not published, dropped: %s", what, exc)
            state.unpublished.pop(key, None)
            return False
        # Any other failure leaves it unpublished: the checkpoint keeps it for a retry.
        state.unpublished.pop(key, None)
        return True

    async def _on_before_shutdown(self, app: faust.App, **_: Any) -> None:
        # Windows already closed are worth their reports: give their analyses a
        # bounded time to finish and publish before the producer stops.
        if self._pending:
            log.info("waiting for %d window analyses before stopping", len(self._pending))
            await asyncio.wait(self._pending, timeout=self.settings.worker.stop_grace)
        self._stopping = True
        unfinished = list(self._pending)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
            # Their results were never published, so the checkpoint below keeps their jobs.
            log.info(
                "%d analyses not finished before stopping: the last checkpoint keeps their windows, analysed at the next start",
                len(unfinished),
            )
        await self._checkpoint(set(self.states))
        if self.inputs is not None:
            await self.inputs.stop()
        await self.alerting.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- input -------------------------------------------------------------

    async def _consume_inputs(self) -> None:
        """Read the input topics in batches until the worker stops."""
        inputs = self.inputs = InputConsumer(self.settings.kafka, self.settings.worker, self._assigned, self._revoked)
        await inputs.start()
        while not self._stopping:
            batch = await inputs.batch()
            if batch:
                await self._process(inputs, batch)
            # Neither a batch already fetched nor a batch's processing yields to the event loop:
            # without this, a backlog is read batch after batch (here up to a second) with
            # timers, sends and the metrics endpoint waiting.
            await asyncio.sleep(0)

    async def _assigned(self, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Restore the state of the partitions this worker was given; start each where its state left it."""
        gained = sorted({p for _, p in partitions} - set(self.states))
        kafka = self.settings.kafka
        names = {p: partition_checkpoint(kafka.group_id, p) for p in gained}
        keys = StateKeys.of(self.settings.worker)
        saved, refused = (
            await asyncio.to_thread(read_checkpoints, kafka, kafka.state_topic, list(names.values()), keys) if gained else ({}, {})
        )
        for p in [p for p in gained if names[p] in refused]:
            # Never unpickled: the partition stays unread (and its checkpoint untouched) until a restart.
            gained.remove(p)
            if self.inputs is not None:
                self.inputs.refuse(p)
            metrics.CHECKPOINTS_REFUSED.labels(partition=str(p), reason=refused[names[p]].reason).inc()
            log.error("partition %d not started: %s", p, refused[names[p]])
        dispatch = await asyncio.to_thread(load_alert_states, kafka, gained) if gained else {}
        resumed: list[tuple[WorkerState, str, WindowJob | PerformanceJob]] = []
        async with self._state_lock:
            for p in gained:
                checkpoint = saved.get(names[p])
                state, generation = checkpoint if checkpoint is not None else (new_state(self.settings, self._reference), 0)
                state.configure(self.rules)
                for key, command in self._commands.items():
                    self._apply_command(state, key, command)
                self.states[p], self._generations[p] = state, generation
                if self.learner is not None and self.learner.started and state.challenger is not None:
                    self.learner.put(p, state.challenger)
                # Before the partition's first message: its alerts have a dispatcher to go to.
                await self.alerting.take_over(p, dispatch.get(p), state.lifecycle.firing())
                resumed += [(state, key, job) for key, job in state.unpublished.items()]
                log.info(
                    "partition %d: %s",
                    p,
                    f"resumed from checkpoint {generation} ({sum(state.offsets.values())} events reflected)"
                    if checkpoint is not None
                    else "no checkpoint, starting fresh",
                )
        # Results computed before a crash or a hand-over but not published: compute and publish
        # them again (their keys are stable, so a duplicate downstream is recognisable).
        for state, key, job in resumed:
            await self._submit(state, key, job)
        started = {p for _, p in partitions} & set(self.states)
        return {tp: offset for p in started for tp, offset in self.states[p].offsets.items() if tp in partitions}

    async def _revoked(self, partitions: set[tuple[str, int]]) -> None:
        """Hand the partitions over: checkpoint their state and commit, then forget them."""
        lost = {p for _, p in partitions} & set(self.states)
        if not lost:
            return
        if self._pending:
            # Their analyses' results belong in the checkpoint the next owner starts from.
            await asyncio.wait(self._pending, timeout=self.settings.worker.stop_grace)
        await self._checkpoint(lost)
        async with self._state_lock:
            for p in sorted(lost):
                del self.states[p], self._generations[p]
                if self.learner is not None and self.learner.started:
                    self.learner.drop(p)
                await self.alerting.hand_over(p)
        log.info("partitions %s handed over", ", ".join(map(str, sorted(lost))))

    async def _process(self, inputs: InputConsumer, batch: Mapping[Any, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Apply a batch of input messages to the state, then start the analyses it made due."""
        due: list[tuple[WorkerState, str, WindowJob | PerformanceJob]] = []
        async with self._state_lock:
            for tp, records in batch.items():
                state = self.states.get(tp.partition)
                if state is None:
                    # Fetched while its assignment is still restoring the partition's state
                    # (or after it was revoked): read it again later, from its state's offsets.
                    inputs.rewind(tp, records[0].offset)
                    continue
                self._idle_since[tp.partition] = time.monotonic()
                effects = Effects()
                for record in records:
                    if state.reflects(record.topic, record.partition, record.offset):
                        metrics.child(metrics.EVENTS, record.topic, "skipped").inc()
                        continue
                    taken = await self._take(state, inputs, record, effects)
                    if taken is HELD:
                        # Read again from this message once the join has room (see monitors.backpressure).
                        inputs.hold(tp, record.offset)
                        break
                    state.consumed(record.topic, record.partition, record.offset)
                    if isinstance(taken, datetime):
                        metrics.child(metrics.EVENTS, record.topic, "accepted").inc()
                        inputs.saw(tp, taken.timestamp())
                        effects += state.expire()
                due += await self._carry_out(tp.partition, state, effects)
            self._release_held(inputs)
            metrics.JOIN_PENDING.set(sum(len(state.features) for state in self.states.values()))
            metrics.JOIN_EVICTED.set(sum(state.features.evicted for state in self.states.values()))
            inputs.align({tp: offset for state in self.states.values() for tp, offset in state.offsets.items()})
        if self.learner is not None:
            await self._learned(await self.learner.send())
        for state, key, job in due:
            await self._submit(state, key, job)

    async def _take(
        self,
        state: WorkerState,
        inputs: InputConsumer,
        record: ConsumerRecord[bytes, bytes],
        effects: Effects,
    ) -> datetime | Held | None:
        """Apply one message: its event time, HELD when a full join must wait for the other input, None when dead-lettered or repeated."""
        kafka = self.settings.kafka
        if record.topic == kafka.labels_topic:
            label = await self._accept(LabelIn, record)
            if label is None:
                return None
            if not state.labels.knows(label.prediction_id) and not self._admit(
                inputs, record.partition, "labels", kafka.labels_topic, kafka.predictions_topic,
                state.labels.waiting_labels, state.labels.waiting_predictions, state.labels.capacity,
            ):
                return HELD
            effects += state.label(label.prediction_id, label.label, label.event_time, label.model)
            return label.event_time
        if record.topic == kafka.predictions_topic:
            prediction = await self._accept(PredictionIn, record)
            if prediction is None:
                return None
            if not prediction.features and not state.features.knows(prediction.prediction_id):
                if not self._admit(
                    inputs, record.partition, "features", kafka.predictions_topic, kafka.features_topic,
                    state.features.waiting_left, state.features.waiting_right, state.features.capacity,
                ):
                    return HELD
                if not await self._first(state, prediction, record):
                    return None
                state.features.add_left(prediction.prediction_id, prediction)
                return prediction.event_time
            if not self._admit_prediction(state, inputs, record.partition, prediction.prediction_id):
                return HELD
            if not await self._first(state, prediction, record):
                return None
            joined = (
                (prediction, None) if prediction.features else state.features.add_left(prediction.prediction_id, prediction)
            )
            event_time = prediction.event_time
        else:
            features = await self._accept(FeaturesIn, record)
            if features is None:
                return None
            if not state.features.knows(features.prediction_id):
                if not self._admit(
                    inputs, record.partition, "features", kafka.features_topic, kafka.predictions_topic,
                    state.features.waiting_right, state.features.waiting_left, state.features.capacity,
                ):
                    return HELD
            elif not self._admit_prediction(state, inputs, record.partition, features.prediction_id):
                return HELD
            joined = state.features.add_right(features.prediction_id, features)
            event_time = features.event_time
        if joined is not None:
            effects += self._observe(state, *joined)
        return event_time

    async def _first(self, state: WorkerState, prediction: PredictionIn, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Whether ``prediction`` is the first event with its id; a resend is counted, a conflict dead-lettered.

        Asked once per message, after the joins admitted it: a held message is read again.
        """
        digest = hashlib.blake2b(record.value, digest_size=16).digest()
        repeat = state.seen.check(prediction.model, prediction.prediction_id, digest, prediction.event_time)
        if repeat is Repeat.FIRST:
            return True
        metrics.DUPLICATE_PREDICTIONS.labels(model=prediction.model, outcome=repeat.value).inc()
        if repeat is Repeat.CONFLICT:
            await self._dead_letter(
                record,
                f"prediction_id {prediction.prediction_id!r} of model {prediction.model!r} was accepted before with "
                "other content (the first event stands)",
            )
        else:
            metrics.child(metrics.EVENTS, record.topic, "repeated").inc()
        return False

    def _admit_prediction(self, state: WorkerState, inputs: InputConsumer, partition: int, prediction_id: str) -> bool:
        """Whether a prediction about to reach the label join may (a prediction whose label waits always may)."""
        kafka, labels = self.settings.kafka, state.labels
        return labels.knows(prediction_id) or self._admit(
            inputs, partition, "labels", kafka.predictions_topic, kafka.labels_topic,
            labels.waiting_predictions, labels.waiting_labels, labels.capacity,
        )

    def _admit(
        self, inputs: InputConsumer, partition: int, join: str, topic: str, partner: str, mine: int, theirs: int, capacity: int
    ) -> bool:
        """Whether an item of ``topic`` that would wait in ``join`` may be added now; False: hold its input."""
        state = self.states[partition]
        admission = admit(
            mine=mine,
            theirs=theirs,
            capacity=capacity,
            partner_unread=inputs.unread(partner, partition, state.offsets.get((partner, partition), 0)),
            partner_held=inputs.held(partner, partition),
        )
        if admission is Admission.HOLD:
            inputs.release(TopicPartition(partner, partition))  # its items are what fills the join now
            self._holds[TopicPartition(topic, partition)] = join
            return False
        if admission is Admission.EVICT and not self._warned_eviction:
            self._warned_eviction = True
            log.warning(
                "the %s join of partition %d is full (%d waiting) and evicts its oldest items: %s "
                "(counted as evicted in the model status; raise %s if this is not expected)",
                join,
                partition,
                mine + theirs,
                "their partners are not in the input yet"
                if not inputs.unread(partner, partition, state.offsets.get((partner, partition), 0))
                else f"{topic} and {partner} each wait for items the other has not reached",
                "labels.capacity" if join == "labels" else "worker.join_capacity",
            )
        return True

    def _release_held(self, inputs: InputConsumer) -> None:
        """Read held inputs again once their join has room, or their partner input is read to its end."""
        kafka = self.settings.kafka
        for tp, join in list(self._holds.items()):
            state = self.states.get(tp.partition)
            if state is None or not inputs.held(tp.topic, tp.partition):
                del self._holds[tp]  # handed over, or released by its partner's hold
                continue
            size, capacity = (
                (len(state.labels), state.labels.capacity) if join == "labels" else (len(state.features), state.features.capacity)
            )
            partners = {kafka.predictions_topic, kafka.labels_topic if join == "labels" else kafka.features_topic} - {tp.topic}
            drained = not any(inputs.unread(t, tp.partition, state.offsets.get((t, tp.partition), 0)) for t in partners)
            if size < capacity or drained:
                inputs.release(tp)
                del self._holds[tp]

    async def _accept(self, kind: type[In], record: ConsumerRecord[bytes, bytes]) -> In | None:
        """Decode one message, or dead-letter it and return None."""
        try:
            decoded: In = read_input(kind, record.value, max_bytes=self.settings.worker.max_message_bytes)
        except DecodeError as exc:
            await self._dead_letter(record, str(exc))
            return None
        skew = decoded.event_time.timestamp() - time.time()
        if skew > self.settings.worker.max_future_skew:
            await self._dead_letter(
                record,
                f"event_time {decoded.event_time.isoformat()} is {skew:.0f} s ahead of the worker's clock "
                f"(worker.max_future_skew is {self.settings.worker.max_future_skew:.0f} s)",
            )
            return None
        return decoded

    def _observe(self, state: WorkerState, prediction: PredictionIn, features: FeaturesIn | None) -> Effects:
        """Hand one prediction, its features joined, to the partition's monitor."""
        values = features.features if features is not None else prediction.features
        row: dict[str, Any] = {
            **values,
            PREDICTION_COLUMN: prediction.prediction,
            VERSION_COLUMN: prediction.model_version,
            EVENT_TIME_COLUMN: prediction.event_time.timestamp(),
            SCORE_COLUMN: prediction.score,
        }
        if state.freshness is not None:
            state.freshness.seen(prediction.model, utc_now())
        # As JSON: a prediction waiting for its label then weighs (and checkpoints) as one object.
        return state.observe(prediction, row, kept_json(values))

    async def _carry_out(self, p: int, state: WorkerState, effects: Effects) -> list[tuple[WorkerState, str, WindowJob | PerformanceJob]]:
        """Do what the partition's monitor says its events caused; return the results due for analysis."""
        for model, destination in effects.routed:
            metrics.child(metrics.ROWS, model, destination).inc()
        for model in effects.expired:
            metrics.LABELS_EXPIRED.labels(model=model).inc()
        for model, prediction_id, reason in effects.rejected:
            self._rejected(model, prediction_id, reason)
        if effects.observations:
            await self.alerting.observe(p, state.lifecycle, effects.observations, window=None, snapshot=None)
        for model in effects.joined:
            metrics.child(metrics.LABELLED, model).inc()
        for pair, trusted in effects.learn:
            if self.learner is not None:
                if not self.learner.started:
                    self._start_learner()
                # Learned in the learner's process; what it causes comes back after a later batch (see _learned).
                self.learner.learn(p, pair.model, pair.prediction.features_json, pair.prediction.prediction, pair.label, trusted, pair.prediction_id)
        return self._register(state, effects.windows, effects.performance)

    def _register(
        self, state: WorkerState, windows: list[WindowJob], performance: list[PerformanceJob]
    ) -> list[tuple[WorkerState, str, WindowJob | PerformanceJob]]:
        """Keep results due in the state until they are published (a crash must not lose them)."""
        due: list[tuple[WorkerState, str, WindowJob | PerformanceJob]] = []
        for job in [*windows, *performance]:
            key = (
                f"drift/{job.model}/{job.segment}/{job.window.index}"
                if isinstance(job, WindowJob)
                else f"performance/{job.model}/{job.window}/{job.version}"
            )
            state.unpublished[key] = job
            due.append((state, key, job))
        return due

    def _start_learner(self) -> None:
        """Start the learner's process with the first labelled pair (a worker that gets no labels never needs it)."""
        assert self.learner is not None
        self.learner.start()
        log.info("the online challengers learn in process %s", self.learner.pid)
        for p, state in self.states.items():
            if state.challenger is not None:
                self.learner.put(p, state.challenger)

    def _rejected(self, model: str, prediction_id: str, reason: str) -> None:
        # A label of the wrong kind for the task (a string for a regression): counted, never fatal.
        metrics.LABELLED_REJECTED.labels(model=model).inc()
        log.warning("%s: labelled prediction %s not usable: %s", model, prediction_id, reason)

    async def _learned(self, outcomes: list[Outcome]) -> None:
        """What learning from labelled pairs caused: promotions to announce, pairs the challenger could not use."""
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                self._rejected(outcome.model, outcome.prediction_id, outcome.reason)
                continue
            partition, promotion = outcome
            state = self.states.get(partition)
            if state is not None:
                await self._promote(state, promotion)

    async def _promote(self, state: WorkerState, promotion: Promotion) -> None:
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
            offsets={f"{topic}/{partition}": offset for (topic, partition), offset in state.offsets.items()},
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

    def _partition(self, state: WorkerState) -> int | None:
        """The input partition whose state this is; None once it was handed over (an analysis that outlived it)."""
        return next((p for p, owned in self.states.items() if owned is state), None)

    # -- time --------------------------------------------------------------

    def _idle_s(self, p: int, state: WorkerState, *topics: str) -> float | None:
        """Seconds partition ``p`` has been read to its end on ``topics`` with nothing new; None while any has unread messages.

        Only then may wall-clock time move event time on (as idle sources do in
        Flink): a worker that is merely behind, paused or waiting for analyses
        must not close windows or expire labels that the events still unread
        would have filled or joined.
        """
        now = time.monotonic()
        if self.inputs is None or any(self.inputs.unread(t, p, state.offsets.get((t, p), 0)) for t in topics):
            self._idle_since[p] = now
            return None
        return now - self._idle_since.setdefault(p, now)

    async def _advance_time(self) -> None:
        """Close the last windows, and expire the labels, of partitions read to their end and idle since."""
        kafka = self.settings.kafka
        due: list[tuple[WorkerState, str, WindowJob | PerformanceJob]] = []
        async with self._state_lock:
            for p, state in self.states.items():
                idle = self._idle_s(p, state, kafka.predictions_topic, kafka.features_topic, kafka.labels_topic)
                if idle is None or idle <= 0:
                    continue
                due += await self._carry_out(p, state, state.idle(idle))
        for state, key, job in due:
            await self._submit(state, key, job)

    async def _evaluate_performance(self) -> None:
        async with self._state_lock:
            due = [item for state in self.states.values() for item in self._register(state, [], state.performance_due())]
        for state, key, job in due:
            await self._submit(state, key, job)

    # -- results -----------------------------------------------------------

    async def _submit(self, state: WorkerState, key: str, job: WindowJob | PerformanceJob) -> None:
        """Hand a result to the analysis processes; its stream's results are published in order."""
        await self._room_for_analysis()
        if self._stopping:
            # The stop cancelled the analyses queued (which made room): one started now would outlive the
            # pool and the producer. The job stays in the state's unpublished results, so in the last checkpoint.
            return
        if isinstance(job, WindowJob):
            metrics.WINDOWS_CLOSED.labels(model=job.model, reason=job.window.reason).inc()
            stream = (job.model, job.segment, "drift")
            task = asyncio.ensure_future(self._analyse_and_publish(state, key, job, self._tails.get(stream)))
            self._unanalysed[task] = (state, job.window.end)
        else:
            stream = (job.model, None, "performance")
            task = asyncio.ensure_future(self._evaluate_and_publish(state, key, job, self._tails.get(stream)))
        self._tails[stream] = task
        self._pending.add(task)
        metrics.ANALYSES_QUEUED.set(len(self._pending))
        task.add_done_callback(functools.partial(self._finished, stream))

    def _finished(self, stream: tuple[str, tuple[str, str] | None, str], task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here, so asyncio never reports it as lost; the result stays unpublished (checkpointed).
            log.error("a result could not be analysed or published: %r", task.exception(), exc_info=task.exception())
        self._pending.discard(task)
        self._unanalysed.pop(task, None)
        if self._tails.get(stream) is task:
            del self._tails[stream]
        metrics.ANALYSES_QUEUED.set(len(self._pending))

    async def _room_for_analysis(self) -> None:
        """Wait while the analyses queued are at their bound: the consumer slows down, nothing is dropped."""
        if len(self._pending) < self._max_pending:
            return
        now = time.monotonic()
        if now - self._warned_behind_at >= BEHIND_WARNING_INTERVAL_S:
            self._warned_behind_at = now
            log.warning(
                "window analyses are behind: %d queued, the oldest %.0f s of event time behind the input; reading "
                "waits for them (more worker.analysis_processes, larger window.size, or fewer segments.top_k help)",
                len(self._pending),
                self._measure_analysis_backlog(),
            )
        while len(self._pending) >= self._max_pending:
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)

    def _measure_analysis_backlog(self) -> float:
        """Seconds of event time from the end of the oldest window not analysed yet to the newest event read.

        Within each partition, whose event clock the window follows (partitions
        read from one backlog may be far apart in event time); the most of them.
        """
        behind = 0.0
        for state, end in self._unanalysed.values():
            if state.event_time is not None:
                behind = max(behind, (state.event_time - end).total_seconds())
        metrics.ANALYSIS_BEHIND.set(behind)
        return behind

    def _packed_reference(self, job: WindowJob) -> ReferenceRows:
        """The job's reference, packed once per version of it."""
        packed = self._references.get((job.model, job.segment))
        if packed is None or packed.key != ReferenceRows.key_of(job):
            packed = self._references[(job.model, job.segment)] = ReferenceRows.of(job)
        return packed

    async def _analyse_and_publish(
        self, state: WorkerState, key: str, job: WindowJob, previous: asyncio.Future[None] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        reference = self._packed_reference(job)
        job = replace(job, reference=())  # sent packed, apart
        try:
            calibration = state.calibrations.get(job.model)
            outcome: WindowOutcome = await loop.run_in_executor(self._pool, analyse, job, self.spec, reference, calibration)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("analysis of %s failed", job.name)
            async with self._state_lock:
                state.unpublished.pop(key, None)
            return
        metrics.ANALYSIS_SECONDS.observe(loop.time() - started)
        self._unanalysed.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        if previous is not None:
            await asyncio.wait([previous])  # the window before it is published first
        async with self._state_lock:
            report = await self._publish_window(state, key, job, outcome)
        if report.snapshot is not None and self.full_report_policy.wants(
            job.window.start, job.window.end, alert_changes=len(report.alerts)
        ):
            reason = "alert" if report.alerts else "interval"
            build = functools.partial(full_report, reference=reference)
            self._start_full_report(build, job, report.snapshot, reason, job.name)

    def _start_full_report(
        self,
        build_report: Callable[[Any, AnalysisSpec, SnapshotRef], None],
        job: WindowJob | PerformanceJob,
        snapshot: SnapshotRef,
        reason: str,
        what: str,
    ) -> None:
        """Build a result's Evidently report with its plots in the background, in place of its values-only run.

        At most as many as analyses may be queued: a storm of alert changes must not
        queue seconds-long reports without end ahead of the windows still to analyse.
        Beyond that a result keeps its values-only run (the alert still points to it).
        """
        if len(self._full_reports) >= self._max_pending:
            metrics.FULL_REPORTS_SKIPPED.labels(model=job.model).inc()
            log.debug("full report of %s skipped: %d already queued", what, len(self._full_reports))
            return

        async def build() -> None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._pool, build_report, job, self.spec, snapshot)
            except Exception:
                log.exception("full report of %s failed", what)
                return
            metrics.FULL_REPORTS.labels(model=job.model, reason=reason).inc()

        task = asyncio.ensure_future(build())
        self._full_reports.add(task)
        task.add_done_callback(self._full_reports.discard)

    async def _publish_window(self, state: WorkerState, key: str, job: WindowJob, outcome: WindowOutcome) -> WindowReport:
        report = outcome.report
        observations = list(outcome.observations)
        if report.estimate is not None:
            reported = report.estimate
            observations += state.estimated(job, Estimate(reported.accuracy, reported.low, reported.high, reported.rows))
        changes = await self.alerting.observe(self._partition(state), state.lifecycle, observations, report.window, report.snapshot)
        report = report.model_copy(update={"alerts": [alert.fingerprint for alert in changes]})
        await self._annotate_run(report, changes)
        if not await self._publish_result(state, key, job.name, report):
            return report
        metrics.REPORTS.labels(model=job.model).inc()
        log.info(
            "%s (%d events): %d/%d features drifted, %d alert changes",
            job.name,
            report.window.events,
            report.drifted_features,
            len(report.features),
            len(changes),
        )
        return report

    async def _annotate_run(self, report: WindowReport | PerformanceReport, changes: list[Alert]) -> None:
        """Add to the result's run in the workspace what only the worker knows: the alerts it changed."""
        if report.snapshot is not None and changes:
            notes = alert_notes(report.model, changes)
            await asyncio.get_running_loop().run_in_executor(None, annotate_run, self.spec, report.snapshot, notes)

    def _calibrate(self, state: WorkerState, model: str, calibration: Calibration) -> None:
        """Keep the score calibration the analysis fitted on a model's reference period."""
        state.calibrated(model, calibration)
        log.info(
            "%s: scores %s calibrated on the reference period (expected calibration error %.3f); "
            "accuracy estimates use the isotonic map",
            model,
            "are" if calibration.calibrated else "are NOT",
            calibration.ece or 0.0,
        )

    async def _evaluate_and_publish(
        self, state: WorkerState, key: str, job: PerformanceJob, previous: asyncio.Future[None] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome: PerformanceOutcome = await loop.run_in_executor(self._pool, evaluate_performance, job, self.spec)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("performance of %s window %s version %d failed", job.model, job.window, job.version)
            async with self._state_lock:
                state.unpublished.pop(key, None)
            return
        if previous is not None:
            await asyncio.wait([previous])  # the model's earlier versions and windows are published first
        async with self._state_lock:
            report = await self._publish_performance(state, key, job, outcome)
        # The reference period's quality is what every window is judged against: worth its plots too.
        if report.snapshot is not None and (report.alerts or job.window is None):
            reason = "alert" if report.alerts else "reference"
            what = f"{job.model} window {job.window} performance v{job.version}"
            self._start_full_report(full_performance_report, job, report.snapshot, reason, what)

    async def _publish_performance(
        self, state: WorkerState, key: str, job: PerformanceJob, outcome: PerformanceOutcome
    ) -> PerformanceReport:
        result = outcome.result
        measured = state.measured(job, result)
        if job.window is None and outcome.calibration is not None:
            self._calibrate(state, job.model, outcome.calibration)
        changes = []
        if measured.observations is not None:
            changes = await self.alerting.observe(
                self._partition(state), state.lifecycle, measured.observations, window=None, snapshot=outcome.report.snapshot
            )
        report = outcome.report.model_copy(
            update={
                "alerts": [alert.fingerprint for alert in changes],
                "estimate": measured.reconciled,
                "reference_metrics": measured.reference_metrics,
            }
        )
        await self._annotate_run(report, changes)
        what = f"{job.model} window {'reference' if job.window is None else job.window} performance v{job.version}"
        if not await self._publish_result(state, key, what, report):
            return report
        log.info(
            "%s window %s performance v%d: %d/%d labelled, %s",
            job.model,
            "reference" if job.window is None else job.window,
            job.version,
            result.labelled,
            job.predictions,
            ", ".join(f"{name} {value:.3f}" for name, value in sorted(result.metrics.items())) or "no metrics yet",
        )
        return report

    # -- checkpoints -------------------------------------------------------

    async def _checkpoint_all(self) -> None:
        await self._checkpoint(set(self.states))

    async def _checkpoint(self, partitions: set[int]) -> None:
        """Save each partition's state with the offsets it reflects, then commit those offsets to the group."""
        for p in sorted(partitions):
            async with self._state_lock:
                state = self.states.get(p)
                if state is None:
                    continue  # handed over meanwhile
                if self.learner is not None and self.learner.started:
                    # The challengers as they are after every pair this state has joined.
                    challenger, outcomes = await self.learner.take(p)
                    await self._learned(outcomes)
                    if challenger is not None:
                        state.challenger = challenger
                self._generations[p] += 1
                generation = self._generations[p]
                # Forked under the lock: the snapshot is of one consistent moment (every change to a
                # state holds the lock); a child pickles it while the worker goes on.
                taken = snapshot(state)
                offsets = dict(state.offsets)
                statuses = [self._status(state, model) for model in state.labels.models]
            started = asyncio.get_running_loop().time()
            name = partition_checkpoint(self.settings.kafka.group_id, p)
            try:
                payload = await asyncio.to_thread(taken.payload)
                # Hashing and signing 30 MB takes a while.
                records = await asyncio.to_thread(pack, payload, name, generation, StateKeys.of(self.settings.worker))
                # The chunks in parallel, then the manifest that points to them.
                await asyncio.gather(*(self._send(self.settings.kafka.state_topic, k, v) for k, v in records[:-1]))
                await self._send(self.settings.kafka.state_topic, *records[-1])
            except Exception:
                # Not taken or not saved, so not committed: the next checkpoint reflects these messages too.
                log.exception("checkpoint %d of partition %d could not be taken or written; retrying at the next interval", generation, p)
                # The retry writes the same slot again, not the one the manifest points to: were it
                # interrupted too, the previous checkpoint must still be whole.
                if self._generations.get(p) == generation:
                    self._generations[p] -= 1
                continue
            if self.inputs is not None:
                # Committed offsets never run ahead of a written checkpoint; a restart
                # resumes from the checkpoint's own offsets anyway (see _assigned).
                try:
                    await self.inputs.commit(offsets)
                except KafkaError as exc:
                    # A rebalance under way (a member that left or died) refuses the commit. Nothing is lost:
                    # the checkpoint holds these offsets, and the next checkpoint of the partitions still
                    # owned commits them again.
                    log.warning("offsets of checkpoint %d of partition %d not committed, committed at the next: %r", generation, p, exc)
            try:
                for status in statuses:
                    await self._send(self.settings.kafka.model_status_topic, status.model.encode(), encode(status))
            except Exception:
                # The checkpoint is saved; the next one publishes the statuses again. Raising here
                # would crash the worker from its timer.
                log.exception("model statuses of checkpoint %d could not be published", generation)
            metrics.CHECKPOINT_BYTES.labels(partition=str(p)).set(sum(len(value) for _, value in records))
            metrics.CHECKPOINT_SECONDS.observe(asyncio.get_running_loop().time() - started)

    def _status(self, state: WorkerState, model: str) -> ModelStatus:
        stats, repeats = state.labels.stats(model), state.seen.counts(model)
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
            resent_predictions=repeats.resent,
            conflicting_predictions=repeats.conflicting,
            evicted=stats.evicted,
            evicted_at=stats.evicted_at,
            coverage=stats.joined / stats.predictions if stats.predictions else 0.0,
            settled_coverage=stats.coverage,
            last_window=last[0] if last is not None else None,
            last_metrics=dict(last[1].metrics) if last is not None else {},
            reference_metrics=dict(reference.metrics) if reference is not None else {},
            challenger=challenger,
        )

    async def _dead_letter(self, message: ConsumerRecord[bytes, bytes], error: str) -> None:
        record = dead_letter(
            error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=message.timestamp,
            key=message.key,
            value=message.value,
            max_bytes=self.settings.worker.max_message_bytes,
        )
        key, value = encode_dead_letter(record)
        # Acknowledged by the broker before the message can be (with the next checkpoint): a
        # dead letter whose send failed unawaited would be lost without a trace.
        await self._send(self.settings.kafka.dead_letter_topic, key, value)
        metrics.EVENTS.labels(topic=message.topic, outcome="dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, record.error)


def _command(key: str, value: bytes) -> Mapping[str, Any] | None:
    """A valid command of the control topic, or None (logged) for anything else."""
    try:
        command = orjson.loads(value)
        if command.get("command") != "set_reference":
            raise ValueError(f"unknown command {command.get('command')!r}")
        str(command["id"]), command["rows"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring an invalid command %s on the control topic: %s", key, exc)
        return None
    return cast(Mapping[str, Any], command)
