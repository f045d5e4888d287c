"""The data-quality rule: a window's findings as observations for the alert lifecycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitors.alerting.alerts import Observation
from monitors.quality.monitor import QualityFinding

__all__ = ["QualityRule"]


class QualityRule:
    """Turn a window's quality findings into observations (a :class:`~monitors.alerting.rule.Rule`).

    One observation per finding, labelled ``model``, ``kind`` (the check) and
    ``feature`` (``"*"`` for the window as a whole); annotations are the
    ``context`` plus ``summary``, ``value``, ``threshold`` and ``check``. The
    findings carry their own thresholds (:class:`~monitors.quality.monitor.DataQualityMonitor`
    sets them, raised to each window's noise floor): this rule only labels them.

    Examples
    --------
    >>> finding = QualityFinding("volume", None, 5.0, 3.0, 12.0, "2 events/s, 0.2x the reference rate of 1/s")
    >>> (obs,) = QualityRule().evaluate("churn", [finding])
    >>> dict(obs.labels), obs.level(None, 0.1), obs.annotations["summary"]
    ({'model': 'churn', 'kind': 'volume', 'feature': '*'}, 'warning', 'churn: 2 events/s, 0.2x the reference rate of 1/s')
    """

    def __repr__(self) -> str:
        return "QualityRule()"

    def evaluate(
        self, model: str, result: Sequence[QualityFinding], context: Mapping[str, str] | None = None
    ) -> list[Observation]:
        """One observation per finding, with shared annotations ``context``."""
        return [
            Observation(
                labels={"model": model, "kind": f.check, "feature": "*" if f.feature is None else f.feature},
                value=f.value,
                warning_at=f.warning_at,
                critical_at=f.critical_at,
                annotations={
                    **(context or {}),
                    "summary": f"{model}: {f.summary}",
                    "value": f"{f.value:.6g}",
                    "threshold": f"{f.warning_at:.6g}",
                    "check": f.check,
                },
            )
            for f in result
        ]
