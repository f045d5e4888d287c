"""Replacing a reference while workers run: a command on the compacted control topic.

``streammon reference set FILE [--model M]`` publishes the file's rows under the
key ``reference/<model>`` (``reference/*`` for every model); every worker reads
the control topic from its start and follows it, and compares the windows that
close from then on with the new rows. The latest command per key is what a
restarted worker applies again (once: the checkpoint remembers what it applied).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from streams.clock import utc_now
from streams.errors import ConfigError
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings
from streams.worker.runner import table_rows

# A reference bigger than this is sampled: the worker profiles every row it gets, and
# a command must fit in one (compressed) Kafka message.
MAX_ROWS = 20_000
_MAX_REQUEST_BYTES = 64 * 1024 * 1024


def reference_command(rows: list[dict[str, Any]], model: str | None, source: str) -> tuple[bytes, dict[str, Any]]:
    """The control-topic key and value that set ``model``'s reference (every model's when None) to ``rows``."""
    if not rows:
        raise ConfigError(f"{source} holds no rows")
    if len(rows) > MAX_ROWS:
        rows = random.Random(0).sample(rows, MAX_ROWS)
    command = {
        "command": "set_reference",
        "id": str(uuid.uuid4()),
        "model": model,
        "rows": rows,
        "source": source,
        "created_at": utc_now().isoformat(),
    }
    return f"reference/{model or '*'}".encode(), command


def set_reference(kafka: KafkaSettings, path: Path, model: str | None) -> dict[str, Any]:
    """Publish a command that replaces the reference with the rows of ``path``; return it."""
    key, command = reference_command(table_rows(path), model, str(path))
    producer = KafkaProducer(**client_options(kafka), compression_type="gzip", max_request_size=_MAX_REQUEST_BYTES)
    try:
        producer.send(kafka.control_topic, key=key, value=orjson.dumps(command)).get(timeout=30)
    finally:
        producer.close()
    return command
