"""The drift rules: one observation per feature and one for the prediction; one for the features together.

:class:`DriftRule` judges a window's per-feature drift. Each feature's drift in a window is an :class:`~monitors.alerting.alerts.Observation`
with the labels ``model``, ``kind`` (``data_drift`` or ``prediction_drift``)
and ``feature``. Its value is oriented so that higher is worse: ``-log10(p)``
for a p-value test, the distance itself for a distance. It is at warning past
the window's drift threshold, and at critical past a stricter one: the
p-value threshold divided by ``critical_p_factor``, or the distance threshold
multiplied by ``critical_distance_factor``. :class:`MultivariateRule` judges
its multivariate drift (a PCA's reconstruction error) as one observation of
kind ``multivariate_drift``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitors.alerting.alerts import Observation
from monitors.drift.multivariate import METHOD, MultivariateResult
from monitors.drift.results import DriftResult, FeatureDrift

__all__ = ["DriftRule", "MultivariateRule"]

# -log10 of the smallest positive double: a p-value of 0 is as strong as it gets.
_MAX_STRENGTH = 323.0


def _strength(p_value: float) -> float:
    return _MAX_STRENGTH if p_value <= 0 else min(_MAX_STRENGTH, -math.log10(p_value))


class DriftRule:
    """Turn a window's drift result into observations for the alert lifecycle (a :class:`~monitors.alerting.rule.Rule`).

    Parameters
    ----------
    critical_p_factor
        How much smaller than its threshold a p-value must be to be critical.
    critical_distance_factor
        How much larger than its threshold a distance must be to be critical.
    prediction_drift
        Whether the prediction column's drift is a condition too.

    Examples
    --------
    >>> from monitors.drift.results import DriftResult, FeatureDrift
    >>> result = DriftResult(
    ...     features=(FeatureDrift("age", 1e-9, "K-S p_value", 0.002, True),
    ...               FeatureDrift("plan", 0.08, "Jensen-Shannon distance", 0.1, False)),
    ...     prediction=None, n_current=1000, n_reference=2000)
    >>> for obs in DriftRule().evaluate("churn", result):
    ...     print(obs.labels["feature"], round(obs.value, 2), round(obs.warning_at, 2), obs.level(None, 0.1))
    age 9.0 2.7 critical
    plan 0.08 0.1 None
    """

    def __init__(
        self,
        critical_p_factor: float = 1000.0,
        critical_distance_factor: float = 2.0,
        prediction_drift: bool = True,
    ) -> None:
        if critical_p_factor <= 1:
            raise ValueError(f"critical_p_factor must be above 1, got {critical_p_factor}")
        if critical_distance_factor <= 1:
            raise ValueError(f"critical_distance_factor must be above 1, got {critical_distance_factor}")
        if not isinstance(prediction_drift, bool):
            raise TypeError(f"prediction_drift must be True or False, got {prediction_drift!r}")
        self.critical_p_factor = critical_p_factor
        self.critical_distance_factor = critical_distance_factor
        self.prediction_drift = prediction_drift

    def __repr__(self) -> str:
        return (
            f"DriftRule(critical_p_factor={self.critical_p_factor!r}, "
            f"critical_distance_factor={self.critical_distance_factor!r}, prediction_drift={self.prediction_drift!r})"
        )

    def evaluate(self, model: str, result: DriftResult, context: Mapping[str, str] | None = None) -> list[Observation]:
        """One observation per feature (and the prediction), with shared annotations ``context``."""
        shared = {**(context or {}), "correction": result.correction}
        observations = [self._observation(model, "data_drift", f, shared) for f in result.features]
        if self.prediction_drift and result.prediction is not None:
            observations.append(self._observation(model, "prediction_drift", result.prediction, shared))
        return observations

    def _observation(self, model: str, kind: str, drift: FeatureDrift, annotations: Mapping[str, str]) -> Observation:
        if drift.is_p_value:
            value = _strength(drift.score)
            warning_at = _strength(drift.threshold)
            critical_at = warning_at + math.log10(self.critical_p_factor)
        else:
            value, warning_at = drift.score, drift.threshold
            critical_at = drift.threshold * self.critical_distance_factor
        verb = "drifted" if drift.drifted else "is within its reference"
        return Observation(
            labels={"model": model, "kind": kind, "feature": drift.feature},
            value=value,
            warning_at=warning_at,
            critical_at=critical_at,
            annotations={
                **annotations,
                "summary": f"{model}: {drift.feature} {verb} ({drift.method} {drift.score:.3g}, threshold {drift.threshold:.3g})",
                "value": f"{drift.score:.6g}",
                "threshold": f"{drift.threshold:.6g}",
                "threshold_source": drift.threshold_source,
                "method": drift.method,
            },
        )


class MultivariateRule:
    """Turn a window's reconstruction error into one observation of kind ``multivariate_drift`` (a :class:`~monitors.alerting.rule.Rule`).

    The observation's value is the error's excess over what a stationary window
    scores on average (``null_mean``): warning at the threshold's excess,
    critical at ``critical_factor`` times it. The error itself sits far from 0
    (about 2.5 on 20 independent features) and varies little from window to
    window (about 1 %): the alert lifecycle's hysteresis, a fraction of the
    threshold, would otherwise hold every chance warning through the next
    window and make it fire. The annotations give the error and threshold
    themselves.

    Parameters
    ----------
    critical_factor
        How many times the threshold's excess is critical.

    Examples
    --------
    >>> result = MultivariateResult(2.5, 2.4, True, 2.2, (("x1", 0.6), ("x0", 0.3)), 4, 1000, "calibrated")
    >>> (obs,) = MultivariateRule().evaluate("churn", result)
    >>> obs.labels["kind"], obs.level(None, 0.1), round(obs.value, 2), round(obs.warning_at, 2), round(obs.critical_at, 2)
    ('multivariate_drift', 'warning', 0.3, 0.2, 0.4)
    >>> obs.annotations["top_features"]
    'x1 (60%), x0 (30%)'
    """

    def __init__(self, critical_factor: float = 2.0) -> None:
        if not critical_factor > 1:
            raise ValueError(f"critical_factor must be above 1, got {critical_factor}")
        self.critical_factor = critical_factor

    def __repr__(self) -> str:
        return f"MultivariateRule(critical_factor={self.critical_factor!r})"

    def evaluate(self, model: str, result: MultivariateResult, context: Mapping[str, str] | None = None) -> list[Observation]:
        """The window's one observation, with shared annotations ``context``."""
        top = ", ".join(f"{name} ({share:.0%})" for name, share in result.top_features) or "-"
        verb = "drifted" if result.drifted else "is within its reference"
        excess = result.threshold - result.null_mean
        return [
            Observation(
                labels={"model": model, "kind": "multivariate_drift", "feature": "*"},
                value=result.error - result.null_mean,
                warning_at=excess,
                critical_at=self.critical_factor * excess,
                annotations={
                    **(context or {}),
                    "summary": (
                        f"{model}: the features' joint structure {verb} ({METHOD} {result.error:.3g}, "
                        f"threshold {result.threshold:.3g}); most changed: {top}"
                    ),
                    "value": f"{result.error:.6g}",
                    "threshold": f"{result.threshold:.6g}",
                    "threshold_source": result.threshold_source,
                    "method": METHOD,
                    "top_features": top,
                },
            )
        ]
