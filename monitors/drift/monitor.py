"""Drift: does a window of events still look like the reference, feature by feature?

:class:`DriftMonitor` compares each window with a fixed reference, one column at
a time, with the tests of Evidently's ``DataDriftPreset``, and returns a
:class:`DriftResult` of plain values together with an Evidently snapshot (to
store in a workspace). Deciding takes milliseconds: each column's test is run
without the report around it (whose plots make 20 columns cost 1 to 2 s, against
about 8 ms for their tests), and the snapshot holds the scores alone
(:meth:`DriftMonitor.run`). The full report,
plots included, is built on demand for the windows people open
(:meth:`DriftMonitor.report`); its decisions are the same.

Evidently's per-column decisions are not an alerting policy as they come: with
its default thresholds each column is tested at 5 %, so a window of 20 stationary
features is flagged most of the time. Here ``alpha`` is the error level of a
whole window: the p-values of all its columns are decided together by a
multiple-testing correction (:mod:`monitors.drift.multiple_testing`). With
Benjamini-Hochberg, the default, or Bonferroni a stationary window is flagged
with probability at most ``alpha``; with Benjamini-Hochberg several features
drifting at once are not each held to Bonferroni's strict cut-off.

Distance methods (Wasserstein, Jensen-Shannon, ...) score no p-value, and
Evidently compares them with a constant (0.1) whatever the window's size. Here
each such column gets a threshold calibrated on the reference's own
window-to-window variability (:mod:`monitors.drift.thresholds`): the distance a
stationary window of that size reaches with probability ``alpha / m``, the share
of ``alpha`` Bonferroni gives one of the window's ``m`` columns.

Every :class:`FeatureDrift` says where its threshold came from
(``threshold_source``), so an alert can say which correction or calibration
produced it.
"""

# Over 500 lines in one piece: DriftMonitor is one class, and the plan, calibration and
# decision of a window all read the reference's kinds, methods and thresholds it holds.

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from numbers import Real
from types import MappingProxyType

import pandas as pd

from monitors.drift.multiple_testing import CORRECTIONS, Correction, correct
from monitors.drift.results import DriftResult, FeatureDrift
from monitors.drift.thresholds import DistanceThreshold, calibrate_distance, calibration_rows
from monitors.evidently.drift_report import ColumnDrift, DriftReport, drift_scores_snapshot
from monitors.evidently.library import Snapshot
from monitors.evidently.methods import Kind, Method, check_method, resolve_method, usable_values

__all__ = ["DriftMonitor"]


@dataclass
class _Plan:
    """How one window's columns are tested: what Evidently is asked, and why."""

    methods: dict[str, str | None] = field(default_factory=dict)
    thresholds: dict[str, float | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # methods Evidently is left to choose, as foreseen here
    family: list[str] = field(default_factory=list)  # p-value columns decided by alpha, through the correction


_EVIDENTLY_DEFAULT = "evidently default"
_PER_FEATURE = "per-feature threshold"
_TOO_SMALL = "evidently default: reference too small to calibrate"

# Reference splits a distance threshold is calibrated on (monitors.drift.thresholds).
_CALIBRATION_DRAWS = 40


def _p_value(score: float) -> float:
    """A score as a p-value for the correction: NaN (no test) is never rejected."""
    return 1.0 if math.isnan(score) else min(max(score, 0.0), 1.0)


def _is_numerical(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def _is_time(values: pd.Series) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values))


def _names(argument: str, names: Sequence[str] | None, reference: pd.DataFrame) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{argument} must be a sequence of column names, not the string {names!r}")
    names = list(names)
    unknown = [n for n in names if n not in reference.columns]
    if unknown:
        raise ValueError(f"{argument} names columns that are not in the reference: {unknown}")
    if len(set(names)) != len(names):
        raise ValueError(f"{argument} names a column twice: {names}")
    return names


def _check_known(argument: str, mapping: Mapping[str, object], kinds: Mapping[str, Kind]) -> None:
    unknown = sorted(str(c) for c in mapping if c not in kinds)
    if unknown:
        raise ValueError(f"{argument} names columns that are not tested: {unknown}")


def _checked_method(argument: str, name: str, kind: Kind) -> Method:
    try:
        return check_method(name, kind)
    except ValueError as exc:
        raise ValueError(f"{argument}: {exc}") from exc


class DriftMonitor:
    """Compare windows of events with a reference, feature by feature, with Evidently.

    Parameters
    ----------
    reference
        The data windows are compared with. Kept as given; the monitor works on
        a copy of the columns it tests.
    numerical
        Columns tested as numerical. By default, the reference's numeric columns
        (booleans excluded) not named in ``categorical``.
    categorical
        Columns tested as categorical. By default, the reference's other columns
        not named in ``numerical``, except datetime and timedelta columns.
    prediction
        The model's prediction column: tested like a feature, reported apart, and
        not counted in :attr:`DriftResult.drifted_share`. Its kind is the one
        given by ``numerical``/``categorical`` if it is named there, else
        ``prediction_kind``, else its dtype's.
    prediction_kind
        ``"categorical"`` or ``"numerical"``: the prediction column's kind when
        ``numerical``/``categorical`` do not name it. A classifier's classes
        are categories even when they are numbers (0/1): tested with a
        numerical test such as K-S, a two-valued column is not tested for what
        it is. None: the column's dtype decides.
    num_method
        Evidently method id for numerical columns (``"ks"``, ``"wasserstein"``,
        ``"psi"``, ...); None lets Evidently choose by reference size (K-S up to
        1,000 rows, Wasserstein above).
    cat_method
        Evidently method id for categorical columns (``"chi2_homogeneity"``,
        registered by streammon, ``"z"``, ``"jensenshannon"``, ...); None lets
        Evidently choose (chi-square or Z-test up to 1,000 rows, Jensen-Shannon
        above).
    alpha
        Error level of one window, shared by its p-value columns through
        ``correction``. None keeps Evidently's default thresholds (and no
        correction).
    per_feature_method
        Method id per column (features or prediction); wins over ``num_method``
        and ``cat_method``.
    per_feature_threshold
        Threshold per column (features or prediction); wins over ``alpha``, and
        takes the column out of the correction's family (see Notes).
    correction
        How the p-values of one window are decided together
        (:func:`~monitors.drift.multiple_testing.correct`): ``"bh"``
        (Benjamini-Hochberg: false discovery rate at most ``alpha``),
        ``"bonferroni"`` (each at ``alpha / m``: chance of any false alarm at
        most ``alpha``), or ``"none"`` (each at ``alpha``).
    calibrate_distances
        With ``alpha``, give a column tested with a distance method, and
        without a threshold of its own, a threshold calibrated on the
        reference for the window's size (see Notes). False keeps Evidently's
        constant threshold for it, as without ``alpha``.

    Raises
    ------
    ValueError
        On a reference without rows, unknown columns or methods, a method that
        does not apply to its column's kind, a ``prediction_kind`` that is not
        a kind or is numerical for a column that is not, ``alpha`` outside (0, 1), an unknown
        correction, a threshold that is not a positive number or a
        ``calibrate_distances`` that is not a bool; the message names the
        argument.

    Notes
    -----
    The family of one window is every column tested with a p-value and decided
    by ``alpha`` (not by a threshold of its own), features and prediction
    together. ``m``, the count the correction divides ``alpha`` by, is every
    tested column, as it always was for Bonferroni: a column decided otherwise
    (a distance method, a threshold of its own) counts as a test that is never
    rejected. That keeps ``m`` the same from window to window even where
    Evidently chooses the method per window, keeps ``"bonferroni"`` identical to
    the monitor's earlier behaviour, and only makes the bounds more
    conservative. Each result's p-value columns share the correction's cut-off
    as their ``threshold``; a p-value is flagged exactly when it is at or
    below it, and a p-value that is not a number (a test that could not be
    computed) never is.

    Evidently's snapshot shows the Bonferroni decisions (each p-value column at
    ``alpha / m``): Evidently cannot decide a family, so it is run with the
    cut-off no correction goes below, and the correction is applied to its
    p-values afterwards. Every column the snapshot flags is flagged in the
    result; with ``"bh"`` or ``"none"`` the result may flag more.

    Under the global null (a stationary window) Benjamini-Hochberg flags any
    column with probability at most ``alpha``, like Bonferroni, when the
    p-values are independent or positively dependent (PRDS). Columns of one
    window are tested on the same rows, so they are dependent when the features
    are; Bonferroni holds under any dependence, BH under arbitrary dependence
    only at ``alpha * (1 + 1/2 + ... + 1/m)``. When features drift, BH flags
    at least the columns Bonferroni flags and often more, at the price of an expected share of at most
    ``alpha`` false alarms among the flagged columns.

    Both bounds need each method's p-value to be valid. K-S is. Evidently's
    ``chisquare`` is not quite: it tests the window's counts against the
    reference's proportions as if these were exact, so its p-values are too
    small unless the reference is much larger than the window (the statistic
    is inflated by about ``1 + n_current / n_reference``). Measured on stationary data with 3 categories, 1,000 rows
    against 1,000: 2.8 % of p-values below 0.001 and 23 % below 0.05. The
    default, ``"chi2_homogeneity"``, tests both samples' counts as a
    contingency table instead, and its p-values are valid.

    A column decided by a distance method (``Method.p_value`` False), with
    ``alpha`` and ``calibrate_distances`` and no threshold of its own, is
    compared with :func:`~monitors.drift.thresholds.calibrate_distance`'s threshold
    at level ``alpha / m``: the ``1 - alpha / m`` quantile of the distance over
    40 random splits of the reference column into a pseudo-window of the
    window's size and the rest. A distance has no p-value for BH to rank, so it
    gets Bonferroni's share of ``alpha``; as ``m`` counts it as a p-value of 1
    in the family, the chance that a stationary window is flagged stays at most
    about ``alpha`` (BH's share is ``alpha`` times the share of p-value columns,
    under independence), up to the accuracy of the calibration (measured
    with 3 normal columns and 1 categorical one, Wasserstein and
    Jensen-Shannon, windows of 500 rows against 4,000, ``alpha`` 0.01: 19 of
    1,050 stationary windows flagged, 1.8 %). A window's
    size is rounded to two significant digits (a window of 1,020 rows is
    calibrated as 1,000), at most half the reference, and each column,
    method and size is calibrated once, on first use, and kept
    (:attr:`distance_thresholds`): a stream of windows of one size costs one
    calibration per column, about 40 evaluations of the distance on the
    reference (0.02 to 0.06 s per column with 5,000 reference rows, 0.3 to
    1.1 s with 100,000; a report costs 0.2 to 1 s). A column whose method
    Evidently chooses is calibrated once the method is known, for the window at
    hand. A reference column with fewer than 2 usable rows keeps Evidently's
    threshold.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> def window(n, shift=0.0):
    ...     return pd.DataFrame({
    ...         "age": rng.normal(40, 10, n) + shift,
    ...         "income": rng.lognormal(10, 1, n),
    ...         "country": rng.choice(["de", "fr", "it"], n, p=[0.5, 0.3, 0.2]),
    ...     })
    >>> monitor = DriftMonitor(window(4000))
    >>> result, snapshot = monitor.run(window(500, shift=4.0))
    >>> result.correction
    'bh'
    >>> [(f.feature, f.method, round(f.threshold, 4)) for f in result.drifted_features]
    [('age', 'K-S p_value', 0.0033)]
    >>> round(result.drifted_share, 2)
    0.33

    Distance methods get thresholds calibrated for the window's size:

    >>> monitor = DriftMonitor(window(4000), num_method="wasserstein", cat_method="jensenshannon")
    >>> result, _ = monitor.run(window(500, shift=4.0))
    >>> [(f.feature, round(f.threshold, 3), f.drifted) for f in result.features]
    [('age', 0.161, True), ('country', 0.066, False), ('income', 0.179, False)]
    >>> result.features[0].threshold_source
    'calibrated: 99.6667th percentile of Wasserstein distance (normed) over 40 reference sub-windows of 500 rows'
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        *,
        numerical: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        prediction: str | None = None,
        prediction_kind: Kind | None = None,
        num_method: str | None = "ks",
        cat_method: str | None = "chi2_homogeneity",
        alpha: float | None = 0.01,
        per_feature_method: Mapping[str, str] | None = None,
        per_feature_threshold: Mapping[str, float] | None = None,
        correction: Correction = "bh",
        calibrate_distances: bool = True,
    ) -> None:
        self.reference = reference
        self.numerical = numerical
        self.categorical = categorical
        self.prediction = prediction
        self.prediction_kind = prediction_kind
        self.num_method = num_method
        self.cat_method = cat_method
        self.alpha = alpha
        self.per_feature_method = per_feature_method
        self.per_feature_threshold = per_feature_threshold
        self.correction = correction
        self.calibrate_distances = calibrate_distances

        if not isinstance(reference, pd.DataFrame) or len(reference) == 0:
            raise ValueError("reference must be a DataFrame with at least one row")
        if prediction is not None and prediction not in reference.columns:
            raise ValueError(f"prediction names a column that is not in the reference: {prediction!r}")
        if prediction_kind not in (None, "categorical", "numerical"):
            raise ValueError(f"prediction_kind must be 'categorical', 'numerical' or None, got {prediction_kind!r}")
        if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1):
            raise ValueError(f"alpha must be in (0, 1) or None, got {alpha!r}")
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {list(CORRECTIONS)}, got {correction!r}")
        if not isinstance(calibrate_distances, bool):
            raise ValueError(f"calibrate_distances must be True or False, got {calibrate_distances!r}")

        kinds = self._kinds(reference)
        self._kinds_by_column: dict[str, Kind] = kinds
        self._features = tuple(sorted(c for c in kinds if c != prediction))
        self._n_tested = len(kinds)
        self._methods = self._resolve_methods(kinds)
        self._thresholds = self._check_thresholds(kinds)
        columns = list(kinds)
        self._reference = reference[columns].copy()
        self._usable_rows = {c: len(usable_values(self._reference[c])) for c in columns}
        # (column, method id, pseudo-window rows) -> threshold; bounded by the
        # sizes two significant digits allow up to half the reference.
        self._calibrations: dict[tuple[str, str, int], DistanceThreshold] = {}
        self._report = DriftReport(
            self._reference,
            numerical=[c for c in columns if kinds[c] == "numerical"],
            categorical=[c for c in columns if kinds[c] == "categorical"],
        )

    def _kinds(self, reference: pd.DataFrame) -> dict[str, Kind]:
        numerical = _names("numerical", self.numerical, reference)
        categorical = _names("categorical", self.categorical, reference)
        both = set(numerical or ()) & set(categorical or ())
        if both:
            raise ValueError(f"numerical and categorical both name {sorted(both)}")
        others = [
            c for c in reference.columns if c != self.prediction and c not in (numerical or ()) and c not in (categorical or ())
        ]
        if numerical is None:
            numerical = [c for c in others if _is_numerical(reference[c])]
        if categorical is None:
            categorical = [c for c in others if not _is_numerical(reference[c]) and not _is_time(reference[c])]
        for column in numerical:
            if not _is_numerical(reference[column]):
                raise ValueError(f"numerical names column {column!r} of dtype {reference[column].dtype}")

        kinds: dict[str, Kind] = {c: "numerical" for c in numerical}
        kinds.update({c: "categorical" for c in categorical})
        if self.prediction is not None and self.prediction not in kinds:
            dtype_kind: Kind = "numerical" if _is_numerical(reference[self.prediction]) else "categorical"
            kinds[self.prediction] = self.prediction_kind or dtype_kind
            if kinds[self.prediction] == "numerical" and dtype_kind != "numerical":
                raise ValueError(
                    f"prediction_kind 'numerical' for column {self.prediction!r} of dtype {reference[self.prediction].dtype}"
                )
        if not kinds:
            raise ValueError("reference has no column to test: numerical and categorical are empty")
        return kinds

    def _resolve_methods(self, kinds: Mapping[str, Kind]) -> dict[str, Method | None]:
        by_kind: dict[Kind, Method | None] = {
            "numerical": None if self.num_method is None else _checked_method("num_method", self.num_method, "numerical"),
            "categorical": None if self.cat_method is None else _checked_method("cat_method", self.cat_method, "categorical"),
        }
        overrides = dict(self.per_feature_method or {})
        _check_known("per_feature_method", overrides, kinds)
        methods: dict[str, Method | None] = {}
        for column, kind in kinds.items():
            if column in overrides:
                methods[column] = _checked_method(f"per_feature_method[{column!r}]", overrides[column], kind)
            else:
                methods[column] = by_kind[kind]
        return methods

    def _check_thresholds(self, kinds: Mapping[str, Kind]) -> dict[str, float]:
        thresholds = dict(self.per_feature_threshold or {})
        _check_known("per_feature_threshold", thresholds, kinds)
        for column, threshold in thresholds.items():
            if isinstance(threshold, bool) or not isinstance(threshold, Real) or not math.isfinite(threshold) or threshold <= 0:
                raise ValueError(f"per_feature_threshold[{column!r}] must be a positive number, got {threshold!r}")
        return {c: float(t) for c, t in thresholds.items()}

    def __repr__(self) -> str:
        return (
            f"DriftMonitor({len(self._features)} features, {len(self._reference)} reference rows, "
            f"prediction={self.prediction!r}, num_method={self.num_method!r}, cat_method={self.cat_method!r}, "
            f"alpha={self.alpha!r}, correction={self.correction!r})"
        )

    @property
    def distance_thresholds(self) -> Mapping[tuple[str, str, int], DistanceThreshold]:
        """The calibrated thresholds so far, by column, Evidently method id and pseudo-window rows (read-only)."""
        return MappingProxyType(self._calibrations)

    def _family_source(self) -> str:
        if self.correction == "none":
            return f"none: alpha={self.alpha:g} per column"
        return f"{self.correction}: alpha={self.alpha:g} over {self._n_tested} columns"

    def _calibrated(self, column: str, kind: Kind, method: Method, window: pd.Series) -> DistanceThreshold | None:
        """The calibrated threshold of ``column`` for windows the size of ``window``; None when it cannot be."""
        usable = self._usable_rows[column]
        if usable < 2 or self.alpha is None:
            return None
        rows = min(calibration_rows(max(len(usable_values(window)), 1)), usable // 2)
        key = (column, method.name, rows)
        if key not in self._calibrations:
            # Seeded: a window's thresholds do not depend on the windows before it.
            # Two threads calibrating one key at once compute the same value.
            self._calibrations[key] = calibrate_distance(
                self._reference[column], kind, method, rows, self.alpha / self._n_tested, draws=_CALIBRATION_DRAWS
            )
        return self._calibrations[key]

    def run(self, current: pd.DataFrame, *, timestamp: datetime | None = None) -> tuple[DriftResult, Snapshot]:
        """Compare one window with the reference, in milliseconds.

        Each column is scored by the test Evidently's report would run on it
        (:meth:`~monitors.evidently.drift_report.DriftReport.scores`), so the result is the
        one :meth:`report` gives; the snapshot holds the scores alone, without
        the report's plots.

        Parameters
        ----------
        current
            The window's rows; it must hold every tested column.
        timestamp
            Time to stamp the snapshot with (Evidently uses its clock when None).

        Returns
        -------
        The drift result, and an Evidently snapshot of its scores.
        """
        plan = self._plan(current)
        columns = self._report.scores(current, methods=plan.methods, thresholds=plan.thresholds)
        snapshot = drift_scores_snapshot(columns, methods=plan.methods, thresholds=plan.thresholds, timestamp=timestamp)
        return self._decide(current, plan, columns), snapshot

    def report(self, current: pd.DataFrame, *, timestamp: datetime | None = None) -> tuple[DriftResult, Snapshot]:
        """Compare one window with the reference through Evidently's full report, plots included.

        The same result as :meth:`run`, tens of times slower (1 to 2 s for 20 columns): for the windows
        people open (those that change an alert, one per interval).

        Returns
        -------
        The drift result, and Evidently's snapshot of the report.
        """
        plan = self._plan(current)
        columns, snapshot = self._report.run(current, methods=plan.methods, thresholds=plan.thresholds, timestamp=timestamp)
        return self._decide(current, plan, columns), snapshot

    def _plan(self, current: pd.DataFrame) -> _Plan:
        """Each column's method and threshold for this window, and the columns the correction decides."""
        if not isinstance(current, pd.DataFrame) or len(current) == 0:
            raise ValueError("current must be a DataFrame with at least one row")
        missing = [c for c in self._kinds_by_column if c not in current.columns]
        if missing:
            raise ValueError(f"current lacks tested columns: {missing}")

        plan = _Plan()
        for column, kind in self._kinds_by_column.items():
            method = self._methods[column]
            plan.methods[column] = None if method is None else method.name
            if column in self._thresholds:
                plan.thresholds[column] = self._thresholds[column]
                plan.sources[column] = _PER_FEATURE
                continue
            if self.alpha is None:
                plan.thresholds[column] = None
                plan.sources[column] = _EVIDENTLY_DEFAULT
                continue
            if method is None:
                method = resolve_method(self._reference[column], current[column], kind, None)
                plan.expected[column] = method.display_name
            if method.p_value:
                plan.family.append(column)
                # Bonferroni's cut-off, the lowest of the corrections: Evidently's
                # snapshot never flags a column the correction below does not.
                plan.thresholds[column] = self.alpha / self._n_tested
                plan.sources[column] = self._family_source()
            elif self.calibrate_distances:
                calibrated = self._calibrated(column, kind, method, current[column])
                plan.thresholds[column] = None if calibrated is None else calibrated.threshold
                plan.sources[column] = _TOO_SMALL if calibrated is None else calibrated.describe()
            else:
                plan.thresholds[column] = None
                plan.sources[column] = _EVIDENTLY_DEFAULT
        return plan

    def _decide(self, current: pd.DataFrame, plan: _Plan, columns: Mapping[str, ColumnDrift]) -> DriftResult:
        """The window's result from its columns' scores: the correction decides its family."""
        for column, display_name in plan.expected.items():
            if columns[column].method != display_name:
                raise RuntimeError(
                    f"Evidently tested column {column!r} with {columns[column].method!r}, "
                    f"not {display_name!r} as foreseen when choosing its threshold"
                )

        decided = {c: (columns[c].threshold, columns[c].drifted) for c in columns}
        if self.alpha is not None and plan.family:
            # Columns outside the family count in m as p-values of 1: never rejected.
            p_values = [_p_value(columns[c].score) for c in plan.family]
            p_values += [1.0] * (self._n_tested - len(plan.family))
            decision = correct(p_values, self.alpha, self.correction)
            for column, rejected in zip(plan.family, decision.rejected):
                decided[column] = (decision.threshold, rejected)

        def drift(column: str) -> FeatureDrift:
            c = columns[column]
            threshold, drifted = decided[column]
            return FeatureDrift(c.column, c.score, c.method, threshold, drifted, plan.sources[column])

        return DriftResult(
            features=tuple(drift(c) for c in self._features),
            prediction=None if self.prediction is None else drift(self.prediction),
            n_current=len(current),
            n_reference=len(self._reference),
            correction="none" if self.alpha is None else self.correction,
        )
