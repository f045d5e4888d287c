"""The worker's input consumer: batches of prediction, feature and label messages.

The worker reads its inputs with aiokafka directly, not through Faust agents:
Faust hands every message through its own queues and event objects, which cost
about 80 µs a message here (a Faust agent that only JSON-decodes its messages
read 12k messages/s on this 2-core machine, a bare aiokafka loop 560k/s; see
BENCHMARKS.md). Offsets are committed only when the worker says so, after a
checkpoint holds their effect; nothing is committed automatically.

Partitions are assigned by range, so partition *p* of every input topic goes to
the same worker: a model's predictions, features and labels, keyed by model,
meet in one worker.

A worker that is behind reads its inputs in a joinable order and never makes a
join evict what it could still pair (:mod:`monitors.intake.backpressure` holds the
rules): reading is aligned by *event time* across the topics of one partition
number (an input whose last event read is more than ``ALIGN_SLACK_S`` newer
than that of another one still behind is paused until that one catches up),
and an input the worker *holds* (its next item would wait in a full join while
the partner input still has unread messages) is paused from that item on until
the worker releases it. Record time would not do: a backlog written in one
burst has one record time, whatever its event times.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from monitors.intake.backpressure import ahead
from streams import metrics
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings, WorkerSettings

__all__ = ["InputConsumer"]

log = logging.getLogger(__name__)

Batch = Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Partitions = set[tuple[str, int]]
ALIGN_SLACK_S = 5.0


class InputConsumer:
    """One consumer-group member reading the input topics in batches, committing on demand."""

    def __init__(
        self,
        kafka: KafkaSettings,
        worker: WorkerSettings,
        assigned: Callable[[Partitions], Awaitable[Mapping[tuple[str, int], int]]],
        revoked: Callable[[Partitions], Awaitable[None]],
    ) -> None:
        self.topics = (kafka.predictions_topic, kafka.features_topic, kafka.labels_topic)
        self._consumer = AIOKafkaConsumer(
            **client_options(kafka),
            group_id=kafka.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            # aiokafka's default fetch size (1 MB a partition), not more: the worker decodes a
            # fetch response on its event loop, and 4 MB ones stalled it (ticks over 100 ms late:
            # 24 % with 4 MB, 17 % with 1 MB, 14 % with 256 KB; the same rate; bench/load.py).
        )
        # Per partition: the event time (POSIX seconds) of the last event the worker took from it.
        self._frontiers: dict[TopicPartition, float] = {}
        # Partitions the worker holds (see monitors.intake.backpressure), until it releases them.
        self._held: set[TopicPartition] = set()
        # Partition numbers whose state was refused: never read while this member owns them.
        self._refused: set[int] = set()

        async def forget(partitions: Partitions) -> None:
            for topic, partition in partitions:
                self._frontiers.pop(TopicPartition(topic, partition), None)
                self._held.discard(TopicPartition(topic, partition))
                self._refused.discard(partition)
            await revoked(partitions)

        self._listener = _Listener(self._consumer, assigned, forget)
        _refusals_as_warnings(kafka.group_id)
        self._max_records = worker.batch_size
        self._timeout_ms = int(worker.batch_within_s * 1000)

    async def start(self) -> None:
        """Connect; the group is joined with the first :meth:`batch`."""
        await self._consumer.start()
        self._consumer.subscribe(self.topics, listener=self._listener)

    async def stop(self) -> None:
        """Leave the group (committing nothing: the worker commits after its final checkpoint)."""
        await self._consumer.stop()

    async def batch(self) -> Batch:
        """The next messages, per partition in offset order: up to ``worker.batch_size``, waiting at most ``batch_within_s``."""
        return await self._consumer.getmany(timeout_ms=self._timeout_ms, max_records=self._max_records)

    def saw(self, tp: TopicPartition, event_time_s: float) -> None:
        """Note the event time of the last event the worker took from ``tp``."""
        self._frontiers[tp] = event_time_s

    def unread(self, topic: str, partition: int, next_offset: int) -> bool:
        """Whether the partition has messages from ``next_offset`` on (True while its end is not known yet)."""
        highwater = self._consumer.highwater(TopicPartition(topic, partition))
        return highwater is None or highwater > next_offset

    def refuse(self, partition: int) -> None:
        """Never read partition number ``partition`` of the inputs (its state was refused) until it is revoked."""
        self._refused.add(partition)
        refused = [tp for tp in self._consumer.assignment() if tp.partition == partition]
        if refused:
            self._consumer.pause(*refused)

    def hold(self, tp: TopicPartition, offset: int) -> None:
        """Stop reading ``tp``; read it from ``offset`` on once released."""
        if tp in self._consumer.assignment():
            self._consumer.seek(tp, offset)
            self._consumer.pause(tp)
            self._held.add(tp)

    def release(self, tp: TopicPartition) -> None:
        """Read ``tp`` again (from the next :meth:`align` on)."""
        self._held.discard(tp)

    def held(self, topic: str, partition: int) -> bool:
        """Whether the worker holds this partition."""
        return TopicPartition(topic, partition) in self._held

    @property
    def holding(self) -> set[TopicPartition]:
        """The partitions the worker holds."""
        return set(self._held)

    def align(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        """Pause what is held, and what runs ahead in event time; resume the rest.

        ``next_offsets`` are the worker's next offsets to process: a partition
        with messages from there on is behind. A partition number with an input
        held is not aligned: the held input's partner must read on to drain the
        join, wherever its event time is.
        """
        owned = self._consumer.assignment()
        holding = {tp.partition for tp in self._held}
        frontiers = {
            tp: self._frontiers[tp]
            for tp in owned
            if tp.partition not in holding
            and tp in self._frontiers
            and self.unread(tp.topic, tp.partition, next_offsets.get((tp.topic, tp.partition), 0))
        }
        early: set[TopicPartition] = set()
        for number in {tp.partition for tp in frontiers}:
            early |= ahead({tp: t for tp, t in frontiers.items() if tp.partition == number}, ALIGN_SLACK_S)
        pause = (self._held & owned) | early | {tp for tp in owned if tp.partition in self._refused}
        if pause:
            self._consumer.pause(*pause)
        resume = (self._consumer.paused() & owned) - pause
        if resume:
            self._consumer.resume(*resume)
        for tp in owned:
            metrics.INPUTS_PAUSED.labels(topic=tp.topic, partition=str(tp.partition), reason="join_full").set(tp in self._held)
            metrics.INPUTS_PAUSED.labels(topic=tp.topic, partition=str(tp.partition), reason="ahead").set(tp in early)
            metrics.INPUTS_PAUSED.labels(topic=tp.topic, partition=str(tp.partition), reason="refused").set(
                tp.partition in self._refused
            )

    async def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Commit the next offsets to read, for the partitions this member still owns."""
        owned = self._consumer.assignment()
        chosen = {TopicPartition(t, p): o for (t, p), o in offsets.items() if TopicPartition(t, p) in owned}
        if chosen:
            await self._consumer.commit(chosen)

    def rewind(self, tp: TopicPartition, offset: int) -> None:
        """Read a partition again from ``offset``, if this member still owns it."""
        if tp in self._consumer.assignment():
            self._consumer.seek(tp, offset)

    async def lag(self, processed: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """Messages behind the high watermark per owned partition, counted from the next offset to process."""
        behind: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched yet from this partition
            offset = processed.get((tp.topic, tp.partition))
            if offset is None:
                offset = await self._consumer.position(tp)
            behind[(tp.topic, tp.partition)] = max(0, highwater - offset)
        return behind


class _RefusedCommit(logging.Filter):
    """Lowers aiokafka's ERROR about a commit of ``group_id`` that the group refused (it rebalanced) to WARNING."""

    def __init__(self, group_id: str) -> None:
        super().__init__()
        self.group_id = group_id

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno == logging.ERROR
            and str(record.msg).startswith("OffsetCommit failed for group %s due to group error")
            and record.args
            and record.args[0] == self.group_id  # type: ignore[index]
        ):
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def _refusals_as_warnings(group_id: str) -> None:
    """Log the group's refusals of the worker's commits as warnings, once per group.

    The worker handles them: the checkpoint holds the offsets and the next one
    commits them (streams.worker.partitions logs each at WARNING). An ERROR line for them
    would page someone for a rebalance.
    """
    logger = logging.getLogger("aiokafka.consumer.group_coordinator")
    if not any(isinstance(f, _RefusedCommit) and f.group_id == group_id for f in logger.filters):
        logger.addFilter(_RefusedCommit(group_id))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the worker what it gained and lost; starts gained partitions where the worker's state left them."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        assigned: Callable[[Partitions], Awaitable[Mapping[tuple[str, int], int]]],
        revoked: Callable[[Partitions], Awaitable[None]],
    ) -> None:
        self._consumer = consumer
        self._assigned = assigned
        self._revoked = revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # The committed offsets may trail the state (a crash between a checkpoint and its
        # commit): start where the state says, so nothing is read twice.
        offsets = await self._assigned({(tp.topic, tp.partition) for tp in assigned})
        for tp in assigned:
            offset = offsets.get((tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
