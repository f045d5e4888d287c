"""Confidence-based performance estimation (CBPE): a window's accuracy before its labels arrive.

When a binary classifier's score ``s`` is a calibrated probability of the
positive class, each prediction is right with a known probability: ``s`` when
it predicted positive, ``1 - s`` when it predicted negative. A window's
accuracy is then a sum of independent Bernoulli trials with known
probabilities (a Poisson-binomial variable), so its scores alone give the
expected accuracy and how far the realized accuracy can fall from it
(:func:`estimate_accuracy`). This is the idea of NannyML's CBPE, written here
for accuracy only.

The estimate is only as good as two assumptions:

- the scores are calibrated. :class:`Calibration` measures that on the
  reference period (expected calibration error) and can repair it with an
  isotonic map fitted on the reference period's (score, label) pairs;
- the relation between inputs and labels has not changed (no concept shift).
  A covariate shift, which moves the scores, is tracked; a concept shift, which
  changes what a score means, is not, and only the labels will show it.

:class:`~monitors.labels.rules.EstimateRule` turns a window's estimate into an alert observation
long before the labels come; :func:`reconcile` compares the estimate with the
realized accuracy once they have come.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

__all__ = [
    "Calibration",
    "Estimate",
    "estimate_accuracy",
    "expected_calibration_error",
    "fit_calibration",
    "reconcile",
    "window_estimate",
]

# Two-sided 95% quantile of the standard normal (scipy.stats.norm.ppf(0.975)).
_Z95 = 1.959963984540054

_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """A window's accuracy as its scores predict it.

    Attributes
    ----------
    accuracy
        The expected accuracy: the mean probability that each prediction is right.
    low, high
        A 95% interval for the realized accuracy given the scores (normal
        approximation of the Poisson-binomial, clipped to [0, 1]). It describes
        how the labels can fall, not an uncertainty in the scores themselves.
    n
        Predictions in the window.

    Examples
    --------
    >>> e = Estimate(accuracy=0.9, low=0.87, high=0.93, n=400)
    >>> e.low <= e.accuracy <= e.high, e.n
    (True, 400)
    """

    accuracy: float
    low: float
    high: float
    n: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.accuracy <= self.high <= 1.0:
            raise ValueError(f"need 0 <= low <= accuracy <= high <= 1, got {self.low}, {self.accuracy}, {self.high}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")


def _scores(argument: str, values: Sequence[float]) -> _Floats:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{argument} must be numbers: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{argument} must be a flat sequence, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{argument} is empty")
    # NaN fails both comparisons, so this also rejects it.
    if not np.all((array >= 0.0) & (array <= 1.0)):
        raise ValueError(f"{argument} must be probabilities in [0, 1] (no NaN)")
    return array


def _binary(argument: str, values: Sequence[bool | int], n: int) -> npt.NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{argument} must be a flat sequence, got shape {array.shape}")
    if array.size != n:
        raise ValueError(f"{argument} has {array.size} values for {n} scores")
    # Strings or objects would compare unpredictably with 0 and 1: only numbers and booleans are decisions.
    if array.dtype.kind not in "biuf" or not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{argument} must be 0/1 or False/True")
    return np.asarray(array == 1, dtype=np.bool_)


def estimate_accuracy(scores: Sequence[float], predictions: Sequence[bool | int]) -> Estimate:
    """Expected accuracy of a window, and a 95% interval for its realized accuracy, from its scores alone.

    Prediction ``i`` is right with probability ``p_i = s_i`` when it predicted
    positive and ``1 - s_i`` when it predicted negative, whatever threshold
    made the decision. The realized accuracy then has mean ``sum(p_i) / n`` and
    variance ``sum(p_i * (1 - p_i)) / n**2`` exactly; the interval is that mean
    plus or minus 1.96 standard deviations, clipped to [0, 1].

    Parameters
    ----------
    scores
        Calibrated probabilities of the positive class, in [0, 1].
    predictions
        The model's decisions, 1/True for positive.

    Raises
    ------
    ValueError
        On empty input, a score outside [0, 1] or NaN, a decision other than
        0/1, or sequences of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.random.default_rng(7).uniform(size=1000)
    >>> e = estimate_accuracy(s, s >= 0.5)
    >>> round(e.accuracy, 3), round(e.low, 3), round(e.high, 3), e.n
    (0.751, 0.726, 0.776, 1000)
    """
    s = _scores("scores", scores)
    positive = _binary("predictions", predictions, s.size)
    right = np.where(positive, s, 1.0 - s)
    n = s.size
    mean = float(right.mean())
    sd = math.sqrt(float(np.sum(right * (1.0 - right)))) / n
    # Clip the mean as well: float rounding could otherwise put it a hair outside [low, high].
    mean = min(max(mean, 0.0), 1.0)
    return Estimate(accuracy=mean, low=max(0.0, mean - _Z95 * sd), high=min(1.0, mean + _Z95 * sd), n=n)


def window_estimate(
    scores: Sequence[float | None] | None, predictions: Sequence[Any] | None, calibration: Calibration | None = None
) -> Estimate | None:
    """A window's accuracy estimate from its scores, or None when the window gives nothing to estimate from.

    Nothing to estimate from: no scores, a prediction sent without its score, or
    a prediction that is not a binary decision (0/1 or False/True). With a
    ``calibration``, the scores go through its map first.

    Raises
    ------
    ValueError
        As :func:`estimate_accuracy` does, e.g. for a score outside [0, 1].

    Examples
    --------
    >>> round(window_estimate([0.9, 0.8, 0.3], [1, 1, 0]).accuracy, 3)
    0.8
    >>> window_estimate([0.9, None], [1, 0]) is None, window_estimate([0.9], ["spam"]) is None
    (True, True)
    """
    if scores is None or predictions is None or None in scores:
        return None
    if any(p not in (0, 1) for p in predictions):
        return None
    values = calibration.transform(scores) if calibration is not None else scores  # type: ignore[arg-type]
    return estimate_accuracy(values, [int(p) for p in predictions])  # type: ignore[arg-type]


def fit_calibration(pairs: Sequence[tuple[Any, Any, float | None]], min_labelled: int) -> Calibration | None:
    """A model's score calibration, fitted on its reference period's ``(prediction, label, score)`` pairs.

    None unless every pair has a score and a 0/1 label and there are at least
    ``min_labelled`` of them: a map fitted on part of the period would describe
    only the pairs that happened to carry scores.

    Examples
    --------
    >>> pairs = [(1, i % 3 != 0, 0.6 + i % 4 / 10) for i in range(200)]
    >>> fit_calibration(pairs, min_labelled=100).ece is not None
    True
    >>> fit_calibration(pairs[:50], min_labelled=100) is None
    True
    """
    usable = [(score, label) for _, label, score in pairs if score is not None and label in (0, 1)]
    if len(usable) < min_labelled or len(usable) < len(pairs):
        return None
    return Calibration().fit([s for s, _ in usable], [bool(label) for _, label in usable])


def expected_calibration_error(scores: Sequence[float], labels: Sequence[bool | int], bins: int = 10) -> float:
    """Expected calibration error over equal-count bins.

    The scores are sorted and cut into ``bins`` bins of (nearly) equal count;
    the error is the count-weighted mean, over bins, of ``|mean score - share
    of positive labels|``. Equal counts keep every bin's share of positives
    equally noisy, where equal widths would leave the sparse tails to chance.
    Even perfectly calibrated scores show a small error from sampling alone,
    about ``0.8 * sqrt(p * (1 - p) * bins / n)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> s = rng.uniform(size=5000)
    >>> round(expected_calibration_error(s, rng.uniform(size=5000) < s), 3)
    0.017
    >>> round(expected_calibration_error(s, rng.uniform(size=5000) < s**3), 3)
    0.243
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    s = _scores("scores", scores)
    return _ece(s, _binary("labels", labels, s.size), bins)


def _ece(s: _Floats, positive: npt.NDArray[np.bool_], bins: int) -> float:
    if s.size < bins:
        raise ValueError(f"need at least {bins} scores for {bins} bins, got {s.size}")
    y = positive.astype(np.float64)
    # A stable sort so that tied scores split across a bin edge the same way on every run.
    order = np.argsort(s, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        error += chunk.size * abs(float(s[chunk].mean()) - float(y[chunk].mean()))
    return error / s.size


class Calibration:
    """Checks on the reference period whether scores are calibrated enough for CBPE, and can recalibrate them.

    :meth:`fit` records the expected calibration error of the reference
    period's scores (see :func:`expected_calibration_error`) and an isotonic
    map from score to observed share of positives, fitted on the same pairs.
    :meth:`transform` applies the map (outside the fitted range, the map's end
    values). Feed :func:`estimate_accuracy` the transformed scores, with the
    model's own decisions, when :attr:`calibrated` is False.

    Parameters
    ----------
    bins
        Equal-count bins of the calibration error.
    max_ece
        Largest calibration error at which the scores count as calibrated.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> s = rng.uniform(size=5000)
    >>> labels = rng.uniform(size=5000) < s**3     # the model is overconfident
    >>> calibration = Calibration().fit(s, labels)
    >>> round(calibration.ece, 3), calibration.calibrated
    (0.243, False)
    >>> [round(v, 2) for v in calibration.transform([0.2, 0.5, 0.9])]
    [0.02, 0.13, 0.77]
    """

    def __init__(self, bins: int = 10, max_ece: float = 0.05) -> None:
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        if not 0.0 <= max_ece <= 1.0:
            raise ValueError(f"max_ece must be in [0, 1], got {max_ece}")
        self.bins = bins
        self.max_ece = max_ece
        self._ece: float | None = None
        # The isotonic map as its breakpoints, interpolated linearly between them (as scikit-learn does):
        # plain arrays pickle anywhere and transform without scikit-learn.
        self._x: _Floats | None = None
        self._y: _Floats | None = None

    @property
    def ece(self) -> float | None:
        """Expected calibration error of the reference scores; None before :meth:`fit`."""
        return self._ece

    @property
    def calibrated(self) -> bool:
        """The reference scores' error is at most ``max_ece`` (False before :meth:`fit`: not shown yet)."""
        return self._ece is not None and self._ece <= self.max_ece

    def fit(self, scores: Sequence[float], labels: Sequence[bool | int]) -> Calibration:
        """Measure the calibration of the reference pairs and fit the isotonic map; returns self."""
        s = _scores("scores", scores)
        positive = _binary("labels", labels, s.size)
        ece = _ece(s, positive, self.bins)
        model: Any = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(s, positive.astype(np.float64))
        self._ece = ece
        self._x = np.asarray(model.X_thresholds_, dtype=np.float64)
        self._y = np.asarray(model.y_thresholds_, dtype=np.float64)
        return self

    def transform(self, scores: Sequence[float]) -> list[float]:
        """The scores through the isotonic map (unchanged before :meth:`fit`)."""
        s = _scores("scores", scores)
        if self._x is None or self._y is None:
            return [float(v) for v in s]
        return [float(v) for v in np.interp(s, self._x, self._y)]


def reconcile(estimate: Estimate, realized_accuracy: float, labelled: int) -> dict[str, float]:
    """Compare a window's estimate with its realized accuracy, once labels have arrived.

    Returns ``estimated``, ``realized``, ``error`` (realized - estimated),
    ``within_interval`` (1.0 when the realized accuracy lies in the estimate's
    interval, else 0.0), ``labelled`` and ``label_coverage`` (``labelled / n``).
    The interval is for the whole window: with only part of it labelled the
    realized accuracy is noisier, so read ``within_interval`` with
    ``label_coverage``.

    Examples
    --------
    >>> e = Estimate(accuracy=0.82, low=0.79, high=0.85, n=600)
    >>> {k: round(v, 3) for k, v in reconcile(e, 0.80, labelled=600).items()}
    {'estimated': 0.82, 'realized': 0.8, 'error': -0.02, 'within_interval': 1.0, 'labelled': 600.0, 'label_coverage': 1.0}
    """
    if not 0.0 <= realized_accuracy <= 1.0:
        raise ValueError(f"realized_accuracy must be in [0, 1], got {realized_accuracy}")
    if not 1 <= labelled <= estimate.n:
        raise ValueError(f"labelled must be between 1 and the window's {estimate.n} predictions, got {labelled}")
    return {
        "estimated": estimate.accuracy,
        "realized": realized_accuracy,
        "error": realized_accuracy - estimate.accuracy,
        "within_interval": 1.0 if estimate.low <= realized_accuracy <= estimate.high else 0.0,
        "labelled": float(labelled),
        "label_coverage": labelled / estimate.n,
    }
