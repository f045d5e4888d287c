"""The label rules: a window's measured model quality, and its quality estimated before the labels, as alert observations.

:class:`PerformanceRule` judges what the labels measured
(:class:`~monitors.labels.performance.PerformanceResult`) against fixed bounds
and the reference period's; :class:`EstimateRule` judges an accuracy
estimated from scores (:class:`~monitors.labels.estimates.Estimate`) against
the reference period's measured accuracy, long before the labels come.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitors.alerting.alerts import Observation
from monitors.labels.estimates import Estimate
from monitors.labels.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from monitors.labels.performance import PerformanceResult

__all__ = ["EstimateRule", "PerformanceRule"]

_HIGHER_IS_BETTER = frozenset(CLASSIFICATION_METRICS)


def _first(candidate: tuple[float, str]) -> float:
    return candidate[0]


_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


def _check_metrics(argument: str, mapping: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{argument} must map metric names to bounds, got {mapping!r}")
    unknown = sorted(set(mapping) - set(_METRICS))
    if unknown:
        raise ValueError(f"{argument} names unknown metrics {unknown}; known: {list(_METRICS)}")
    for name, value in mapping.items():
        if not math.isfinite(value):
            raise ValueError(f"{argument}[{name!r}] must be a finite number, got {value}")
    return dict(mapping)


class PerformanceRule:
    """Turn a window's model quality into observations for the alert lifecycle (a :class:`~monitors.alerting.rule.Rule`).

    One observation per metric that has a bound, labelled ``model``,
    ``kind="performance"`` and ``feature=<metric>``. The bound of a metric is the
    stricter of a fixed one and one relative to the reference period:

    - higher is better (accuracy, precision, recall, f1, roc_auc): at least
      ``minimum[m]`` and at least ``reference - max_drop[m]``; the observation's
      value is ``1 - metric`` (higher is worse), at warning from ``1 - bound``
      (the metric at or below its bound), critical from ``critical_factor`` times
      that (capped at 1.0, so never when the bound is 0 or the cap does not raise it);
    - lower is better (mae, rmse, mape): at most ``maximum[m]`` and at most
      ``reference + max_drop[m]``; the value is the metric, at warning from the
      bound, critical from ``critical_factor`` times it.

    The reference bound applies only when the reference has at least
    ``min_labelled`` pairs. A window with fewer than ``min_labelled`` pairs gives
    no observation at all: too little evidence to fire or to clear.

    Parameters
    ----------
    minimum
        Fixed lower bounds of higher-is-better metrics.
    max_drop
        How far a metric may fall (higher is better) or rise (lower is better)
        from the reference period's value.
    maximum
        Fixed upper bounds of lower-is-better metrics.
    min_labelled
        Pairs a window (and the reference) needs to be judged.
    critical_factor
        Critical at this multiple of the warning threshold.

    Examples
    --------
    >>> rule = PerformanceRule(minimum={"accuracy": 0.80}, max_drop={"accuracy": 0.05})
    >>> reference = PerformanceResult({"accuracy": 0.90}, labelled=5000, coverage=0.9)
    >>> window = PerformanceResult({"accuracy": 0.71, "f1": 0.6}, labelled=812, coverage=0.8)
    >>> (obs,) = rule.evaluate("churn", window, reference=reference)
    >>> obs.labels["feature"], round(obs.value, 2), round(obs.warning_at, 2), round(obs.critical_at, 2)
    ('accuracy', 0.29, 0.15, 0.3)
    >>> obs.level(None, 0.1), obs.annotations["summary"]
    ('warning', 'churn: accuracy 0.71 below 0.85 (reference 0.9 - 0.05) over 812 labelled predictions')
    """

    def __init__(
        self,
        minimum: Mapping[str, float] | None = None,
        max_drop: Mapping[str, float] | None = None,
        maximum: Mapping[str, float] | None = None,
        min_labelled: int = 100,
        critical_factor: float = 2.0,
    ) -> None:
        self.minimum = _check_metrics("minimum", minimum or {})
        self.max_drop = _check_metrics("max_drop", max_drop or {})
        self.maximum = _check_metrics("maximum", maximum or {})
        lower_is_better = sorted(set(self.minimum) - _HIGHER_IS_BETTER)
        if lower_is_better:
            raise ValueError(f"minimum applies to higher-is-better metrics only, not {lower_is_better}: use maximum")
        higher_is_better = sorted(set(self.maximum) & _HIGHER_IS_BETTER)
        if higher_is_better:
            raise ValueError(f"maximum applies to lower-is-better metrics only, not {higher_is_better}: use minimum")
        negative = sorted(name for name, value in self.max_drop.items() if value < 0)
        if negative:
            raise ValueError(f"max_drop must not be negative, got it for {negative}")
        if min_labelled < 1:
            raise ValueError(f"min_labelled must be at least 1, got {min_labelled}")
        if not critical_factor > 1:
            raise ValueError(f"critical_factor must be above 1, got {critical_factor}")
        self.min_labelled = min_labelled
        self.critical_factor = critical_factor

    def __repr__(self) -> str:
        return (
            f"PerformanceRule(minimum={self.minimum!r}, max_drop={self.max_drop!r}, maximum={self.maximum!r}, "
            f"min_labelled={self.min_labelled!r}, critical_factor={self.critical_factor!r})"
        )

    def evaluate(
        self,
        model: str,
        result: PerformanceResult,
        context: Mapping[str, str] | None = None,
        *,
        reference: PerformanceResult | None = None,
        segment: str | None = None,
    ) -> list[Observation]:
        """One observation per metric of the window that has a bound, with shared annotations ``context``.

        ``reference`` is the reference period's quality, for the bounds relative to it (none without it).
        ``segment`` (``"key=value"``) says the window is a segment's: its observations carry it as
        their ``segment`` label, and ``reference`` is that segment's own reference period.

        >>> rule = PerformanceRule(minimum={"accuracy": 0.8}, min_labelled=10)
        >>> [obs] = rule.evaluate("churn", PerformanceResult({"accuracy": 0.6}, labelled=50, coverage=1.0), segment="region=eu")
        >>> obs.labels["segment"], obs.annotations["summary"]
        ('region=eu', 'churn [region=eu]: accuracy 0.6 below 0.8 (minimum) over 50 labelled predictions')
        """
        if result.labelled < self.min_labelled:
            return []
        usable_reference = reference if reference is not None and reference.labelled >= self.min_labelled else None
        observations = []
        for name in _METRICS:
            value = result.metrics.get(name)
            if value is None:
                continue
            bound = self._bound(name, usable_reference)
            if bound is not None:
                observations.append(self._observation(model, name, value, *bound, result, context or {}, segment))
        return observations

    def _bound(self, name: str, reference: PerformanceResult | None) -> tuple[float, str] | None:
        higher = name in _HIGHER_IS_BETTER
        candidates: list[tuple[float, str]] = []
        fixed = (self.minimum if higher else self.maximum).get(name)
        if fixed is not None:
            candidates.append((fixed, "minimum" if higher else "maximum"))
        drop = self.max_drop.get(name)
        ref_value = None if reference is None else reference.metrics.get(name)
        if drop is not None and ref_value is not None:
            sign = "-" if higher else "+"
            candidates.append((ref_value - drop if higher else ref_value + drop, f"reference {ref_value:.3g} {sign} {drop:.3g}"))
        if not candidates:
            return None
        # The stricter bound: the higher floor, or the lower ceiling.
        return max(candidates, key=_first) if higher else min(candidates, key=_first)

    def _observation(
        self,
        model: str,
        name: str,
        metric: float,
        bound: float,
        origin: str,
        result: PerformanceResult,
        context: Mapping[str, str],
        segment: str | None,
    ) -> Observation:
        if name in _HIGHER_IS_BETTER:
            value, warning_at = 1.0 - metric, 1.0 - bound
            critical: float | None = min(1.0, warning_at * self.critical_factor)
            breached = metric <= bound
            verb = "below" if breached else "above"
        else:
            value, warning_at = metric, bound
            critical = warning_at * self.critical_factor
            breached = metric >= bound
            verb = "above" if breached else "below"
        critical_at = critical if critical is not None and critical > warning_at else None
        labels = {"model": model, "kind": "performance", "feature": name}
        if segment is not None:
            labels["segment"] = segment
        where = model if segment is None else f"{model} [{segment}]"
        return Observation(
            labels=labels,
            value=value,
            warning_at=warning_at,
            critical_at=critical_at,
            annotations={
                **context,
                "summary": (
                    f"{where}: {name} {metric:.3g} {verb} {bound:.3g} ({origin}) over {result.labelled} labelled predictions"
                ),
                "value": f"{metric:.6g}",
                "threshold": f"{bound:.6g}",
                "labelled": str(result.labelled),
                "coverage": f"{result.coverage:.3g}",
            },
        )


class EstimateRule:
    """Turn a window's estimate into an observation before its labels arrive (a :class:`~monitors.alerting.rule.Rule`).

    The bound is ``reference_accuracy - max_drop``. The observation's value is
    ``1 - estimate.high`` (higher is worse), at warning from ``1 - bound``: it
    fires only when even the optimistic end of the 95% interval is at or
    below the bound, so a window that is merely unlucky does not. It is never
    critical: an estimate is not evidence enough for that; the labels, once
    they come, are (see :class:`PerformanceRule`).
    A window of fewer than ``min_rows`` predictions gives no observation, nor
    does one without the reference period's accuracy to compare with.

    Parameters
    ----------
    max_drop
        How far the estimated accuracy may fall below the reference period's.
    min_rows
        Predictions a window needs to be judged.

    Examples
    --------
    >>> rule = EstimateRule(max_drop=0.05)
    >>> estimate = Estimate(accuracy=0.78, low=0.75, high=0.81, n=800)
    >>> (obs,) = rule.evaluate("churn", estimate, reference_accuracy=0.9)
    >>> obs.labels["kind"], round(obs.value, 2), round(obs.warning_at, 2), obs.level(None, 0.1)
    ('estimated_performance', 0.19, 0.15, 'warning')
    >>> obs.annotations["summary"]
    'churn: accuracy estimated from scores 0.78 (95% interval 0.75-0.81) below 0.85 (reference 0.9 - 0.05) over 800 predictions'
    """

    def __init__(self, max_drop: float = 0.05, min_rows: int = 100) -> None:
        if not (math.isfinite(max_drop) and max_drop >= 0.0):
            raise ValueError(f"max_drop must be a finite number at least 0, got {max_drop}")
        if min_rows < 1:
            raise ValueError(f"min_rows must be at least 1, got {min_rows}")
        self.max_drop = max_drop
        self.min_rows = min_rows

    def __repr__(self) -> str:
        return f"EstimateRule(max_drop={self.max_drop!r}, min_rows={self.min_rows!r})"

    def evaluate(
        self,
        model: str,
        result: Estimate,
        context: Mapping[str, str] | None = None,
        *,
        reference_accuracy: float | None = None,
    ) -> list[Observation]:
        """The window's observation, with shared annotations ``context``.

        None below ``min_rows``, or without ``reference_accuracy`` (the
        reference period's measured accuracy) to judge the estimate against.
        """
        if reference_accuracy is None:
            return []
        if not 0.0 <= reference_accuracy <= 1.0:
            raise ValueError(f"reference_accuracy must be in [0, 1], got {reference_accuracy}")
        if result.n < self.min_rows:
            return []
        bound = reference_accuracy - self.max_drop
        verb = "below" if result.high <= bound else "above"
        summary = (
            f"{model}: accuracy estimated from scores {result.accuracy:.3g}"
            f" (95% interval {result.low:.3g}-{result.high:.3g}) {verb} {bound:.3g}"
            f" (reference {reference_accuracy:.3g} - {self.max_drop:.3g}) over {result.n} predictions"
        )
        return [
            Observation(
                labels={"model": model, "kind": "estimated_performance", "feature": "accuracy"},
                value=1.0 - result.high,
                warning_at=1.0 - bound,
                critical_at=None,
                annotations={
                    **(context or {}),
                    "summary": summary,
                    "value": f"{result.accuracy:.6g}",
                    "threshold": f"{bound:.6g}",
                    "interval": f"{result.low:.6g}-{result.high:.6g}",
                    "rows": str(result.n),
                },
            )
        ]
