"""streammon's exceptions.

StreammonError
 ├── ConfigError      configuration is invalid; names the setting
 ├── DecodeError      an input message is not a valid event
 ├── BrokerError      the Kafka broker cannot be provisioned or reached
 ├── CheckpointRefused  a saved state is not restored (unsigned, forged, or unreadable); says what to do
 └── NotifyError      an alert could not be delivered (``recoverable`` says whether to retry)
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


class NotifyError(StreammonError):
    """An alert could not be delivered to a receiver."""

    def __init__(self, message: str, *, recoverable: bool) -> None:
        super().__init__(message)
        self.recoverable = recoverable
