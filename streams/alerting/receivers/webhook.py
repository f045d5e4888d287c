"""The webhook receiver: notifications POSTed to a URL, as Alertmanager webhook JSON or a Slack message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import httpx
from pydantic import SecretStr

from streams.alerting.receivers.base import Notification
from streams.alerting.receivers.http_post import HttpPoster, protect, reveal
from streams.alerting.receivers.payloads import alertmanager_payload, slack_payload

__all__ = ["WebhookReceiver"]


class WebhookReceiver:
    """POSTs each notification as JSON to a URL: Alertmanager's webhook payload or a Slack message.

    ``url`` and ``headers`` are secrets: they never appear in logs or errors.
    """

    def __init__(
        self,
        name: str,
        url: str | SecretStr,
        *,
        format: Literal["alertmanager", "slack"] = "alertmanager",
        headers: Mapping[str, str | SecretStr] | None = None,
        timeout_s: float = 10.0,
        external_url: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.url = SecretStr(reveal(url))
        self.format = format
        self.headers = {k: SecretStr(reveal(v)) for k, v in (headers or {}).items()}
        self.timeout_s = timeout_s
        self.external_url = external_url
        protect(self.url.get_secret_value())
        self._http = HttpPoster(name, timeout_s, client)

    async def deliver(self, notification: Notification) -> None:
        if self.format == "slack":
            body = slack_payload(notification)
        else:
            body = alertmanager_payload(notification, self.external_url)
        headers = {k: v.get_secret_value() for k, v in self.headers.items()}
        await self._http.post(self.url.get_secret_value(), body, headers)

    async def start(self) -> None:
        """Nothing to start; present so :class:`Deliveries` closes the HTTP client."""

    async def aclose(self) -> None:
        await self._http.aclose()
