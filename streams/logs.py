"""Log output: readable lines for people, or one JSON object per line for log pipelines.

``--log-format json`` (or ``STREAMMON_LOG_FORMAT=json``) makes every record, the
worker's and its libraries' (Faust, aiokafka), a JSON object with ``time``,
``level``, ``logger``, ``message`` and, for an error, ``exception``.

The readable format writes one line per record: control characters in a message
(line breaks, carriage returns, escape sequences) are written escaped, as ``\\n``,
``\\r``, ``\\x1b``. Messages quote names that producers choose (models, segment
values, features, receivers); escaped, such a name cannot end a line and start a
forged one. A traceback still follows its record on lines of its own.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Literal

import orjson

__all__ = ["LogFormat", "JsonFormatter", "TextFormatter", "configure_logging", "escape_controls"]

LogFormat = Literal["text", "json"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: whatever
# a terminal or a log viewer may take for the end of a line or a command.
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_ESCAPES = {code: _NAMED.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROLS}


def escape_controls(text: str) -> str:
    """``text`` with its control characters escaped, so it fits on one line.

    >>> print(escape_controls("churn\\nFORGED CRITICAL streammon: fake\\r\\x1b[31m"))
    churn\\nFORGED CRITICAL streammon: fake\\r\\x1b[31m
    >>> escape_controls("région eu")
    'région eu'
    """
    return text.translate(_ESCAPES)


class TextFormatter(logging.Formatter):
    """Readable lines, one per record: the message's control characters escaped.

    >>> record = logging.LogRecord("streams.worker", logging.INFO, "app.py", 1, "%s window %d", ("churn\\nFAKE", 7), None)
    >>> TextFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    'INFO streams.worker: churn\\\\nFAKE window 7'
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # A copy: other handlers of the same record format its message their own way.
        escaped = copy.copy(record)
        escaped.message = escape_controls(record.message)
        return super().formatMessage(escaped)


class JsonFormatter(logging.Formatter):
    """One JSON object per record.

    >>> record = logging.LogRecord("streams.worker", logging.WARNING, "app.py", 1, "%d windows late", (3,), None)
    >>> record.created = 1764547200.0
    >>> JsonFormatter().format(record)
    '{"time":"2025-12-01T00:00:00+00:00","level":"WARNING","logger":"streams.worker","message":"3 windows late"}'
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
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
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(_TEXT))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler], force=True)
