"""``streammon calibrate``: measure the false alarms of the configured checks on data without drift.

A no-drift table (CSV or Parquet of feature columns and ``prediction``) is
replayed through the worker's own analysis: its first ``reference.size`` rows
are the reference, the rest is cut into windows of ``window.size`` rows. Every
condition that reaches warning is a false alarm, since nothing changed. For the
drift tests the report also gives each window's *alarm level* (the smallest
``alpha`` that would have raised a drift alarm), whose quantiles give the
false-alarm rate of every ``alpha`` at once, and proposes the ``alpha`` that
meets a target rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.progress import Progress

from monitors.drift.multiple_testing import alarm_level
from monitors.evidently.methods import P_VALUE_DISPLAY_NAMES
from monitors.windows.watch import DriftWatch
from streams.errors import ConfigError
from streams.settings import Settings
from streams.worker.analysis import EVENT_TIME_COLUMN, analyse, analysis_spec
from streams.worker.runner import table_rows

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Calibration:
    """What a no-drift replay showed."""

    windows: int
    window_size: int
    alarms: dict[str, int]
    alarm_levels: tuple[float, ...]
    alpha: float | None
    correction: str
    target_rate: float

    @property
    def windows_between_alarms(self) -> float | None:
        """Mean windows between false alarms of any kind (None: there was none)."""
        total = self.alarms.get("any", 0)
        return self.windows / total if total else None

    def drift_rate(self, alpha: float) -> float:
        """Share of windows that would raise a drift alarm at ``alpha``."""
        return float(np.mean([level <= alpha for level in self.alarm_levels])) if self.alarm_levels else 0.0

    @property
    def proposed_alpha(self) -> float:
        """The largest ``alpha`` at most the target rate that these windows would alarm no more often than it.

        The target itself when the data agrees with the tests' bound; lower when
        these windows alarm more often (e.g. data that is not really stationary).
        """
        levels = sorted(self.alarm_levels)
        allowed = int(self.target_rate * len(levels))
        if allowed >= len(levels):
            return self.target_rate
        # A window alarms when its level is at or below alpha: stay just under the first one too many.
        return min(self.target_rate, float(np.nextafter(levels[allowed], 0.0)))


def calibrate(settings: Settings, path: Path, target_rate: float, progress: Progress | None = None) -> Calibration:
    """Replay the no-drift table at ``path`` through the configured analysis."""
    rows = table_rows(path)
    size, reference = settings.window.size, settings.reference.size
    windows = (len(rows) - reference) // size
    if windows < 1:
        raise ConfigError(
            f"{path} holds {len(rows)} rows: calibration needs reference.size ({reference}) "
            f"plus at least one window.size ({size}) of rows"
        )
    spec = replace(analysis_spec(settings), workspace=None)
    # Rows get one second each, so windows close by count, never by time.
    watch = DriftWatch(size, float(len(rows) + 1), reference)
    alarms: Counter[str] = Counter()
    levels = []
    task = progress.add_task("calibrating", total=windows) if progress is not None else None
    for i, row in enumerate(rows[: reference + windows * size]):
        event_time = _EPOCH + timedelta(seconds=i)
        for job in watch.add("calibration", event_time, {**row, EVENT_TIME_COLUMN: event_time.timestamp()}):
            outcome = analyse(job, spec)
            kinds = {o.labels["kind"] for o in outcome.observations if o.level(None, 0.0) is not None}
            alarms.update(kinds)
            alarms["any"] += bool(kinds)
            report = outcome.report
            drifts = report.features + ([report.prediction] if report.prediction is not None else [])
            p_values = [d.score if d.method in P_VALUE_DISPLAY_NAMES else 1.0 for d in drifts]
            levels.append(alarm_level(p_values, spec.drift.correction))
            if progress is not None and task is not None:
                progress.advance(task)
    return Calibration(windows, size, dict(alarms), tuple(levels), spec.drift.alpha, spec.drift.correction, target_rate)
