"""The HTTP POST of the webhook and Alertmanager receivers, and their secrets kept out of logs.

Failures become :class:`~streams.errors.NotifyError` naming the receiver, never
its URL; HTTP 5xx and 429, connection errors and timeouts are recoverable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from streams.errors import NotifyError

__all__ = ["HttpPoster", "protect", "reveal"]


class _RedactSecrets(logging.Filter):
    """Replaces registered secrets in httpx's log records (it logs every request URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self.secrets.add(secret)
            self.secrets.add(str(httpx.URL(secret)))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<secret>")
        return text


_redactor = _RedactSecrets()


def protect(*secrets: str) -> None:
    """Keep ``secrets`` out of httpx's request log."""
    httpx_log = logging.getLogger("httpx")
    if _redactor not in httpx_log.filters:
        httpx_log.addFilter(_redactor)
    for secret in secrets:
        _redactor.add(secret)


class HttpPoster:
    """POSTs JSON and maps failures to NotifyError, naming the receiver, never the URL."""

    def __init__(self, name: str, timeout_s: float, client: httpx.AsyncClient | None) -> None:
        self._name = name
        self._timeout_s = timeout_s
        self._owned = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=timeout_s)

    async def post(self, url: str, body: Any, headers: Mapping[str, str]) -> None:
        try:
            response = await self._client.post(
                url,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json", **headers},
                timeout=self._timeout_s,
            )
        # Not chained (``from None``): httpx's exceptions carry the request and its URL,
        # and a logged traceback would show them.
        except httpx.TimeoutException as exc:
            raise NotifyError(
                f"receiver {self._name}: no answer within {self._timeout_s:g} s ({type(exc).__name__})",
                recoverable=True,
            ) from None
        except httpx.TransportError as exc:
            raise NotifyError(
                f"receiver {self._name}: {type(exc).__name__}: {_redactor.redact(str(exc))}", recoverable=True
            ) from None
        status = response.status_code
        if status < 300:
            return
        retry = status == 429 or status >= 500
        detail = _redactor.redact(response.text[:200].strip().replace("\n", " "))
        raise NotifyError(
            f"receiver {self._name}: HTTP {status} {response.reason_phrase}" + (f": {detail}" if detail else ""),
            recoverable=retry,
        )

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()


def reveal(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value
