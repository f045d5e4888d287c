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
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

# Importing Evidently 0.7.23 emits DeprecationWarnings that are not ours to fix:
# evidently/legacy/tests/utils.py touches ``numpy.core`` (renamed in NumPy 2), and
# Evidently's UI code calls litestar's deprecated ``Dependency``/``DependencyKwarg``.
# With warnings as errors they would break every import of this module, so
# DeprecationWarnings attributed to evidently.* and litestar.* modules are ignored,
# only while importing. Running a report (include_tests=True) emits no warning.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently import DataDefinition, Dataset, Report
    from evidently.core.report import Snapshot
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.calculations.stattests.registry import (
        StatTest,
        StatTestInvalidFeatureTypeError,
        StatTestNotFoundError,
        get_registered_stattest,
        register_stattest,
    )
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "Kind",
    "Method",
    "P_VALUE_DISPLAY_NAMES",
    "P_VALUE_METHODS",
    "Snapshot",
    "check_method",
    "chi2_homogeneity_p_value",
    "parse_value_drift",
    "resolve_method",
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

#: Categories seen fewer times than this in both samples together are pooled
#: into one, so no expected count is too small for the chi-square approximation.
RARE_CATEGORY_COUNT = 10


def chi2_homogeneity_p_value(reference: pd.Series, current: pd.Series) -> float:
    """P-value of a chi-square test that two samples share one categorical distribution.

    Unlike Evidently's ``chisquare``, which takes the reference's proportions as
    exact, this tests the 2 x k contingency table of both samples' counts, so the
    reference's own sampling noise is accounted for and the p-value is valid
    whatever the two sizes. Rare categories are pooled (``RARE_CATEGORY_COUNT``).

    Examples
    --------
    >>> ref = pd.Series(["a"] * 50 + ["b"] * 50)
    >>> round(chi2_homogeneity_p_value(ref, pd.Series(["a"] * 50 + ["b"] * 50)), 3)
    1.0
    >>> chi2_homogeneity_p_value(ref, pd.Series(["a"] * 80 + ["b"] * 20)) < 1e-4
    True
    """
    counts = pd.concat([reference.value_counts(), current.value_counts()], axis=1).fillna(0)
    rare = counts.sum(axis=1) < RARE_CATEGORY_COUNT
    if rare.any():
        counts = pd.concat([counts[~rare], counts[rare].sum().to_frame().T])
    if len(counts) < 2:
        return 1.0
    return float(chi2_contingency(counts.to_numpy().T, correction=False).pvalue)


def _chi2_homogeneity(
    reference: pd.Series, current: pd.Series, feature_type: ColumnType, threshold: float
) -> tuple[float, bool]:
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
    # As Evidently does before testing a column (get_one_column_drift).
    return values.replace([-np.inf, np.inf], np.nan).dropna()


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
