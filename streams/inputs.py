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

Reading is aligned by record time across the topics of one partition number, as
Kafka Streams aligns the partitions of a task: a partition whose last record read
is more than ``ALIGN_SLACK_MS`` newer than that of another one still behind is
paused until that one catches up. Without it, a worker catching up on a backlog
reads one topic far ahead of the others (here: 199,000 labels against 37,000
predictions), and the label join fills up and evicts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from streams.kafka_clients import client_options
from streams.settings import KafkaSettings, WorkerSettings

__all__ = ["InputConsumer"]

log = logging.getLogger(__name__)

Batch = Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Partitions = set[tuple[str, int]]
ALIGN_SLACK_MS = 5_000


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
        # Per partition: the next offset and the time of the last record read.
        self._read: dict[TopicPartition, tuple[int, int]] = {}

        async def forget(partitions: Partitions) -> None:
            for topic, partition in partitions:
                self._read.pop(TopicPartition(topic, partition), None)
            await revoked(partitions)

        self._listener = _Listener(self._consumer, assigned, forget)
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
        batch = await self._consumer.getmany(timeout_ms=self._timeout_ms, max_records=self._max_records)
        for tp, records in batch.items():
            self._read[tp] = (records[-1].offset + 1, records[-1].timestamp)
        self._align()
        return batch

    def _align(self) -> None:
        owned = self._consumer.assignment()
        behind = {}
        for tp in owned:
            read, highwater = self._read.get(tp), self._consumer.highwater(tp)
            if read is not None and highwater is not None and highwater > read[0]:
                behind[(tp.topic, tp.partition)] = read[1]
        pause = {TopicPartition(t, p) for t, p in ahead(behind, ALIGN_SLACK_MS)}
        if pause:
            self._consumer.pause(*pause)
        resume = (self._consumer.paused() & owned) - pause
        if resume:
            self._consumer.resume(*resume)

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


def ahead(behind: Mapping[tuple[str, int], int], slack_ms: int) -> set[tuple[str, int]]:
    """The partitions to pause: among those not read to their end, each whose last record read is over ``slack_ms`` newer than the oldest of its partition number.

    ``behind`` maps (topic, partition) to the time (ms) of the last record read.

    >>> ahead({("labels", 0): 90_000, ("predictions", 0): 10_000, ("labels", 1): 20_000}, slack_ms=5_000)
    {('labels', 0)}
    """
    oldest: dict[int, int] = {}
    for (_, partition), ms in behind.items():
        oldest[partition] = min(ms, oldest.get(partition, ms))
    return {tp for tp, ms in behind.items() if ms > oldest[tp[1]] + slack_ms}


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
