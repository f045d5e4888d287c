"""Broker administration: reachability and the topics streammon uses."""

from __future__ import annotations

import time
from collections.abc import Sequence

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError, ConfigError
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings

# Small segments, cleaned early: compaction never touches the active segment, and a worker
# reads the state topic whole when it is assigned partitions (checkpoints are rewritten
# every few seconds, so with Kafka's 1 GB segments that read would grow to gigabytes).
_COMPACTED = {"cleanup.policy": "compact", "segment.bytes": str(32 * 1024 * 1024), "min.cleanable.dirty.ratio": "0.1"}


# Topics per delete request: a request with thousands of names can outlast its timeout.
_DELETE_BATCH = 100


def admin_client(kafka: KafkaSettings, timeout_s: float = 10.0) -> KafkaAdminClient:
    """Connect an admin client as configured, or raise BrokerError naming the address."""
    deadline = time.monotonic() + timeout_s
    while True:
        # kafka-python keeps bootstrapping for 30 s by default, with backoffs growing to seconds:
        # a broker that refuses the credentials would hold every command for that long.
        bootstrap_ms = max(1000, int((deadline - time.monotonic()) * 1000))
        try:
            return KafkaAdminClient(**client_options(kafka), request_timeout_ms=5000, bootstrap_timeout_ms=bootstrap_ms)
        except KafkaError as exc:
            if time.monotonic() >= deadline:
                raise BrokerError(f"no Kafka broker answers at {kafka.bootstrap_servers}{_what_to_check(kafka)}: {exc}") from exc
            time.sleep(0.5)


def _what_to_check(kafka: KafkaSettings) -> str:
    """What to look at when no broker answers: a broker refusing the credentials closes the connection just the same."""
    if kafka.security_protocol.startswith("SASL"):
        return (
            f", or it refused the credentials of kafka.sasl_username {kafka.sasl_username!r} "
            f"(check it, kafka.sasl_password and kafka.sasl_mechanism {kafka.sasl_mechanism})"
        )
    return " (start one with `streammon broker start`)"


def topic_names(kafka: KafkaSettings) -> list[str]:
    """Every topic the worker reads or writes, but the compacted control topics."""
    return [
        kafka.predictions_topic,
        kafka.features_topic,
        kafka.labels_topic,
        kafka.reports_topic,
        kafka.alerts_topic,
        kafka.dead_letter_topic,
        kafka.model_updates_topic,
    ]


def control_topic_names(kafka: KafkaSettings) -> list[str]:
    """Compacted topics that hold state by key: silences, alert and worker state, model status, commands (one partition: read whole)."""
    return [kafka.silences_topic, kafka.alert_state_topic, kafka.state_topic, kafka.model_status_topic, kafka.control_topic]


def ensure_topics(kafka: KafkaSettings, timeout_s: float = 10.0, extra: Sequence[str] = ()) -> list[str]:
    """Create the topics (and ``extra`` ones, e.g. receivers' topics) that do not exist yet; return the names created."""
    admin = admin_client(kafka, timeout_s)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(name, num_partitions=kafka.partitions, replication_factor=kafka.replication_factor)
            for name in dict.fromkeys([*topic_names(kafka), *extra])
            if name not in existing
        ]
        new += [
            NewTopic(name, num_partitions=1, replication_factor=kafka.replication_factor, topic_configs=_COMPACTED)
            for name in control_topic_names(kafka)
            if name not in existing
        ]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another worker created them first
        return [topic.name for topic in new]
    finally:
        admin.close()


def delete_topics_under(kafka: KafkaSettings, prefixes: Sequence[str], timeout_s: float = 10.0) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; return the names deleted.

    For runs that made topics of their own (tests, benchmarks): a broker keeps every
    partition it ever held and loads them all again at each start, so topics left
    behind make each later start slower.
    """
    if not prefixes:
        return []
    admin = admin_client(kafka, timeout_s)
    try:
        doomed = [name for name in admin.list_topics() if name.startswith(tuple(prefixes))]
        for start in range(0, len(doomed), _DELETE_BATCH):
            # Without raising: a topic another client deleted meanwhile is gone all the same.
            admin.delete_topics(doomed[start : start + _DELETE_BATCH], timeout_ms=int(timeout_s * 1000), raise_errors=False)
        return doomed
    finally:
        admin.close()


def require_copartitioned(kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
    """Fail unless the input topics have the same number of partitions.

    A worker owns partition *p* of every input topic at once, with one state for
    it: a model's predictions, features and labels (keyed by model) meet only if
    the same key lands on the same partition number in each topic.

    Raises
    ------
    ConfigError
        Naming the topics and their partition counts.
    """
    inputs = [kafka.predictions_topic, kafka.features_topic, kafka.labels_topic]
    admin = admin_client(kafka, timeout_s)
    try:
        counts = {topic["name"]: len(topic["partitions"]) for topic in admin.describe_topics(inputs)}
    finally:
        admin.close()
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{topic} has {count}" for topic, count in counts.items())
        raise ConfigError(
            f"kafka: the input topics must have the same number of partitions (one worker owns partition p of all three): {found}"
        )
