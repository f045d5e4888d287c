"""Alert rules: when a window's drift result is worth telling someone about.

A rule turns a :class:`~monitors.drift.DriftResult` into zero or more
:class:`AlertCandidate`. Whether a candidate pages anyone (deduplication,
grouping, silences) is decided downstream; a rule only says that a window
crossed its thresholds, which features did, and how badly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitors.drift import DriftResult, FeatureDrift

__all__ = ["AlertCandidate", "DriftRule"]

Severity = Literal["warning", "critical"]
AlertKind = Literal["data_drift", "prediction_drift"]


@dataclass(frozen=True)
class AlertCandidate:
    """A threshold crossed by one window."""

    kind: AlertKind
    severity: Severity
    features: tuple[FeatureDrift, ...]
    summary: str


class DriftRule:
    """Alert when enough features drift, and when the predictions drift.

    Parameters
    ----------
    min_drifted_features
        Drifted input features needed for a ``data_drift`` alert.
    critical_share
        Share of drifted input features from which that alert is critical
        rather than a warning.
    prediction_drift
        Whether drift of the prediction column raises a ``prediction_drift``
        alert.

    Examples
    --------
    >>> from monitors.drift import DriftResult, FeatureDrift
    >>> result = DriftResult(
    ...     features=(FeatureDrift("age", 1e-9, "K-S p_value", 0.002, True),
    ...               FeatureDrift("income", 0.4, "K-S p_value", 0.002, False)),
    ...     prediction=FeatureDrift("prediction", 1e-5, "chi-square p_value", 0.002, True),
    ...     n_current=1000, n_reference=2000)
    >>> [(a.kind, a.severity, [f.feature for f in a.features]) for a in DriftRule().evaluate(result)]
    [('data_drift', 'critical', ['age']), ('prediction_drift', 'warning', ['prediction'])]
    """

    def __init__(
        self,
        min_drifted_features: int = 1,
        critical_share: float = 0.5,
        prediction_drift: bool = True,
    ) -> None:
        if min_drifted_features < 1:
            raise ValueError(f"min_drifted_features must be at least 1, got {min_drifted_features}")
        if not 0 < critical_share <= 1:
            raise ValueError(f"critical_share must be in (0, 1], got {critical_share}")
        self.min_drifted_features = min_drifted_features
        self.critical_share = critical_share
        self.prediction_drift = prediction_drift

    def evaluate(self, result: DriftResult) -> list[AlertCandidate]:
        """Return the alerts one window's drift result calls for."""
        alerts = []
        drifted = result.drifted_features
        if len(drifted) >= self.min_drifted_features:
            severity: Severity = "critical" if result.drifted_share >= self.critical_share else "warning"
            names = ", ".join(f.feature for f in drifted)
            alerts.append(
                AlertCandidate(
                    "data_drift",
                    severity,
                    drifted,
                    f"{len(drifted)} of {len(result.features)} features drifted: {names}",
                )
            )
        if self.prediction_drift and result.prediction is not None and result.prediction.drifted:
            alerts.append(
                AlertCandidate(
                    "prediction_drift",
                    "warning",
                    (result.prediction,),
                    f"prediction distribution drifted ({result.prediction.method} "
                    f"{result.prediction.score:.3g}, threshold {result.prediction.threshold:.3g})",
                )
            )
        return alerts
