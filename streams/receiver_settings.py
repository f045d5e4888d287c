"""The receivers' settings: a named receiver and its one destination.

These models are the ``receivers`` of :class:`streams.settings.AlertingSettings`,
validated when the settings load; :func:`streams.alerting.receivers.build.build_receivers`
makes receivers from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["AlertmanagerReceiverConfig", "KafkaReceiverConfig", "ReceiverConfig", "WebhookReceiverConfig"]


class _Config(BaseModel):
    # hide_input_in_errors: a rejected URL or header is a secret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def _http_url(url: SecretStr) -> SecretStr:
    if not url.get_secret_value().startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return url


class KafkaReceiverConfig(_Config):
    """Notifications as Alertmanager webhook JSON to a topic."""

    topic: str = Field(min_length=1)


class WebhookReceiverConfig(_Config):
    """Notifications POSTed to a URL (a secret), as Alertmanager webhook JSON or a Slack message."""

    url: SecretStr
    format: Literal["alertmanager", "slack"] = "alertmanager"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0)

    _url = field_validator("url")(_http_url)


class AlertmanagerReceiverConfig(_Config):
    """Alerts posted to a Prometheus Alertmanager at ``url`` (its base URL, a secret)."""

    url: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)
    resend_interval_s: float = Field(default=60.0, gt=0)

    _url = field_validator("url")(_http_url)


class ReceiverConfig(_Config):
    """A named receiver: exactly one of ``kafka``, ``webhook`` or ``alertmanager``."""

    name: str = Field(min_length=1)
    kafka: KafkaReceiverConfig | None = None
    webhook: WebhookReceiverConfig | None = None
    alertmanager: AlertmanagerReceiverConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReceiverConfig:
        kinds = [k for k in ("kafka", "webhook", "alertmanager") if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"receiver {self.name!r}: set exactly one of kafka, webhook, alertmanager (got {got})")
        return self
