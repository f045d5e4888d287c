"""Rules: what turns a monitor's result into observations for the alert lifecycle.

streammon gives each role one name. A ``*Monitor`` turns a window (``run``)
or a stream of events (``update``) into a result: a drift result, quality
findings, a detector's detections. A ``*Rule`` turns such a result into the
:class:`~monitors.alerting.alerts.Observation` objects the alert lifecycle
takes, with :meth:`Rule.evaluate`; its constructor takes the thresholds, as
plain arguments. Keeping the two apart lets a result be reported, stored or
replayed without alerting on it, and keeps every threshold of alerting in one
kind of object.

Every observation a rule gives is labelled with at least ``model`` (the model
it was asked about) and ``kind`` (the alert kind people route and silence on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar, runtime_checkable

from monitors.alerting.alerts import Observation

__all__ = ["Rule"]

_Result = TypeVar("_Result", contravariant=True)


@runtime_checkable
class Rule(Protocol[_Result]):
    """Turns one model's result into alert observations.

    ``context`` are annotations shared by every observation (e.g. the window
    they are about). A rule gives an observation also when all is well (its
    value below ``warning_at``): the lifecycle resolves an alert only on a
    clear observation. A rule may give none when the result is too thin to
    judge either way.

    Examples
    --------
    >>> class AboveRule:
    ...     def evaluate(self, model, result, context=None):
    ...         return [Observation({"model": model, "kind": "above"}, result, 1.0, annotations=dict(context or {}))]
    >>> rule = AboveRule()
    >>> isinstance(rule, Rule), [o.level(None, 0.0) for o in rule.evaluate("churn", 2.0)]
    (True, ['warning'])
    """

    def evaluate(self, model: str, result: _Result, context: Mapping[str, str] | None = None) -> list[Observation]:
        """The observations ``result`` gives for ``model``, each with the annotations ``context``."""
        ...
