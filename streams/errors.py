"""streammon's exceptions.

StreammonError
 ├── ConfigError            configuration is invalid; names the setting
 ├── DecodeError            an input message is not a valid event
 ├── BrokerError            the Kafka broker cannot be provisioned or reached
 ├── CheckpointRefused      a saved state is not restored (unsigned, forged, or unreadable); says what to do
 ├── MessageTooLargeError   a message to produce does not fit its topic (never worth a retry)
 └── NotifyError            an alert could not be delivered (``recoverable`` says whether to retry)
"""

from __future__ import annotations


class StreammonError(Exception):
    """Root of every error streammon raises on purpose."""


class ConfigError(StreammonError):
    """Invalid configuration, reported before anything starts."""


class DecodeError(StreammonError):
    """A consumed message is not a valid event."""


class BrokerError(StreammonError):
    """The Kafka broker cannot be provisioned, started or reached."""


class CheckpointRefused(StreammonError):
    """A checkpoint that is not restored: its partition does not start; ``reason`` is a short label for metrics."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class MessageTooLargeError(StreammonError):
    """A message streammon was about to produce is larger than the producer or the broker accepts.

    ``size`` is the record's size in bytes as estimated before sending, ``limit``
    the producer's ``max_request_size``; ``refusal``, when the producer's check
    passed, the client's or the broker's own refusal (the broker's or the
    topic's limit may be lower). Sending it again would fail again.
    """

    def __init__(self, topic: str, key: bytes | None, size: int, limit: int, refusal: str = "") -> None:
        shown = repr(key[:100]) + ("…" if len(key) > 100 else "") if key is not None else "no key"
        what = f"message to {topic} (key {shown}) of {size:,} bytes"
        if refusal:
            super().__init__(f"{what} refused as too large: {refusal}")
        else:
            super().__init__(f"{what} does not fit the producer's limit of {limit:,} bytes (max_request_size)")
        self.topic = topic
        self.key = key
        self.size = size
        self.limit = limit


class NotifyError(StreammonError):
    """An alert could not be delivered to a receiver."""

    def __init__(self, message: str, *, recoverable: bool) -> None:
        super().__init__(message)
        self.recoverable = recoverable
