"""Label matchers, in Alertmanager's syntax: ``name="value"``, ``!=``, ``=~`` and ``!~``.

Routes, silences and inhibition rules select alerts by their labels with
matchers. A label that an alert lacks matches as the empty string, and regular
expressions are anchored at both ends, as in Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

__all__ = ["Matcher", "matches_all", "parse_matcher", "parse_matchers"]

Op = Literal["=", "!=", "=~", "!~"]

_SYNTAX = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*$')


@dataclass(frozen=True)
class Matcher:
    """One condition on one label.

    Examples
    --------
    >>> Matcher("model", "=~", "churn|fraud").matches({"model": "churn"})
    True
    >>> Matcher("severity", "!=", "critical").matches({})
    True
    >>> str(Matcher("kind", "=", "data_drift"))
    'kind="data_drift"'
    """

    name: str
    op: Op
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                pattern = re.compile(f"^(?:{self.value})$")
            except re.error as exc:
                raise ValueError(f"invalid regular expression in matcher {self}: {exc}") from exc
            object.__setattr__(self, "_pattern", pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        value = labels.get(self.name, "")
        if self._pattern is not None:
            return bool(self._pattern.match(value)) == (self.op == "=~")
        return (value == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse ``name="value"`` (or ``!=``, ``=~``, ``!~``; quotes optional without spaces).

    Examples
    --------
    >>> parse_matcher('severity="critical"')
    Matcher(name='severity', op='=', value='critical')
    >>> parse_matcher("model=~churn.*").matches({"model": "churn-eu"})
    True
    """
    found = _SYNTAX.match(text)
    if found is None:
        raise ValueError(f'not a matcher: {text!r} (expected name="value", with =, !=, =~ or !~)')
    name, op, quoted, bare = found.groups()
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return Matcher(name, cast(Op, op), value)


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Parse several matchers; all of them must hold for a match."""
    return tuple(parse_matcher(text) for text in texts)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds for ``labels`` (true for no matchers)."""
    return all(m.matches(labels) for m in matchers)
