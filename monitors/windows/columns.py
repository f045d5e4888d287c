"""Rows of a window kept as columns.

A window of 20,000 events as 20,000 dictionaries costs about 1 KB an event and
is slow to copy to the analysis process and to checkpoint: pickle handles every
dictionary on its own (80 ms for 20,000 rows of 20 floats here, against 11 ms for
the same values as 20 lists). :class:`Columns` keeps one list per field instead,
and gives the rows back as a DataFrame or as dictionaries when they are needed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Columns"]


class Columns:
    """Append-only rows, stored as one list per field.

    A field that a row lacks reads as None in that row, as it would in a
    DataFrame built from the rows.

    Examples
    --------
    >>> columns = Columns()
    >>> columns.append({"x": 1.0, "plan": "pro"})
    >>> columns.append({"x": 2.5})
    >>> columns.append({"x": 4.0, "vip": True})
    >>> len(columns), columns.get("plan")
    (3, ['pro', None, None])
    >>> list(columns.rows())[2]
    {'x': 4.0, 'plan': None, 'vip': True}
    >>> columns.frame().shape
    (3, 3)
    """

    __slots__ = ("_data", "_length", "_names", "_lists")

    def __init__(self) -> None:
        self._data: dict[str, list[Any]] = {}
        self._length = 0
        self._derive()

    def _derive(self) -> None:
        # The fields in order, and their lists: a row with exactly these fields (a window's
        # usual row) is appended in one pass in C instead of a lookup per field.
        self._names = tuple(self._data)
        self._lists = tuple(self._data.values())

    def __len__(self) -> int:
        return self._length

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one row."""
        if len(row) == len(self._names) and tuple(row) == self._names:
            for _ in map(list.append, self._lists, row.values()):
                pass
            self._length += 1
            return
        data, length = self._data, self._length
        for name, value in row.items():
            column = data.get(name)
            if column is None:
                column = data[name] = [None] * length
                self._derive()
            column.append(value)
        self._length = length + 1
        if len(row) < len(data):
            for column in data.values():
                if len(column) == length:
                    column.append(None)

    def get(self, name: str) -> list[Any] | None:
        """The values of one field, one per row (None when no row had it). Do not modify them."""
        return self._data.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The fields, in the order they first appeared."""
        return tuple(self._data)

    def rows(self) -> Iterator[dict[str, Any]]:
        """The rows as dictionaries, every field in each."""
        if not self._data:  # rows without fields: zip would yield none of them
            yield from ({} for _ in range(self._length))
            return
        names = tuple(self._data)
        for values in zip(*self._data.values(), strict=True):
            yield dict(zip(names, values, strict=True))

    def frame(self, exclude: Collection[str] = ()) -> pd.DataFrame:
        """The rows as a DataFrame, as ``pd.DataFrame.from_records`` builds it from :meth:`rows`.

        Fields named in ``exclude`` are left out, as ``drop(columns=exclude, errors="ignore")``
        would, without building their columns first.
        """
        return pd.DataFrame(
            {name: _series(values) for name, values in self._data.items() if name not in exclude},
            index=pd.RangeIndex(self._length),
        )

    def __getstate__(self) -> tuple[dict[str, list[Any]], int]:
        return self._data, self._length

    def __setstate__(self, state: tuple[dict[str, list[Any]], int]) -> None:
        self._data, self._length = state
        self._derive()


def _series(values: list[Any]) -> pd.Series:
    """``pd.Series(values)``, without pandas' type inference for a column of Python floats alone.

    A numeric feature is such a column in most windows; pandas would look at
    every value to infer the float64 it gets here at once.
    """
    if values and all(type(v) is float for v in values):
        return pd.Series(np.array(values, dtype=np.float64))
    return pd.Series(values)
