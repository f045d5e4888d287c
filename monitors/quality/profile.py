"""The reference's profile: a few numbers per feature, and its event rate, to check windows against.

:meth:`ReferenceProfile.of` profiles a reference once (its JSON type, null
share, range or categories, most common value's share per feature, and its
event rate when event times are given); the profile is JSON-able
(:meth:`ReferenceProfile.to_dict`), to store next to a model. :func:`robust_rate`
is an event rate that stragglers do not stretch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from monitors.quality.values import JSON_TYPES, JsonType, as_category, json_types, share_of

__all__ = ["PROFILE_VERSION", "ColumnProfile", "FeatureKind", "ReferenceProfile", "robust_rate"]

FeatureKind = Literal["numerical", "categorical"]

PROFILE_VERSION = 1
_KINDS: tuple[FeatureKind, ...] = ("numerical", "categorical")


@dataclass(frozen=True)
class ColumnProfile:
    """What the reference says about one feature.

    Attributes
    ----------
    name
        Feature name.
    kind
        ``"numerical"`` (range-checked) or ``"categorical"`` (category-checked).
    dtype
        The JSON type of the reference's values: ``"number"``, ``"string"``
        or ``"bool"``.
    null_share
        Share of the reference's rows where the feature is null.
    low, high
        Numerical features: the reference's ``range_quantiles``; else None.
    categories
        Categorical features: the categories the reference holds, as strings;
        else None.
    mode_share
        Share of the reference's non-null values equal to its most common
        value (1.0: the feature never varies).
    expected_share
        Share of a stationary window's values expected outside ``[low, high]``
        (numerical) or in unseen categories (categorical, Good-Turing); the
        rate behind the noise floor of those checks.

    Examples
    --------
    >>> ColumnProfile("plan", "categorical", "string", 0.0, None, None, frozenset({"a", "b"}), 0.5, 0.0).kind
    'categorical'
    """

    name: str
    kind: FeatureKind
    dtype: JsonType
    null_share: float
    low: float | None
    high: float | None
    categories: frozenset[str] | None
    mode_share: float = 0.0
    expected_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """This profile as JSON-able values (categories sorted).

        Examples
        --------
        >>> ColumnProfile("x", "numerical", "number", 0.0, -1.0, 1.0, None, 0.01, 0.002).to_dict()["low"]
        -1.0
        """
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "null_share": self.null_share,
            "low": self.low,
            "high": self.high,
            "categories": None if self.categories is None else sorted(self.categories),
            "mode_share": self.mode_share,
            "expected_share": self.expected_share,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        """The profile :meth:`to_dict` gave.

        Examples
        --------
        >>> p = ColumnProfile("x", "numerical", "number", 0.0, -1.0, 1.0, None, 0.01, 0.002)
        >>> ColumnProfile.from_dict(p.to_dict()) == p
        True
        """
        kind, dtype = data["kind"], data["dtype"]
        if kind not in _KINDS:
            raise ValueError(f"column {data.get('name')!r}: kind must be one of {_KINDS}, got {kind!r}")
        if dtype not in JSON_TYPES:
            raise ValueError(f"column {data.get('name')!r}: dtype must be one of {JSON_TYPES}, got {dtype!r}")
        categories = data["categories"]
        return cls(
            name=str(data["name"]),
            kind=kind,
            dtype=dtype,
            null_share=float(data["null_share"]),
            low=None if data["low"] is None else float(data["low"]),
            high=None if data["high"] is None else float(data["high"]),
            categories=None if categories is None else frozenset(str(c) for c in categories),
            mode_share=float(data.get("mode_share", 0.0)),
            expected_share=float(data.get("expected_share", 0.0)),
        )


def _column_names(argument: str, names: Iterable[str], reference: pd.DataFrame) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError(f"{argument} must be a sequence of column names, not the string {names!r}")
    chosen = frozenset(names)
    unknown = sorted(chosen - {str(c) for c in reference.columns})
    if unknown:
        raise ValueError(f"{argument} names columns that are not in the reference: {unknown}")
    return chosen


def _profile_column(name: str, values: pd.Series, categorical: bool, quantiles: tuple[float, float]) -> ColumnProfile | None:
    present = values[values.notna()]
    if len(present) == 0:
        return None
    counts = json_types(present).value_counts()
    if len(counts) > 1:
        mix = ", ".join(f"{n} {t}" for t, n in counts.items())
        raise ValueError(f"reference column {name!r} mixes JSON types ({mix}): cast it or name it in ignore")
    dtype = JSON_TYPES[JSON_TYPES.index(str(counts.index[0]))]
    null_share = share_of(len(values) - len(present), len(values))
    if dtype == "number" and not categorical:
        numbers = present.astype(float).to_numpy()
        if not np.isfinite(numbers).all():
            raise ValueError(f"reference column {name!r} holds infinite values")
        low, high = (float(q) for q in np.quantile(numbers, quantiles))
        outside = float(np.mean((numbers < low) | (numbers > high)))
        return ColumnProfile(
            name,
            "numerical",
            dtype,
            null_share,
            low,
            high,
            None,
            mode_share=float(pd.Series(numbers).value_counts(normalize=True).iloc[0]),
            expected_share=max(quantiles[0] + 1 - quantiles[1], outside),
        )
    frequencies = present.map(as_category).value_counts()
    return ColumnProfile(
        name,
        "categorical",
        dtype,
        null_share,
        None,
        None,
        frozenset(str(c) for c in frequencies.index),
        mode_share=float(frequencies.iloc[0]) / len(present),
        expected_share=float((frequencies == 1).sum()) / len(present),
    )


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference, profiled once: per feature, and its event rate.

    Attributes
    ----------
    columns
        Profile of each feature, by name. Columns null throughout the
        reference are not profiled (it says nothing about them): a window with
        values for them reports them as new.
    rows
        Rows in the reference.
    events_per_second
        The reference's event rate, if event times were given.
    ignored
        Columns of the reference that are not checked (identifiers, times...);
        a window may carry them or not.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> reference = pd.DataFrame({"age": rng.normal(40, 10, 1000), "plan": rng.choice(["a", "b"], 1000)})
    >>> profile = ReferenceProfile.of(reference)
    >>> age = profile.columns["age"]
    >>> age.kind, age.dtype, round(age.low, 1), round(age.high, 1)
    ('numerical', 'number', 9.2, 71.0)
    >>> sorted(profile.columns["plan"].categories)
    ['a', 'b']
    """

    columns: dict[str, ColumnProfile]
    rows: int
    events_per_second: float | None = None
    ignored: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        wrong = sorted(name for name, column in self.columns.items() if column.name != name)
        if wrong:
            raise ValueError(f"columns maps names to profiles of other columns: {wrong}")

    @classmethod
    def of(
        cls,
        reference: pd.DataFrame,
        *,
        event_times: Sequence[datetime] | None = None,
        range_quantiles: tuple[float, float] = (0.001, 0.999),
        categorical: Sequence[str] = (),
        ignore: Sequence[str] = (),
    ) -> ReferenceProfile:
        """Profile a reference.

        Parameters
        ----------
        reference
            The reference rows; every column but the ignored ones is a feature.
        event_times
            The event time of each reference row, to learn its event rate
            for the volume check (:func:`robust_rate`: stragglers left out).
        range_quantiles
            The quantiles ``(q_low, q_high)`` that bound a numerical feature's
            range.
        categorical
            Numeric columns to treat as categorical (codes, ids of a few values).
        ignore
            Columns not to check.

        Raises
        ------
        ValueError
            On a reference without rows or with duplicate column names, a
            column that mixes JSON types or holds infinite numbers, bad
            quantiles, unknown names, or event times that do not match the
            rows or span no time.
        TypeError
            When ``categorical`` or ``ignore`` is a string.

        Examples
        --------
        >>> from datetime import datetime, timedelta
        >>> start = datetime(2026, 1, 1)
        >>> reference = pd.DataFrame({"code": [1, 2, 2, 3], "ok": [True, False, True, None]})
        >>> profile = ReferenceProfile.of(reference, categorical=["code"],
        ...     event_times=[start + timedelta(seconds=s) for s in (0, 1, 2, 3)])
        >>> sorted(profile.columns["code"].categories), profile.columns["ok"].null_share
        (['1', '2', '3'], 0.25)
        >>> profile.events_per_second
        1.0
        """
        if not isinstance(reference, pd.DataFrame) or len(reference) == 0:
            raise ValueError("reference must be a DataFrame with at least one row")
        names = [str(c) for c in reference.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"reference has duplicate column names: {names}")
        q_low, q_high = range_quantiles
        if not 0 <= q_low < q_high <= 1:
            raise ValueError(f"range_quantiles must satisfy 0 <= q_low < q_high <= 1, got {range_quantiles}")
        categorical_names = _column_names("categorical", categorical, reference)
        ignored = _column_names("ignore", ignore, reference)
        both = categorical_names & ignored
        if both:
            raise ValueError(f"categorical and ignore both name {sorted(both)}")

        columns: dict[str, ColumnProfile] = {}
        for column, name in zip(reference.columns, names):
            if name in ignored:
                continue
            profile = _profile_column(name, reference[column], name in categorical_names, (q_low, q_high))
            if profile is not None:
                columns[name] = profile
        return cls(
            columns=dict(sorted(columns.items())),
            rows=len(reference),
            events_per_second=None if event_times is None else _rate(event_times, len(reference)),
            ignored=ignored,
        )

    def to_dict(self) -> dict[str, Any]:
        """This profile as JSON-able values, to store next to a model.

        Examples
        --------
        >>> import json
        >>> profile = ReferenceProfile.of(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
        >>> ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile
        True
        """
        return {
            "version": PROFILE_VERSION,
            "rows": self.rows,
            "events_per_second": self.events_per_second,
            "ignored": sorted(self.ignored),
            "columns": [column.to_dict() for column in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """The profile :meth:`to_dict` gave.

        Raises
        ------
        ValueError
            On another version or a malformed profile.

        Examples
        --------
        >>> ReferenceProfile.from_dict({"version": 1, "rows": 3, "events_per_second": None,
        ...                             "ignored": [], "columns": []}).rows
        3
        """
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(f"profile version must be {PROFILE_VERSION}, got {data.get('version')!r}")
        try:
            columns = [ColumnProfile.from_dict(c) for c in data["columns"]]
            rate = data["events_per_second"]
            return cls(
                columns={c.name: c for c in columns},
                rows=int(data["rows"]),
                events_per_second=None if rate is None else float(rate),
                ignored=frozenset(str(c) for c in data.get("ignored", ())),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed profile: {exc!r}") from exc


def _rate(event_times: Sequence[datetime], rows: int) -> float:
    times = list(event_times)
    if len(times) != rows:
        raise ValueError(f"event_times must hold one time per reference row ({rows}), got {len(times)}")
    if rows < 2:
        raise ValueError("event_times needs at least two events to give a rate")
    rate = robust_rate(times)
    if rate is None:
        raise ValueError("event_times span no time: all events are at the same instant")
    return rate


def robust_rate(event_times: Sequence[datetime], trim_share: float = 0.01, min_trimmed: int = 2) -> float | None:
    """Events per second over the span of ``event_times``, without the stragglers at either end.

    The earliest and latest ``max(min_trimmed, trim_share * n)`` events are left
    out (fewer when that would leave fewer than two), and the rate is the
    number of intervals between the events left over their span: one event
    dated 1970, or a couple of events resent minutes late, do not stretch it.
    None when fewer than two events are given or those left span no time.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> times = [t0 + timedelta(seconds=s) for s in range(100)]
    >>> robust_rate(times)
    1.0
    >>> robust_rate(times + [datetime(1970, 1, 1), t0 - timedelta(minutes=3)])
    1.0
    >>> robust_rate([t0, t0]) is None
    True
    """
    if not 0 <= trim_share < 0.5:
        raise ValueError(f"trim_share must be in [0, 0.5), got {trim_share!r}")
    times = sorted(event_times)
    n = len(times)
    if n < 2:
        return None
    trimmed = min(max(min_trimmed, math.floor(trim_share * n)), (n - 2) // 2)
    span = (times[n - 1 - trimmed] - times[trimmed]).total_seconds()
    return (n - 1 - 2 * trimmed) / span if span > 0 else None
