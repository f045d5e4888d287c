"""Evidently's drift report: build it, run it, read per-column drift back from its snapshot.

Evidently's snapshot dictionaries change layout between versions, so nothing
else in streammon reads them. This is written against Evidently 0.7.23,
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
per_column_threshold=...)``; a column left out gets Evidently's own choice
(:mod:`.methods`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from monitors.evidently.library import (
    ColumnType,
    DataDefinition,
    DataDriftPreset,
    Dataset,
    Report,
    Snapshot,
    ValueDrift,
    get_registered_stattest,
    get_stattest,
)
from monitors.evidently.methods import _COLUMN_TYPES, Kind, _clean, _display_name
from monitors.evidently.snapshots import _located, _values_snapshot
from monitors.evidently.stattests import homogeneity_p_value, ks_p_value

__all__ = ["ColumnDrift", "DriftReport", "drift_scores_snapshot", "parse_value_drift"]

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED = frozenset({"FAIL", "WARNING"})
_NOT_DRIFTED = frozenset({"SUCCESS"})


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
