"""Thresholds for distance methods, calibrated on the reference's own variability.

A distance method (Wasserstein, Jensen-Shannon, PSI, Hellinger, ...) scores how
far a window is from the reference; it is not a probability, so ``alpha`` cannot
decide it the way it decides a p-value. Evidently compares it with a constant
(0.1 for the normed Wasserstein distance and for Jensen-Shannon) whatever the
window's size and however much the column varies on its own. A stationary window
of 100 rows is about 0.12 (normed Wasserstein) from its reference, one of
10,000 rows about 0.01, so one constant pages on most small windows and misses
a real drift in large ones.

:func:`calibrate_distance` measures instead what the distance is when nothing
changed: it splits the reference at random, many times, into a pseudo-window of
the live window's size and the rest, scores each split with the column's method,
and sets the threshold at an upper quantile of those scores, the ``1 - level``
quantile, so that a stationary window exceeds it with probability about
``level``. It returns a :class:`DistanceThreshold`: the threshold, and how it was
obtained, in numbers and in words (:meth:`DistanceThreshold.describe`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from monitors.evidently.methods import Kind, Method, distance, usable_values

__all__ = ["DistanceThreshold", "EPSILON", "Rule", "calibrate_distance", "calibration_rows", "prediction_bound"]

#: The threshold of a column whose reference splits all score 0 (a constant
#: column): above the floating-point noise of a distance that is a square root
#: (``sqrt(1e-16) = 1e-8``), far below a real change (one row in 100,000 moving to
#: a new category is a Jensen-Shannon distance of about 0.002), so any change alarms.
EPSILON = 1e-6

#: How a threshold was set: ``"quantile"`` (a fitted quantile of the scores),
#: ``"any change"`` (:data:`EPSILON`: the scores were 0, or above 0 no more often
#: than ``level``), ``"twice the largest"`` (too few distinct scores above 0 to fit).
Rule = Literal["quantile", "any change", "twice the largest"]

# The scale on which a method's scores, between two samples of one
# distribution, are close to normal: the Box-Cox power p of the distance d,
# (d ** p - 1) / p, with 0 for its logarithm (a log-normal fit). Over k bins or
# categories, Kullback-Leibler and PSI are about a chi-square with k - 1 degrees
# of freedom, whose cube root is close to normal (Wilson-Hilferty), even for one
# degree of freedom; Jensen-Shannon and Hellinger are square roots of such a
# variable, hence 2/3. Any other method (the normed Wasserstein distance, energy
# distance) is fitted as a log-normal.
_POWERS = {"kl_div": 1 / 3, "psi": 1 / 3, "jensenshannon": 2 / 3, "hellinger": 2 / 3}

# A fit needs a spread, and a spread from fewer than 3 values means nothing.
_MIN_FITTED = 3


@dataclass(frozen=True)
class DistanceThreshold:
    """A distance method's threshold for one column and one window size.

    Attributes
    ----------
    method
        The method, as Evidently names it, e.g. ``"Wasserstein distance (normed)"``.
    threshold
        The threshold: a window at or above it is flagged (Evidently's rule).
    draws
        Reference splits the threshold was calibrated on.
    window_rows
        Rows of each pseudo-window (the live window's size, at most half the
        reference).
    level
        The false-alarm level the threshold is set for: the chance that a
        stationary window of ``window_rows`` rows reaches it.
    null_mean, null_sd
        Mean and standard deviation of the scores above 0 over the reference
        splits, on the scale of the fit: of their logarithm when ``power`` is 0,
        of ``(distance ** power - 1) / power`` otherwise (Box-Cox). For the
        rules other than ``"quantile"``, of all the scores, on the distance's
        own scale.
    power
        The scale of the fit (see ``null_mean``); 1.0 when nothing was fitted.
    rule
        How the threshold was set (:data:`Rule`).

    Examples
    --------
    >>> threshold = DistanceThreshold("Wasserstein distance (normed)", 0.21, 40, 500, 0.0005, -3.0, 0.3)
    >>> threshold.describe()
    'calibrated: 99.95th percentile of Wasserstein distance (normed) over 40 reference sub-windows of 500 rows'
    """

    method: str
    threshold: float
    draws: int
    window_rows: int
    level: float
    null_mean: float
    null_sd: float
    power: float = 0.0
    rule: Rule = "quantile"

    def describe(self) -> str:
        """Where the threshold comes from, in words, for an alert.

        Examples
        --------
        >>> DistanceThreshold("Jensen-Shannon distance", EPSILON, 40, 1000, 0.001, 0.0, 0.0,
        ...                   power=1.0, rule="any change").describe()
        'calibrated: any positive Jensen-Shannon distance (at most 0.1% of 40 reference sub-windows of 1000 rows scored above 0)'
        """
        splits = f"{self.draws} reference sub-windows of {self.window_rows} rows"
        if self.rule == "any change":
            return f"calibrated: any positive {self.method} (at most {100 * self.level:.3g}% of {splits} scored above 0)"
        if self.rule == "twice the largest":
            return f"calibrated: twice the largest {self.method} over {splits} (too few scores above 0 to fit)"
        return f"calibrated: {_ordinal(100 * (1 - self.level))} percentile of {self.method} over {splits}"


def _ordinal(percent: float) -> str:
    text = f"{percent:.6g}"
    if "." in text or "e" in text:
        return f"{text}th"
    number = int(text)
    if number % 100 in (11, 12, 13):
        return f"{text}th"
    return text + {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def calibration_rows(rows: int) -> int:
    """``rows`` to two significant digits: windows within a few per cent of one size share a calibration.

    >>> calibration_rows(1020), calibration_rows(87), calibration_rows(12_345)
    (1000, 87, 12000)
    """
    digits = len(str(rows)) - 2
    return rows if digits <= 0 else int(round(rows, -digits))


def prediction_bound(
    scores: np.ndarray[Any, np.dtype[np.float64]], level: float, power: float = 0.0
) -> tuple[float, float, float]:
    """The value a new score exceeds with probability ``level``, from scores of stationary windows.

    A normal is fitted to the scores' Box-Cox transform (``power`` 0: their
    logarithm, a log-normal) and its Student-t prediction bound taken back
    (see :func:`calibrate_distance`). Returns the bound, and the mean and
    standard deviation of the transformed scores. The scores must be positive.

    >>> bound, mean, sd = prediction_bound(np.array([1.0, 1.1, 0.9, 1.05, 0.95]), 0.01)
    >>> round(bound, 2)
    1.38
    """
    return _fitted_quantile(scores, power, level)


def _fitted_quantile(scores: np.ndarray[Any, np.dtype[np.float64]], power: float, level: float) -> tuple[float, float, float]:
    """The ``1 - level`` prediction bound of a normal fitted to the scores' Box-Cox transform; its mean and sd."""
    values = np.log(scores) if power == 0 else (scores**power - 1) / power
    k = len(values)
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    bound = mean + float(student_t.ppf(1 - level, k - 1)) * sd * math.sqrt(1 + 1 / k)
    # For a positive power, 1 + power * bound > 0: the bound is above the mean
    # of values that are all above -1 / power.
    return (math.exp(bound) if power == 0 else (1 + power * bound) ** (1 / power)), mean, sd


def _check(reference: pd.Series, method: Method, window_rows: int, level: float, draws: int) -> None:
    if not isinstance(reference, pd.Series):
        raise ValueError(f"reference must be a pandas Series, got {type(reference).__name__}")
    if method.p_value:
        raise ValueError(f"method {method.name!r} scores a p-value, not a distance: alpha decides it")
    if isinstance(window_rows, bool) or not isinstance(window_rows, Integral) or window_rows < 1:
        raise ValueError(f"window_rows must be a positive integer, got {window_rows!r}")
    if isinstance(level, bool) or not isinstance(level, Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if isinstance(draws, bool) or not isinstance(draws, Integral) or draws < _MIN_FITTED:
        raise ValueError(f"draws must be an integer of at least {_MIN_FITTED}, got {draws!r}")


def calibrate_distance(
    reference: pd.Series,
    kind: Kind,
    method: Method,
    window_rows: int,
    level: float,
    *,
    draws: int = 40,
    seed: int = 0,
) -> DistanceThreshold:
    """The threshold a stationary window of ``window_rows`` rows reaches with probability ``level``.

    Parameters
    ----------
    reference
        The reference column. NaN and infinities are dropped first, as
        Evidently does before it scores a column.
    kind
        How Evidently treats the column: ``"numerical"`` or ``"categorical"``.
    method
        A distance method (:func:`monitors.evidently.methods.check_method`).
    window_rows
        Rows of the windows the threshold is for.
    level
        The chance, per window, of a false alarm on this column.
    draws
        Random splits of the reference to score.
    seed
        Seed of the splits: the same arguments give the same threshold.

    Returns
    -------
    DistanceThreshold

    Raises
    ------
    ValueError
        On a p-value method, a reference of fewer than 2 usable rows, or
        arguments out of range.

    Notes
    -----
    Each of the ``draws`` splits puts ``min(window_rows, len(reference) // 2)``
    random rows of the reference in a pseudo-window and scores it against the
    other rows with the method, through Evidently's own implementation
    (:func:`monitors.evidently.methods.distance`): the scores are draws of the distance
    when nothing changed, the column's own window-to-window variability.

    The threshold is far in their tail (``level`` is ``alpha / m``, 0.001 for
    ``alpha = 0.01`` over 10 columns), where 40 draws hold no value, so a
    normal distribution is fitted to a transform of them and its quantile
    taken back. Distances are positive and skewed to the right, which makes a
    log-normal (a normal fitted to their logarithm) the natural choice, and the
    fit of the normed Wasserstein distance and of any method not named below.
    It fails for a distance over few bins or categories: that is a chi-square
    variable (Kullback-Leibler, PSI) or its square root (Jensen-Shannon,
    Hellinger), with k - 1 degrees of freedom for k categories, whose
    logarithm has a long left tail, so a log-normal fit widens the spread and
    sets the threshold far too high. Measured at the 99.9th percentile: 1.6
    to 2.4 times the true one with 3 categories and 2.5 to 18 times with 2
    (Jensen-Shannon), 5 to 140 times for Kullback-Leibler on 2 categories.
    Those four are fitted on the scale on which a chi-square is close to
    normal, its cube root (Wilson-Hilferty): ``d ** (1/3)`` for
    Kullback-Leibler and PSI, ``d ** (2/3)`` for Jensen-Shannon and Hellinger
    (as Box-Cox transforms, so ``null_mean`` and ``null_sd`` are of
    ``(d ** p - 1) / p``).

    The quantile is a prediction bound, ``mean + t * sd * sqrt(1 + 1/k)`` on the
    transformed scale, with ``t`` the ``1 - level`` quantile of Student's t with
    ``k - 1`` degrees of freedom for ``k`` scores, rather than the normal's
    ``mean + z * sd``: the chance that a new window exceeds it is then
    ``level`` itself, averaged over the noise of estimating the mean and spread
    from ``k`` draws, where with ``z`` it would be about twice ``level`` at
    0.001 with 40 draws. That noise remains: with 40 draws the threshold at
    ``level`` 0.001 varies by about 15 % (one standard deviation) from one
    reference, or seed, to another.

    Scores of 0 (a split whose two parts have the same distribution, as always
    in a constant column) are left out of the fit and ``level`` is divided by
    the share of scores above 0. When that share is at most ``level`` the
    threshold is :data:`EPSILON`: any positive distance alarms. With fewer
    than 3 scores above 0, or all of them equal, nothing can be fitted, and
    the threshold is twice the largest score, a guess that the result names.

    Limits, measured at ``level`` 0.001 (10 references of 5,000 rows, 3,000
    stationary windows each, of 100 and of 1,000 rows): the false-alarm rate
    was 0.2 to 2 times ``level`` for Jensen-Shannon (2, 3 and 8 categories, a
    normal column), PSI over 3 categories, Hellinger over 2, energy distance,
    and the normed Wasserstein distance in windows of 1,000 rows (0.2 to 0.5);
    1.8 to 2.3 times for Kullback-Leibler over 2 categories. It is higher where the
    distance has a heavier tail than the fit, in small windows: the logarithm
    of the normed Wasserstein distance is itself a little skewed to the right
    (0.2 to 0.3 on normal, uniform, exponential and log-normal columns), and
    in windows of 100 rows its false-alarm rate was 1.6 (normal column, 40
    references), 3 to 5 (log-normal) and 7 (Pareto, shape 3) times ``level``;
    PSI over the 30 bins of a normal column, 3.9 times. At ``level`` 0.01 and
    windows of 500 rows, the normed Wasserstein distance had 1.2 to 1.8 times
    ``level``. A Box-Cox power of -1/4 would remove that skew and bring
    windows of 100 rows to 0.6 times ``level`` (normal column), but it raises
    every threshold by about 18 %, and windows of 500 rows at ``level`` 0.001
    would have a quarter of the false alarms allowed, for less power: not
    worth it for windows that are rarely that small. More draws narrow the
    spread of the estimate, not such a bias.

    The false-alarm rate is ``level`` on average over references, not for
    each: a reference's own sampling noise moves every live distance from it
    (at ``level`` 0.01, 200 normal windows of 500 rows against 5,000, normed
    Wasserstein: 0 to 15 false alarms depending on the reference, 3.6 on
    average over 30 references).
    Splits measure the variability of two fresh samples, which is larger than
    the variability of windows against one fixed reference, and a pseudo-window
    is compared with ``N - n`` rows where a live window is compared with ``N``
    (about 2 % larger distances at ``n = N / 5``, 15 % at ``N / 2``, for a
    distance that shrinks as the square root of the sample size); both make
    the threshold conservative for windows of a fifth of the reference or
    more (1.2 to 1.3 times the 99.9th percentile of stationary windows of
    1,000 rows against 5,000, normed Wasserstein), and windows above half the
    reference are calibrated as half of it.

    Cost: ``draws`` evaluations of the method on the whole reference column.
    Measured with 40 draws (Wasserstein, Jensen-Shannon, PSI, Hellinger):
    16 to 29 ms on 1,000 rows, 23 to 55 ms on 5,000, 43 to 216 ms on 20,000,
    0.3 to 1.1 s on 100,000; a report on a few columns costs 0.2 to 0.4 s.

    Examples
    --------
    >>> from monitors.evidently.methods import check_method
    >>> rng = np.random.default_rng(3)
    >>> reference = pd.Series(rng.normal(size=5000))
    >>> wasserstein = check_method("wasserstein", "numerical")
    >>> small = calibrate_distance(reference, "numerical", wasserstein, window_rows=100, level=0.001)
    >>> large = calibrate_distance(reference, "numerical", wasserstein, window_rows=2000, level=0.001)
    >>> round(small.threshold, 3), round(large.threshold, 3), small.power
    (0.455, 0.104, 0.0)
    >>> large.describe()
    'calibrated: 99.9th percentile of Wasserstein distance (normed) over 40 reference sub-windows of 2000 rows'
    """
    _check(reference, method, window_rows, level, draws)
    # The rows Evidently would score: the split is made on them.
    values = usable_values(reference)
    if len(values) < 2:
        raise ValueError(f"reference has {len(values)} usable rows: at least 2 are needed to split it")
    rows = min(int(window_rows), len(values) // 2)
    rng = np.random.default_rng(seed)
    scores = np.empty(draws, dtype=float)
    for i in range(draws):
        order = rng.permutation(len(values))
        scores[i] = distance(values.iloc[order[rows:]], values.iloc[order[:rows]], kind, method)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{method.display_name} is not a finite number on splits of the reference")

    def unfitted(threshold: float, rule: Rule) -> DistanceThreshold:
        return DistanceThreshold(
            method.display_name, threshold, draws, rows, float(level),
            float(scores.mean()), float(scores.std(ddof=1)), power=1.0, rule=rule,
        )  # fmt: skip

    # Scores at or below EPSILON are floating-point noise around 0 (a square
    # root of 1 - 0.9999999999999999 is 1e-8): they count as 0.
    positive = scores[scores > EPSILON]
    share = len(positive) / draws
    if share <= level:
        return unfitted(EPSILON, "any change")
    if len(positive) < _MIN_FITTED or positive.min() == positive.max():
        return unfitted(2.0 * float(positive.max()), "twice the largest")

    # P(score >= t) = share * P(positive score >= t): the positive scores are fitted at level / share.
    power = _POWERS.get(method.name, 0.0)
    threshold, mean, sd = _fitted_quantile(positive, power, level / share)
    return DistanceThreshold(method.display_name, threshold, draws, rows, float(level), mean, sd, power=power)
