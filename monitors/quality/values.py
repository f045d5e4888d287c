"""Values as the data-quality checks see them: JSON types, categories, shares and their noise.

A value's type is its JSON type: ``bool`` (Python or NumPy booleans),
``number`` (any other number) or ``string`` (anything else); categories are
compared as strings (``1`` and ``1.0`` are ``"1"``). :func:`split_column`
cuts one feature of a window into its nulls, its values of the expected type
and the count of the others; :func:`noise_floor` is the share a stationary
window reaches by chance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from numbers import Number
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import binom

__all__ = [
    "JSON_TYPES",
    "JsonType",
    "WindowColumn",
    "as_category",
    "json_types",
    "noise_floor",
    "pct",
    "share_of",
    "single_value",
    "split_column",
    "uniform_type",
]

JsonType = Literal["number", "string", "bool"]
JSON_TYPES: tuple[JsonType, ...] = ("number", "string", "bool")


def _type_of_class(cls: type) -> JsonType:
    if issubclass(cls, (bool, np.bool_)):
        return "bool"
    if issubclass(cls, Number):
        return "number"
    return "string"


def json_types(values: pd.Series) -> pd.Series:
    """The JSON type of each value of ``values`` (which holds no null).

    Examples
    --------
    >>> json_types(pd.Series([1, "a", True], dtype=object)).tolist()
    ['number', 'string', 'bool']
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pd.Series("bool", index=values.index, dtype=object)
    if pd.api.types.is_numeric_dtype(dtype):
        return pd.Series("number", index=values.index, dtype=object)
    classes = values.map(type)
    return classes.map({cls: _type_of_class(cls) for cls in set(classes)})


def uniform_type(values: pd.Series) -> JsonType | None:
    """The JSON type of all of ``values`` (which holds no null) when they share one, as :func:`json_types` gives it; else None.

    Examples
    --------
    >>> uniform_type(pd.Series([1.5, 2.0])), uniform_type(pd.Series([1, "a"], dtype=object))
    ('number', None)
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    types = {_type_of_class(cls) for cls in set(map(type, values.to_numpy()))}
    return types.pop() if len(types) == 1 else None


def single_value(values: pd.Series) -> bool:
    """Whether ``values`` (no nulls: floats, or strings) hold one distinct value, as ``nunique() == 1`` says.

    Each compared with the first, without hashing them all: equal values are
    one value for both (``0.0`` and ``-0.0`` too).

    Examples
    --------
    >>> single_value(pd.Series([0.0, -0.0])), single_value(pd.Series(["a", "b"])), single_value(pd.Series([], dtype=float))
    (True, False, False)
    """
    array = values.to_numpy()
    return len(array) > 0 and bool((array == array[0]).all())


def as_category(value: object) -> str:
    """A value as a category: ``1`` and ``1.0`` are ``"1"``, booleans ``"true"``/``"false"``.

    Examples
    --------
    >>> [as_category(v) for v in (1, 1.0, 2.5, True, "plan")]
    ['1', '1', '2.5', 'true', 'plan']
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


@dataclass(frozen=True)
class WindowColumn:
    """One feature in one window: its nulls, the types of its values, its values of the expected type.

    Examples
    --------
    >>> column = WindowColumn(True, 1, {"string": 1}, pd.Series([40.0]))
    >>> column.nulls, column.foreign, column.own.tolist()
    (1, {'string': 1}, [40.0])
    """

    present: bool
    nulls: int
    foreign: dict[str, int]  # non-null values of other types than expected, by type
    own: pd.Series


def split_column(values: pd.Series | None, rows: int, dtype: JsonType) -> WindowColumn:
    """One feature of a window of ``rows`` rows (None: absent from it), split by the reference's type ``dtype``.

    Examples
    --------
    >>> column = split_column(pd.Series([40.0, None, "forty"], dtype=object), 3, "number")
    >>> column.present, column.nulls, column.foreign, column.own.tolist()
    (True, 1, {'string': 1}, [40.0])
    >>> split_column(None, 3, "number").nulls
    3
    """
    if values is None:
        return WindowColumn(False, rows, {}, pd.Series([], dtype=object))
    known = values.notna()
    present = values if known.all() else values[known]
    uniform = uniform_type(present)
    if uniform is not None:  # one type throughout: no per-value types to count (most windows)
        if uniform == dtype or not len(present):
            return WindowColumn(True, rows - len(present), {}, present)
        return WindowColumn(True, rows - len(present), {uniform: len(present)}, present.iloc[:0])
    types = json_types(present)
    own = types == dtype
    foreign = {str(t): int(n) for t, n in types[~own].value_counts().items()}
    return WindowColumn(True, rows - len(present), foreign, present[own])


def share_of(count: float, total: int) -> float:
    """``count`` as a share of ``total`` (0 of nothing).

    Examples
    --------
    >>> share_of(5, 20), share_of(0, 0)
    (0.25, 0.0)
    """
    return float(count) / total if total else 0.0


def pct(share: float) -> str:
    """A share as people read it.

    Examples
    --------
    >>> pct(0.0312)
    '3.1%'
    """
    return f"{100 * share:.1f}%"


@functools.lru_cache(maxsize=4096)
def noise_floor(n: int, rate: float, alpha: float) -> float:
    """Smallest share of ``n`` draws a stationary window at ``rate`` reaches with probability <= ``alpha``.

    Examples
    --------
    >>> round(noise_floor(1000, 0.002, 1e-4), 3), round(noise_floor(50, 0.002, 1e-4), 3)
    (0.01, 0.08)
    """
    if n <= 0:
        return 0.0
    quantile = float(binom.isf(alpha, n, min(max(rate, 0.0), 1.0)))  # P(X > quantile) <= alpha
    return (quantile + 1) / n
