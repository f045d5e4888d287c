"""Multiple testing: decide a family of p-values together, at one error level.

A window of 20 features is 20 tests. Tested each at ``alpha``, a stationary
window is flagged with probability ``1 - (1 - alpha) ** 20`` (64 % at 5 %), so
the tests of one window are decided together, by one of three corrections:

``"bh"``
    Benjamini–Hochberg step-up: controls the false discovery rate (the expected
    share of false alarms among the columns flagged) at ``alpha``. It flags
    every column Bonferroni flags, and more when several columns drift at once.
``"bonferroni"``
    Each p-value at ``alpha / m``: controls the family-wise error rate (the
    chance of any false alarm) at ``alpha``, for any dependence between tests.
``"none"``
    Each p-value at ``alpha``, no control over the family.

:func:`correct` returns a :class:`Decision`: one verdict per p-value and the
one cut-off that produced them (a p-value is rejected exactly when it is at or
below the cut-off), so a decision can be explained with a single number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Literal, get_args

__all__ = ["CORRECTIONS", "Correction", "Decision", "alarm_level", "correct"]

Correction = Literal["bh", "bonferroni", "none"]

#: The corrections :func:`correct` knows, by name.
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)


@dataclass(frozen=True)
class Decision:
    """Which p-values of a family are rejected, and at which cut-off.

    Attributes
    ----------
    rejected
        One verdict per p-value, in input order: True when the p-value is at or
        below ``threshold`` (its null hypothesis is rejected: drift).
    threshold
        The p-value cut-off applied to the whole family. ``"none"``: ``alpha``.
        ``"bonferroni"``: ``alpha / m``. ``"bh"``: the largest ``k * alpha / m``
        such that the k-th smallest p-value is at or below it; when nothing is
        rejected, ``alpha / m``, the cut-off the smallest p-value missed. In all
        three cases, and for BH with ties too, ``rejected[i]`` is exactly
        ``p_values[i] <= threshold``. 0.0 for an empty family.
    correction
        The correction that was applied.

    Examples
    --------
    >>> decision = correct([0.001, 0.3, 0.02], alpha=0.05)
    >>> decision.rejected, round(decision.threshold, 4)
    ((True, False, True), 0.0333)
    """

    rejected: tuple[bool, ...]
    threshold: float
    correction: Correction

    @property
    def n_rejected(self) -> int:
        """How many p-values were rejected."""
        return sum(self.rejected)


def _p_values(p_values: Sequence[float]) -> list[float]:
    if isinstance(p_values, (str, bytes)):
        raise ValueError(f"p_values must be a sequence of numbers, not {p_values!r}")
    checked: list[float] = []
    for i, p in enumerate(p_values):
        if isinstance(p, bool) or not isinstance(p, Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p_values[{i}] must be a number in [0, 1], got {p!r}")
        checked.append(float(p))
    return checked


def correct(p_values: Sequence[float], alpha: float, correction: Correction = "bh") -> Decision:
    """Decide a family of p-values together at level ``alpha``.

    Parameters
    ----------
    p_values
        One p-value per test, in [0, 1].
    alpha
        Error level of the family, in (0, 1): the false discovery rate for
        ``"bh"``, the family-wise error rate for ``"bonferroni"``, the level of
        each test for ``"none"``.
    correction
        ``"bh"`` (Benjamini–Hochberg), ``"bonferroni"`` or ``"none"``.

    Returns
    -------
    The verdicts and the cut-off; see :class:`Decision`.

    Raises
    ------
    ValueError
        On a p-value outside [0, 1] (NaN included), ``alpha`` outside (0, 1) or
        an unknown correction; the message names the argument.

    Notes
    -----
    Benjamini–Hochberg sorts the ``m`` p-values, ``p_(1) <= ... <= p_(m)``, finds
    the largest ``k`` with ``p_(k) <= k * alpha / m`` and rejects the ``k``
    smallest. Its false discovery rate is at most ``m0 / m * alpha`` (``m0``: the
    true null hypotheses) when the p-values are independent or positively
    dependent (PRDS); under arbitrary dependence the bound becomes ``alpha``
    times ``1 + 1/2 + ... + 1/m`` (Benjamini–Yekutieli, 2001).

    Under the global null, when no feature drifted, every rejection is false,
    so the false discovery rate *is* the chance of any rejection: with
    independent (or PRDS) p-values a stationary window still raises a false
    alarm with probability at most ``alpha`` (exactly ``alpha`` for independent
    continuous tests), as with Bonferroni. BH spends the same budget better when
    some features do drift: it then flags more of them, at the price of an
    expected share ``alpha`` of false alarms among the flagged ones. Bonferroni
    holds its bound under any dependence.

    At a p-value exactly equal to a cut-off the p-value is rejected. The cut-off
    is computed as ``k * alpha / m``; statsmodels computes ``(k / m) * alpha``,
    which can differ in the last bit, so the two can disagree on such exact
    ties and nowhere else.

    Examples
    --------
    Four of ten features drift a little (p-values of 0.0004 to 0.0038), six do not:

    >>> p = [0.0004, 0.0021, 0.0032, 0.0038, 0.008, 0.21, 0.35, 0.52, 0.74, 0.93]
    >>> bh = correct(p, alpha=0.01)
    >>> bh.n_rejected, round(bh.threshold, 4)
    (4, 0.004)
    >>> bonferroni = correct(p, alpha=0.01, correction="bonferroni")
    >>> bonferroni.n_rejected, round(bonferroni.threshold, 4)
    (1, 0.001)
    >>> correct(p, alpha=0.01, correction="none").n_rejected  # 0.008 too
    5

    Nothing rejected: BH reports the cut-off the smallest p-value missed.

    >>> correct([0.2, 0.04], alpha=0.05)
    Decision(rejected=(False, False), threshold=0.025, correction='bh')
    """
    checked = _p_values(p_values)
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {list(CORRECTIONS)}, got {correction!r}")
    alpha = float(alpha)
    m = len(checked)
    if m == 0:
        return Decision((), 0.0, correction)

    if correction == "none":
        threshold = alpha
    elif correction == "bonferroni":
        threshold = alpha / m
    else:
        # Step-up: the largest k whose k-th smallest p-value is within k * alpha / m.
        # k * alpha / m never decreases with k, and is alpha / m (Bonferroni's cut-off)
        # for k = 1, so BH rejects at least what Bonferroni rejects.
        threshold = alpha / m
        for k, p in enumerate(sorted(checked), start=1):
            cut_off = k * alpha / m
            if p <= cut_off:
                threshold = cut_off
    return Decision(tuple(p <= threshold for p in checked), threshold, correction)


def alarm_level(p_values: Sequence[float], correction: Correction = "bh") -> float:
    """The smallest ``alpha`` at which :func:`correct` would reject at least one p-value.

    A window raises a drift alarm exactly when this is at or below ``alpha``, so
    over no-drift windows its empirical quantiles give the false-alarm rate of
    every ``alpha`` at once (what ``streammon calibrate`` reports).

    Examples
    --------
    >>> alarm_level([0.04, 0.001, 0.3, 0.02])
    0.004
    >>> alarm_level([0.04, 0.001, 0.3, 0.02], "bonferroni")
    0.004
    >>> alarm_level([0.01, 0.012], "bh"), alarm_level([0.01, 0.012], "bonferroni")
    (0.012, 0.02)
    """
    ordered = sorted(p_values)
    if not ordered:
        return 1.0
    m = len(ordered)
    if correction == "bh":
        return min(1.0, min(p * m / k for k, p in enumerate(ordered, start=1)))
    if correction == "bonferroni":
        return min(1.0, ordered[0] * m)
    return ordered[0]
