"""Cost of one window analysis at the default settings, split into its parts (in process, no broker).

A window of 1,000 events against a reference of 2,000 (the defaults), 20 features (16
numeric, 4 categorical) and the prediction, as the worker hands it to an analysis
process: each part is timed over ``--repeats`` windows after a warm-up, and the
median is reported. Also timed: Evidently's full report of the same window (built
only for the windows people open) and the bytes on disk of both kinds of snapshot.

    .venv/bin/python bench/analysis.py                 # prints a Markdown table
    .venv/bin/python bench/analysis.py --output bench/results/analysis.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitors.drift.multivariate import MultivariateDriftMonitor  # noqa: E402
from monitors.labels.performance import PerformanceJob, evaluate  # noqa: E402
from monitors.windows.watch import DriftWatch, WindowJob  # noqa: E402
from streams.assembly import multivariate_monitor  # noqa: E402
from streams.events import PREDICTION_COLUMN  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker import analysis  # noqa: E402
from streams.worker.analysis import (  # noqa: E402
    EVENT_TIME_COLUMN,
    SCORE_COLUMN,
    VERSION_COLUMN,
    AnalysisSpec,
    analysis_spec,  # noqa: E402
)
from streams.workspace.runs import RunNotes  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NUMERIC = [f"x{i}" for i in range(16)]
CATEGORICAL = {f"c{i}": [f"v{j}" for j in range(5 + i)] for i in range(4)}


def rows(rng: np.random.Generator, n: int, start: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        row: dict[str, Any] = {c: float(v) for c, v in zip(NUMERIC, rng.normal(size=len(NUMERIC)))}
        row.update({c: str(rng.choice(levels)) for c, levels in CATEGORICAL.items()})
        score = float(rng.random())
        row.update(
            {
                PREDICTION_COLUMN: int(score > 0.5),
                VERSION_COLUMN: "v1",
                EVENT_TIME_COLUMN: (T0 + timedelta(milliseconds=start + i)).timestamp(),
                SCORE_COLUMN: score,
            }
        )
        out.append(row)
    return out


def jobs(window: int, reference: int, count: int) -> list[WindowJob]:
    rng = np.random.default_rng(0)
    watch = DriftWatch(window_size=window, window_duration_s=3600, reference_size=reference)
    found: list[WindowJob] = []
    for i, row in enumerate(rows(rng, reference + window * count, 0)):
        found += watch.add("model", T0 + timedelta(milliseconds=i), row)
    return found


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(spec: AnalysisSpec, windows: list[WindowJob]) -> dict[str, Any]:
    # As the worker sends them: the reference packed once (all these windows share it).
    reference = analysis.ReferenceRows.of(windows[0])
    analysis.analyse(windows[0], spec, reference)  # warm-up: the reference's profile and drift set-up, once per reference
    parts: dict[str, list[float]] = {k: [] for k in ("prepare", "drift", "multivariate", "quality", "store", "whole")}
    # The parts and the whole on different windows, one after the other: the analysis process
    # remembers K-S p-values by their statistic, and a window analysed twice would find all of
    # its own (as the process does only with statistics of windows before it).
    for job, next_job in zip(windows[1::2], windows[2::2]):
        prepared = analysis._prepare(job, spec, reference)
        parts["prepare"].append(timed(lambda: analysis._prepare(job, spec, reference)))
        drift = prepared.drift
        assert drift is not None
        result: list[Any] = []
        parts["drift"].append(timed(lambda: result.append(drift.run(prepared.tested, timestamp=job.window.end))))
        monitor = prepared.monitors.multivariate()
        assert monitor is not None
        parts["multivariate"].append(timed(lambda: monitor.run(prepared.conformed)))
        parts["quality"].append(timed(lambda: prepared.monitors.quality.run(prepared.current, window_seconds=1.0)))
        snapshot = result[0][1]
        notes = RunNotes("model")
        parts["store"].append(timed(lambda: analysis._store(snapshot, prepared.name, spec, notes, f"bench/{job.window.index}")))
        parts["whole"].append(timed(lambda: analysis.analyse(next_job, spec, reference)))
    return {k: median_ms(v) for k, v in parts.items()}


def measure_multivariate_fit(spec: AnalysisSpec, windows: list[WindowJob], repeats: int) -> tuple[float, float]:
    """Median ms of the multivariate monitor's fit (once per reference version) and of its first window's calibration."""
    reference = analysis.ReferenceRows.of(windows[0])
    prepared = analysis._prepare(windows[1], spec, reference)
    features = prepared.monitors.reference.drop(columns=[PREDICTION_COLUMN])
    fits, calibrations = [], []
    for _ in range(repeats):
        monitors: list[MultivariateDriftMonitor] = []
        fits.append(timed(lambda: monitors.append(multivariate_monitor(spec.drift, features))))
        calibrations.append(timed(lambda: monitors[0].run(prepared.conformed)))
    return median_ms(fits), median_ms(calibrations)


def measure_full(spec: AnalysisSpec, windows: list[WindowJob], repeats: int) -> float:
    samples = []
    reference = analysis.ReferenceRows.of(windows[0])
    for job in windows[1 : repeats + 1]:
        outcome = analysis.analyse(job, spec, reference)
        assert outcome.report.snapshot is not None
        samples.append(timed(lambda: analysis.full_report(job, spec, outcome.report.snapshot, reference)))
    return median_ms(samples)


def performance_jobs(count: int, pairs: int) -> list[PerformanceJob]:
    rng = np.random.default_rng(1)
    jobs = []
    for i in range(count):
        truth = rng.integers(0, 2, pairs)
        scores = np.clip(truth * 0.3 + rng.random(pairs) * 0.7, 0, 1)
        labelled = tuple((int(s > 0.5), int(t), float(s)) for s, t in zip(scores, truth))
        jobs.append(PerformanceJob("model", i, 1, pairs, labelled, tuple(float(d) for d in rng.random(pairs) * 60), True))
    return jobs


def measure_performance(spec: AnalysisSpec, jobs: list[PerformanceJob]) -> tuple[float, float]:
    """Median ms of a version's model quality, values only and with Evidently's report."""
    fast = [timed(lambda: analysis.evaluate_performance(job, spec)) for job in jobs]
    full = [timed(lambda: evaluate(job, spec.performance.task)) for job in jobs[:5]]
    return median_ms(fast[1:]), median_ms(full[1:])


def snapshot_bytes(workspace: Path) -> list[int]:
    return [f.stat().st_size for f in workspace.rglob("snapshots/*.json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="windows timed (after one warm-up)")
    parser.add_argument("--full-repeats", type=int, default=5, help="full reports timed")
    parser.add_argument("--output", type=Path, default=None, help="write the Markdown table here too")
    args = parser.parse_args()

    settings = Settings()
    window, reference = settings.window.size, settings.reference.size
    windows = jobs(window, reference, 2 * args.repeats + 1)
    with tempfile.TemporaryDirectory() as tmp:
        spec = analysis_spec(settings).stored_in(Path(tmp) / "light")
        parts = measure(spec, windows)
        fit_ms, calibration_ms = measure_multivariate_fit(spec, windows, 10)
        light = snapshot_bytes(Path(tmp) / "light")
        full_spec = spec.stored_in(Path(tmp) / "full")
        full_ms = measure_full(full_spec, windows, args.full_repeats)
        full = snapshot_bytes(Path(tmp) / "full")
        quality_ms, quality_full_ms = measure_performance(
            spec.stored_in(Path(tmp) / "quality"), performance_jobs(args.repeats, window)
        )

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        "## One window analysis, split into its parts",
        "",
        f"Command: `.venv/bin/python bench/analysis.py`; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, commit {commit}; in process, no broker. Settings: the defaults "
        f"(windows of {window:,}, reference of {reference:,}); 20 features (16 numeric, 4 categorical) and the "
        f"prediction; median of {args.repeats} windows after a warm-up (the whole analysis: {args.repeats} other windows).",
        "",
        "| part | ms |",
        "|---|---|",
        f"| prepare (window to a frame, sample, coerce to the reference's types) | {parts['prepare']:.1f} |",
        f"| drift: 21 column tests, BH correction, scores-only snapshot | {parts['drift']:.1f} |",
        f"| multivariate drift: PCA reconstruction error of the window's 20 features | {parts['multivariate']:.1f} |",
        f"| data quality checks | {parts['quality']:.1f} |",
        f"| store the scores-only snapshot in the workspace | {parts['store']:.1f} |",
        f"| **whole analysis** (the above, observations and report event) | **{parts['whole']:.1f}** |",
        f"| multivariate drift, once per reference version: fit (PCA and 10 cross-fitted folds) | {fit_ms:.0f} |",
        f"| multivariate drift, once per window size: the threshold's calibration (first window of the size, scored) | {calibration_ms:.0f} |",
        f"| Evidently's full report of the window, plots included, stored (only where people look) | {full_ms:.0f} |",
        f"| model quality of the window's {window:,} labelled predictions (binary, with scores), values stored | {quality_ms:.1f} |",
        f"| the same with Evidently's classification report (only where people look) | {quality_full_ms:.0f} |",
        "",
        f"Analyses per second on one core: **{1000 / parts['whole']:.0f}**. Snapshot bytes on disk: "
        f"scores only {statistics.median(light):,.0f}, full report {statistics.median(full):,.0f} (medians).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
