"""The one place that knows Evidently: build a drift report, run it, read it back.

Evidently's snapshot dictionaries change layout between versions, so nothing
else in streammon reads them. This adapter is written against Evidently 0.7.23,
where ``Report([DataDriftPreset(...)], include_tests=True).run(current,
reference).dict()`` looks like this (only what is read here)::

    {"metrics": [{"id": "<metric id>",
                  "config": {"type": "evidently:metric_v2:ValueDrift",
                             "column": "age",
                             "method": "ks" | "K-S p_value",
                             "threshold": 0.05},
                  "value": 1.8e-25},                  # the drift score
                 ...],
     "tests": [{"metric_config": {"metric_id": "<metric id>", ...},
                "status": TestStatus.FAIL,            # FAIL means drift
                ...},
               ...]}

``config.method`` holds the method as it was asked for: Evidently's id (``"ks"``)
when one was given, the display name (``"K-S p_value"``) when Evidently chose it.
Both are reported here as the display name. The preset also adds a
``DriftedColumnsCount`` metric and its "share of drifted columns" test; they are
ignored (a dataset-level share is not an alerting policy).

Per-column choices go through ``DataDriftPreset(per_column_method=...,
per_column_threshold=...)``; a column left out gets Evidently's own choice:
K-S (numerical) or chi-square / Z-test (categorical) when the reference holds at
most 1,000 rows, Wasserstein (numerical) or Jensen-Shannon (categorical) above,
with each method's default threshold.

Model quality (:func:`classification_quality`, :func:`regression_quality`) is
read from individual metrics (``Accuracy``, ``Precision``, ``Recall``,
``F1Score``, ``RocAuc``; ``MAE``, ``RMSE``, ``MAPE``) run on a named task, where
``Report([...]).run(current, None).dict()`` looks like this::

    {"metrics": [{"id": "<metric id>",
                  "config": {"type": "evidently:metric_v2:Accuracy",
                             "classification_name": "labels"},
                  "value": 0.742},
                 {"config": {"type": "evidently:metric_v2:MAE", "regression_name": "values"},
                  "value": {"mean": 2.17, "std": 1.68}},      # MAE and MAPE: mean and std
                 ...],
     "tests": []}
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.exceptions import UndefinedMetricWarning

from monitors.evidently.stattests import homogeneity_p_value, ks_p_value

# Importing Evidently 0.7.23 emits DeprecationWarnings that are not ours to fix:
# evidently/legacy/tests/utils.py touches ``numpy.core`` (renamed in NumPy 2), and
# Evidently's UI code calls litestar's deprecated ``Dependency``/``DependencyKwarg``.
# With warnings as errors they would break every import of this module, so
# DeprecationWarnings attributed to evidently.* and litestar.* modules are ignored,
# only while importing. Running a report (include_tests=True) emits no warning.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently import (
        BinaryClassification,
        DataDefinition,
        Dataset,
        MulticlassClassification,
        Regression,
        Report,
    )
    from evidently.core.metric_types import MeanStdValue, MetricConfig, SingleValue, single_value_location
    from evidently.core.report import Snapshot
    from evidently.core.serialization import ReportModel, SnapshotModel
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        StatTestInvalidFeatureTypeError,
        StatTestNotFoundError,
        get_registered_stattest,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType
    from evidently.legacy.model.widget import BaseWidgetInfo
    from evidently.metrics import (
        MAE,
        MAPE,
        RMSE,
        Accuracy,
        F1Score,
        Precision,
        Recall,
        RocAuc,
        ValueDrift,
    )
    from evidently.presets import DataDriftPreset

__all__ = [
    "DRIFTED_FEATURES",
    "ESTIMATED_ACCURACY",
    "LABEL_COVERAGE",
    "QUALITY_FINDINGS",
    "ColumnDrift",
    "DriftReport",
    "Kind",
    "Method",
    "P_VALUE_DISPLAY_NAMES",
    "P_VALUE_METHODS",
    "RunValue",
    "Snapshot",
    "SnapshotModel",
    "annotated",
    "check_method",
    "chi2_homogeneity_p_value",
    "classification_quality",
    "distance",
    "drift_scores_snapshot",
    "parse_quality",
    "parse_value_drift",
    "positive_label",
    "regression_quality",
    "resolve_method",
    "streammon_values",
    "usable_values",
]

Kind = Literal["numerical", "categorical"]

_COLUMN_TYPES: dict[str, ColumnType] = {
    "numerical": ColumnType.Numerical,
    "categorical": ColumnType.Categorical,
}

#: Evidently methods whose score is a p-value (drift when the score is at or below
#: the threshold). Every other method scores a distance (drift when at or above).
#: Read from each method's implementation in evidently/legacy/calculations/stattests.
P_VALUE_METHODS = frozenset(
    {
        "anderson",
        "chi2_homogeneity",
        "chisquare",
        "cramer_von_mises",
        "empirical_mmd",
        "es",
        "fisher_exact",
        "g_test",
        "ks",
        "mannw",
        "t_test",
        "TVD",
        "z",
    }
)


def chi2_homogeneity_p_value(reference: pd.Series, current: pd.Series) -> float:
    """P-value of a chi-square test that two samples share one categorical distribution.

    Unlike Evidently's ``chisquare``, which takes the reference's proportions as
    exact, this tests the 2 x k contingency table of both samples' counts, so the
    reference's own sampling noise is accounted for and the p-value is valid
    whatever the two sizes. Rare categories are pooled
    (:data:`monitors.evidently.stattests.RARE_CATEGORY_COUNT`).

    Examples
    --------
    >>> ref = pd.Series(["a"] * 50 + ["b"] * 50)
    >>> round(chi2_homogeneity_p_value(ref, pd.Series(["a"] * 50 + ["b"] * 50)), 3)
    1.0
    >>> chi2_homogeneity_p_value(ref, pd.Series(["a"] * 80 + ["b"] * 20)) < 1e-4
    True
    """
    # Counted in Python: a window's few categories do not pay for pandas' alignment (~1 ms a column).
    return homogeneity_p_value(Counter(reference.dropna().tolist()), Counter(current.dropna().tolist()))


def _chi2_homogeneity(reference: pd.Series, current: pd.Series, feature_type: ColumnType, threshold: float) -> tuple[float, bool]:
    p_value = chi2_homogeneity_p_value(reference, current)
    return p_value, p_value < threshold


# Evidently resolves methods by name in its own registry, so the test must be
# registered there before any report that names it runs: on import, in whichever
# process runs reports.
register_stattest(
    StatTest(
        name="chi2_homogeneity",
        display_name="chi-square homogeneity p_value",
        allowed_feature_types=[ColumnType.Categorical],
        default_threshold=0.05,
    ),
    default_impl=_chi2_homogeneity,
)


def _display_names(names: frozenset[str]) -> frozenset[str]:
    found = set()
    for name in names:
        for kind in _COLUMN_TYPES.values():
            try:
                found.add(str(get_registered_stattest(name, kind).display_name))
            except (StatTestInvalidFeatureTypeError, StatTestNotFoundError):
                continue
    return frozenset(found)


#: The same methods by the names reports give them (e.g. ``"K-S p_value"``).
P_VALUE_DISPLAY_NAMES = _display_names(P_VALUE_METHODS)

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED = frozenset({"FAIL", "WARNING"})
_NOT_DRIFTED = frozenset({"SUCCESS"})


@dataclass(frozen=True)
class Method:
    """An Evidently drift method, as resolved for one column.

    Examples
    --------
    >>> check_method("wasserstein", "numerical")
    Method(name='wasserstein', display_name='Wasserstein distance (normed)', p_value=False, default_threshold=0.1)
    """

    name: str
    display_name: str
    p_value: bool
    default_threshold: float


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column, as Evidently reported it.

    Examples
    --------
    >>> ColumnDrift("age", 1e-9, "K-S p_value", 0.05, True).drifted
    True
    """

    column: str
    score: float
    method: str
    threshold: float
    drifted: bool


def _method(stattest: Any) -> Method:
    return Method(
        name=stattest.name,
        display_name=stattest.display_name,
        p_value=stattest.name in P_VALUE_METHODS,
        default_threshold=float(stattest.default_threshold),
    )


def check_method(name: str, kind: Kind) -> Method:
    """Look up an Evidently method by id for a kind of column.

    Raises
    ------
    ValueError
        When Evidently has no method of that name, or it does not apply to ``kind``.

    Examples
    --------
    >>> check_method("ks", "numerical").display_name
    'K-S p_value'
    >>> check_method("ks", "categorical")
    Traceback (most recent call last):
    ...
    ValueError: method 'ks' does not apply to categorical columns
    """
    try:
        stattest = get_registered_stattest(name, _COLUMN_TYPES[kind])
    except StatTestInvalidFeatureTypeError as exc:
        raise ValueError(f"method {name!r} does not apply to {kind} columns") from exc
    except StatTestNotFoundError as exc:
        raise ValueError(str(exc)) from exc
    return _method(stattest)


def _clean(values: pd.Series) -> pd.Series:
    # As Evidently does before testing a column (get_one_column_drift): a float
    # column's finite values, without replace's cost where that is all it takes.
    if pd.api.types.is_float_dtype(values.dtype):
        return values[np.isfinite(values.to_numpy())]
    return values.replace([-np.inf, np.inf], np.nan).dropna()


def usable_values(values: pd.Series) -> pd.Series:
    """The values of a column that Evidently scores: NaN and infinities dropped.

    Examples
    --------
    >>> usable_values(pd.Series([1.0, np.nan, np.inf, 2.0])).tolist()
    [1.0, 2.0]
    """
    return _clean(values)


def resolve_method(reference: pd.Series, current: pd.Series, kind: Kind, name: str | None) -> Method:
    """The method Evidently will use on a column: ``name``, or its own choice.

    Evidently's choice depends on the size of the reference and on the distinct
    values of both samples, so it is made again for every window.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> resolve_method(pd.Series(rng.normal(size=2000)), pd.Series(rng.normal(size=500)),
    ...                "numerical", None).display_name
    'Wasserstein distance (normed)'
    >>> resolve_method(pd.Series(rng.normal(size=1000)), pd.Series(rng.normal(size=500)),
    ...                "numerical", None).display_name
    'K-S p_value'
    """
    if name is not None:
        return check_method(name, kind)
    return _method(get_stattest(_clean(reference), _clean(current), _COLUMN_TYPES[kind], None))


def distance(reference: pd.Series, current: pd.Series, kind: Kind, method: Method) -> float:
    """The score Evidently's distance ``method`` gives ``current`` against ``reference``.

    The same number a report puts in its ``ValueDrift`` metric for the column
    (NaN and infinities dropped first, as Evidently does), without building a
    report: a few milliseconds rather than a report's tenths of a second, so a
    threshold can be calibrated on many splits of a reference
    (:mod:`monitors.drift.thresholds`).

    Raises
    ------
    ValueError
        When ``method`` scores a p-value, not a distance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> reference = pd.Series(rng.normal(size=2000))
    >>> wasserstein = check_method("wasserstein", "numerical")
    >>> round(distance(reference, pd.Series(rng.normal(size=500)), "numerical", wasserstein), 3)
    0.053
    >>> round(distance(reference, pd.Series(rng.normal(0.5, size=500)), "numerical", wasserstein), 3)
    0.469
    """
    if method.p_value:
        raise ValueError(f"method {method.name!r} scores a p-value, not a distance")
    stattest = get_registered_stattest(method.name, _COLUMN_TYPES[kind])
    # The threshold only sets the returned decision, which is not used here.
    result = stattest(_clean(reference), _clean(current), _COLUMN_TYPES[kind], method.default_threshold)
    return float(result.drift_score)


def _display_name(method: str, kind: Kind) -> str:
    try:
        return str(get_registered_stattest(method, _COLUMN_TYPES[kind]).display_name)
    except ValueError:  # already a display name: Evidently chose the method
        return method


def _status(test: Mapping[str, Any]) -> str:
    status = test["status"]
    return str(getattr(status, "value", status))


def parse_value_drift(snapshot: Mapping[str, Any], kinds: Mapping[str, Kind]) -> dict[str, ColumnDrift]:
    """Read per-column drift out of a snapshot dictionary (``Snapshot.dict()``).

    Parameters
    ----------
    snapshot
        The dictionary of a report run with ``include_tests=True``.
    kinds
        Kind of every column expected in the report.

    Raises
    ------
    RuntimeError
        When the snapshot does not have the layout described in this module:
        a column without its metric or its test, or a test in an unknown state.

    Examples
    --------
    >>> snapshot = {
    ...     "metrics": [{"id": "m1", "value": 0.001, "config": {
    ...         "type": "evidently:metric_v2:ValueDrift", "column": "age",
    ...         "method": "ks", "threshold": 0.01}}],
    ...     "tests": [{"metric_config": {"metric_id": "m1"}, "status": "FAIL"}]}
    >>> parse_value_drift(snapshot, {"age": "numerical"})
    {'age': ColumnDrift(column='age', score=0.001, method='K-S p_value', threshold=0.01, drifted=True)}
    """
    metrics: dict[str, Mapping[str, Any]] = {}
    for metric in snapshot["metrics"]:
        config = metric.get("config", {})
        if config.get("type") == _VALUE_DRIFT and config.get("column") in kinds:
            metrics[metric["id"]] = metric
    statuses: dict[str, str] = {}
    for test in snapshot["tests"]:
        metric_id = test.get("metric_config", {}).get("metric_id")
        if metric_id in metrics:
            statuses[metric_id] = _status(test)

    result: dict[str, ColumnDrift] = {}
    for metric_id, metric in metrics.items():
        config = metric["config"]
        column = config["column"]
        status = statuses.get(metric_id)
        if status not in _DRIFTED | _NOT_DRIFTED:
            raise RuntimeError(f"Evidently drift test of column {column!r} has status {status!r}")
        result[column] = ColumnDrift(
            column=column,
            score=float(metric["value"]),
            method=_display_name(str(config["method"]), kinds[column]),
            threshold=float(config["threshold"]),
            drifted=status in _DRIFTED,
        )
    missing = sorted(set(kinds) - set(result))
    if missing:
        raise RuntimeError(f"Evidently snapshot has no drift metric for columns {missing}")
    return result


class DriftReport:
    """Evidently's ``DataDriftPreset`` over fixed columns of a fixed reference.

    Parameters
    ----------
    reference
        The reference rows; only the named columns are kept.
    numerical
        Columns Evidently treats as numerical.
    categorical
        Columns Evidently treats as categorical.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> reference = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    >>> current = pd.DataFrame({"x": rng.normal(1.0, size=200), "c": rng.choice(["a", "b"], 200)})
    >>> report = DriftReport(reference, numerical=["x"], categorical=["c"])
    >>> columns, snapshot = report.run(current, methods={"x": "ks"}, thresholds={"x": 0.01})
    >>> [(c.column, c.method, c.threshold, c.drifted) for c in columns.values()]
    [('x', 'K-S p_value', 0.01, True), ('c', 'Z-test p_value', 0.05, False)]
    """

    def __init__(self, reference: pd.DataFrame, numerical: Sequence[str], categorical: Sequence[str]) -> None:
        self.numerical = numerical
        self.categorical = categorical
        self._columns = [*numerical, *categorical]
        self._kinds: dict[str, Kind] = {c: "numerical" for c in numerical}
        self._kinds.update({c: "categorical" for c in categorical})
        self._definition = DataDefinition(numerical_columns=list(numerical), categorical_columns=list(categorical))
        # Built once: a Dataset is not changed by the reports that read it.
        self._reference = Dataset.from_pandas(reference[self._columns], data_definition=self._definition)
        self._clean_reference = {c: _clean(self._reference.column(c).data) for c in self._columns}
        # What the tests need of the reference alone, made on a column's first test (see _score).
        self._sorted_reference: dict[str, np.ndarray[Any, Any]] = {}
        self._reference_counts: dict[str, Counter[Any]] = {}

    def run(
        self,
        current: pd.DataFrame,
        *,
        methods: Mapping[str, str | None],
        thresholds: Mapping[str, float | None],
        timestamp: datetime | None = None,
    ) -> tuple[dict[str, ColumnDrift], Snapshot]:
        """Run the report on ``current``; return per-column drift and Evidently's snapshot.

        ``methods`` and ``thresholds`` map columns to an Evidently method id and a
        threshold; a column absent or mapped to None gets Evidently's default.
        ``timestamp`` stamps the snapshot (Evidently uses its clock when None).
        """
        per_column_method = {c: m for c, m in methods.items() if m is not None}
        per_column_threshold = {c: float(t) for c, t in thresholds.items() if t is not None}
        preset = DataDriftPreset(
            columns=self._columns,
            per_column_method=per_column_method or None,
            per_column_threshold=per_column_threshold or None,
            include_tests=True,
        )
        dataset = Dataset.from_pandas(current[self._columns], data_definition=self._definition)
        snapshot = Report([preset], include_tests=True).run(dataset, self._reference, timestamp=timestamp)
        return parse_value_drift(snapshot.dict(), self._kinds), snapshot

    def scores(
        self, current: pd.DataFrame, *, methods: Mapping[str, str | None], thresholds: Mapping[str, float | None]
    ) -> dict[str, ColumnDrift]:
        """Per-column drift as :meth:`run` reports it, without building a report.

        Each column goes through the very test a report's ``ValueDrift`` metric
        runs (Evidently's registered stattest, on the values Evidently keeps:
        NaN and infinities dropped), so scores and decisions are the report's;
        what is skipped is the report around them, whose plots cost far more
        than the tests (20 columns: about 8 ms here, against 1 to 2 s). The two
        default tests, ``ks`` and ``chi2_homogeneity``, take the reference's
        share from what was made of it once (its values sorted, its category
        counts) and compute the p-values scipy's calls give
        (:mod:`monitors.evidently.stattests`).

        Raises
        ------
        ValueError
            On a column without usable values, as a report does.

        Examples
        --------
        >>> rng = np.random.default_rng(2)
        >>> reference = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
        >>> current = pd.DataFrame({"x": rng.normal(1.0, size=200), "c": rng.choice(["a", "b"], 200)})
        >>> report = DriftReport(reference, numerical=["x"], categorical=["c"])
        >>> scores = report.scores(current, methods={"x": "ks"}, thresholds={"x": 0.01})
        >>> scores == report.run(current, methods={"x": "ks"}, thresholds={"x": 0.01})[0]
        True
        """
        return {
            column: self._score(column, current[column], methods.get(column), thresholds.get(column)) for column in self._columns
        }

    def _score(self, column: str, values: pd.Series, method: str | None, threshold: float | None) -> ColumnDrift:
        kind = _COLUMN_TYPES[self._kinds[column]]
        reference = self._clean_reference[column]
        # The two default tests need the window's usable values alone (an array of numbers, a list
        # of categories): the Series Evidently would get is not built for them.
        numbers = _finite_numbers(values) if method == "ks" and _plain_numbers(reference) else None
        categories = _category_values(values) if method == "chi2_homogeneity" else None
        current = _clean(values) if numbers is None and categories is None else None
        usable = len(numbers) if numbers is not None else len(categories) if categories is not None else _size(current)
        for size, which in ((len(reference), "reference"), (usable, "current")):
            if size == 0:
                raise ValueError(f"An empty column {column!r} was provided for drift calculation in the {which} dataset.")
        stattest = get_stattest(reference, current, kind, method)
        actual_threshold = stattest.default_threshold if threshold is None else threshold
        if stattest is _KS and numbers is not None:
            # Evidently's ks test: scipy's ks_2samp, drift at p <= threshold.
            score = ks_p_value(self._sorted(column), numbers)
            drifted = score <= actual_threshold
        elif stattest is _CHI2_HOMOGENEITY and (categories is not None or current is not None):
            # _chi2_homogeneity, with the reference's counts made once.
            counted = Counter(categories if categories is not None else current.dropna().tolist() if current is not None else ())
            score = homogeneity_p_value(self._counts(column), counted)
            drifted = score < actual_threshold
        else:
            if current is None:  # only if the registry's ks or chi2_homogeneity was replaced
                current = _clean(values)
            result = stattest(reference, current, kind, threshold)
            score, drifted, actual_threshold = float(result.drift_score), bool(result.drifted), result.actual_threshold
        return ColumnDrift(
            column=column,
            score=float(score),
            method=str(stattest.display_name),
            threshold=float(actual_threshold),
            drifted=bool(drifted),
        )

    def _sorted(self, column: str) -> np.ndarray[Any, Any]:
        if column not in self._sorted_reference:
            self._sorted_reference[column] = np.sort(self._clean_reference[column].to_numpy())
        return self._sorted_reference[column]

    def _counts(self, column: str) -> Counter[Any]:
        if column not in self._reference_counts:
            self._reference_counts[column] = Counter(self._clean_reference[column].dropna().tolist())
        return self._reference_counts[column]


_KS = get_registered_stattest("ks", ColumnType.Numerical)
_CHI2_HOMOGENEITY = get_registered_stattest("chi2_homogeneity", ColumnType.Categorical)


def _plain_numbers(values: pd.Series) -> bool:
    """Whether ``values`` are NumPy floats or integers, which K-S can take as an array as they are."""
    dtype = values.dtype
    return isinstance(dtype, np.dtype) and dtype.kind in "fi"


def _category_values(values: pd.Series) -> list[Any] | None:
    """The values of an object column that :func:`_clean` keeps, in order; None for other columns, or with an infinity.

    What :func:`_clean` keeps of an object column is its values that are not
    missing (by pandas' rule) and not infinite; its ``replace`` may also turn
    the column's dtype into numbers, which changes no value's equality, so no
    count. A column holding an infinity is left to :func:`_clean` as it is.
    """
    if values.dtype != object:
        return None
    array = values.to_numpy()
    kept = array[~pd.isna(array)]
    if ((kept == np.inf) | (kept == -np.inf)).any():
        return None
    return list(kept.tolist())


def _size(values: pd.Series | None) -> int:
    return 0 if values is None else len(values)


def _finite_numbers(values: pd.Series) -> np.ndarray[Any, Any] | None:
    """The finite values of a column of plain numbers, as :func:`_clean` keeps them; None for other columns."""
    if not _plain_numbers(values):
        return None
    array: np.ndarray[Any, Any] = values.to_numpy()
    return array[np.isfinite(array)] if array.dtype.kind == "f" else array


def drift_scores_snapshot(
    columns: Mapping[str, ColumnDrift],
    *,
    methods: Mapping[str, str | None],
    thresholds: Mapping[str, float | None],
    timestamp: datetime | None = None,
) -> Snapshot:
    """An Evidently snapshot of per-column drift scores alone, without a report's plots.

    Each column is the ``ValueDrift`` metric a :class:`DriftReport` puts in its
    snapshot, with the same configuration (column, method, threshold) and so
    the same metric id: a dashboard panel plotting a column's drift reads one
    series from full reports and from these alike. Writing one costs
    milliseconds and about 10 KB on disk, against 1 to 2 s and about 1.3 MB
    for a report with its plots (20 columns).

    ``methods`` and ``thresholds`` are what the report was asked for
    (:meth:`DriftReport.run`); where a column's is None, Evidently's choice is
    added to the configuration, as a report resolves it.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> reference = pd.DataFrame({"x": rng.normal(size=300)})
    >>> report = DriftReport(reference, numerical=["x"], categorical=[])
    >>> current = pd.DataFrame({"x": rng.normal(1.0, size=200)})
    >>> scores = report.scores(current, methods={"x": "ks"}, thresholds={"x": 0.01})
    >>> snapshot = drift_scores_snapshot(scores, methods={"x": "ks"}, thresholds={"x": 0.01})
    >>> [metric] = snapshot.dict()["metrics"]
    >>> metric["config"]["method"], metric["config"]["threshold"], metric["value"] == scores["x"].score
    ('ks', 0.01, True)
    """
    values = []
    for column, drift in columns.items():
        asked = (("column", column), ("method", methods.get(column)), ("threshold", thresholds.get(column)))
        resolved = (("method", methods.get(column) or drift.method), ("threshold", drift.threshold))
        values.append((_located(ValueDrift, asked, resolved), drift.score))
    return _values_snapshot(values, timestamp)


_Params = tuple[tuple[str, Any], ...]


@functools.lru_cache(maxsize=4096)
def _located(metric_class: type[Any], asked: _Params, resolved: _Params) -> tuple[str, MetricConfig, str]:
    """A metric's id, configuration (what it was asked, and what a report resolves) and display name.

    Cached: building a metric and its calculation costs more than the value it
    holds, and a stream's windows ask the same metrics again and again.
    """
    metric = metric_class(**dict(asked))
    given = {**dict(resolved), **metric.dict(exclude_none=True)}
    # In the order of the metric's fields, as a report writes them: Evidently's UI names a
    # dashboard series by its parameters in their order, so another order is another series.
    fields = list(metric.dict())
    params = {**{k: given[k] for k in fields if k in given}, **{k: v for k, v in given.items() if k not in fields}}
    return metric.get_metric_id(), MetricConfig(metric_id=metric.metric_id, params=params), metric.to_calculation().display_name()


#: A value of a snapshot without plots: a single value, or a mean and a spread, each (value, display name).
_SnapshotValue = float | tuple[tuple[float, str], tuple[float, str]]


def _values_snapshot(
    values: Sequence[tuple[tuple[str, MetricConfig, str], _SnapshotValue]], timestamp: datetime | None
) -> Snapshot:
    """A snapshot of metrics' values, each given as (:func:`_located` metric, value), without plots."""
    results: dict[str, SingleValue | MeanStdValue] = {}
    for (metric_id, config, display_name), value in values:
        result: SingleValue | MeanStdValue
        if isinstance(value, tuple):
            (mean, mean_name), (std, std_name) = value
            result = MeanStdValue(
                mean=SingleValue(value=mean, display_name=mean_name),
                std=SingleValue(value=std, display_name=std_name),
                display_name=display_name,
            )
        else:
            result = SingleValue(value=value, display_name=display_name)
        result.set_metric_location(config)
        results[metric_id] = result
    model = SnapshotModel(
        report=ReportModel(items=[]),
        name=None,
        timestamp=timestamp or datetime.now(),
        metadata={},
        tags=[],
        metric_results=results,
        top_level_metrics=list(results),
        widgets=[],
        tests_widgets=[],
    )
    return Snapshot.load_model(model)


# --- Model quality -----------------------------------------------------------
#
# What Evidently 0.7.23 does with classification data, read from
# evidently/core/report.py (_default_input_data_generator) and
# evidently/legacy/calculations/classification_performance.py, and what is done
# about it here:
#
# - A task given both ``prediction_labels`` and ``prediction_probas`` ignores the
#   labels: predicted classes are re-derived as ``proba >= 0.5``. The model's own
#   decisions are what is monitored, so labels and scores go to two tasks
#   (``labels`` for accuracy, precision, recall, F1; ``scores`` for ROC AUC).
# - Which columns count as probabilities, and which label is positive, depends
#   on the pandas dtypes: bool targets with a float score fail ("a mix of binary
#   and continuous targets"), int targets with a score assume the positive label
#   is 1. Classes are therefore passed as strings, with an explicit pos_label.
# - The metrics are scikit-learn's: binary (pos_label) with two classes, macro
#   averages otherwise, including when only one class occurs. So a window whose
#   labels and predictions are all negative scores precision = recall = F1 = 1.0
#   (the macro average over the negative class); with no predicted positive,
#   precision is reported as 0.0. Both are undefined for the positive class, and
#   left out here.
# - Precision, recall and F1 are computed together whichever is asked for, and
#   scikit-learn warns when one is undefined (UndefinedMetricWarning); a single
#   class makes its confusion matrix warn too, and so do Evidently's own rates
#   (TNR, FPR...: 0/0 in NumPy) when the labels hold one class only. Those are
#   filtered while a report runs: the undefined metrics are not reported.
# - ROC AUC is the macro average over [positive, negative] probability columns,
#   p and 1 - p, which for two classes is the positive class's AUC; Evidently
#   also computes a log loss from them, which needs p in [0, 1].
#
# And with regression data (evidently/legacy/calculations/regression_performance.py):
#
# - MAPE is a percentage, and divides by ``max(target, eps)``, not ``|target|``:
#   any target <= 0 makes it ~1e16. Its default ``zero_handling`` ("replace")
#   counts a near-zero target as 100 %. Here MAPE is asked with
#   zero_handling="none", reported as a fraction (like scikit-learn's), and only
#   when every target is positive.
# - The report always computes a "dummy" MAPE, weighting the non-zero targets
#   by 1/target normalised by its sum; it raises IndexError when every target
#   is zero, or when that sum is exactly zero (e.g. targets 1, -2, -2): such a
#   window is not evaluated.
# - R2 of its binned plots warns (UndefinedMetricWarning) for bins of one row,
#   and scipy warns about a one-row error distribution: both filtered.
#
# Cost measured here (2 cores, AMD EPYC), median of 10 after a warm-up, of
# performance.evaluate on 1,000 pairs: 0.076 s binary with scores, 0.032 s
# multiclass (4 classes, no scores), 0.090 s regression; 0.25 s binary with
# 10,000 pairs. Cheap next to a drift report, but not a per-event cost.
#
# Without plots (``plots=False``), the same values come from NumPy: confusion
# counts per class, ROC AUC from average ranks (the Mann-Whitney statistic,
# ties counted half, as scikit-learn's ROC curve joins tied points), errors
# for regression. scikit-learn's input validation was most of the cost of
# calling it (about 20 ms for 1,000 binary pairs with scores); this takes
# under a millisecond. tests/unit/test_quality_values.py holds both to 1e-12.

_LABELS_TASK = "labels"
_MULTICLASS_METRICS = ("accuracy", "precision", "recall", "f1")
_SCORES_TASK = "scores"
_VALUES_TASK = "values"

#: Each metric as the report is asked for it, by the name streammon gives it.
_QUALITY_METRIC_OBJECTS: dict[str, Callable[[], Any]] = {
    "accuracy": functools.partial(Accuracy, classification_name=_LABELS_TASK),
    "precision": functools.partial(Precision, classification_name=_LABELS_TASK),
    "recall": functools.partial(Recall, classification_name=_LABELS_TASK),
    "f1": functools.partial(F1Score, classification_name=_LABELS_TASK),
    "roc_auc": functools.partial(RocAuc, classification_name=_SCORES_TASK),
    "mae": functools.partial(MAE, regression_name=_VALUES_TASK),
    "rmse": functools.partial(RMSE, regression_name=_VALUES_TASK),
    "mape": functools.partial(MAPE, regression_name=_VALUES_TASK, zero_handling="none"),
}


@functools.cache
def _quality_location(name: str) -> tuple[str, MetricConfig, str]:
    """The id, configuration and display name the report gives metric ``name`` (:func:`_located`)."""
    metric = _QUALITY_METRIC_OBJECTS[name]()
    # A class hashes; mypy does not see Evidently's (untyped here) as Hashable.
    return _located(type(metric), tuple(metric.dict(exclude_none=True).items()), ())  # type: ignore[arg-type]


@functools.cache
def _mean_std_names(name: str) -> tuple[str, str]:
    """The display names the report gives the mean and the spread of metric ``name``."""
    calculation = _QUALITY_METRIC_OBJECTS[name]().to_calculation()
    return str(calculation.mean_display_name()), str(calculation.std_display_name())


_QUALITY_METRICS = {
    "evidently:metric_v2:Accuracy": "accuracy",
    "evidently:metric_v2:Precision": "precision",
    "evidently:metric_v2:Recall": "recall",
    "evidently:metric_v2:F1Score": "f1",
    "evidently:metric_v2:RocAuc": "roc_auc",
    "evidently:metric_v2:MAE": "mae",
    "evidently:metric_v2:RMSE": "rmse",
    "evidently:metric_v2:MAPE": "mape",
}


def _quiet_quality_warnings() -> None:
    # Only inside warnings.catch_warnings(): see the notes above for why each one.
    warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
    warnings.filterwarnings("ignore", message="A single label was found in 'y_true' and 'y_pred'", category=UserWarning)
    warnings.filterwarnings(
        "ignore",
        message="invalid value encountered in scalar divide",
        category=RuntimeWarning,
        module=r"evidently\.legacy\.calculations\.classification_performance",
    )
    warnings.filterwarnings("ignore", message="One or more sample arguments is too small", category=RuntimeWarning)


def positive_label(classes: Sequence[Any]) -> Any:
    """The class taken as positive when none is configured.

    ``True`` when the classes are bools, ``1`` when they are numbers within
    {0, 1}; otherwise the larger class: numerically for numbers, by their text
    for anything else (so of ``"fraud"`` and ``"legit"``, ``"legit"``: configure
    ``pos_label`` when that is not what is meant).

    Examples
    --------
    >>> positive_label([False]), positive_label([0, 1]), positive_label([3, 7]), positive_label(["no", "yes"])
    (True, 1, 7, 'yes')
    """
    if not classes:
        raise ValueError("no classes to choose a positive label from")
    if all(isinstance(c, (bool, np.bool_)) for c in classes):
        return True
    numbers = all(isinstance(c, (int, float, np.integer, np.floating)) for c in classes)
    if numbers and all(c in (0, 1) for c in classes):
        return 1
    if numbers:
        return max(classes)
    return max(classes, key=str)


def _class_names(classes: Sequence[Any]) -> dict[Any, str]:
    names = {c: str(c) for c in classes}
    if len(set(names.values())) < len(names):  # e.g. 1 and "1": tell them apart
        names = {c: repr(c) for c in classes}
    return names


def _probabilities(values: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    if values.min() >= 0.0 and values.max() <= 1.0:
        return values
    # A score outside [0, 1] (a margin, a log-odds) would break Evidently's log
    # loss; ROC AUC depends on the order of the scores only, so their ranks,
    # scaled into (0, 1], give the same AUC, ties included.
    return np.asarray(rankdata(values) / len(values), dtype=float)


def parse_quality(snapshot: Mapping[str, Any], expected: Sequence[str]) -> dict[str, float]:
    """Read model quality metrics out of a snapshot dictionary (``Snapshot.dict()``).

    MAE and MAPE are Evidently's mean (it also gives their spread); MAPE is turned
    from Evidently's percentage into a fraction. A metric whose value is NaN is
    left out.

    Raises
    ------
    RuntimeError
        When an ``expected`` metric is not in the snapshot.

    Examples
    --------
    >>> snapshot = {"metrics": [
    ...     {"config": {"type": "evidently:metric_v2:RMSE"}, "value": 2.5},
    ...     {"config": {"type": "evidently:metric_v2:MAPE"}, "value": {"mean": 12.5, "std": 3.0}}]}
    >>> parse_quality(snapshot, ["rmse", "mape"])
    {'rmse': 2.5, 'mape': 0.125}
    """
    found: dict[str, float] = {}
    for metric in snapshot["metrics"]:
        name = _QUALITY_METRICS.get(metric.get("config", {}).get("type"))
        if name is None:
            continue
        value = metric["value"]
        number = float(value["mean"] if isinstance(value, Mapping) else value)
        found[name] = number / 100.0 if name == "mape" else number
    missing = [name for name in expected if name not in found]
    if missing:
        raise RuntimeError(f"Evidently snapshot has no quality metric {missing}")
    return {name: found[name] for name in expected if not np.isnan(found[name])}


def _run_quality(frame: pd.DataFrame, definition: DataDefinition, metrics: list[Any], timestamp: datetime | None) -> Snapshot:
    dataset = Dataset.from_pandas(frame, data_definition=definition)
    with warnings.catch_warnings():
        _quiet_quality_warnings()
        return Report(metrics).run(dataset, None, timestamp=timestamp)


def classification_quality(
    predictions: Sequence[Any],
    labels: Sequence[Any],
    scores: Sequence[float | None] | None = None,
    *,
    pos_label: Any = None,
    timestamp: datetime | None = None,
    plots: bool = True,
) -> tuple[dict[str, float], Snapshot | None]:
    """Accuracy, precision, recall, F1 and ROC AUC of predicted classes against labels.

    Parameters
    ----------
    predictions, labels
        Predicted and true classes, pair by pair (bools, ints or strings; equal
        values are one class, so ``1``, ``1.0`` and ``True`` are the same).
    scores
        The model's score for the positive class, pair by pair, or None. Any
        real numbers: outside [0, 1] only their order is used. ROC AUC needs a
        finite score for every pair.
    pos_label
        The positive class; None chooses with :func:`positive_label`. Unused
        with more than two classes.
    timestamp
        Stamps the snapshot (Evidently uses its clock when None).
    plots
        False computes the metrics Evidently's report computes from the
        window's confusion counts and score ranks, without the report (about
        a millisecond for 1,000 pairs, against about 80), and returns a
        snapshot of their values alone, under the report's metric ids.

    Returns
    -------
    metrics, snapshot
        With at most two classes, the metrics of the positive class:
        ``precision`` only when some prediction is positive, ``recall`` only when
        some label is, ``f1`` when either is, ``roc_auc`` only with ``scores``
        and both classes among the labels. With more classes, macro averages
        (scikit-learn's: a class never predicted has precision 0), without
        ROC AUC. Nothing and None when there are no pairs.

    Examples
    --------
    >>> metrics, _ = classification_quality([True, False, True, False], [True, False, False, False],
    ...                                     [0.9, 0.2, 0.7, 0.1])
    >>> {name: round(value, 3) for name, value in metrics.items()}
    {'accuracy': 0.75, 'precision': 0.5, 'recall': 1.0, 'f1': 0.667, 'roc_auc': 1.0}
    >>> classification_quality([False, False], [False, False])[0]    # no positive: only accuracy
    {'accuracy': 1.0}
    """
    if len(predictions) != len(labels) or (scores is not None and len(scores) != len(labels)):
        raise ValueError("predictions, labels and scores must have one value per pair")
    if not labels:
        return {}, None
    classes = list(dict.fromkeys([*labels, *predictions]))
    names = _class_names(classes)
    if len(classes) > 2:
        asked = list(_MULTICLASS_METRICS)
        if not plots:
            return _classification_values(classes, predictions, labels, None, None, asked, timestamp)
        definition = DataDefinition(
            categorical_columns=["target", "prediction"],
            classification=[MulticlassClassification(name=_LABELS_TASK, target="target", prediction_labels="prediction")],
        )
        metrics = [_QUALITY_METRIC_OBJECTS[name]() for name in asked]
        snapshot = _run_quality(_classes_frame(names, predictions, labels), definition, metrics, timestamp)
        return parse_quality(snapshot.dict(), asked), snapshot

    positive = positive_label(classes) if pos_label is None else pos_label
    true_positives = sum(1 for v in labels if v == positive)
    predicted_positives = sum(1 for v in predictions if v == positive)
    asked = ["accuracy"]
    if predicted_positives:
        asked.append("precision")
    if true_positives:
        asked.append("recall")
    if predicted_positives or true_positives:
        asked.append("f1")
    score_values = np.asarray([np.nan if v is None else v for v in scores or ()], dtype=float)
    with_scores = scores is not None and 0 < true_positives < len(labels) and bool(np.all(np.isfinite(score_values)))
    if with_scores:
        asked.append("roc_auc")
    probability = _probabilities(score_values) if with_scores else None
    if not plots:
        return _classification_values(classes, predictions, labels, positive, probability, asked, timestamp)

    # Evidently needs a pos_label among the classes even when the positive class
    # does not occur (then only accuracy is asked for).
    evidently_pos = names[positive] if positive in names else names[classes[0]]
    frame = _classes_frame(names, predictions, labels)
    tasks = [BinaryClassification(name=_LABELS_TASK, target="target", prediction_labels="prediction", pos_label=evidently_pos)]
    numerical: list[str] = []
    if probability is not None:
        # Named apart from every class: Evidently reads a probability column
        # whose name is a class as that class's probability.
        column = next(c for c in ("score", "score_", "score__", "score___") if c not in names.values())
        frame[column] = probability
        numerical.append(column)
        tasks.append(BinaryClassification(name=_SCORES_TASK, target="target", prediction_probas=column, pos_label=evidently_pos))
    definition = DataDefinition(
        categorical_columns=["target", "prediction"],
        numerical_columns=numerical,
        classification=list(tasks),
    )
    metrics = [_QUALITY_METRIC_OBJECTS[name]() for name in asked]
    snapshot = _run_quality(frame, definition, metrics, timestamp)
    return parse_quality(snapshot.dict(), asked), snapshot


def _classes_frame(names: Mapping[Any, str], predictions: Sequence[Any], labels: Sequence[Any]) -> pd.DataFrame:
    """Labels and predictions as Evidently is given them: each class by its name, in object columns."""
    return pd.DataFrame(
        {
            "target": pd.Series([names[v] for v in labels], dtype=object),
            "prediction": pd.Series([names[v] for v in predictions], dtype=object),
        }
    )


def _classification_values(
    classes: Sequence[Any],
    predictions: Sequence[Any],
    labels: Sequence[Any],
    positive: Any,
    probability: np.ndarray[Any, np.dtype[np.float64]] | None,
    asked: Sequence[str],
    timestamp: datetime | None,
) -> tuple[dict[str, float], Snapshot]:
    """The ``asked`` metrics as Evidently's report computes them, from confusion counts, and their snapshot.

    Evidently's report calls scikit-learn (evidently/legacy/calculations/
    classification_performance.py) with the classes by name: for two classes,
    the metrics of ``positive``; for more (``positive`` None) or for one, macro
    averages over the classes in the order of their names, a class never
    predicted (or never a label) counting 0 for its precision (or recall).
    With one class, the macro average is that class's value, so the positive
    class's counts serve both. ``probability`` is the positive class's score
    column as the report is given it (:func:`_probabilities`). Nothing here
    divides by zero, so there is nothing to warn about.
    """
    index = {c: i for i, c in enumerate(classes)}
    truth = np.fromiter((index[v] for v in labels), dtype=np.intp, count=len(labels))
    predicted = np.fromiter((index[v] for v in predictions), dtype=np.intp, count=len(predictions))
    k = len(classes)
    true_sum = np.bincount(truth, minlength=k)
    pred_sum = np.bincount(predicted, minlength=k)
    tp_sum = np.bincount(truth[truth == predicted], minlength=k)
    computed: dict[str, float] = {"accuracy": float(tp_sum.sum() / len(truth))}
    if positive is None:
        # scikit-learn's macro average: the classes sorted by name, each class's value, their mean.
        names = _class_names(classes)
        order = sorted(range(k), key=lambda i: names[classes[i]])
        tps, trues, preds = tp_sum[order], true_sum[order], pred_sum[order]
        computed["precision"] = float(np.mean(_ratio(tps, preds)))
        computed["recall"] = float(np.mean(_ratio(tps, trues)))
        computed["f1"] = float(np.mean(_ratio(2.0 * tps, (trues + preds).astype(float))))
    elif positive in index:
        i = index[positive]
        tp, true, pred = int(tp_sum[i]), int(true_sum[i]), int(pred_sum[i])
        if pred:
            computed["precision"] = tp / pred
        if true:
            computed["recall"] = tp / true
        if true or pred:
            # scikit-learn's F1 from the counts: 2 tp / (2 tp + fp + fn).
            computed["f1"] = 2.0 * tp / float(true + pred)
        if probability is not None:
            # As Evidently does: the macro average over the [positive, negative] columns of probabilities.
            is_positive = truth == i
            computed["roc_auc"] = (_roc_auc(is_positive, probability) + _roc_auc(~is_positive, 1 - probability)) / 2
    kept = {name: computed[name] for name in asked if not np.isnan(computed[name])}
    return kept, _values_snapshot([(_quality_location(name), computed[name]) for name in asked], timestamp)


def _ratio(numerator: np.ndarray[Any, Any], denominator: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's zero_division="warn", without the warning)."""
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def _roc_auc(positive: np.ndarray[Any, np.dtype[np.bool_]], score: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    """ROC AUC of ``score`` for the ``positive`` pairs: the Mann-Whitney statistic, over both classes' sizes.

    Tied scores take their average rank, which counts a positive tied with a
    negative as half ordered: the area scikit-learn's ROC curve gets by joining
    the tied points with a straight line. The numerator is exact (ranks are
    halves), so this is one rounding away from the true area.
    """
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def regression_quality(
    predictions: Sequence[float], labels: Sequence[float], *, timestamp: datetime | None = None, plots: bool = True
) -> tuple[dict[str, float], Snapshot | None]:
    """MAE, RMSE and MAPE of predicted values against labels.

    MAPE is a fraction (0.25 is 25 %), reported only when every label is
    positive. Nothing and None when there are no pairs, or when Evidently 0.7.23
    would fail on the labels: all zero, or their inverses summing to zero.

    ``plots`` False computes the values Evidently's report computes, without
    the report (well under a millisecond for 1,000 pairs, against about 90),
    and returns a snapshot of their values alone, under the report's metric
    ids (MAE and MAPE with their spread, as the report gives them). Pairs with
    a value that is not finite go to the report either way: it drops them, and
    its tests of the labels are made before.

    Examples
    --------
    >>> metrics, _ = regression_quality([1.5, 2.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    >>> {name: round(value, 4) for name, value in metrics.items()}
    {'mae': 0.625, 'rmse': 0.75, 'mape': 0.2708}
    >>> regression_quality([1.5, 2.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0], plots=False)[0] == metrics
    True
    """
    if len(predictions) != len(labels):
        raise ValueError("predictions and labels must have one value per pair")
    target = np.asarray(labels, dtype=float)
    inverses = 1.0 / target[target != 0]
    if not len(inverses) or inverses.sum() == 0:
        return {}, None
    predicted = np.asarray(predictions, dtype=float)
    asked = ["mae", "rmse"]
    if np.all(target > 0):
        asked.append("mape")
    if not plots and np.all(np.isfinite(target)) and np.all(np.isfinite(predicted)):
        return _regression_values(predicted, target, asked, timestamp)
    frame = pd.DataFrame({"target": target, "prediction": predicted})
    definition = DataDefinition(
        numerical_columns=["target", "prediction"],
        regression=[Regression(name=_VALUES_TASK, target="target", prediction="prediction")],
    )
    snapshot = _run_quality(frame, definition, [_QUALITY_METRIC_OBJECTS[name]() for name in asked], timestamp)
    return parse_quality(snapshot.dict(), asked), snapshot


def _regression_values(
    predicted: np.ndarray[Any, np.dtype[np.float64]],
    target: np.ndarray[Any, np.dtype[np.float64]],
    asked: Sequence[str],
    timestamp: datetime | None,
) -> tuple[dict[str, float], Snapshot]:
    """The ``asked`` metrics as Evidently's report computes them (finite values only), and their snapshot.

    From evidently/legacy/calculations/regression_performance.py: MAE is the
    mean absolute error with the errors' standard deviation (ddof 1, as pandas
    computes it); MAPE the mean of ``|error| / max(target, eps)`` in percent,
    with that ratio's standard deviation, not in percent; RMSE scikit-learn's.
    """
    absolute = np.abs(predicted - target)
    values: dict[str, _SnapshotValue] = {
        "mae": _mean_std("mae", float(np.mean(absolute)), _std(absolute)),
        "rmse": float(np.sqrt(np.mean((target - predicted) ** 2))),
    }
    if "mape" in asked:
        relative = absolute / np.maximum(target, np.finfo(np.float64).eps)
        values["mape"] = _mean_std("mape", float(100.0 * np.mean(relative)), _std(relative))
    metrics = {}
    for name in asked:
        value = values[name]
        number = value[0][0] if isinstance(value, tuple) else value
        if not np.isnan(number):
            metrics[name] = number / 100.0 if name == "mape" else number
    return metrics, _values_snapshot([(_quality_location(name), values[name]) for name in asked], timestamp)


def _mean_std(name: str, mean: float, std: float) -> _SnapshotValue:
    mean_name, std_name = _mean_std_names(name)
    return (mean, mean_name), (std, std_name)


def _std(values: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    """The standard deviation with ddof 1 as pandas computes it (``Series.std``): NaN for one value, without a warning."""
    if len(values) < 2:
        return float("nan")
    mean = values.sum() / len(values)
    return float(np.sqrt(((mean - values) ** 2).sum() / (len(values) - 1)))


# --- What streammon adds to a run ---------------------------------------------
#
# A run in the workspace is a SnapshotModel. Its dashboard series are read by
# Evidently's UI from ``metric_results`` (each value's ``metric_value_location``:
# the metric's type and parameters); its report page shows ``widgets`` and
# ``tests_widgets`` as they were stored, in order. streammon's own values (the
# features it decided drifted, its quality findings, label coverage, the
# estimated accuracy) are stored there as single values of metric types of its
# own, named ``evidently:metric_v2:Streammon...`` as Evidently names a custom
# metric (dashboard panels only accept that prefix); the UI needs no class to
# plot them. The headline is a counter widget put first on the report page.

#: streammon's decision: features drifted at the corrected threshold, per window.
DRIFTED_FEATURES = "evidently:metric_v2:StreammonDriftedFeatures"
#: Features at or above a quality check's warning level, per window, labelled ``check``.
QUALITY_FINDINGS = "evidently:metric_v2:StreammonQualityFindings"
#: The share of a window's predictions that have a label.
LABEL_COVERAGE = "evidently:metric_v2:StreammonLabelCoverage"
#: A window's accuracy estimated from its scores before labels (CBPE).
ESTIMATED_ACCURACY = "evidently:metric_v2:StreammonEstimatedAccuracy"

_HEADLINE_ID = "streammon-headline"
# The label of the counter a DataDriftPreset puts first (Evidently 0.7.23's DriftedColumnsCount widget).
_DATASET_VERDICT = "Dataset drift detection threshold is"
# The title of the preset's table of columns ("Drift is detected for 25.0% of columns (1 out of 4).").
_COLUMNS_SUMMARY = "Drift is detected for"
_NOT_USED = "Not used by streammon"


@dataclass(frozen=True)
class RunValue:
    """One of streammon's values in a run: a metric type of its own, its labels, the value."""

    metric_type: str
    value: float
    display_name: str
    labels: tuple[tuple[str, str], ...] = ()

    def result(self) -> tuple[str, SingleValue]:
        """The value as Evidently stores a metric's result, under a stable metric id."""
        params = {"type": self.metric_type, **dict(self.labels)}
        metric_id = hashlib.md5(json.dumps(params, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        result = SingleValue(value=self.value, display_name=self.display_name)
        result.metric_value_location = single_value_location(MetricConfig(metric_id=metric_id, params=params))
        return metric_id, result


def annotated(
    model: SnapshotModel,
    *,
    tags: Sequence[str],
    metadata: Mapping[str, str],
    values: Sequence[RunValue] = (),
    headline: tuple[str, str] | None = None,
) -> SnapshotModel:
    """``model`` with these tags, metadata and values, and ``headline`` (value, label) first on its page.

    Values and a headline already in ``model`` are replaced by new ones of the
    same metric and by the new headline. When the page holds Evidently's
    dataset-drift verdict (drifted share against 0.5), its label says that
    streammon does not use it: it is not streammon's decision, and must not
    read as the headline of a run an alert points to.
    """
    results = dict(model.metric_results)
    top_level = list(model.top_level_metrics)
    for value in values:
        metric_id, result = value.result()
        results[metric_id] = result
        if metric_id not in top_level:
            top_level.append(metric_id)
    widgets = [_not_used(w) for w in model.widgets if w.id != _HEADLINE_ID]
    if headline is not None:
        counters = [{"value": headline[0], "label": headline[1]}]
        widgets.insert(0, BaseWidgetInfo(type="counter", title="", size=2, id=_HEADLINE_ID, params={"counters": counters}))
    return model.copy(
        update={
            "tags": list(tags),
            "metadata": dict(metadata),
            "metric_results": results,
            "top_level_metrics": top_level,
            "widgets": widgets,
        }
    )


def streammon_values(model: SnapshotModel) -> list[RunValue]:
    """The values :func:`annotated` put in ``model``."""
    values = []
    for result in model.metric_results.values():
        params = result.metric_value_location.metric.params if result.metric_value_location is not None else {}
        if str(params.get("type", "")).startswith("evidently:metric_v2:Streammon") and isinstance(result, SingleValue):
            labels = tuple((k, str(v)) for k, v in params.items() if k != "type")
            values.append(RunValue(params["type"], float(result.value), str(result.display_name), labels))
    return values


def _not_used(widget: BaseWidgetInfo) -> BaseWidgetInfo:
    """Evidently's dataset-level verdict and count, labelled for what they are next to streammon's decision."""
    if widget.title.startswith(_COLUMNS_SUMMARY):
        # Evidently decides each p-value column at alpha / m (Bonferroni), the lowest of the
        # corrections' thresholds: the correction streammon applies may find more drifted.
        return widget.copy(update={"title": f"Evidently's tests, each p-value at alpha/m: {widget.title}"})
    counters = widget.params.get("counters") if widget.type == "counter" and isinstance(widget.params, dict) else None
    if not counters or not any(_is_verdict(c) for c in counters):
        return widget
    relabelled = [
        {
            **c,
            "value": f"{c.get('value', '')}: not used",
            "label": f"{_NOT_USED} (see its decision above). Evidently's dataset-level verdict: {c['label']}",
        }
        if _is_verdict(c)
        else c
        for c in counters
    ]
    return widget.copy(update={"params": {**widget.params, "counters": relabelled}})


def _is_verdict(counter: Mapping[str, Any]) -> bool:
    label = str(counter.get("label", ""))
    return _DATASET_VERDICT in label and not label.startswith(_NOT_USED)
