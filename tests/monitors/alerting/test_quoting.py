"""Quoted values stay short, and say how much of them was left out."""

from __future__ import annotations

import pytest

from monitors.alerting.quoting import MAX_QUOTED_CHARS, clip, quote


def test_a_value_as_long_as_a_message_is_quoted_in_a_few_characters() -> None:
    huge = "v" * 990_000
    quoted = quote(huge)
    assert len(quoted) < MAX_QUOTED_CHARS + 40
    assert quoted.startswith("'" + "v" * MAX_QUOTED_CHARS + "'") and quoted.endswith("(989,920 more characters)")


def test_short_values_are_quoted_as_they_are() -> None:
    assert quote("pro") == "'pro'" and quote(3) == "3" and quote(None) == "None"
    assert quote("x" * MAX_QUOTED_CHARS) == repr("x" * MAX_QUOTED_CHARS)
    assert clip("", 0) == "" and clip("abc", 3) == "abc"


def test_clip_counts_what_it_leaves_out() -> None:
    assert clip("abcdef", 2) == "ab… (4 more characters)"
    with pytest.raises(ValueError):
        clip("abc", -1)
