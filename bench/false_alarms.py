"""False alarms and detection delay of the default window analysis, measured offline.

Runs streams from the demo's synthetic model (River's Agrawal generator, 6 numerical and
3 categorical features plus the prediction) through the worker's own path (per-model
reference, count windows, drift with Evidently, data quality, the alert conditions) with
the default settings, without Kafka. For each stationary stream it counts the windows in
which any condition reached warning, by kind; for each drifted stream it counts the
windows from the drift to the first ``data_drift`` condition.

    .venv/bin/python bench/false_alarms.py --seeds 3 --windows 60 --write BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress

from monitors.windows.watch import DriftWatch
from streams.events import PREDICTION_COLUMN
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from streams.worker.analysis import EVENT_TIME_COLUMN, VERSION_COLUMN, analyse, analysis_spec

START = datetime(2026, 1, 1, tzinfo=UTC)


def run_stream(settings: Settings, windows: int, seed: int, drift_window: int | None) -> tuple[Counter[str], int | None, int]:
    """Windows at warning per kind, the delay (in windows) to the first data_drift alarm after the drift, and windows run."""
    spec = replace(analysis_spec(settings), workspace=None)
    size, reference = settings.window.size, settings.reference.size
    n = reference + windows * size
    drift_at = reference + drift_window * size if drift_window is not None else n + 1
    watch = DriftWatch(size, settings.window.duration_s, reference)
    alarms: Counter[str] = Counter()
    delay = None
    ran = 0
    for event in synthetic_stream(n, drift_at, START, seed=seed, id_prefix=f"s{seed}"):
        p = event.prediction
        row = {**p["features"], PREDICTION_COLUMN: p["prediction"], VERSION_COLUMN: "1"}
        event_time = datetime.fromisoformat(p["event_time"])
        row[EVENT_TIME_COLUMN] = event_time.timestamp()
        for job in watch.add("bench", event_time, row):
            outcome = analyse(job, spec)
            ran += 1
            kinds = {o.labels["kind"] for o in outcome.observations if o.level(None, 0.0) is not None}
            alarms.update(kinds)
            alarms["any"] += bool(kinds)
            if drift_window is not None and delay is None and job.window.index >= drift_window and "data_drift" in kinds:
                delay = job.window.index - drift_window
    return alarms, delay, ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--windows", type=int, default=60, help="windows per stationary stream")
    parser.add_argument("--write", type=Path, help="append the results to this Markdown file")
    args = parser.parse_args()
    settings = Settings()
    started = time.monotonic()
    stationary: Counter[str] = Counter()
    windows_run = 0
    delays = []
    with Progress() as progress:
        task = progress.add_task("streams", total=2 * args.seeds)
        for seed in range(args.seeds):
            alarms, _, ran = run_stream(settings, args.windows, seed, None)
            stationary.update(alarms)
            windows_run += ran
            progress.advance(task)
            _, delay, _ = run_stream(settings, 8, seed + 100, drift_window=4)
            delays.append(delay)
            progress.advance(task)
    elapsed = time.monotonic() - started
    lines = [
        "## False alarms and detection delay (default settings, offline)",
        "",
        f"Command: `.venv/bin/python bench/false_alarms.py --seeds {args.seeds} --windows {args.windows}`; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {elapsed:.0f} s.",
        "",
        f"Stationary streams: {args.seeds} × {args.windows} windows of {settings.window.size} events "
        f"(reference {settings.reference.size}), {windows_run} windows in all.",
        "",
        "| condition kind | windows at warning or above | per 100 windows |",
        "|---|---|---|",
    ]
    for kind in sorted(stationary):
        lines.append(f"| {kind} | {stationary[kind]} | {100 * stationary[kind] / max(windows_run, 1):.2f} |")
    if not stationary:
        lines.append("| any | 0 | 0.00 |")
    lines += [
        "",
        f"Drifted streams (salary +40k, age +15 from window 4 of 8; {args.seeds} seeds): windows from the drift "
        f"to the first data_drift condition: {delays} (0 = the first drifted window).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
