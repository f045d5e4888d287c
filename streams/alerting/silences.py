"""Silences on their compacted control topic: create, expire and list them.

Every worker reads the whole topic (see :meth:`streams.alerting.service.AlertService.follow_silences`),
so a silence created here applies everywhere within a second or so.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
from kafka import KafkaProducer

from monitors.alerting.matchers import parse_matchers
from monitors.alerting.silences import Silence, silence_to_dict
from streams.alerting.service import load_silences
from streams.clock import utc_now
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings


def create_silence(kafka: KafkaSettings, matchers: Sequence[str], duration_s: float, author: str, comment: str) -> Silence:
    """Publish a silence that starts now and lasts ``duration_s``."""
    now = utc_now()
    silence = Silence(
        id=str(uuid.uuid4()),
        matchers=parse_matchers(matchers),
        starts_at=now,
        ends_at=now + timedelta(seconds=duration_s),
        created_by=author,
        comment=comment,
    )
    _publish(kafka, silence)
    return silence


def expire_silence(kafka: KafkaSettings, silence_id: str) -> Silence:
    """End a silence now; it stays listed as expired.

    Raises
    ------
    KeyError
        When no silence has that id.
    """
    current = {s.id: s for s in list_silences(kafka)}
    if silence_id not in current:
        raise KeyError(silence_id)
    now = utc_now()
    silence = current[silence_id]
    expired = Silence(
        id=silence.id,
        matchers=silence.matchers,
        starts_at=min(silence.starts_at, now - timedelta(microseconds=1)),
        ends_at=min(silence.ends_at, now),
        created_by=silence.created_by,
        comment=silence.comment,
    )
    _publish(kafka, expired)
    return expired


def list_silences(kafka: KafkaSettings) -> list[Silence]:
    """Every silence on the topic, active or not, oldest first."""
    return sorted(load_silences(kafka), key=lambda s: s.starts_at)


def silence_state(silence: Silence, now: datetime) -> str:
    """``active``, ``pending`` (starts later) or ``expired``."""
    if silence.active(now):
        return "active"
    return "pending" if now < silence.starts_at else "expired"


def _publish(kafka: KafkaSettings, silence: Silence) -> None:
    producer = KafkaProducer(**client_options(kafka), acks="all")
    try:
        producer.send(kafka.silences_topic, key=silence.id.encode(), value=orjson.dumps(silence_to_dict(silence)))
        producer.flush()
    finally:
        producer.close()
