"""The configured receivers, made from their configuration."""

from __future__ import annotations

from collections.abc import Sequence

from streams.alerting.receivers.alertmanager import AlertmanagerReceiver
from streams.alerting.receivers.base import Receiver, Send
from streams.alerting.receivers.kafka import KafkaReceiver
from streams.alerting.receivers.webhook import WebhookReceiver
from streams.errors import ConfigError
from streams.receiver_settings import ReceiverConfig

__all__ = ["build_receivers"]


def build_receivers(configs: Sequence[ReceiverConfig], send_kafka: Send | None, *, external_url: str = "") -> dict[str, Receiver]:
    """The configured receivers by name; Kafka receivers publish with ``send_kafka``."""
    receivers: dict[str, Receiver] = {}
    for config in configs:
        if config.name in receivers:
            raise ConfigError(f"receivers: duplicate name {config.name!r}")
        receiver: Receiver
        if config.kafka is not None:
            if send_kafka is None:
                raise ConfigError(f"receiver {config.name!r}: a Kafka receiver needs a producer")
            receiver = KafkaReceiver(config.name, config.kafka.topic, send_kafka, external_url=external_url)
        elif config.webhook is not None:
            hook = config.webhook
            receiver = WebhookReceiver(
                config.name,
                hook.url,
                format=hook.format,
                headers=hook.headers,
                timeout_s=hook.timeout_s,
                external_url=external_url,
            )
        elif config.alertmanager is not None:
            am = config.alertmanager
            receiver = AlertmanagerReceiver(config.name, am.url, timeout_s=am.timeout_s, resend_interval_s=am.resend_interval_s)
        else:  # pragma: no cover - the model validator forbids it
            raise ConfigError(f"receiver {config.name!r}: no destination")
        receivers[config.name] = receiver
    return receivers
