"""Columns hold rows as lists: the DataFrame and the rows they give back must be the ones the rows make."""

from __future__ import annotations

import pickle

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from monitors.windows.columns import Columns

values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-1e6, 1e6), st.sampled_from(["a", "b", "c"]))
rows = st.lists(
    st.dictionaries(st.sampled_from(["x", "y", "z", "plan"]), values, min_size=1, max_size=4), min_size=1, max_size=30
)


def filled(records: list[dict[str, object]]) -> list[dict[str, object]]:
    names = list(dict.fromkeys(name for record in records for name in record))
    return [{name: record.get(name) for name in names} for record in records]


@given(rows)
def test_frame_is_the_frame_of_the_rows(records: list[dict[str, object]]) -> None:
    columns = Columns()
    for record in records:
        columns.append(record)
    pd.testing.assert_frame_equal(columns.frame(), pd.DataFrame.from_records(filled(records)))


floats_only = st.lists(
    st.dictionaries(st.sampled_from(["x", "y", "meta"]), st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
    min_size=1,
    max_size=30,
)


@given(floats_only)
def test_frame_of_floats_and_without_some_fields(records: list[dict[str, object]]) -> None:
    columns = Columns()
    for record in records:
        columns.append(record)
    expected = pd.DataFrame.from_records(filled(records))
    pd.testing.assert_frame_equal(columns.frame(), expected)
    pd.testing.assert_frame_equal(
        columns.frame(exclude=["meta", "absent"]), expected.drop(columns=["meta", "absent"], errors="ignore")
    )


@given(rows)
def test_rows_come_back_with_every_field(records: list[dict[str, object]]) -> None:
    columns = Columns()
    for record in records:
        columns.append(record)
    assert list(columns.rows()) == filled(records)
    assert len(columns) == len(records)


def test_pickles_and_keeps_appending() -> None:
    columns = Columns()
    columns.append({"x": 1.0})
    restored = pickle.loads(pickle.dumps(columns))
    restored.append({"x": 2.0, "y": "new"})
    assert list(restored.rows()) == [{"x": 1.0, "y": None}, {"x": 2.0, "y": "new"}]
