"""The broker's configuration: ``server.properties`` for one KRaft node, its log4j2 file, and the formatted storage."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

from streams.local.broker.install import run_tool

__all__ = ["format_storage", "server_properties", "write_config"]

_FORMAT_TIMEOUT = 120.0

_LOG4J2_YAML = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
"""


def server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    data: Path,
    sasl_port: int | None = None,
    sasl_users: Mapping[str, str] | None = None,
) -> str:
    """The ``server.properties`` of a single-node broker and controller on ``host``, with its log in ``data``.

    With ``sasl_port``, an extra ``SASL_PLAINTEXT`` listener accepts ``sasl_users``
    (their passwords written out: test credentials only).
    """
    sasl = f"SASL_PLAINTEXT://{host}:{sasl_port}" if sasl_port is not None else None
    return (
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{controller_port}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}" + (f",{sasl}" if sasl else ""),
                f"advertised.listeners=PLAINTEXT://{host}:{port}" + (f",{sasl}" if sasl else ""),
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
                + (",SASL_PLAINTEXT:SASL_PLAINTEXT" if sasl else ""),
                *_sasl_properties(sasl_port, sasl_users or {}),
                f"log.dirs={data}",
                "num.partitions=1",
                # One node: internal topics cannot have more replicas than brokers.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # Consumer groups form at once instead of after 3 s.
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
            ]
        )
        + "\n"
    )


def write_config(properties: Path, log4j: Path, text: str) -> None:
    """Write ``text`` (see :func:`server_properties`) to ``properties`` and the broker's log4j2 configuration to ``log4j``.

    The broker rewrites them at every start so that a changed host or port takes effect.
    """
    properties.write_text(text)
    log4j.write_text(_LOG4J2_YAML)


def format_storage(java: str, libs: Path, data: Path, properties: Path) -> None:
    """Format the log directory ``data`` with a new cluster id, unless it already is.

    Raises
    ------
    BrokerError
        If the storage tool fails or takes longer than two minutes.
    """
    if (data / "meta.properties").is_file():
        return
    command = [
        java,
        "-cp",
        str(libs / "*"),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        _cluster_id(),
        "-c",
        str(properties),
    ]
    run_tool(command, timeout=_FORMAT_TIMEOUT, what=f"formatting the Kafka storage in {data}")


def _sasl_properties(sasl_port: int | None, sasl_users: Mapping[str, str]) -> list[str]:
    if sasl_port is None:
        return []
    # The broker's side of PLAIN: one user_<name>="<password>" option per user.
    users = " ".join(f'user_{name}="{password}"' for name, password in sasl_users.items())
    return [
        "sasl.enabled.mechanisms=PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config="
        f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};",
    ]


def _cluster_id() -> str:
    # Kafka's cluster ids are 16 random bytes in unpadded base64url. Like Kafka's own
    # Uuid.randomUuid, skip ids starting with "-": the storage tool would read one as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
