"""Multivariate drift: does a window still have the reference's structure, across features?

A change in how features relate (a correlation that breaks while every feature
keeps its own distribution) passes every per-feature test. A principal
component analysis (PCA) fitted on the reference learns the directions in which
its features vary together; a window whose rows that PCA reconstructs worse
than it reconstructs the reference's no longer has that structure.

:class:`MultivariateDriftMonitor` prepares the features as NannyML's data
reconstruction drift does (missing numbers imputed with the reference's mean,
missing categories with its most frequent one, categories encoded by their
frequency in the reference, everything standardised), keeps the principal
components that explain ``explained_variance`` of the reference's variance, and
scores a window by its *reconstruction error*: the mean Euclidean distance
between its prepared rows and their projection back from those components.

The threshold is calibrated on the reference, like a distance method's
(:mod:`monitors.drift.thresholds`), from what stationary windows score. Scoring
reference rows with a PCA fitted on them would flatter it (a PCA fits its own
rows best, and one fitted on fewer rows worst: with 20 independent features,
sub-windows of half the reference scored by a PCA fitted on the other half
sat about 5 of their standard deviations above live windows, and a threshold
from them would miss drifts), so each reference
row is scored by a PCA fitted without it (10 folds; imputation and encoding
stay the whole reference's, as for a live window). Pseudo-windows of the live
window's size are drawn from those errors, each less a resampled mean of the
reference's own (a live window is compared with a reference that is a sample
too), and the threshold is the ``1 - level`` prediction bound of a log-normal
fitted to their means (:func:`~monitors.drift.thresholds.prediction_bound`). A
stationary window reaches it with probability about ``level`` on average over
references (measured below).

:class:`MultivariateResult` also names the features whose reconstruction
worsened most (their share of the rise in mean squared residual), for an
alert to say where to look, and :class:`~monitors.drift.rules.MultivariateRule` turns it into
an :class:`~monitors.alerting.alerts.Observation` of kind ``multivariate_drift``, whose
value is the error's excess over the stationary mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from monitors.drift.thresholds import DistanceThreshold, calibration_rows, prediction_bound

__all__ = ["METHOD", "MultivariateDriftMonitor", "MultivariateResult"]

METHOD = "PCA reconstruction error"

Array = np.ndarray[Any, np.dtype[np.float64]]
Codes = np.ndarray[Any, np.dtype[np.int64]]

# Category codes: a missing value, and (in a live window) a value the reference never had.
_MISSING, _UNSEEN = -1, -2
# Folds of the reference's cross-fitted reconstruction errors (see MultivariateDriftMonitor).
_FOLDS = 10
# A feature named among the top ones carries at least this share of the rise in residual.
_MIN_SHARE = 0.05


@dataclass(frozen=True)
class MultivariateResult:
    """The reconstruction error of one window, and its decision.

    Attributes
    ----------
    error
        Mean Euclidean reconstruction error of the window's rows.
    threshold
        The calibrated threshold: the window drifted when ``error`` is at or above it.
    drifted
        The decision.
    null_mean
        Mean reconstruction error of the reference's pseudo-windows: what a
        stationary window scores on average.
    top_features
        Up to three features whose mean squared residual rose most over the
        reference's, with their share of the rise (features with less than 5 %
        of it are left out).
    components
        Principal components kept.
    n_current
        Rows in the window.
    threshold_source
        Where ``threshold`` came from, in words.

    Examples
    --------
    >>> result = MultivariateResult(3.1, 2.4, True, 2.2, (("x1", 0.6), ("x0", 0.3)), 4, 1000, "calibrated")
    >>> result.drifted, result.top_features[0]
    (True, ('x1', 0.6))
    """

    error: float
    threshold: float
    drifted: bool
    null_mean: float
    top_features: tuple[tuple[str, float], ...]
    components: int
    n_current: int
    threshold_source: str = "calibrated"


@dataclass(frozen=True)
class _Encoding:
    """Imputation and frequency encoding, learned once on the whole reference."""

    means: Array  # imputation of each numerical column
    frequencies: tuple[Array, ...]  # share of each reference category, per categorical column
    modes: Codes  # imputation (a category code) of each categorical column

    @classmethod
    def of(cls, numbers: Array, codes: Codes, categories: Sequence[int]) -> _Encoding:
        """The encoding of these rows."""
        counts = (~np.isnan(numbers)).sum(axis=0)
        means = np.where(counts > 0, np.nansum(numbers, axis=0) / np.maximum(counts, 1), 0.0)
        frequencies, modes = [], []
        for j, size in enumerate(categories):
            column = codes[:, j]
            tally = np.bincount(column[column >= 0], minlength=size).astype(float)
            modes.append(int(np.argmax(tally)) if size else 0)
            frequencies.append(tally / max(tally.sum(), 1.0))
        return cls(means, tuple(frequencies), np.array(modes, dtype=np.int64))

    def prepare(self, numbers: Array, codes: Codes) -> Array:
        """The rows as numbers: missing values imputed, categories replaced by their reference frequency."""
        numbers = np.where(np.isnan(numbers), self.means, numbers)
        encoded = np.empty(codes.shape, dtype=float)
        for j, shares in enumerate(self.frequencies):
            column = np.where(codes[:, j] == _MISSING, self.modes[j], codes[:, j])
            # An unseen category is one the reference has at frequency 0.
            encoded[:, j] = np.where(column >= 0, shares[np.maximum(column, 0)] if len(shares) else 0.0, 0.0)
        return np.hstack([numbers, encoded])


@dataclass(frozen=True)
class _Pca:
    """Standardisation and the principal axes kept, learned on prepared rows."""

    center: Array
    scale: Array
    axes: Array  # (components, columns)

    @classmethod
    def of(cls, prepared: Array, explained_variance: float) -> _Pca:
        """The PCA of these prepared rows."""
        center = prepared.mean(axis=0)
        scale = prepared.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)  # a constant column stays 0 once centred
        z = (prepared - center) / scale
        # The axes are the eigenvectors of the columns' scatter matrix, largest first: a
        # p x p problem, cheaper than the SVD of the rows (and with no thread pool to wait for).
        eigenvalues, eigenvectors = np.linalg.eigh(z.T @ z)
        variance = np.maximum(eigenvalues[::-1], 0.0)
        vt = eigenvectors[:, ::-1].T
        total = float(variance.sum())
        kept = 0
        if total > 0:
            # The fewest components whose explained variance exceeds the share asked for.
            cumulative = np.cumsum(variance) / total
            kept = min(int(np.searchsorted(cumulative, explained_variance, side="right")) + 1, len(variance))
        return cls(center, scale, vt[:kept])

    def residuals(self, prepared: Array) -> Array:
        """The standardised rows minus their reconstruction from the kept components."""
        z = (prepared - self.center) / self.scale
        return z - (z @ self.axes.T) @ self.axes


def _check_level(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


class MultivariateDriftMonitor:
    """Score windows by the reconstruction error of a PCA fitted on the reference.

    Parameters
    ----------
    reference
        The reference rows. Columns that are datetimes or timedeltas are left out.
    numerical
        Numerical columns; by default the reference's numeric ones (booleans excluded).
    categorical
        Categorical columns; by default the other columns.
    explained_variance
        Share of the reference's (standardised) variance the kept components explain.
    level
        Chance that a stationary window reaches the threshold.
    draws
        Pseudo-windows each threshold is calibrated on.
    seed
        Seed of the folds and pseudo-windows: the same arguments give the same thresholds.

    Raises
    ------
    ValueError
        On a reference of fewer than 4 rows or without a column, unknown
        columns, or arguments out of range.

    Notes
    -----
    Fitting costs 11 PCAs of the reference's rows (the PCA and the 10
    cross-fitted folds), each an eigendecomposition of a features x features
    matrix: 9 to 18 ms for 2,000 rows of 20 features. Each window size
    (rounded to two significant digits) costs ``draws`` resampled means on its
    first window, kept for the next ones (:attr:`thresholds`): 5 to 8 ms.
    Scoring a window is a projection: 2.3 to 2.5 ms for 1,000 rows of 20
    features, most of it reading the columns (``bench/analysis.py``, on a
    shared 2-core machine).

    False alarms, measured on stationary data (references of 2,000 rows,
    windows drawn fresh from the same distributions): with 14 numerical and 6
    categorical independent features and windows of 1,000 rows, 2.7 % of 1,000
    windows over 20 references at ``level`` 0.01 and 0.5 % at 0.001; with two
    correlated pairs and a categorical column and windows of 500 rows, 1.1 %
    at 0.01. The rate varies from one reference to another (a reference's own
    sampling noise moves every live window's error from it), more with more
    independent features, whose components are noise.

    Categories are encoded by their frequency in the reference, as NannyML
    does: two categories of one column that are equally frequent in the
    reference are the same number, and a change between them is not seen here.

    Examples
    --------
    Two pairs of correlated features; the correlation of the first pair flips
    while every feature keeps its distribution.

    >>> rng = np.random.default_rng(5)
    >>> def rows(n, rho=0.9):
    ...     a, b, c, d = rng.normal(size=(4, n))
    ...     return pd.DataFrame({"x0": a, "x1": rho * a + np.sqrt(1 - rho**2) * b,
    ...                          "x2": c, "x3": 0.9 * c + np.sqrt(1 - 0.81) * d,
    ...                          "plan": rng.choice(["a", "b"], n)})
    >>> monitor = MultivariateDriftMonitor(rows(2000))
    >>> monitor.components
    2
    >>> same = monitor.run(rows(500))
    >>> broken = monitor.run(rows(500, rho=-0.9))
    >>> same.drifted, broken.drifted
    (False, True)
    >>> round(same.error, 2), round(broken.error, 2), round(broken.threshold, 2)
    (1.1, 1.62, 1.11)
    >>> [(name, round(share, 2)) for name, share in broken.top_features]
    [('x1', 0.5), ('x0', 0.5)]
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        *,
        numerical: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        explained_variance: float = 0.65,
        level: float = 0.001,
        draws: int = 200,
        seed: int = 0,
    ) -> None:
        self.reference = reference
        self.numerical = numerical
        self.categorical = categorical
        self.explained_variance = _check_level("explained_variance", explained_variance)
        self.level = _check_level("level", level)
        self.draws = draws
        self.seed = seed
        if isinstance(draws, bool) or not isinstance(draws, Integral) or draws < 3:
            raise ValueError(f"draws must be an integer of at least 3, got {draws!r}")
        if not isinstance(reference, pd.DataFrame) or len(reference) < 4:
            raise ValueError("reference must be a DataFrame with at least 4 rows")

        self._numerical: list[str]
        self._categorical: list[str]
        self._numerical, self._categorical = self._columns(reference)
        self._categories: dict[str, pd.Index] = {c: pd.Index(pd.unique(reference[c].dropna())) for c in self._categorical}
        numbers, codes = self._arrays(reference)
        self._encoding: _Encoding = _Encoding.of(numbers, codes, [len(self._categories[c]) for c in self._categorical])
        self._prepared: Array = self._encoding.prepare(numbers, codes)
        self._pca: _Pca = _Pca.of(self._prepared, self.explained_variance)
        held_out = self._cross_fitted(_FOLDS)
        # Reconstruction errors of rows the PCA did not see, and each feature's mean squared
        # residual among them: what a stationary window's are compared with.
        self._errors: Array = np.linalg.norm(held_out, axis=1)
        self._baseline: Array = (held_out**2).mean(axis=0)
        self._thresholds: dict[int, DistanceThreshold] = {}

    def __repr__(self) -> str:
        return (
            f"MultivariateDriftMonitor({len(self.features)} features, {len(self.reference)} reference rows, "
            f"{self.components} components, level={self.level!r}, explained_variance={self.explained_variance!r})"
        )

    @property
    def features(self) -> tuple[str, ...]:
        """The columns the PCA sees: numerical ones, then categorical ones."""
        return (*self._numerical, *self._categorical)

    @property
    def components(self) -> int:
        """Principal components kept."""
        return len(self._pca.axes)

    @property
    def thresholds(self) -> Mapping[int, DistanceThreshold]:
        """The calibrated thresholds so far, by pseudo-window rows (read-only)."""
        return MappingProxyType(self._thresholds)

    def _columns(self, reference: pd.DataFrame) -> tuple[list[str], list[str]]:
        named = [*(self.numerical or ()), *(self.categorical or ())]
        unknown = [c for c in named if c not in reference.columns]
        if unknown:
            raise ValueError(f"numerical and categorical name columns that are not in the reference: {unknown}")

        def is_number(c: str) -> bool:
            values = reference[c]
            return bool(pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))

        def is_time(c: str) -> bool:
            values = reference[c]
            return bool(pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values))

        others = [c for c in reference.columns if c not in named and not is_time(c)]
        numerical = list(self.numerical) if self.numerical is not None else [c for c in others if is_number(c)]
        categorical = (
            list(self.categorical)
            if self.categorical is not None
            else [c for c in others if c not in numerical and not is_number(c)]
        )
        wrong = [c for c in numerical if not is_number(c)]
        if wrong:
            raise ValueError(f"numerical names columns that do not hold numbers: {wrong}")
        if not numerical and not categorical:
            raise ValueError("reference has no column to analyse")
        return numerical, categorical

    def _arrays(self, frame: pd.DataFrame) -> tuple[Array, Codes]:
        """The numerical columns as floats (NaN: missing) and the categorical ones as category codes."""
        numbers: Array = np.empty((len(frame), len(self._numerical)), dtype=np.float64)
        for j, column in enumerate(self._numerical):
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            numbers[:, j] = np.where(np.isfinite(values), values, np.nan)
        codes: Codes = np.empty((len(frame), len(self._categorical)), dtype=np.int64)
        for j, column in enumerate(self._categorical):
            values = frame[column]
            found = self._categories[column].get_indexer(values)
            codes[:, j] = np.where(values.isna().to_numpy(), _MISSING, np.where(found >= 0, found, _UNSEEN))
        return numbers, codes

    def _cross_fitted(self, folds: int) -> Array:
        """Each reference row's residuals under a PCA fitted on the other folds: residuals of new rows."""
        total = len(self._prepared)
        order = np.random.default_rng(self.seed).permutation(total)
        residuals = np.empty_like(self._prepared)
        for held in np.array_split(order, min(folds, total)):
            rest = np.setdiff1d(order, held, assume_unique=True)
            residuals[held] = _Pca.of(self._prepared[rest], self.explained_variance).residuals(self._prepared[held])
        return residuals

    def _threshold(self, rows: int) -> DistanceThreshold:
        """The calibrated threshold for windows of ``rows`` rows (computed once per size)."""
        rows = calibration_rows(max(rows, 1))
        if rows not in self._thresholds:
            rng = np.random.default_rng(self.seed)
            total = len(self._errors)
            windows = self._errors[rng.integers(0, total, size=(self.draws, rows))].mean(axis=1)
            # The reference's own mean error is an estimate too: each draw also resamples
            # it, so the spread is that of two samples' difference, not of a window alone.
            references = self._errors[rng.integers(0, total, size=(self.draws, total))].mean(axis=1)
            scores = windows - references + self._errors.mean()
            scores = np.maximum(scores, 1e-12)  # a log-normal needs positive scores
            bound, mean, sd = prediction_bound(scores, self.level)
            self._thresholds[rows] = DistanceThreshold(METHOD, bound, self.draws, rows, self.level, mean, sd)
        return self._thresholds[rows]

    def run(self, current: pd.DataFrame) -> MultivariateResult:
        """Score one window against the reference.

        Parameters
        ----------
        current
            The window's rows; a feature it lacks counts as missing (imputed).

        Raises
        ------
        ValueError
            On a window without rows.
        """
        if not isinstance(current, pd.DataFrame) or len(current) == 0:
            raise ValueError("current must be a DataFrame with at least one row")
        frame = current.reindex(columns=list(self.features))
        residuals = self._pca.residuals(self._encoding.prepare(*self._arrays(frame)))
        error = float(np.linalg.norm(residuals, axis=1).mean())
        threshold = self._threshold(len(frame))
        rise = np.maximum((residuals**2).mean(axis=0) - self._baseline, 0.0)
        total = float(rise.sum())
        order = np.argsort(-rise, kind="stable")[:3]
        top = (
            tuple((self.features[j], float(rise[j] / total)) for j in order if rise[j] >= _MIN_SHARE * total) if total > 0 else ()
        )
        return MultivariateResult(
            error=error,
            threshold=threshold.threshold,
            drifted=error >= threshold.threshold,
            null_mean=float(np.exp(threshold.null_mean)),
            top_features=top,
            components=self.components,
            n_current=len(frame),
            threshold_source=threshold.describe(),
        )
