"""Log output: readable lines for people, or one JSON object per line for log pipelines.

``--log-format json`` (or ``STREAMMON_LOG_FORMAT=json``) makes every record, the
worker's and its libraries' (Faust, aiokafka), a JSON object with ``time``,
``level``, ``logger``, ``message`` and, for an error, ``exception``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Literal

import orjson

__all__ = ["LogFormat", "JsonFormatter", "configure_logging"]

LogFormat = Literal["text", "json"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record.

    >>> record = logging.LogRecord("streams.app", logging.WARNING, "app.py", 1, "%d windows late", (3,), None)
    >>> record.created = 1764547200.0
    >>> JsonFormatter().format(record)
    '{"time":"2025-12-01T00:00:00+00:00","level":"WARNING","logger":"streams.app","message":"3 windows late"}'
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(log_format: LogFormat, debug: bool = False) -> None:
    """Send every record to standard error in ``log_format``, at INFO (DEBUG with ``debug``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler], force=True)
