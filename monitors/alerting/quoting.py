"""Values quoted in text for people, bounded: what was left out is counted.

Findings, alerts and their notifications quote what producers sent: category
values, constant values, feature names. A value may be as long as an input
message allows (about a megabyte); quoted in full, it would make every report,
alert and notification that carries it as large, too large for Kafka. Quoted
here, a value keeps its first characters and says how many it had more.
"""

from __future__ import annotations

__all__ = ["MAX_QUOTED_CHARS", "clip", "quote"]

MAX_QUOTED_CHARS = 80  # of one value quoted in a summary


def clip(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and how many more it had.

    Examples
    --------
    >>> clip("churn", 10)
    'churn'
    >>> clip("x" * 1_000_000, 5)
    'xxxxx… (999,995 more characters)'
    """
    if limit < 0:
        raise ValueError(f"limit must be at least 0, got {limit}")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def quote(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``repr(value)``, a long string cut to its first ``limit`` characters.

    Examples
    --------
    >>> quote("pro")
    "'pro'"
    >>> quote(42)
    '42'
    >>> quote("a" * 990_000, limit=4)
    "'aaaa'… (989,996 more characters)"
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value) - limit:,} more characters)"
    return clip(repr(value), limit + 2)  # room for the quotes of a string at the limit
