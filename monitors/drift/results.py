"""What a window's drift test says: each column's score, threshold and decision.

A :class:`DriftResult` is plain values, apart from the monitor that made it
(:class:`~monitors.drift.monitor.DriftMonitor`): the rules turn it into alert
observations (:mod:`monitors.drift.rules`), the worker publishes it, and a
checkpoint may hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitors.drift.multiple_testing import Correction
from monitors.evidently.methods import P_VALUE_DISPLAY_NAMES

__all__ = ["DriftResult", "FeatureDrift"]


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one column in one window.

    Attributes
    ----------
    feature
        Column name.
    score
        The method's score: a p-value for tests (drift when at or below the
        threshold), a distance for distance methods (drift when at or above).
    method
        The method as Evidently names it, e.g. ``"K-S p_value"``.
    threshold
        The threshold the score was compared with: for a p-value decided with
        the window's ``alpha``, the cut-off of the window's multiple-testing
        correction, shared by all such columns of the window.
    drifted
        The decision. For a p-value decided with the window's ``alpha``: the
        score is at or below the threshold. For any other column: Evidently's
        drift test for the column failed.
    threshold_source
        Where ``threshold`` came from, for the alert to say:
        ``"bh: alpha=0.01 over 12 columns"`` (likewise ``"bonferroni: ..."``,
        or ``"none: alpha=0.01 per column"``) for a p-value decided by the
        window's correction; ``"calibrated: ..."`` for a distance with a
        threshold calibrated on the reference
        (:meth:`~monitors.drift.thresholds.DistanceThreshold.describe`);
        ``"per-feature threshold"``; ``"evidently default"`` for Evidently's
        own threshold. An explanation of ``threshold``, not part of the
        decision: it is left out of comparisons, so two results with the same
        scores, thresholds and decisions are equal however they describe them.

    Examples
    --------
    >>> drift = FeatureDrift("age", 3e-7, "K-S p_value", 0.001, True, "bh: alpha=0.01 over 10 columns")
    >>> drift
    FeatureDrift(feature='age', score=3e-07, method='K-S p_value', threshold=0.001, drifted=True, threshold_source='bh: alpha=0.01 over 10 columns')
    >>> drift == FeatureDrift("age", 3e-7, "K-S p_value", 0.001, True)
    True
    """

    feature: str
    score: float
    method: str
    threshold: float
    drifted: bool
    threshold_source: str = field(default="evidently default", compare=False)

    @property
    def is_p_value(self) -> bool:
        """Whether ``score`` is a p-value (small is drift) rather than a distance (large is drift)."""
        return self.method in P_VALUE_DISPLAY_NAMES


@dataclass(frozen=True)
class DriftResult:
    """Drift of one window: its input features and, apart, its prediction column.

    Attributes
    ----------
    features
        Drift of every input feature, sorted by name.
    prediction
        Drift of the prediction column, when the monitor has one.
    n_current
        Rows in the window.
    n_reference
        Rows in the reference.
    correction
        The multiple-testing correction that decided the p-value columns:
        ``"bh"``, ``"bonferroni"``, or ``"none"`` when nothing was corrected
        (a monitor without ``alpha``).

    Examples
    --------
    >>> result = DriftResult(
    ...     features=(FeatureDrift("age", 1e-9, "K-S p_value", 0.002, True),
    ...               FeatureDrift("income", 0.4, "K-S p_value", 0.002, False)),
    ...     prediction=FeatureDrift("score", 1e-5, "K-S p_value", 0.002, True),
    ...     n_current=500, n_reference=2000)
    >>> [f.feature for f in result.drifted_features], result.drifted_share
    (['age'], 0.5)
    """

    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    n_current: int
    n_reference: int
    correction: Correction = "bh"

    @property
    def drifted_features(self) -> tuple[FeatureDrift, ...]:
        """The input features that drifted (the prediction is never among them)."""
        return tuple(f for f in self.features if f.drifted)

    @property
    def drifted_share(self) -> float:
        """Share of input features that drifted; 0.0 when there are none."""
        if not self.features:
            return 0.0
        return len(self.drifted_features) / len(self.features)
