"""Ingestion: input batches read, decoded, joined and handed to their partition's monitor.

Predictions and separately logged features are validated, joined by
``prediction_id`` and given to the partition's :class:`~monitors.partition.PartitionMonitor`,
as are labels; what the monitor says they caused is carried out here (alert
observations, pairs for the challengers, metrics) and the results it made due
go to the analyses. Invalid messages go to the dead-letter topic with their
error and coordinates; nothing is dropped silently. A join that is full holds
its input (see :mod:`monitors.intake.backpressure`) instead of evicting what it has
not processed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition

from monitors.intake.backpressure import Admission, admit
from monitors.intake.duplicates import Repeat
from monitors.labels.performance import PerformanceJob
from monitors.partition import Effects
from monitors.windows.watch import WindowJob
from streams import metrics
from streams.alerting.service import AlertService
from streams.clock import utc_now
from streams.codec import kept_json
from streams.errors import DecodeError
from streams.events import PREDICTION_COLUMN
from streams.settings import Settings
from streams.worker.analysis import EVENT_TIME_COLUMN, SCORE_COLUMN, VERSION_COLUMN
from streams.worker.input_events import FeaturesIn, LabelIn, PredictionIn, read_input
from streams.worker.inputs import InputConsumer
from streams.worker.learning import Learning
from streams.worker.output import Output
from streams.worker.partitions import Partitions
from streams.worker.results import Results
from streams.worker.state import WorkerState

log = logging.getLogger(__name__)

In = TypeVar("In", PredictionIn, FeaturesIn, LabelIn)
Due = list[tuple[WorkerState, str, WindowJob | PerformanceJob]]


class Held:
    """A message not applied: its input waits until a full join has room (see :mod:`monitors.intake.backpressure`)."""


HELD = Held()


class Ingestion:
    """The batch loop over the input topics."""

    def __init__(
        self,
        settings: Settings,
        partitions: Partitions,
        results: Results,
        learning: Learning,
        alerting: AlertService,
        output: Output,
        on_assigned: Callable[[set[tuple[str, int]]], Awaitable[dict[tuple[str, int], int]]],
        on_revoked: Callable[[set[tuple[str, int]]], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.partitions = partitions
        self.results = results
        self.learning = learning
        self.alerting = alerting
        self.output = output
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        # Input partitions held because their next item would wait in a full join: which join.
        self._holds: dict[TopicPartition, str] = {}
        self._warned_eviction = False

    async def run(self) -> None:
        """Read the input topics in batches until the worker stops."""
        inputs = self.partitions.inputs = InputConsumer(
            self.settings.kafka, self.settings.worker, self._on_assigned, self._on_revoked
        )
        await inputs.start()
        while not self.results.stopping:
            batch = await inputs.batch()
            if batch:
                await self._process(inputs, batch)
            # Neither a batch already fetched nor a batch's processing yields to the event loop:
            # without this, a backlog is read batch after batch (here up to a second) with
            # timers, sends and the metrics endpoint waiting.
            await asyncio.sleep(0)

    async def _process(self, inputs: InputConsumer, batch: Mapping[Any, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Apply a batch of input messages to the state, then start the analyses it made due."""
        due: Due = []
        async with self.partitions.lock:
            for tp, records in batch.items():
                state = self.partitions.states.get(tp.partition)
                if state is None:
                    # Fetched while its assignment is still restoring the partition's state
                    # (or after it was revoked): read it again later, from its state's offsets.
                    inputs.rewind(tp, records[0].offset)
                    continue
                self.partitions.idle_since[tp.partition] = time.monotonic()
                effects = Effects()
                for record in records:
                    if state.reflects(record.topic, record.partition, record.offset):
                        metrics.child(metrics.EVENTS, record.topic, "skipped").inc()
                        continue
                    taken = await self._take(state, inputs, record, effects)
                    if taken is HELD:
                        # Read again from this message once the join has room (see monitors.intake.backpressure).
                        inputs.hold(tp, record.offset)
                        break
                    state.consumed(record.topic, record.partition, record.offset)
                    if isinstance(taken, datetime):
                        metrics.child(metrics.EVENTS, record.topic, "accepted").inc()
                        inputs.saw(tp, taken.timestamp())
                        state.expire(into=effects)
                due += await self.carry_out(tp.partition, state, effects)
            self._release_held(inputs)
            metrics.JOIN_PENDING.set(sum(len(state.features) for state in self.partitions.states.values()))
            metrics.JOIN_EVICTED.set(sum(state.features.evicted for state in self.partitions.states.values()))
            inputs.align({tp: offset for state in self.partitions.states.values() for tp, offset in state.offsets.items()})
        await self.learning.collect()
        for state, key, job in due:
            await self.results.submit(state, key, job)

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
                inputs,
                record.partition,
                "labels",
                kafka.labels_topic,
                kafka.predictions_topic,
                state.labels.waiting_labels,
                state.labels.waiting_predictions,
                state.labels.capacity,
            ):
                return HELD
            state.label(label.prediction_id, label.label, label.event_time, label.model, into=effects)
            return label.event_time
        if record.topic == kafka.predictions_topic:
            prediction = await self._accept(PredictionIn, record)
            if prediction is None:
                return None
            if not prediction.features and not state.features.knows(prediction.prediction_id):
                if not self._admit(
                    inputs,
                    record.partition,
                    "features",
                    kafka.predictions_topic,
                    kafka.features_topic,
                    state.features.waiting_left,
                    state.features.waiting_right,
                    state.features.capacity,
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
            joined = (prediction, None) if prediction.features else state.features.add_left(prediction.prediction_id, prediction)
            event_time = prediction.event_time
        else:
            features = await self._accept(FeaturesIn, record)
            if features is None:
                return None
            if not state.features.knows(features.prediction_id):
                if not self._admit(
                    inputs,
                    record.partition,
                    "features",
                    kafka.features_topic,
                    kafka.predictions_topic,
                    state.features.waiting_right,
                    state.features.waiting_left,
                    state.features.capacity,
                ):
                    return HELD
            elif not self._admit_prediction(state, inputs, record.partition, features.prediction_id):
                return HELD
            joined = state.features.add_right(features.prediction_id, features)
            event_time = features.event_time
        if joined is not None:
            self._observe(state, *joined, effects)
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
            await self.output.dead_letter(
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
            inputs,
            partition,
            "labels",
            kafka.predictions_topic,
            kafka.labels_topic,
            labels.waiting_predictions,
            labels.waiting_labels,
            labels.capacity,
        )

    def _admit(
        self, inputs: InputConsumer, partition: int, join: str, topic: str, partner: str, mine: int, theirs: int, capacity: int
    ) -> bool:
        """Whether an item of ``topic`` that would wait in ``join`` may be added now; False: hold its input."""
        state = self.partitions.states[partition]
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
            state = self.partitions.states.get(tp.partition)
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
            await self.output.dead_letter(record, str(exc))
            return None
        skew = decoded.event_time.timestamp() - time.time()
        if skew > self.settings.worker.max_future_skew:
            await self.output.dead_letter(
                record,
                f"event_time {decoded.event_time.isoformat()} is {skew:.0f} s ahead of the worker's clock "
                f"(worker.max_future_skew is {self.settings.worker.max_future_skew:.0f} s)",
            )
            return None
        return decoded

    def _observe(self, state: WorkerState, prediction: PredictionIn, features: FeaturesIn | None, effects: Effects) -> None:
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
            state.freshness.update(prediction.model, utc_now())
        # As JSON: a prediction waiting for its label then weighs (and checkpoints) as one object.
        state.update(prediction, row, kept_json(values), into=effects)

    async def carry_out(self, p: int, state: WorkerState, effects: Effects) -> Due:
        """Do what the partition's monitor says its events caused; return the results due for analysis."""
        for model, destination in effects.routed:
            metrics.child(metrics.ROWS, model, destination).inc()
        for model in effects.expired:
            metrics.LABELS_EXPIRED.labels(model=model).inc()
        for model, prediction_id, reason in effects.rejected:
            self.learning.rejected(model, prediction_id, reason)
        if effects.observations:
            await self.alerting.observe(p, state.lifecycle, effects.observations, window=None, snapshot=None)
        for model in effects.joined:
            metrics.child(metrics.LABELLED, model).inc()
        for pair, trusted in effects.learn:
            self.learning.learn(p, pair, trusted)
        return [(state, key, job) for key, job in state.register(effects.windows, effects.performance)]
