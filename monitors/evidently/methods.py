"""Evidently's drift methods, column by column: which applies, what it is called, what it scores.

A column is of a :data:`Kind` (numerical or categorical); a method is one of
Evidently's registered stattests (:class:`Method`), given by its id or chosen by
Evidently from the size of the reference (:func:`resolve_method`): K-S
(numerical) or chi-square / Z-test (categorical) when the reference holds at
most 1,000 rows, Wasserstein (numerical) or Jensen-Shannon (categorical) above,
with each method's default threshold. A method scores a p-value (drift at or
below the threshold, :data:`P_VALUE_METHODS`) or a distance (drift at or
above); :func:`distance` computes a distance without a report.

streammon adds one method to Evidently's registry on import:
``chi2_homogeneity`` (:func:`chi2_homogeneity_p_value`), so any process that
runs a report naming it imports this module first (:mod:`.drift_report` does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitors.evidently.library import (
    ColumnType,
    StatTest,
    StatTestInvalidFeatureTypeError,
    StatTestNotFoundError,
    get_registered_stattest,
    get_stattest,
    register_stattest,
)
from monitors.evidently.stattests import homogeneity_p_value

__all__ = [
    "Kind",
    "Method",
    "P_VALUE_DISPLAY_NAMES",
    "P_VALUE_METHODS",
    "check_method",
    "chi2_homogeneity_p_value",
    "distance",
    "resolve_method",
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
