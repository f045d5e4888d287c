"""Data quality: is a window still made of the kind of data the reference was made of?

Drift asks whether valid data has changed its distribution. Data quality asks
whether the data is broken: a feature that goes null, changes type, leaves the
range it always had, takes categories nobody has seen, gets stuck at one value,
or a stream that falls silent (or floods). These are reported as their own
alert kinds, so that a broken pipeline is not paged as "drift".

The reference is profiled once (:meth:`~monitors.quality.profile.ReferenceProfile.of`,
a few numbers per column, JSON-able to store next to a model);
:class:`DataQualityMonitor` compares each window with that profile and returns one
:class:`QualityFinding` per check and feature, *also when all is well* (value
0 or below its threshold): the alert lifecycle keeps the state of conditions
it does not observe, so only a clear finding resolves an alert
(:class:`~monitors.quality.rules.QualityRule` turns findings into observations).

Types
    A value's type is its JSON type: ``bool`` (Python or NumPy booleans),
    ``number`` (any other number) or ``string`` (anything else, e.g. strings,
    timestamps). Nulls are None, NaN, NaT and ``pd.NA``. A reference column
    must hold one type; columns the worker builds from JSON events may be
    ``object`` columns that mix types, and that is what the schema check looks
    for. Numbers are numerical features, strings and booleans categorical
    ones (``categorical=`` makes numbers categorical too); categories are
    compared as strings (``1`` and ``1.0`` are ``"1"``, booleans
    ``"true"``/``"false"``). Share-based checks count only the values of the
    reference's type: values of another type are the schema check's.

Checks (the ``kind`` label of the observation; ``feature`` is ``"*"`` for a
finding about the window as a whole)

``schema``
    Per reference feature: 1 if the window holds non-null values of another
    type than the reference's (strings where numbers were), or if the feature
    is absent from the window or null in all its rows while the reference
    makes that improbable (``null_share ** rows < alpha``: a feature null in
    30 % of the reference may well be null in all of 3 rows). Plus one finding
    for the window as a whole: 1 if the window has non-null values for
    features the reference does not have (one condition, however many new
    names a producer invents, so that label cardinality stays bounded by the
    reference). Warning and critical at 1: a schema break breaks consumers.
    Applies to every window, however small.
``missing_values``
    Per feature: the window's null share minus the reference's (negative when
    fewer values are missing). Warning at ``missing_increase`` (absolute).
``out_of_range`` (numerical features)
    Share of the window's numbers outside ``[low, high]``, the reference's
    ``range_quantiles`` (0.1 % and 99.9 % by default: quantiles, not minimum and
    maximum, so that one outlier in the reference does not widen the range for
    good), widened on each side by ``range_margin`` times its width. Warning
    at ``out_of_range_share``.
``unseen_categories`` (categorical features)
    Share of the window's values whose category the reference never saw.
    Warning at ``unseen_share``.
``constant``
    1 if a feature that varies in the reference holds a single distinct value
    in the window, and a stationary window would almost never do so: all
    ``n`` values of a window are equal with probability at most
    ``mode_share ** (n - 1)``, with ``mode_share`` the share of the
    reference's most common value, and the check needs that below ``alpha``
    (a flag that is 1 in 98 % of the reference is constant over 30 rows half
    of the time, over 1,000 rows almost never). Warning at 1, never critical.
``volume``
    Events per second in the window against the reference's rate:
    ``max(ratio, 1 / ratio)`` with ``ratio = window rate / reference rate``, so
    that a flood and a silence count alike. Warning at ``volume_ratio``. A
    window without events counts as half an event, so that silence has a
    finite value that grows with the number of events expected. Only when the
    window's length or its event times are given and the profile knows the
    reference's rate. Rates from event times (the window's and the
    reference's) are robust to stragglers: :func:`robust_rate` leaves out the
    earliest and latest 1 % of the events (at least two at each end), so one
    event dated 1970, or a couple of old events sent again, cannot stretch
    the span and fake a silence.
    Poisson noise makes this meaningful when a window expects about 20 events
    or more (at 20 expected, 6 or fewer happen with probability 2.5e-4).

Windows with fewer than ``min_rows`` rows get no share-based finding
(``missing_values``, ``out_of_range``, ``unseen_categories``, ``constant``):
too noisy. ``schema`` and ``volume`` apply to every window (an empty window is
how silence looks).

Thresholds
    Critical is ``critical_factor`` (4) times warning. The defaults are far
    above the noise of a stationary window of a few hundred rows or more. For
    ``out_of_range``, a stationary window falls outside the 0.1 %–99.9 %
    range with probability ``p = 0.002``, so the count outside is binomial;
    warning at 2 % means at least 10 of 500 rows, which happens with
    probability 1.0e-7 (4.4e-5 even if the reference's quantiles, estimated
    from a sample, left out twice the mass: ``p = 0.004``); 6 of 300: 3.7e-5
    (1.5e-3); but 2 of 100: 1.7 % — small windows need more. So every
    share threshold is raised, window by window, to the noise floor: the
    smallest share that a stationary window of that size reaches with
    probability at most ``alpha`` (1e-4), from the binomial tail at the
    reference's own rate: its null share for ``missing_values``; for
    ``out_of_range``, the mass left out of the range (the larger of
    ``q_low + 1 - q_high`` and the share of the reference outside it); for
    ``unseen_categories``, the Good-Turing estimate of the mass of unseen
    categories (the share of the reference's values whose category occurs
    once in it: 0 for a few frequent categories, near 1 for identifiers,
    which therefore never alarm). At 1,000 rows the floor is below the
    defaults (out of range: 1 %; unseen, for frequent categories: 0.1 %;
    missing, for a reference null share up to about 25 %), so thresholds are
    what they say; at 50 rows it is 8 % for ``out_of_range``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"age": rng.normal(40, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
>>> monitor = DataQualityMonitor(ReferenceProfile.of(reference))
>>> window = pd.DataFrame({"age": [41.0] * 50 + [None] * 50, "plan": ["a", "c"] * 50})
>>> for f in monitor.run(window):
...     if f.value >= f.warning_at:
...         print(f.check, f.feature, round(f.value, 2), f.summary)
missing_values age 0.5 age: 50.0% missing (reference 0.0%)
unseen_categories plan 0.5 plan: 50.0% of values in unseen categories ('c')
constant age 1.0 age: constant at 41 over 50 values (varies in the reference)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from numbers import Real
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitors.alerting.quoting import MAX_QUOTED_CHARS, clip, quote
from monitors.quality.profile import ColumnProfile, ReferenceProfile, robust_rate
from monitors.quality.values import WindowColumn, as_category, noise_floor, pct, share_of, single_value, split_column

__all__ = ["CHECKS", "DataQualityMonitor", "QualityCheck", "QualityFinding"]

QualityCheck = Literal["missing_values", "schema", "out_of_range", "unseen_categories", "constant", "volume"]

#: The checks, in the order :meth:`DataQualityMonitor.run` reports them.
CHECKS: tuple[QualityCheck, ...] = ("schema", "missing_values", "out_of_range", "unseen_categories", "constant", "volume")

_EXAMPLES = 3  # unseen categories and new features named in a summary


def _categories(column: ColumnProfile, values: pd.Series) -> pd.Series:
    """Values of a column's own type as categories (strings are their own category)."""
    return values if column.dtype == "string" else values.map(as_category)


@dataclass(frozen=True)
class QualityFinding:
    """One check's verdict on one feature (or the whole window) in one window.

    Attributes
    ----------
    check
        The check: ``"schema"``, ``"missing_values"``, ``"out_of_range"``,
        ``"unseen_categories"``, ``"constant"`` or ``"volume"``.
    feature
        The feature, or None for a finding about the window as a whole
        (volume, and new features for schema).
    value
        Oriented so that higher is worse; at or above ``warning_at`` is a
        warning.
    warning_at, critical_at
        Thresholds (``critical_at`` None: never critical).
    summary
        One line for people.

    Examples
    --------
    >>> f = QualityFinding("missing_values", "age", 0.31, 0.05, 0.2, "age: 31.0% missing (reference 0.2%)")
    >>> f.value >= f.critical_at
    True
    """

    check: QualityCheck
    feature: str | None
    value: float
    warning_at: float
    critical_at: float | None
    summary: str


def _finite(value: object) -> bool:
    """Whether ``value`` is a finite real number (booleans are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(float(value))


def _positive_share(argument: str, value: float) -> None:
    if not _finite(value) or not 0 < value <= 1:
        raise ValueError(f"{argument} must be in (0, 1], got {value!r}")


class DataQualityMonitor:
    """Check windows against a reference profile: schema, nulls, ranges, categories, constants, volume.

    Parameters
    ----------
    profile
        The reference's profile.
    missing_increase
        Increase of a feature's null share (absolute) that is a warning.
    out_of_range_share
        Share of a numerical feature's values outside the reference's range
        that is a warning.
    unseen_share
        Share of a categorical feature's values in unseen categories that is a
        warning.
    volume_ratio
        Factor between the window's event rate and the reference's, either
        way, that is a warning.
    min_rows
        Rows a window needs for the share-based checks.
    range_margin
        How much to widen the reference range on each side, as a fraction of
        its width.
    critical_factor
        Critical thresholds are this many times the warning ones (schema and
        constant excepted).
    alpha
        Noise bound of one check on one stationary window: share thresholds
        rise to the share such a window reaches with at most this probability,
        and all-null (schema) or single-valued (constant) windows count only
        when at most this probable.

    Raises
    ------
    TypeError
        When ``profile`` is not a :class:`ReferenceProfile`.
    ValueError
        On a share outside (0, 1], ``volume_ratio`` or ``critical_factor`` not
        above 1, ``min_rows`` below 1, a negative ``range_margin`` or ``alpha``
        outside (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> reference = pd.DataFrame({"age": rng.normal(40, 10, 3000), "plan": rng.choice(["a", "b"], 3000)})
    >>> monitor = DataQualityMonitor(ReferenceProfile.of(reference))
    >>> window = pd.DataFrame({"age": rng.normal(40, 10, 500), "plan": rng.choice(["a", "b"], 500)})
    >>> window.loc[:99, "age"] = None
    >>> window["age"] = window["age"].astype(object)
    >>> window.loc[100, "age"] = "forty"
    >>> findings = monitor.run(window)
    >>> [(f.check, f.feature) for f in findings if f.value >= f.warning_at]
    [('schema', 'age'), ('missing_values', 'age')]
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        missing_increase: float = 0.05,
        out_of_range_share: float = 0.02,
        unseen_share: float = 0.01,
        volume_ratio: float = 3.0,
        min_rows: int = 30,
        range_margin: float = 0.0,
        critical_factor: float = 4.0,
        alpha: float = 1e-4,
    ) -> None:
        if not isinstance(profile, ReferenceProfile):
            raise TypeError(f"profile must be a ReferenceProfile, got {type(profile).__name__}")
        _positive_share("missing_increase", missing_increase)
        _positive_share("out_of_range_share", out_of_range_share)
        _positive_share("unseen_share", unseen_share)
        if not _finite(volume_ratio) or volume_ratio <= 1:
            raise ValueError(f"volume_ratio must be a finite number above 1, got {volume_ratio!r}")
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
            raise ValueError(f"min_rows must be an integer of at least 1, got {min_rows!r}")
        if not _finite(range_margin) or range_margin < 0:
            raise ValueError(f"range_margin must be a finite number of at least 0, got {range_margin!r}")
        if not _finite(critical_factor) or critical_factor <= 1:
            raise ValueError(f"critical_factor must be a finite number above 1, got {critical_factor!r}")
        if not _finite(alpha) or not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        self.profile = profile
        self.missing_increase = missing_increase
        self.out_of_range_share = out_of_range_share
        self.unseen_share = unseen_share
        self.volume_ratio = volume_ratio
        self.min_rows = min_rows
        self.range_margin = range_margin
        self.critical_factor = critical_factor
        self.alpha = alpha

    def __repr__(self) -> str:
        return (
            f"DataQualityMonitor({len(self.profile.columns)} features, missing_increase={self.missing_increase!r}, "
            f"out_of_range_share={self.out_of_range_share!r}, unseen_share={self.unseen_share!r}, "
            f"volume_ratio={self.volume_ratio!r}, min_rows={self.min_rows!r}, range_margin={self.range_margin!r}, "
            f"critical_factor={self.critical_factor!r}, alpha={self.alpha!r})"
        )

    def run(
        self,
        current: pd.DataFrame,
        *,
        window_seconds: float | None = None,
        event_times: Sequence[datetime] | None = None,
    ) -> list[QualityFinding]:
        """Check one window.

        Parameters
        ----------
        current
            The window's rows (possibly none: a silent window).
        window_seconds
            The window's length, for the volume check.
        event_times
            The event time of each row, for the volume check in place of
            ``window_seconds``: the window's rate is then :func:`robust_rate`,
            so stragglers do not stretch its span.

        Returns
        -------
        The findings, ordered as :data:`CHECKS`, then by feature (the
        window-level schema finding last among schema findings): one per
        feature for every applicable check, whether or not it is at a level.

        Raises
        ------
        TypeError
            When ``current`` is not a DataFrame.
        ValueError
            On duplicate column names or a negative or infinite ``window_seconds``.

        Examples
        --------
        >>> from datetime import datetime, timedelta
        >>> times = [datetime(2026, 1, 1) + timedelta(seconds=s) for s in range(100)]
        >>> monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"x": range(100)}), event_times=times))
        >>> [(f.check, f.feature, f.value) for f in monitor.run(pd.DataFrame({"x": [1, 2]}), window_seconds=10)]
        [('schema', 'x', 0.0), ('schema', None, 0.0), ('volume', None, 5.0)]
        """
        if not isinstance(current, pd.DataFrame):
            raise TypeError(f"current must be a DataFrame, got {type(current).__name__}")
        names = [str(c) for c in current.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"current has duplicate column names: {names}")
        if window_seconds is not None and (not _finite(window_seconds) or window_seconds < 0):
            raise ValueError(f"window_seconds must be a finite number of at least 0, got {window_seconds!r}")

        rows = len(current)
        by_name = dict(zip(names, current.columns))
        windows = {
            name: split_column(current[by_name[name]] if name in by_name else None, rows, column.dtype)
            for name, column in self.profile.columns.items()
        }
        findings = [self._schema(self.profile.columns[name], w, rows) for name, w in windows.items()]
        findings.append(self._new_features(current, by_name))
        if rows >= self.min_rows:
            columns = [(self.profile.columns[name], w) for name, w in windows.items()]
            findings += [self._missing(c, w, rows) for c, w in columns]
            findings += [self._out_of_range(c, w) for c, w in columns if c.kind == "numerical"]
            findings += [self._unseen(c, w) for c, w in columns if c.kind == "categorical"]
            findings += [self._constant(c, w) for c, w in columns]
        reference_rate = self.profile.events_per_second
        if reference_rate is not None:
            if event_times is not None:
                rate = robust_rate(event_times)
                if rate is not None:
                    findings.append(self._volume(rate, reference_rate, rate))
            elif window_seconds is not None and window_seconds > 0:
                # No events: half an event, so that silence has a finite value.
                counted = rows if rows > 0 else 0.5
                findings.append(self._volume(counted / window_seconds, reference_rate, rows / window_seconds))
        return findings

    # --- one check each ---------------------------------------------------------------------

    def _schema(self, column: ColumnProfile, window: WindowColumn, rows: int) -> QualityFinding:
        name = column.name
        present = rows - window.nulls
        if window.foreign:
            kinds = ", ".join(sorted(window.foreign))
            count = sum(window.foreign.values())
            summary = f"{name}: {count} of {present} values are {kinds} (reference: {column.dtype})"
        elif present == 0 and column.null_share**rows < self.alpha:
            where = f"null in all {rows} rows" if window.present else f"absent from the window of {rows} rows"
            summary = f"{name}: {where} (reference {pct(column.null_share)} missing)"
        else:
            return QualityFinding("schema", name, 0.0, 1.0, 1.0, f"{name}: as in the reference ({column.dtype})")
        return QualityFinding("schema", name, 1.0, 1.0, 1.0, summary)

    def _new_features(self, current: pd.DataFrame, by_name: Mapping[str, Any]) -> QualityFinding:
        known = self.profile.columns.keys() | self.profile.ignored
        new = sorted(n for n, c in by_name.items() if n not in known and bool(current[c].notna().any()))
        if not new:
            return QualityFinding("schema", None, 0.0, 1.0, 1.0, "no feature outside the reference")
        shown = ", ".join(clip(name, MAX_QUOTED_CHARS) for name in new[:_EXAMPLES]) + (", ..." if len(new) > _EXAMPLES else "")
        return QualityFinding("schema", None, 1.0, 1.0, 1.0, f"{len(new)} features not in the reference: {shown}")

    def _missing(self, column: ColumnProfile, window: WindowColumn, rows: int) -> QualityFinding:
        share = share_of(window.nulls, rows)
        floor = noise_floor(rows, column.null_share, self.alpha) - column.null_share
        warning_at = max(float(self.missing_increase), floor)
        return QualityFinding(
            "missing_values",
            column.name,
            share - column.null_share,
            warning_at,
            self.critical_factor * warning_at,
            f"{column.name}: {pct(share)} missing (reference {pct(column.null_share)})",
        )

    def _share_finding(
        self, check: QualityCheck, column: ColumnProfile, count: int, n: int, configured: float, what: str
    ) -> QualityFinding:
        warning_at = max(configured, noise_floor(n, column.expected_share, self.alpha))
        share = share_of(count, n)
        return QualityFinding(
            check, column.name, share, warning_at, self.critical_factor * warning_at, f"{column.name}: {pct(share)} {what}"
        )

    def _out_of_range(self, column: ColumnProfile, window: WindowColumn) -> QualityFinding:
        assert column.low is not None and column.high is not None
        margin = self.range_margin * (column.high - column.low)
        low, high = column.low - margin, column.high + margin
        numbers = window.own.astype(float).to_numpy()
        outside = int(np.count_nonzero((numbers < low) | (numbers > high)))
        what = f"of values outside [{low:.4g}, {high:.4g}] (reference {pct(column.expected_share)})"
        return self._share_finding("out_of_range", column, outside, len(numbers), float(self.out_of_range_share), what)

    def _unseen(self, column: ColumnProfile, window: WindowColumn) -> QualityFinding:
        assert column.categories is not None
        categories = _categories(column, window.own)
        unseen = categories[~categories.isin(column.categories)]
        what = "of values in unseen categories"
        if len(unseen):
            # Quoted bounded: a category may be as long as a message (a report must fit its topic).
            examples = ", ".join(quote(c) for c in unseen.value_counts().index[:_EXAMPLES])
            what += f" ({examples}{', ...' if unseen.nunique() > _EXAMPLES else ''})"
        return self._share_finding("unseen_categories", column, len(unseen), len(categories), float(self.unseen_share), what)

    def _constant(self, column: ColumnProfile, window: WindowColumn) -> QualityFinding:
        n = len(window.own)
        if column.mode_share < 1 and n > 0 and column.mode_share ** (n - 1) < self.alpha:
            values = _categories(column, window.own) if column.kind == "categorical" else window.own.astype(float)
            if single_value(values):
                first = window.own.iloc[0]
                shown = quote(str(first)) if column.dtype == "string" else clip(as_category(first), MAX_QUOTED_CHARS)
                summary = f"{column.name}: constant at {shown} over {n} values (varies in the reference)"
                return QualityFinding("constant", column.name, 1.0, 1.0, None, summary)
        if column.mode_share >= 1:
            return QualityFinding("constant", column.name, 0.0, 1.0, None, f"{column.name}: constant in the reference too")
        return QualityFinding("constant", column.name, 0.0, 1.0, None, f"{column.name}: varies or too few values to tell")

    def _volume(self, rate: float, reference_rate: float, observed: float) -> QualityFinding:
        """The volume finding of a window at ``rate`` (``observed``: the rate as people read it)."""
        ratio = rate / reference_rate
        return QualityFinding(
            "volume",
            None,
            max(ratio, 1 / ratio),
            float(self.volume_ratio),
            self.critical_factor * self.volume_ratio,
            f"{observed:.3g} events/s, {ratio:.3g}x the reference rate of {reference_rate:.3g}/s",
        )
