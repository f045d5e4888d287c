"""The wall clock, in one place: alert times, group timers and freshness run on it (event time runs on the events)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now() -> datetime:
    """The wall clock: alert times and group timers run on it."""
    return datetime.now(UTC)
