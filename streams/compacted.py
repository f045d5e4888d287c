"""Reading the compacted topics that hold streammon's own state: the latest value per key, and every change as it comes.

Silences, commands, dispatcher states and checkpoints live in compacted
topics keyed by what they describe. :func:`read_latest` reads one to its
current end (at start, or for a CLI command); :func:`follow_topic` reads one
from its start and then follows it (the worker's silences and control feed).
Neither joins a consumer group: every reader sees every key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from streams.kafka_clients import client_options
from streams.settings import KafkaSettings

__all__ = ["follow_topic", "read_latest"]


def read_latest(kafka: KafkaSettings, topic: str, decode: Callable[[bytes], Any] = orjson.loads) -> dict[bytes, Any]:
    """Read a compacted topic to its current end: the latest value per key, decoded (tombstones remove)."""
    consumer = KafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    try:
        partitions = [KafkaTopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        latest: dict[bytes, Any] = {}
        while any(consumer.position(p) < end[p] for p in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    if record.value is None:
                        latest.pop(record.key, None)
                    else:
                        latest[record.key] = decode(record.value)
        return latest
    finally:
        consumer.close()


async def follow_topic(kafka: KafkaSettings, topic: str) -> AsyncIterator[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a compacted control topic from its start, then as they come (no consumer group)."""
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        async for message in consumer:
            yield message.key, message.value
    finally:
        await consumer.stop()
