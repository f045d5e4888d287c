"""The routing tree: which receiver gets an alert, and how its notifications are grouped.

Alertmanager's model, unchanged: the root route matches every alert; an alert
descends depth-first into the first child route whose matchers it satisfies,
and on to the next sibling as well when that child has ``continue`` set. The
deepest matching routes deliver. A child inherits its parent's receiver,
``group_by`` and timers unless it sets its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from monitors.alerting.matchers import Matcher, matches_all

__all__ = ["Route", "RouteConfig"]

GROUP_BY_ALL = "..."


@dataclass(frozen=True)
class RouteConfig:
    """A route as configured: unset fields (None) are inherited from the parent."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    continue_: bool = False
    routes: tuple[RouteConfig, ...] = ()


@dataclass(frozen=True)
class Route:
    """A route with every setting resolved, and its resolved children.

    Examples
    --------
    >>> from monitors.alerting.matchers import parse_matchers
    >>> root = Route.build(RouteConfig(
    ...     receiver="team", group_by=("model",), group_wait_s=30, group_interval_s=300,
    ...     repeat_interval_s=14400,
    ...     routes=(RouteConfig(receiver="pager", matchers=parse_matchers(['severity="critical"'])),)))
    >>> [r.receiver for r in root.match({"model": "churn", "severity": "critical"})]
    ['pager']
    >>> [r.receiver for r in root.match({"model": "churn", "severity": "warning"})]
    ['team']
    >>> root.group_key({"model": "churn", "feature": "age"})
    '{}:{model="churn"}'
    """

    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    continue_: bool
    routes: tuple[Route, ...]
    path: str = "{}"

    @classmethod
    def build(cls, config: RouteConfig) -> Route:
        """Resolve a configured tree; the root must set a receiver and every timer.

        Raises
        ------
        ValueError
            When the root lacks a receiver or a timer, or a timer is not positive.
        """
        missing = [
            name
            for name in ("receiver", "group_wait_s", "group_interval_s", "repeat_interval_s")
            if getattr(config, name) is None
        ]
        if missing:
            raise ValueError(f"the root route must set {', '.join(missing)}")
        if config.matchers:
            raise ValueError("the root route matches every alert: it takes no matchers")
        return cls._resolve(config, parent=None, path="{}")

    @classmethod
    def _resolve(cls, config: RouteConfig, parent: Route | None, path: str) -> Route:
        for timer in ("group_wait_s", "group_interval_s", "repeat_interval_s"):
            value = getattr(config, timer)
            # group_wait may be 0 (notify at once); the intervals may not.
            if value is not None and (value < 0 or (value == 0 and timer != "group_wait_s")):
                raise ValueError(f"route {path}: {timer} must be positive, got {value}")

        def inherit(own: object, name: str) -> object:
            return own if own is not None else getattr(parent, name)

        route = cls(
            receiver=str(inherit(config.receiver, "receiver")),
            matchers=config.matchers,
            group_by=tuple(config.group_by if config.group_by is not None else parent.group_by if parent else ()),
            group_wait_s=float(cast(float, inherit(config.group_wait_s, "group_wait_s"))),
            group_interval_s=float(cast(float, inherit(config.group_interval_s, "group_interval_s"))),
            repeat_interval_s=float(cast(float, inherit(config.repeat_interval_s, "repeat_interval_s"))),
            continue_=config.continue_,
            routes=(),
            path=path,
        )
        children = tuple(cls._resolve(child, route, f"{path}/{i}") for i, child in enumerate(config.routes))
        return replace(route, routes=children)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that deliver an alert with ``labels`` (at least one: the root's)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            if matched:
                found += matched
                if not child.continue_:
                    break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that define an alert's aggregation group on this route."""
        names: Sequence[str] = sorted(labels) if GROUP_BY_ALL in self.group_by else self.group_by
        return {name: labels[name] for name in sorted(names) if name in labels}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """The aggregation group of an alert on this route: the route and its group labels."""
        rendered = ",".join(f'{name}="{value}"' for name, value in self.group_labels(labels).items())
        return f"{self.path}:{{{rendered}}}"

    def receivers(self) -> set[str]:
        """Every receiver this tree names."""
        names = {self.receiver}
        for child in self.routes:
            names |= child.receivers()
        return names
