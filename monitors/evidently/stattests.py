"""Two-sample tests of a window against a fixed reference, the reference's share done once.

A drift monitor tests every window against the same reference, so whatever
depends on the reference alone (its values sorted for the Kolmogorov-Smirnov
test, its category counts for the chi-square test) is computed once per
reference, not once per window. The p-values are the ones the library calls
give (``scipy.stats.ks_2samp`` as Evidently's ``ks`` test calls it;
``scipy.stats.chi2_contingency`` as :func:`monitors.evidently.methods.chi2_homogeneity_p_value`
calls it), which ``tests/monitors/drift/test_drift_decisions.py`` checks against
Evidently's report.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Hashable
from typing import Any

import numpy as np
from scipy import special
from scipy.stats import ks_2samp

__all__ = ["RARE_CATEGORY_COUNT", "homogeneity_p_value", "homogeneity_table", "ks_p_value"]

#: Categories seen fewer times than this in both samples together are pooled
#: into one, so no expected count is too small for the chi-square approximation.
RARE_CATEGORY_COUNT = 10

# scipy's ks_2samp computes an exact p-value when neither sample is larger than this ("auto").
_KS_EXACT_MAX_N = 10000
# The exact p-value is a function of the sizes and of the statistic as a whole number of
# 1/lcm(n1, n2) steps, and it costs about a millisecond at 2,000 against 1,000 rows. The
# statistics of stationary windows fall on a few such steps, so they are remembered.
_KS_P_VALUES: dict[tuple[int, int, int], float] = {}
_KS_REMEMBERED = 100_000


def ks_p_value(reference: np.ndarray[Any, Any], current: np.ndarray[Any, Any]) -> float:
    """The two-sided p-value ``scipy.stats.ks_2samp(reference, current)`` gives.

    ``reference`` must be sorted and both free of NaN (as Evidently passes
    them: finite values only). The statistic is computed as scipy computes it;
    an exact p-value (samples of at most 10,000) is remembered by the sizes
    and the statistic's number of ``1 / lcm(n1, n2)`` steps, from which scipy
    computes it, so a statistic seen before costs no second computation.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> reference, current = np.sort(rng.normal(size=200)), rng.normal(0.5, size=100)
    >>> ks_p_value(reference, current) == float(ks_2samp(reference, current).pvalue)
    True
    """
    n1, n2 = len(reference), len(current)
    if min(n1, n2) == 0 or max(n1, n2) > _KS_EXACT_MAX_N:
        return float(ks_2samp(reference, current).pvalue)
    # As ks_2samp computes it: the largest gap between the two empirical distribution functions.
    ordered = np.sort(current)
    both = np.concatenate([reference, ordered])
    gaps = np.searchsorted(reference, both, side="right") / n1 - np.searchsorted(ordered, both, side="right") / n2
    below, above = np.clip(-gaps.min(), 0, 1), gaps.max()
    statistic = below if below > above else above
    lcm = (n1 // math.gcd(n1, n2)) * n2
    key = (n1, n2, int(np.round(statistic * lcm)))
    remembered = _KS_P_VALUES.get(key)
    if remembered is not None:
        return remembered
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ks_2samp(reference, ordered)
    p_value = float(result.pvalue)
    for warning in caught:  # passed on as they came; such a p-value is not remembered
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if not caught and int(np.round(float(result.statistic) * lcm)) == key[2]:
        if len(_KS_P_VALUES) >= _KS_REMEMBERED:
            _KS_P_VALUES.clear()
        _KS_P_VALUES[key] = p_value
    return p_value


def homogeneity_table(reference: Counter[Hashable], current: Counter[Hashable]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The k x 2 table of both samples' category counts, rare categories pooled into one row.

    Rows follow the categories in the order they first appear, the
    reference's first, not a set's: the same samples give the same bits in
    every process.
    """
    categories = [*reference, *(c for c in current if c not in reference)]
    table = np.array([[reference[c], current[c]] for c in categories], dtype=float).reshape(-1, 2)
    rare = table.sum(axis=1) < RARE_CATEGORY_COUNT
    if rare.any():
        table = np.vstack([table[~rare], table[rare].sum(axis=0)])
    return table


def homogeneity_p_value(reference: Counter[Hashable], current: Counter[Hashable]) -> float:
    """P-value of the chi-square test of homogeneity of two samples' category counts.

    The value ``scipy.stats.chi2_contingency(table.T, correction=False)``
    gives for :func:`homogeneity_table`, computed as it computes it (expected
    counts from the margins, Pearson's statistic, the chi-square survival
    function) without its checks and wrappers; 1.0 for fewer than 2 rows.
    Every row and column of the table has a positive total here (a category
    counts at least once, a sample is not empty), so no expected count is 0.

    Examples
    --------
    >>> from scipy.stats import chi2_contingency
    >>> reference, current = Counter("aabbbcccc" * 20), Counter("abbcccc" * 10)
    >>> table = homogeneity_table(reference, current)
    >>> homogeneity_p_value(reference, current) == float(chi2_contingency(table.T, correction=False).pvalue)
    True
    """
    table = homogeneity_table(reference, current)
    if len(table) < 2:
        return 1.0
    observed = table.T
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / observed.sum()
    statistic = ((observed - expected) ** 2 / expected).sum()
    return float(special.chdtrc(float(observed.shape[1] - 1), statistic))
