"""False alarms and detection delay of the error-stream change detectors, measured offline.

Feeds synthetic 0/1 error streams (Bernoulli, numpy-seeded) through
``monitors.online.detectors.ErrorMonitor`` (warm-up 100 pairs, a fresh detector after each
detection), for every detector with streammon's calibrated defaults
(``DEFAULT_PARAMS``) and with River's own defaults, plus a sweep of ADWIN's ``delta``:

* false alarms: detections on stationary streams at error rates 0.1 and 0.3, per 100k
  labelled pairs;
* detection delay: pairs from an abrupt error-rate increase (0.1 -> 0.2 and 0.1 -> 0.3,
  after ``--before`` stationary pairs) to the first detection, median and 90th
  percentile over seeds, and the seeds with no detection within ``--after`` pairs
  (missed). Alarms before the change are counted too.

KSWIN runs a Kolmogorov-Smirnov test on every pair (~0.3 ms a pair), so its streams are
shorter (``--slow-pairs``, ``--slow-seeds``). The table is printed as Markdown and written
to ``bench/results/detectors.md`` (``--quick`` writes nothing unless given ``--output``).

    .venv/bin/python bench/detectors.py            # under 2 minutes on 2 cores
    .venv/bin/python bench/detectors.py --quick    # a smoke run, seconds
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from monitors.online.detectors import DEFAULT_PARAMS, DETECTORS, ErrorMonitor, build_detector

RESULTS = Path(__file__).parent / "results" / "detectors.md"
STATIONARY_RATES = (0.1, 0.3)
CHANGES = ((0.1, 0.2), (0.1, 0.3))
SLOW = {"kswin"}
ADWIN_SWEEP = (0.01, 1e-4)  # beside River's 0.002 and streammon's 0.001, which are rows anyway


@dataclass(frozen=True)
class Config:
    """One row of the table: a detector with its parameters."""

    detector: str
    label: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Task:
    """One stream: stationary (``p1 is None``) or with a change after ``before`` pairs."""

    row: int
    config: Config
    seed: int
    p0: float
    p1: float | None
    pairs: int  # stationary length, or the pairs after the change


@dataclass(frozen=True)
class Outcome:
    task: Task
    alarms: int  # stationary: all detections; change: detections before the change
    delay: int | None  # change: pairs after the change to the first detection
    pairs_run: int
    seconds: float


def river_defaults(name: str) -> dict[str, Any]:
    """River's own constructor defaults for a detector, spelled out (they override streammon's)."""
    cls = type(build_detector(name))
    params = {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.default is not inspect.Parameter.empty and p.name != "window"
    }
    if name == "kswin":
        params["seed"] = 1  # River's None draws from the OS; fixed so the table reproduces
    return params


def configs() -> list[Config]:
    rows = []
    for name in DETECTORS:
        rows.append(Config(name, "streammon", DEFAULT_PARAMS[name]))
        rows.append(Config(name, "River", river_defaults(name)))
    rows += [Config("adwin", "sweep", {"delta": delta}) for delta in ADWIN_SWEEP]
    return rows


def run(task: Task, before: int) -> Outcome:
    """Feed one synthetic error stream through an ErrorMonitor."""
    rng = np.random.default_rng([task.seed, int(task.p0 * 1000), int((task.p1 or 0) * 1000)])
    errors = ErrorMonitor(task.config.detector, task.config.params)
    if task.p1 is None:
        stream = (rng.random(task.pairs) < task.p0).tolist()
    else:
        stream = np.concatenate([rng.random(before) < task.p0, rng.random(task.pairs) < task.p1]).tolist()
    alarms, delay, n = 0, None, 0
    started = time.perf_counter()
    for n, error in enumerate(stream, start=1):
        # prediction = error, label = False: a 0/1 misclassification equal to the error drawn
        detection = errors.update("bench", error, False)
        if detection is None:
            continue
        if task.p1 is None or n <= before:
            alarms += 1
        else:
            delay = n - before
            break
    return Outcome(task, alarms, delay, n, time.perf_counter() - started)


def tasks(rows: list[Config], args: argparse.Namespace) -> Iterator[Task]:
    for i, config in enumerate(rows):
        slow = config.detector in SLOW
        seeds, pairs = (args.slow_seeds, args.slow_pairs) if slow else (args.seeds, args.pairs)
        change_seeds = args.slow_seeds if slow else args.change_seeds
        for seed in range(seeds):
            for rate in STATIONARY_RATES:
                yield Task(i, config, seed, rate, None, pairs)
        for seed in range(change_seeds):
            for p0, p1 in CHANGES:
                yield Task(i, config, 1000 + seed, p0, p1, args.after)


def fmt_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()) or "-"


def delays_cell(delays: list[int | None]) -> str:
    found = sorted(d for d in delays if d is not None)
    missed = len(delays) - len(found)
    if not found:
        return f"- | {missed}/{len(delays)}"
    p90 = found[min(len(found) - 1, int(0.9 * len(found)))]
    return f"{statistics.median(found):.0f} / {p90} | {missed}/{len(delays)}"


def table(rows: list[Config], outcomes: list[Outcome]) -> list[str]:
    by_row: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_row[outcome.task.row].append(outcome)
    lines = [
        "| detector | params | µs/pair | stationary pairs | false alarms /100k at 0.1 | at 0.3 "
        "| 0.1→0.2 delay median / p90 | missed | 0.1→0.3 delay median / p90 | missed | alarms before the change |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, config in enumerate(rows):
        done = by_row[i]
        stationary = [o for o in done if o.task.p1 is None]
        cells = []
        for rate in STATIONARY_RATES:
            at_rate = [o for o in stationary if o.task.p0 == rate]
            pairs = sum(o.pairs_run for o in at_rate)
            cells.append(f"{100_000 * sum(o.alarms for o in at_rate) / max(pairs, 1):.2f}")
        delays = [delays_cell([o.delay for o in done if o.task.p1 == p1]) for _, p1 in CHANGES]
        early = sum(o.alarms for o in done if o.task.p1 is not None)
        us = 1e6 * sum(o.seconds for o in stationary) / max(sum(o.pairs_run for o in stationary), 1)
        name = f"**{config.detector}**" if config.label == "streammon" else config.detector
        lines.append(
            f"| {name} ({config.label}) | {fmt_params(config.params)} | {us:.1f} | {sum(o.pairs_run for o in stationary):,} "
            f"| {cells[0]} | {cells[1]} | {delays[0]} | {delays[1]} | {early} |"
        )
    return lines


def choice(rows: list[Config], outcomes: list[Outcome]) -> str:
    """One sentence on ErrorMonitor's default (streammon's ADWIN row), from this run's figures."""
    row = next(i for i, c in enumerate(rows) if c.detector == "adwin" and c.label == "streammon")
    done = [o for o in outcomes if o.task.row == row]
    stationary = [o for o in done if o.task.p1 is None]
    parts = []
    for _, p1 in CHANGES:
        found = sorted(o.delay for o in done if o.task.p1 == p1 and o.delay is not None)
        runs = sum(o.task.p1 == p1 for o in done)
        median = f"median {statistics.median(found):.0f} pairs" if found else "never"
        parts.append(f"0.1→{p1} detected in {median}, {runs - len(found)} of {runs} missed")
    return (
        f"ErrorMonitor's default, ADWIN with {fmt_params(rows[row].params)}: "
        f"{sum(o.alarms for o in stationary)} false alarms in {sum(o.pairs_run for o in stationary):,} stationary pairs "
        f"and {sum(o.alarms for o in done if o.task.p1 is not None)} before a change; " + "; ".join(parts) + "."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="stationary streams per error rate (default 10)")
    parser.add_argument("--pairs", type=int, default=100_000, help="pairs per stationary stream (default 100,000)")
    parser.add_argument("--change-seeds", type=int, default=20, help="streams per change (default 20)")
    parser.add_argument("--before", type=int, default=3_000, help="stationary pairs before a change (default 3,000)")
    parser.add_argument(
        "--after", type=int, default=5_000, help="pairs after a change before it counts as missed (default 5,000)"
    )
    parser.add_argument("--slow-seeds", type=int, default=4, help="KSWIN: streams per rate and per change (default 4)")
    parser.add_argument("--slow-pairs", type=int, default=20_000, help="KSWIN: pairs per stationary stream (default 20,000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    parser.add_argument("--output", type=Path, help="Markdown file to write (default bench/results/detectors.md)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 short stream of each kind")
    args = parser.parse_args()
    if args.output is None and not args.quick:
        args.output = RESULTS
    if args.quick:
        args.seeds, args.pairs, args.change_seeds, args.slow_seeds, args.slow_pairs = 1, 10_000, 2, 1, 2_000
    rows = configs()
    # Slow streams first, so the pool does not finish on one long KSWIN stream.
    todo = sorted(tasks(rows, args), key=lambda t: t.config.detector not in SLOW)
    started = time.monotonic()
    outcomes = []
    with Progress(console=Console(stderr=True)) as progress, ProcessPoolExecutor(max_workers=args.jobs) as pool:
        bar = progress.add_task("error streams", total=len(todo))
        futures = [pool.submit(run, task, args.before) for task in todo]
        for future in as_completed(futures):
            outcomes.append(future.result())
            progress.advance(bar)
    elapsed = time.monotonic() - started
    command = ".venv/bin/python bench/detectors.py" + (" --quick" if args.quick else "")
    lines = [
        "## Error-stream change detectors: false alarms and detection delay (offline)",
        "",
        f"Command: `{command}`; {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.jobs} worker processes; {elapsed:.0f} s.",
        "",
        f"Synthetic 0/1 errors through `ErrorMonitor` (warm-up 100 pairs, a fresh detector after each detection). "
        f"Stationary: {args.seeds} streams of {args.pairs:,} pairs per error rate "
        f"(KSWIN: {args.slow_seeds} of {args.slow_pairs:,}). Changes: {args.before:,} pairs at 0.1, then up to "
        f"{args.after:,} pairs at the new rate, {args.change_seeds} seeds per change (KSWIN: {args.slow_seeds}); "
        f"a change not detected within {args.after:,} pairs is missed. Delays in labelled pairs after the change. "
        "**Bold**: streammon's default parameters for that detector (`DEFAULT_PARAMS`); River: the library's "
        "defaults (KSWIN with seed=1). ErrorMonitor's default detector is ADWIN.",
        "",
        *table(rows, outcomes),
        "",
        choice(rows, outcomes),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
