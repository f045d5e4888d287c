"""Which windows get Evidently's full report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.workspace.full_reports import FullReportPolicy

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_window_that_changes_an_alert_gets_one_whatever_the_interval() -> None:
    start, end = T0 + timedelta(seconds=5), T0 + timedelta(seconds=9)
    assert FullReportPolicy(interval_s=None).wants(start, end, alert_changes=2)
    assert not FullReportPolicy(interval_s=None).wants(start, end, alert_changes=0)
    assert not FullReportPolicy(interval_s=3600).wants(start, end, alert_changes=0)


@given(
    durations=st.lists(st.integers(min_value=0, max_value=900_000), min_size=1, max_size=100),
    gap=st.integers(min_value=1, max_value=5_000),
    interval=st.sampled_from([60, 600, 3600]),
)
def test_back_to_back_windows_get_one_routine_report_per_interval(durations: list[int], gap: int, interval: int) -> None:
    """Milliseconds, as integers, so the boundaries counted here are exact."""
    policy = FullReportPolicy(interval_s=interval)
    windows, start = [], 500
    for duration in durations:
        windows.append((start, start + duration))
        start += duration + gap
    chosen = [policy.wants(T0 + timedelta(milliseconds=a), T0 + timedelta(milliseconds=b), alert_changes=0) for a, b in windows]
    step = interval * 1000
    epoch_ms = int(T0.timestamp() * 1000)
    for (a, b), wanted in zip(windows, chosen):
        boundaries = [
            k for k in range((epoch_ms + a) // step, (epoch_ms + b) // step + 1) if epoch_ms + a < k * step <= epoch_ms + b
        ]
        assert wanted == bool(boundaries)
    # Never more than one a boundary.
    assert sum(chosen) <= (epoch_ms + windows[-1][1]) // step - (epoch_ms + windows[0][0]) // step


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan"), float("inf")])
def test_an_interval_that_is_not_a_positive_number_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        FullReportPolicy(interval_s=interval)
