"""Inhibition: a firing alert mutes the alerts it makes redundant.

Alertmanager's ``inhibit_rules``, unchanged. A rule mutes a *target* alert
while some *firing* *source* alert exists such that

- the source's labels satisfy ``source_matchers``,
- the target's labels satisfy ``target_matchers``,
- every label named in ``equal`` has the same value in both, a missing label
  counting as the empty string (so a label missing from both is equal).

The usual rule mutes a model's warnings while the same condition is critical:
``source_matchers=['severity="critical"']``, ``target_matchers=['severity="warning"']``,
``equal=["model", "kind", "feature"]``.

An alert never inhibits itself. As in Alertmanager, when the target satisfies
the source matchers too, source alerts that also satisfy the target matchers
are disregarded: two alerts on both sides of a rule would otherwise mute each
other and nobody would hear of either.

Only firing alerts inhibit: pass the labels of the alerts firing now (e.g.
``[a.labels for a in lifecycle.firing()]``). Inhibition, like silencing, mutes
notifications; it does not change the alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitors.alerting.matchers import Matcher, matches_all

__all__ = ["InhibitRule", "Inhibitor"]


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching ``target_matchers`` while a matching source alert fires.

    Parameters
    ----------
    source_matchers
        All must hold for a firing alert to inhibit.
    target_matchers
        All must hold for an alert to be inhibited.
    equal
        Label names whose values must be the same in the source and the target.

    Examples
    --------
    >>> from monitors.alerting.matchers import parse_matchers
    >>> rule = InhibitRule(parse_matchers(['severity="critical"']), parse_matchers(['severity="warning"']),
    ...                    ("model",))
    >>> rule.inhibits({"model": "churn", "severity": "critical"}, {"model": "churn", "severity": "warning"})
    True
    >>> rule.inhibits({"model": "fraud", "severity": "critical"}, {"model": "churn", "severity": "warning"})
    False
    """

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("source_matchers", "target_matchers", "equal"):
            value = getattr(self, name)
            if isinstance(value, (str, Matcher)):
                raise TypeError(f"{name} must be a sequence, got a single {type(value).__name__}")
            object.__setattr__(self, name, tuple(value))
        for name in ("source_matchers", "target_matchers"):
            if not all(isinstance(m, Matcher) for m in getattr(self, name)):
                raise TypeError(f"{name} takes Matcher objects (see parse_matchers)")

    def inhibits(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether a firing alert with labels ``source`` mutes one with labels ``target`` under this rule."""
        if not matches_all(self.target_matchers, target) or not matches_all(self.source_matchers, source):
            return False
        if any(source.get(name, "") != target.get(name, "") for name in self.equal):
            return False
        # An alert on both sides of the rule is not muted by alerts on both sides
        # (itself included): they would mute each other.
        two_sided_target = matches_all(self.source_matchers, target)
        return not (two_sided_target and matches_all(self.target_matchers, source))


class Inhibitor:
    """Apply inhibition rules to an alert, given the alerts firing now.

    Parameters
    ----------
    rules
        The inhibition rules; an alert is inhibited when any rule mutes it.

    Examples
    --------
    >>> from monitors.alerting.matchers import parse_matchers
    >>> inhibitor = Inhibitor([InhibitRule(parse_matchers(['severity="critical"']),
    ...                                    parse_matchers(['severity="warning"']), ("model", "feature"))])
    >>> firing = [{"model": "churn", "feature": "age", "severity": "critical"}]
    >>> inhibitor.inhibited({"model": "churn", "feature": "age", "severity": "warning"}, firing)
    True
    >>> inhibitor.inhibited({"model": "churn", "feature": "income", "severity": "warning"}, firing)
    False
    >>> inhibitor.inhibited({"model": "churn", "feature": "age", "severity": "warning"}, [])
    False
    """

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = tuple(rules)
        if not all(isinstance(rule, InhibitRule) for rule in self.rules):
            raise TypeError("rules takes InhibitRule objects")

    def inhibited(self, labels: Mapping[str, str], firing: Iterable[Mapping[str, str]]) -> bool:
        """Whether an alert with ``labels`` is muted by one of ``firing`` (labels of firing alerts)."""
        rules = [rule for rule in self.rules if matches_all(rule.target_matchers, labels)]
        if not rules:
            return False
        sources = list(firing)
        return any(rule.inhibits(source, labels) for rule in rules for source in sources)
