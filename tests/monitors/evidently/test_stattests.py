"""The two-sample tests with the reference's share done once give scipy's p-values, bit for bit.

:func:`monitors.evidently.stattests.ks_p_value` against ``scipy.stats.ks_2samp`` on pandas
Series (as Evidently calls it), remembered p-values included; and
:func:`monitors.evidently.stattests.homogeneity_p_value` against
``scipy.stats.chi2_contingency``, on random samples with ties, integers and
floats together, and categories rare enough to be pooled.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, ks_2samp

from monitors.evidently.stattests import homogeneity_p_value, homogeneity_table, ks_p_value

SAMPLES = st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=300),  # many ties
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=300),
    st.lists(st.sampled_from([0.1, 0.2, 0.30000000000000004, 0.3, 1.0]), min_size=1, max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(SAMPLES, SAMPLES)
def test_ks_p_value_is_scipys(reference: list[float], current: list[float]) -> None:
    # scipy warns when its exact p-value fails (then asymptotic): the same warnings, each time.
    with warnings.catch_warnings(record=True) as expected_warnings:
        warnings.simplefilter("always")
        expected = float(ks_2samp(pd.Series(reference), pd.Series(current))[1])
    sorted_reference = np.sort(np.asarray(reference))
    for _ in range(2):  # remembered the second time, when it can be
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert ks_p_value(sorted_reference, np.asarray(current)) == expected
        assert [str(w.message) for w in caught] == [str(w.message) for w in expected_warnings]


def test_remembered_p_values_are_those_of_their_statistic() -> None:
    rng = np.random.default_rng(11)
    reference = np.sort(rng.normal(size=2000))
    for shift in (0.0, 0.0, 0.05, 0.0, 0.3, 0.05, 1.0):
        current = rng.normal(shift, size=1000)
        assert ks_p_value(reference, current) == float(ks_2samp(reference, current).pvalue)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=400),
    st.lists(st.sampled_from("abcdefghijk"), min_size=1, max_size=400),
)
def test_homogeneity_p_value_is_scipys(reference: list[str], current: list[str]) -> None:
    ref, cur = Counter(reference), Counter(current)
    table = homogeneity_table(ref, cur)
    expected = 1.0 if len(table) < 2 else float(chi2_contingency(table.T, correction=False).pvalue)
    assert homogeneity_p_value(ref, cur) == expected
