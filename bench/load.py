"""Load benchmark: the worker against a raw aiokafka loop on the same broker, in one run.

Two scenarios, each on the local broker (``streammon broker start``), each producing its
backlog once and reading it first with a raw ``aiokafka`` loop (``getmany`` +
``orjson.loads``: the floor any worker on this broker pays), then with the worker
(``streammon worker`` in a child process), whose figures are read off its own ``/metrics``.

``--scenario defaults`` (the default; the section the results lead with). Worker settings:
every default (windows of 1,000 events or 300 s, references of the first 2,000 events,
drift, data quality, performance with ADWIN, the online challenger, checkpoints every 5 s,
the Evidently workspace on) except what a benchmark must set: the bootstrap servers,
topics under a prefix of the run's own (the default Kafka receiver's topic too), the
consumer group, the metrics port, the state folder, the workspace path (a temporary
folder) and ``segments.keys: [region]``.

1. produce ``--events`` prediction events, stationary (no drift): 20 features (16 numeric,
   4 categorical) and a ``region`` (eu, us or apac, drawn uniformly) in the event's
   ``segment`` field, not a feature; 10 models, round-robin, keyed to the input partitions
   by name; and their labels (100 %), each ``LABELS_BEHIND`` predictions after its own;
2. raw: the loop above reads the predictions (best of two reads);
3. the worker reads the backlog until it has accepted every prediction and label and
   published a report for every window it closed, or ``--deadline`` passes. Measured: its
   rate (accepted predictions over time, from the first to the last, as its ``/metrics``
   count them), analyses per second (``streammon_window_analysis_seconds`` count over the
   time from its first prediction to its last report), windows closed and reports
   published, the maxima of ``streammon_analyses_queued`` and
   ``streammon_analysis_behind_seconds`` over its polls when it exports them, its RSS and
   event-loop lag at the end, and the workspace's size on disk per window analysed (with the
   number of runs in the workspace's ``snapshots`` folders).

A model's first window closes at its 3,000th event (its reference of 2,000, then 1,000); a
region's later: the model's first 2,000 events teach it the segments' top values, then the
region takes a reference of 2,000 and a window of 1,000 from a third of the events. With 10
models and 3 regions: windows from 30,000 events, segment windows from about 110,000
(``--quick``'s 40,000 close 20 windows, none of a segment; 500,000 close about 880).

``--scenario large-windows`` (the figures before the defaults scenario; its section says
so). Worker settings: the defaults except windows of 20,000 events or 600 s, references of
5,000, no freshness check; no segments.

1. produce ``--events`` prediction events (the same 20 features; 3 models) and their
   labels (100 %, and on a second topic every tenth: 10 %) once;
2. raw, as above; and a tuned Faust agent that only decodes (bench/faust_floor.py);
3. the worker consumes the predictions with the labels at 100 % and then, with a fresh
   consumer group, at 10 %. Its rate is read off its own ``/metrics`` (accepted
   predictions over time, from the first to the last); its RSS is read from ``/proc`` as
   it passes 100k, 250k, 500k and 1M events; its event-loop lag is the worker's own
   ``streammon_event_loop_lag_seconds`` histogram;
4. alert latency: with the worker caught up, drifted windows (1,000 events, reference
   1,000) are produced one at a time and the time from the produce acknowledgement of a
   window's last event to its alert on the alerts topic is measured (p50, p99);
5. Evidently's cost per window against the window's size (in process, no broker).

Results are printed; each scenario replaces its own section of ``bench/results/load.md``
(the defaults' first) and keeps the other's. Copy them into BENCHMARKS.md. ``--quick`` is
a smoke run (defaults: 40,000 events; large-windows: 100,000, 5 alert-latency cycles and
two window sizes for Evidently's cost; ``--events`` still sets the events) that writes
nothing unless given ``--output``.

    .venv/bin/python bench/load.py                           # defaults, 500,000 events
    .venv/bin/python bench/load.py --quick                   # defaults, 40,000 events
    .venv/bin/python bench/load.py --scenario large-windows  # 1M events; about 9 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.admin import delete_topics_under, ensure_topics  # noqa: E402
from streams.settings import KafkaSettings, Settings  # noqa: E402
from streams.worker.learner import PROCESS_NAME as LEARNER  # noqa: E402
from streams.worker.runner import spawn_worker, stop_worker  # noqa: E402

console = Console(stderr=True)

MODELS = ("credit-risk", "fraud", "churn")
# The defaults scenario's 10 models: today's 3 and 7 more, named so that their keys spread 4/3/3 over 3 partitions.
DEFAULT_MODELS = ("credit-risk", "fraud", "churn", "upsell", "pricing", "returns", "spam", "eta", "kyc", "forecast")
REGIONS = ("eu", "us", "apac")
NUMERIC = [f"x{i}" for i in range(16)]
CATEGORICAL = {f"c{i}": [f"v{j}" for j in range(5 + i)] for i in range(4)}
# At 10 % labels the label join fills to its capacity (100,000 per partition) by about 330k events
# (100,000 / 0.9 a partition, 3 partitions): memory should level off after that.
RSS_MARKS = (100_000, 250_000, 500_000, 1_000_000)
# Labels are produced this many predictions after their own, interleaved with the predictions.
LABELS_BEHIND = 2000
SCENARIOS = ("defaults", "large-windows")
EVENTS = {"defaults": 500_000, "large-windows": 1_000_000}
QUICK_EVENTS = {"defaults": 40_000, "large-windows": 100_000}


@dataclass
class LoopLag:
    """A worker's ``streammon_event_loop_lag_seconds`` histogram: ticks at or under each bound (s)."""

    buckets: dict[str, int] = field(default_factory=dict)

    @property
    def ticks(self) -> int:
        return self.buckets.get("+Inf", 0)

    @property
    def late(self) -> int:
        """Ticks more than 100 ms late."""
        return self.ticks - self.buckets.get("0.1", 0)

    def histogram(self) -> str:
        return ", ".join(f"{le}: {count}" for le, count in self.buckets.items())


@dataclass
class WorkerRun:
    """What one worker run measured."""

    name: str
    predictions: int
    labels: int
    seconds: float
    rss_mb: dict[int, float] = field(default_factory=dict)
    child_rss_mb: dict[int, float] = field(default_factory=dict)
    lag: LoopLag = field(default_factory=LoopLag)
    checkpoint_mb: float = 0.0
    joined: int = 0
    windows: int = 0

    @property
    def rate(self) -> float:
        return self.predictions / self.seconds


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of ``pid`` itself, and of its children that have exited (the checkpoints' forked children)."""
    try:
        # Fields after the command's closing parenthesis: utime, stime, cutime, cstime are the 12th to 15th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / _TICKS, (cutime + cstime) / _TICKS


def broker_pid() -> int | None:
    """The local Kafka broker's process (a java process running kafka.Kafka), if one runs."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"java" in command and b"kafka.Kafka" in command:
                return int(entry.name)
    return None


@dataclass
class CpuUse:
    """CPU seconds, by process, between two readings."""

    worker: float = 0.0
    checkpoints: float = 0.0  # the worker's forked checkpoint children
    analysis: float = 0.0
    learner: float = 0.0
    broker: float = 0.0

    @classmethod
    def read(cls, worker: int) -> CpuUse:
        own, waited = cpu_seconds(worker)
        helpers = [(p, Path(f"/proc/{p}/comm").read_text().strip()) for p in children(worker)]
        broker = broker_pid()
        return cls(
            worker=own,
            checkpoints=waited,
            analysis=sum(cpu_seconds(p)[0] for p, name in helpers if name != LEARNER),
            learner=sum(cpu_seconds(p)[0] for p, name in helpers if name == LEARNER),
            broker=cpu_seconds(broker)[0] if broker is not None else 0.0,
        )

    def __sub__(self, other: CpuUse) -> CpuUse:
        return CpuUse(*(getattr(self, f) - getattr(other, f) for f in ("worker", "checkpoints", "analysis", "learner", "broker")))

    @property
    def total(self) -> float:
        return self.worker + self.checkpoints + self.analysis + self.learner + self.broker


@dataclass
class DefaultsRun:
    """What the worker of the defaults scenario measured over its backlog."""

    produced: int
    accepted: int = 0
    labels_in: int = 0
    predictions: int = 0  # accepted between the first poll that saw some and the one that saw the last
    seconds: float = 0.0  # over those predictions
    run_seconds: float = 0.0  # from the first poll that saw predictions to the one that saw every report
    finished: bool = False  # every prediction and label in, every closed window's report out, before the deadline
    windows: int = 0
    analyses: int = 0
    failures: int = 0
    reports: int = 0
    queued_max: float | None = None  # None: the worker does not export streammon_analyses_queued
    behind_max: float | None = None  # None: nor streammon_analysis_behind_seconds
    workspace_bytes: int = 0
    snapshots: int | None = None
    rss_mb: float = 0.0
    child_rss_mb: float = 0.0
    lag: LoopLag = field(default_factory=LoopLag)
    joined: int = 0
    checkpoint_mb: float = 0.0
    cpu: CpuUse = field(default_factory=CpuUse)  # from the first poll that saw predictions to the end

    @property
    def rate(self) -> float:
        return self.predictions / self.seconds if self.seconds else 0.0

    @property
    def analyses_rate(self) -> float:
        return self.analyses / self.run_seconds if self.run_seconds else 0.0

    @property
    def bytes_per_window(self) -> float | None:
        return self.workspace_bytes / self.analyses if self.analyses else None


# -- events ----------------------------------------------------------------


def prediction_values(
    n: int,
    start: datetime,
    spacing_s: float,
    seed: int,
    shift: float = 0.0,
    models: tuple[str, ...] = MODELS,
    regions: tuple[str, ...] = (),
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of ``n`` prediction events, round-robin over ``models``; ``shift`` moves the first four features.

    With ``regions``, each event's ``segment`` holds a ``region`` drawn uniformly from them
    (from a generator of its own: the features are those of the same ``seed`` without regions).
    """
    rng = np.random.default_rng(seed)
    numeric = rng.normal(0.0, 1.0, size=(n, len(NUMERIC)))
    numeric[:, :4] += shift
    numeric = numeric.round(4)
    cats = {c: rng.integers(0, len(v), size=n) for c, v in CATEGORICAL.items()}
    scores = rng.random(n).round(4)
    region = region_draws(n, seed, regions)
    for i in range(n):
        model = models[i % len(models)]
        features: dict[str, Any] = dict(zip(NUMERIC, numeric[i].tolist(), strict=True))
        for c, values in CATEGORICAL.items():
            features[c] = values[cats[c][i]]
        score = float(scores[i])
        event = {
            "model": model,
            "model_version": "1",
            "prediction_id": f"{model}-{seed}-{i}",
            "event_time": (start + timedelta(seconds=i * spacing_s)).isoformat(),
            "features": features,
            "prediction": int(score >= 0.5),
            "score": score,
        }
        if regions:
            event["segment"] = {"region": regions[region[i]]}
        yield model.encode(), orjson.dumps(event)


def region_draws(n: int, seed: int, regions: tuple[str, ...]) -> np.ndarray:
    """Index into ``regions`` of each of ``n`` events (empty without regions)."""
    if not regions:
        return np.zeros(0, dtype=np.int64)
    return np.random.default_rng(seed + 2).integers(0, len(regions), size=n)


def label_values(
    n: int, start: datetime, spacing_s: float, seed: int, every: int, models: tuple[str, ...] = MODELS
) -> Iterator[tuple[bytes, bytes]]:
    """Labels of every ``every``-th of the predictions above, a second after them in event time."""
    rng = np.random.default_rng(seed + 1)
    labels = rng.integers(0, 2, size=n)
    for i in range(0, n, every):
        model = models[i % len(models)]
        event = {
            "model": model,
            "prediction_id": f"{model}-{seed}-{i}",
            "event_time": (start + timedelta(seconds=i * spacing_s + 1)).isoformat(),
            "label": int(labels[i]),
        }
        yield model.encode(), orjson.dumps(event)


def interleaved(
    predictions_topic: str,
    labels: dict[str, int],
    n: int,
    start: datetime,
    spacing_s: float,
    seed: int,
    behind: int,
    models: tuple[str, ...] = MODELS,
    regions: tuple[str, ...] = (),
) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value): the predictions, and on each labels topic (every k-th of them) the labels ``behind`` predictions later, as they arrive in production."""
    streams = {topic: label_values(n, start, spacing_s, seed, every, models) for topic, every in labels.items()}
    pending: dict[str, tuple[bytes, bytes] | None] = {topic: next(stream, None) for topic, stream in streams.items()}
    for i, (key, value) in enumerate(prediction_values(n, start, spacing_s, seed, models=models, regions=regions)):
        yield predictions_topic, key, value
        for topic, every in labels.items():
            label = pending[topic]
            if label is not None and i - behind >= 0 and (i - behind) % every == 0:
                yield topic, *label
                pending[topic] = next(streams[topic], None)
    for topic, stream in streams.items():
        label = pending[topic]
        while label is not None:
            yield topic, *label
            label = next(stream, None)


def expected_windows(
    n: int, seed: int, models: tuple[str, ...], regions: tuple[str, ...], size: int, reference: int
) -> tuple[int, int]:
    """Windows the events of :func:`prediction_values` close by count: (of the models, of their regions).

    A model's first ``reference`` events are its reference, and the segments' top values are
    learned over them; from its next event on each region also takes its own reference of
    ``reference`` events, then windows of ``size``.
    """
    region = region_draws(n, seed, regions)
    whole = parts = 0
    for m in range(len(models)):
        mine = np.arange(m, n, len(models))
        whole += max(0, len(mine) - reference) // size
        if regions:
            counts = np.bincount(region[mine[reference:]], minlength=len(regions))
            parts += sum(max(0, int(c) - reference) // size for c in counts)
    return whole, parts


def partition_spread(models: tuple[str, ...], partitions: int) -> list[int]:
    """Models per input partition, as the producer's default partitioner places their keys."""
    from aiokafka.partitioner import murmur2

    spread = [0] * partitions
    for model in models:
        spread[(murmur2(model.encode()) & 0x7FFFFFFF) % partitions] += 1
    return spread


async def produce(bootstrap: str, records: Iterator[tuple[str, bytes, bytes]], total: int, what: str) -> float:
    """Send every record and wait for the acknowledgements; return the time of the last one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks=1)
    started = time.perf_counter()
    await producer.start()
    try:
        with progress() as bar:
            task = bar.add_task(what, total=total)
            batch = []
            for topic, key, value in records:
                batch.append(await producer.send(topic, value, key=key))
                if len(batch) >= 5000:
                    await asyncio.gather(*batch)
                    bar.advance(task, len(batch))
                    batch = []
            await asyncio.gather(*batch)
            bar.advance(task, len(batch))
    finally:
        await producer.stop()
    console.print(f"{what}: {total:,} messages in {time.perf_counter() - started:.0f} s")
    return time.time()


# -- raw loop --------------------------------------------------------------


async def raw_consume(bootstrap: str, topic: str, total: int) -> float:
    """Seconds for a bare aiokafka consumer to read and JSON-decode ``total`` messages."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen, started = 0, None
    try:
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batches:
                started = time.perf_counter()
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                seen += sum(len(r) for r in batches.values())
    finally:
        await consumer.stop()
    assert started is not None
    return time.perf_counter() - started


# -- the worker ------------------------------------------------------------


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The worker's metrics: family name -> [(labels, value)] of its samples."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            families.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return families


def total(families: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for ls, v in families.get(name, []) if all(ls.get(k) == w for k, w in labels.items()))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loop_lag(families: dict[str, list[tuple[dict[str, str], float]]]) -> LoopLag:
    """A worker's event-loop lag histogram, from its metrics."""
    return LoopLag({ls["le"]: int(v) for ls, v in families.get("streammon_event_loop_lag_seconds_bucket", [])})


def children(pid: int) -> list[int]:
    """The worker's analysis and learner processes: a checkpoint's forked child shares the worker's pages, and is not counted."""
    try:
        pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return [p for p in pids if b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()]
    except OSError:
        return []


def run_worker(
    settings: Settings, name: str, predictions: int, labels: int, workdir: Path, profile: Path | None = None
) -> WorkerRun:
    """Run a worker over the produced events; measure its rate, RSS and loop lag."""
    port = settings.worker.metrics_port
    worker = spawn_worker(settings, workdir / f"{name}.yaml", workdir / f"{name}.log")
    spy = start_py_spy(worker.pid, profile, name)
    run = WorkerRun(name, predictions, labels, 0.0)
    topic = settings.kafka.predictions_topic
    first: tuple[float, float] | None = None
    try:
        with progress() as bar:
            task = bar.add_task(f"worker, {name}", total=predictions)
            accepted = 0.0
            labelled = 0.0
            # Done when every prediction and every label is in: labels are read beside the predictions, not after.
            while accepted < predictions or labelled < labels:
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited: {(workdir / f'{name}.log').read_text()[-3000:]}")
                time.sleep(0.5)
                try:
                    families = scrape(port)
                except OSError:
                    continue
                now = time.perf_counter()
                accepted = total(families, "streammon_events_total", topic=topic)
                labelled = total(families, "streammon_events_total", topic=settings.kafka.labels_topic)
                if first is None and accepted > 0:
                    first = (now, accepted)
                for mark in RSS_MARKS:
                    if accepted >= mark and mark not in run.rss_mb:
                        run.rss_mb[mark] = rss_mb(worker.pid)
                        run.child_rss_mb[mark] = sum(rss_mb(c) for c in children(worker.pid))
                bar.update(task, completed=accepted)
            assert first is not None
            run.seconds = now - first[0]
            run.predictions = int(accepted - first[1])
        run.lag = loop_lag(families)
        run.windows = int(total(families, "streammon_windows_closed_total"))
        run.checkpoint_mb = total(families, "streammon_checkpoint_bytes") / 1e6
        run.joined = int(total(families, "streammon_labelled_total"))
    finally:
        stop_py_spy(spy)
        stop_worker(worker)
    return run


def gauge_max(
    families: dict[str, list[tuple[dict[str, str], float]]], name: str, seen: float | None, combine: Any = sum
) -> float | None:
    """The larger of ``seen`` and the gauge ``name`` now (``combine`` of its labelled values); None while the worker does not export it."""
    if not families.get(name):
        return seen
    value = float(combine(v for _, v in families[name]))
    return value if seen is None else max(seen, value)


def disk_usage(path: Path) -> tuple[int, int | None]:
    """Bytes on disk under ``path`` (allocated blocks, as ``du`` counts them), and the files in its ``snapshots`` folders (None if it has none)."""
    used, snapshots = 0, None
    for item in path.rglob("*"):
        try:
            stat = item.lstat()
        except OSError:
            continue
        used += stat.st_blocks * 512
        if item.parent.name == "snapshots" and item.is_file():
            snapshots = (snapshots or 0) + 1
        elif item.name == "snapshots" and item.is_dir() and snapshots is None:
            snapshots = 0
    return used, snapshots


def run_defaults_worker(settings: Settings, n: int, workdir: Path, deadline_s: float, profile: Path | None = None) -> DefaultsRun:
    """Run the worker over the backlog until every prediction and label is in and every closed window is reported, or ``deadline_s`` passes."""
    port = settings.worker.metrics_port
    kafka = settings.kafka
    worker = spawn_worker(settings, workdir / "defaults.yaml", workdir / "defaults.log")
    spy = start_py_spy(worker.pid, profile, "defaults")
    run = DefaultsRun(produced=n)
    first: tuple[float, float] | None = None  # (time, accepted) of the first poll that saw predictions
    last: tuple[float, float] | None = None  # of the latest poll that saw more
    done_since: float | None = None
    held_windows = -1
    cpu_at_first = CpuUse()
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    stop_at = time.perf_counter() + deadline_s
    try:
        with progress() as bar:
            accepted_task = bar.add_task("worker: predictions accepted", total=n)
            reported_task = bar.add_task("worker: windows reported, of those closed", total=0)
            while True:
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited: {(workdir / 'defaults.log').read_text()[-3000:]}")
                if time.perf_counter() >= stop_at:
                    console.print(f"[yellow]deadline: stopped after {deadline_s:.0f} s[/]")
                    break
                time.sleep(0.5)
                try:
                    families = scrape(port)
                except OSError:
                    continue
                now = time.perf_counter()
                accepted = total(families, "streammon_events_total", topic=kafka.predictions_topic)
                run.labels_in = int(total(families, "streammon_events_total", topic=kafka.labels_topic))
                run.windows = int(total(families, "streammon_windows_closed_total"))
                run.analyses = int(total(families, "streammon_window_analysis_seconds_count"))
                run.failures = int(total(families, "streammon_analysis_failures_total"))
                run.reports = int(total(families, "streammon_reports_total"))
                run.queued_max = gauge_max(families, "streammon_analyses_queued", run.queued_max)
                run.behind_max = gauge_max(families, "streammon_analysis_behind_seconds", run.behind_max, max)
                queued = total(families, "streammon_analyses_queued") if "streammon_analyses_queued" in families else 0
                if first is None and accepted > 0:
                    first = (now, accepted)
                    cpu_at_first = CpuUse.read(worker.pid)
                if first is not None and (last is None or accepted > last[1]):
                    last = (now, accepted)
                run.accepted = int(accepted)
                bar.update(accepted_task, completed=accepted)
                bar.update(reported_task, completed=run.reports + run.failures, total=run.windows)
                # Done when all is in and every window closed so far is reported, on two polls in a row with
                # no window closed between them (a window closed by the last batch may still be on its way).
                done = accepted >= n and run.labels_in >= n and run.reports + run.failures >= run.windows and queued == 0
                if done and done_since is not None and run.windows == held_windows:
                    run.finished = True
                    break
                done_since = (now if done_since is None or run.windows != held_windows else done_since) if done else None
                held_windows = run.windows
        if first is None or last is None:
            raise SystemExit(f"the worker accepted no prediction within {deadline_s:.0f} s: see {workdir / 'defaults.log'}")
        run.predictions = int(last[1] - first[1])
        run.seconds = last[0] - first[0]
        run.run_seconds = ((done_since if run.finished else None) or time.perf_counter()) - first[0]
        run.lag = loop_lag(families)
        run.joined = int(total(families, "streammon_labelled_total"))
        run.checkpoint_mb = total(families, "streammon_checkpoint_bytes") / 1e6
        run.rss_mb = rss_mb(worker.pid)
        run.child_rss_mb = sum(rss_mb(c) for c in children(worker.pid))
        run.cpu = CpuUse.read(worker.pid) - cpu_at_first
        run.workspace_bytes, run.snapshots = disk_usage(settings.workspace.path)
    finally:
        stop_py_spy(spy)
        stop_worker(worker)
    return run


# -- alert latency ---------------------------------------------------------


async def alert_latency(settings: Settings, cycles: int, workdir: Path) -> tuple[list[float], LoopLag]:
    """Seconds from the acknowledgement of a drifted window's last event to its first alert, per drifted window, and the worker's event-loop lag meanwhile.

    One model, windows of ``window.size`` events: a drifted window (four features
    shifted by 2 sd), then a normal one that resolves the alerts, ``cycles`` times
    after one cycle of warm-up. The worker keeps up: its loop lag is that of a
    worker whose windows are being analysed, not of one catching up on a backlog.
    """
    kafka = settings.kafka
    size, reference = settings.window.size, settings.reference.size
    worker = spawn_worker(settings, workdir / "latency.yaml", workdir / "latency.log")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=5, acks="all")
    alerts = AIOKafkaConsumer(
        kafka.alerts_topic, bootstrap_servers=kafka.bootstrap_servers, group_id=None, auto_offset_reset="earliest"
    )
    await producer.start()
    await alerts.start()
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    latencies: list[float] = []
    sent = 0

    async def window(shift: float, seed: int) -> float:
        nonlocal sent
        futures = []
        for key, value in prediction_values(
            size, t0 + timedelta(seconds=sent * 0.001), 0.001, seed, shift=shift, models=("latency",)
        ):
            futures.append(await producer.send(kafka.predictions_topic, value, key=key))
        await asyncio.gather(*futures)
        sent += size
        return time.time()

    async def first(status: str, index: int) -> float:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited: {(workdir / 'latency.log').read_text()[-3000:]}")
            for records in (await alerts.getmany(timeout_ms=200)).values():
                for record in records:
                    alert = orjson.loads(record.value)
                    if alert["status"] == status and alert["window"] and alert["window"]["index"] == index:
                        return record.timestamp / 1000
        raise SystemExit(f"no {status} alert for window {index} within 120 s")

    try:
        await window(0.0, 1000)  # the reference
        assert reference == size, "one reference window, so that window indices count from 0 here"
        with progress() as bar:
            task = bar.add_task("alert latency", total=cycles)
            # Cycle 0 warms up: the analysis process starts and profiles the reference with the first window.
            for cycle in range(cycles + 1):
                acked = await window(2.0, 2000 + cycle)
                latency = await first("firing", 2 * cycle) - acked
                if cycle:
                    latencies.append(latency)
                await window(0.0, 3000 + cycle)
                await first("resolved", 2 * cycle + 1)
                bar.advance(task)
        lag = loop_lag(scrape(settings.worker.metrics_port))
    finally:
        await producer.stop()
        await alerts.stop()
        stop_worker(worker)
    return latencies, lag


# -- Evidently cost --------------------------------------------------------


def evidently_cost(sizes: tuple[int, ...], repeats: int) -> dict[int, float]:
    """Median seconds of ``streams.worker.analysis.analyse`` (drift and quality) per window of each size, 20 features."""
    from dataclasses import replace

    from monitors.windows.watch import DriftWatch
    from streams.worker.analysis import analyse, analysis_spec

    spec = replace(analysis_spec(Settings()), workspace=None)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    costs: dict[int, float] = {}
    for size in sizes:
        watch = DriftWatch(window_size=size, window_duration_s=1e9, reference_size=5000)
        jobs = []
        for i, (_, value) in enumerate(prediction_values(5000 + size * (repeats + 1), t0, 0.001, 7, models=("m",))):
            event = orjson.loads(value)
            row = {**event["features"], "prediction": event["prediction"]}
            jobs += watch.add("m", t0 + timedelta(seconds=i * 0.001), row)
        analyse(jobs[0], spec)  # the reference is profiled once per process: not part of a window's cost
        seconds = []
        for job in jobs[1 : repeats + 1]:
            started = time.perf_counter()
            analyse(job, spec)
            seconds.append(time.perf_counter() - started)
        costs[size] = float(np.median(seconds))
        console.print(f"analysis of a {size:,}-event window: {costs[size]:.2f} s")
    return costs


# -- output ----------------------------------------------------------------


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True
    )


def bench_settings(bootstrap: str, prefix: str, labels_topic: str, workdir: Path, group: str) -> Settings:
    base = Settings().kafka.model_copy(update={"bootstrap_servers": bootstrap}).namespaced(prefix)
    kafka = base.model_copy(
        update={
            "labels_topic": labels_topic,
            "group_id": f"streammon-{prefix}-{group}",
            "state_topic": f"{prefix}.{group}.state",
            "alert_state_topic": f"{prefix}.{group}.alert-state",
            "reports_topic": f"{prefix}.{group}.reports",
            "alerts_topic": f"{prefix}.{group}.alerts",
            "model_status_topic": f"{prefix}.{group}.model-status",
        }
    )
    return Settings(
        kafka=kafka,
        window={"size": 20_000, "duration_s": 600},
        reference={"size": 5000},
        workspace={"path": str(workdir / f"workspace-{group}")},
        worker={"metrics_port": free_port(), "state_dir": str(workdir / f"state-{group}")},
        quality={"no_data_after": None},
    )


def defaults_settings(bootstrap: str, prefix: str, workdir: Path) -> Settings:
    """Every default but what a benchmark must set: where the broker is, topics and group of its own, ports, folders, and the segment key."""
    kafka = Settings().kafka.model_copy(update={"bootstrap_servers": bootstrap}).namespaced(prefix)
    return Settings(
        kafka=kafka,
        # The default receiver, on a topic of the run's own instead of streammon.notifications.
        alerting={"receivers": [{"name": "kafka", "kafka": {"topic": f"{prefix}.notifications"}}]},
        segments={"keys": ["region"]},
        workspace={"path": str(workdir / "workspace")},
        worker={"metrics_port": free_port(), "state_dir": str(workdir / "state")},
    )


def not_defaults(settings: Settings) -> list[str]:
    """The settings (dotted) that differ from the defaults, to say so next to the figures."""
    differ: list[str] = []

    def walk(value: Any, default: Any, path: str) -> None:
        if isinstance(value, dict) and isinstance(default, dict):
            for key in sorted(set(value) | set(default)):
                walk(value.get(key), default.get(key), f"{path}.{key}" if path else key)
        elif value != default:
            differ.append(path)

    walk(settings.model_dump(mode="json"), Settings().model_dump(mode="json"), "")
    return differ


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def faust_floor(bootstrap: str, topic: str, n: int) -> float:
    """Messages per second of a tuned Faust agent that only decodes them (bench/faust_floor.py)."""
    script = Path(__file__).parent / "faust_floor.py"
    out = subprocess.run(
        [sys.executable, str(script), topic, str(n), "--bootstrap", bootstrap], capture_output=True, timeout=600, check=True
    )
    # Faust sends stdout to its log: the result is the JSON object in that line.
    found = re.search(rb'\{"rate":[0-9.e+]+\}', out.stdout + out.stderr)
    if found is None:
        raise SystemExit(f"bench/faust_floor.py printed no rate:\n{(out.stdout + out.stderr).decode()[-2000:]}")
    return float(orjson.loads(found.group())["rate"])


def profile_file(profile: Path, name: str) -> Path:
    return profile / f"{name.replace(' ', '-').replace('%', 'pct')}.txt"


def start_py_spy(pid: int, profile: Path | None, name: str) -> subprocess.Popen[bytes] | None:
    """Record the worker ``pid`` and its analysis and learner processes with py-spy into ``profile`` (nothing without a folder).

    Each stack starts with the process it was sampled in.
    """
    if profile is None:
        return None
    profile.mkdir(parents=True, exist_ok=True)
    out = profile_file(profile, name)
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--rate",
        "50",
        "--format",
        "raw",
        "--nonblocking",
        "--subprocesses",
        "-o",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait()


def py_spy() -> str:
    """The py-spy executable: the virtualenv's (``.[bench]``), or one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
    return found


def profile_summary(raw: Path, top: int = 18) -> list[tuple[float, str]]:
    """Share of the worker's samples under each of its own functions (inclusive), from a py-spy raw profile.

    Stacks start with their process; those of the worker's child processes (a second
    ``process`` frame) are left out.
    """
    inclusive: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or (len(frames) > 1 and frames[1].startswith("process ")):
            continue
        samples += int(count)
        seen = set()
        for frame in frames:
            name, _, where = frame.partition(" (")
            ours = any(part in where for part in ("streams/", "monitors/", "river/", "aiokafka/"))
            entry = name == "<module>" or any(
                part in where for part in ("streams/cli/main.py", "streams/cli/commands/worker.py", "streams/worker/runner.py")
            )
            if ours and not entry and name not in seen:
                seen.add(name)
                inclusive[name] = inclusive.get(name, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return [(count / samples, name) for name, count in ranked]


def machine_line() -> str:
    """The command, the machine, the versions and the commit the figures come from."""
    command = shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])
    return (
        f"Command: `{command}`; {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Apache Kafka 4.1.1 (local, `streammon broker start`){commit()}"
    )


def commit() -> str:
    """ ", commit abc1234" (and whether the tree had changes), or nothing outside a git checkout."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f", commit {head}" + (" with uncommitted changes" if changes else "")


def report_defaults(settings: Settings, n: int, raw_rate: float, run: DefaultsRun, deadline_s: float, seconds: float) -> str:
    """The defaults scenario's section of the results."""
    size, reference = settings.window.size, settings.reference.size
    whole, parts = expected_windows(n, 1, DEFAULT_MODELS, REGIONS, size, reference)
    spread = "/".join(str(k) for k in partition_spread(DEFAULT_MODELS, settings.kafka.partitions))
    per_window = f"{run.bytes_per_window:,.0f}" if run.bytes_per_window is not None else "-"
    stored = f"{run.snapshots:,} runs stored" if run.snapshots is not None else "runs stored: no snapshots folder found"
    ended = (
        f"{run.run_seconds:.0f} s from its first prediction to its last report"
        if run.finished
        else f"**stopped at the deadline ({deadline_s:.0f} s)**: {run.accepted:,} of {n:,} predictions and {run.labels_in:,} of {n:,} "
        f"labels accepted, {run.reports + run.failures:,} of {run.windows:,} closed windows reported; the rates are over what it did "
        f"({run.run_seconds:.0f} s)"
    )

    def gauge(value: float | None, unit: str = "") -> str:
        return "not exported" if value is None else f"{value:,.0f}{unit}"

    lines = [
        f"## Load at the default settings (windows of {size:,} events, references of {reference:,}, segments by region)",
        "",
        f"{machine_line()}; {seconds:.0f} s in all, all figures from this one run. The broker, the producer of the events and the "
        "worker share the machine.",
        "",
        f"{n:,} prediction events produced before the worker starts, stationary (no drift): 20 features (16 numeric, 4 categorical) and "
        f"a `region` ({', '.join(REGIONS)}, uniform) in each event's `segment`, not a feature; {len(DEFAULT_MODELS)} models, "
        f"round-robin, keyed to the input partitions ({spread} per partition); labels for all of them (100 %), each produced "
        f"{LABELS_BEHIND:,} predictions after its own. Worker settings: every default (windows of {size:,} events or "
        f"{settings.window.duration_s:.0f} s, references of the first {reference:,} events, drift with BH-corrected "
        "K-S/chi-square, data quality and freshness, performance with ADWIN, the online challenger, checkpoints every "
        f"{settings.worker.checkpoint_interval:.0f} s, the Evidently workspace) except the bootstrap servers, topics and consumer group "
        "of the run's own, the metrics port, state and workspace folders in a temporary folder, and `segments.keys: [region]`.",
        "",
        "| worker predictions/s | raw aiokafka predictions/s | worker / raw | analyses/s | windows closed | reports published | workspace bytes per window |",
        "|---|---|---|---|---|---|---|",
        f"| {run.rate:,.0f} | {raw_rate:,.0f} | {run.rate / raw_rate:.4f} | {run.analyses_rate:.2f} | {run.windows:,} | {run.reports:,} | {per_window} |",
        "",
        f"- Worker: {ended}. Predictions/s: accepted predictions over time on its own `/metrics`, from the first poll that saw any to "
        "the one that saw the last; raw: `getmany` + `orjson.loads` over the same topic in the same run (best of two reads). "
        f"Analyses/s: `streammon_window_analysis_seconds` count ({run.analyses:,}; {run.failures:,} failed) over the worker's time "
        "from its first prediction to its last report.",
        f"- Windows closed by count, from the events: {whole:,} of the models and {parts:,} of their regions ({whole + parts:,}); "
        "the worker's count may add windows closed by time.",
        f"- Most analyses queued (`streammon_analyses_queued`, polled every 0.5 s): {gauge(run.queued_max)}; most event time "
        f"behind in analysis (`streammon_analysis_behind_seconds`): {gauge(run.behind_max, ' s')}.",
        f"- Workspace: {run.workspace_bytes / 1e6:,.1f} MB on disk after {run.analyses:,} windows analysed, {stored}.",
        f"- Labels joined to their prediction: {run.joined:,} of {n:,}. RSS at the end: {run.rss_mb:.0f} MB (worker) + "
        f"{run.child_rss_mb:.0f} MB (analysis process). Event-loop ticks more than 100 ms late: {run.lag.late} of {run.lag.ticks}. "
        f"Last checkpoint: {run.checkpoint_mb:.1f} MB.",
        f"- CPU seconds from the first poll that saw predictions to the end ({run.run_seconds:.0f} s on the clock, "
        f"{os.cpu_count()} cores): worker {run.cpu.worker:.1f}, its checkpoints' forked children {run.cpu.checkpoints:.1f}, "
        f"analysis processes {run.cpu.analysis:.1f}, learner {run.cpu.learner:.1f}, broker {run.cpu.broker:.1f}; "
        f"{run.cpu.total:.1f} in all ({run.cpu.total / run.run_seconds if run.run_seconds else 0:.2f} cores busy).",
    ]
    return "\n".join(lines) + "\n"


SECTION = "<!-- bench/load.py --scenario {} -->"


def write_results(path: Path, scenario: str, text: str) -> None:
    """Put ``text`` in ``path`` as the section of ``scenario``, keeping the other scenarios' sections, the defaults' first.

    A file without sections is what this script wrote before it had scenarios: the large-windows figures.
    """
    sections: dict[str, str] = {}
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    parts = re.split(r"^<!-- bench/load\.py --scenario ([\w-]+) -->\n", old, flags=re.MULTILINE)
    if len(parts) == 1 and old.strip():
        sections["large-windows"] = old
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[name] = body
    sections[scenario] = text
    order = [s for s in SCENARIOS if s in sections] + sorted(set(sections) - set(SCENARIOS))
    path.write_text("\n".join(f"{SECTION.format(name)}\n{sections[name].strip()}\n" for name in order), encoding="utf-8")


def report_large_windows(
    args: argparse.Namespace,
    n: int,
    raw_rate: float,
    faust_rate: float,
    runs: list[WorkerRun],
    latencies: list[float],
    latency_lag: LoopLag,
    costs: dict[int, float],
    seconds: float,
) -> str:
    spread = "/".join(str(k) for k in partition_spread(MODELS, Settings().kafka.partitions))
    lines = [
        "## Load at large windows (20,000 events, references of 5,000; not the defaults): throughput, memory, event-loop lag, alert latency, Evidently cost",
        "",
        f"{machine_line()}; {seconds:.0f} s, all figures from this one run. The broker, the producer of the events and the worker share the machine.",
        "",
        f"{n:,} prediction events (20 features: 16 numeric, 4 categorical; 3 models keyed to the input partitions, {spread} of them "
        "per partition), with their labels at 100 % (as many label messages) or 10 %. Worker settings: the defaults (drift with "
        "BH-corrected K-S/chi-square on at most 5,000 rows per window, data quality, ADWIN on the errors, online logistic regression "
        "challenger, checkpoints every 5 s) except windows of 20,000 events or 600 s, references of 5,000 and no freshness check "
        "(`quality.no_data_after: null`); no segments. The section above has the figures at the defaults.",
        "",
        "| reader | predictions/s | input messages/s | vs raw |",
        "|---|---|---|---|",
        f"| raw aiokafka `getmany` + `orjson.loads` | {raw_rate:,.0f} | {raw_rate:,.0f} | 1.00 |",
        f"| Faust agent, `take_events(5000)` + `orjson.loads`, tuned (bench/faust_floor.py) | {faust_rate:,.0f} | {faust_rate:,.0f} | {faust_rate / raw_rate:.3f} |",
    ]
    for run in runs:
        messages = run.rate * (run.predictions + run.labels) / run.predictions
        lines.append(f"| streammon worker, labels {run.name} | {run.rate:,.0f} | {messages:,.0f} | {run.rate / raw_rate:.3f} |")
    lines += [
        "",
        "| worker run | labels joined to their prediction | "
        + " | ".join(f"RSS after {m // 1000:,}k events (worker + analysis process)" for m in RSS_MARKS)
        + " | event-loop ticks late > 100 ms | loop lag histogram (ticks at or under, s) | windows closed | last checkpoint |",
        "|---|---|" + "---|" * len(RSS_MARKS) + "---|---|---|---|",
    ]
    for run in runs:
        rss = [f"{run.rss_mb[m]:.0f} + {run.child_rss_mb.get(m, 0):.0f} MB" if m in run.rss_mb else "-" for m in RSS_MARKS]
        lines.append(
            f"| labels {run.name} | {run.joined:,} of {run.labels:,} | {' | '.join(rss)} | {run.lag.late} of {run.lag.ticks} | {run.lag.histogram()} | {run.windows} | {run.checkpoint_mb:.1f} MB |"
        )
    if latencies:
        p50, p99 = np.percentile(latencies, [50, 99])
        lines += [
            "",
            f"Alert latency, from the broker's acknowledgement of the last event of a drifted window to the alert on the alerts topic "
            f"(its CreateTime), over {len(latencies)} drifted windows of 1,000 events (one model, reference 1,000, each followed by "
            f"a normal window that resolves the alerts; after one warm-up cycle): **p50 {p50:.2f} s, p99 {p99:.2f} s**, max {max(latencies):.2f} s.",
            "",
            f"Event-loop lag of that worker, which keeps up with its input while each window is analysed: {latency_lag.late} of "
            f"{latency_lag.ticks} ticks more than 100 ms late (histogram, ticks at or under, s: {latency_lag.histogram()}).",
        ]
    if args.profile is not None:
        for run in runs:
            raw = profile_file(args.profile, run.name)
            if raw.exists():
                lines += [
                    "",
                    f"Profile of the worker, labels {run.name} (py-spy, 50 Hz, all threads; inclusive share of samples):",
                    "",
                ]
                lines += ["| share | function |", "|---|---|"]
                lines += [f"| {share:.0%} | `{name}` |" for share, name in profile_summary(raw)]
    if costs:
        lines += ["", "| window events | analysis per window (drift + quality, 20 features; median) |", "|---|---|"]
        lines += [f"| {size:,} | {cost:.2f} s |" for size, cost in costs.items()]
        lines += ["", "Evidently sees at most `drift.max_rows` (5,000) rows of a window; the quality checks see all of them."]
    return "\n".join(lines) + "\n"


# Settings a benchmark must set; everything else in the defaults scenario is the default.
MUST_SET = {
    "kafka.bootstrap_servers",
    "kafka.group_id",
    "alerting.receivers",
    "segments.keys",
    "worker.metrics_port",
    "worker.state_dir",
    "workspace.path",
}


def defaults_scenario(args: argparse.Namespace, n: int, prefix: str, workdir: Path, started: float) -> str:
    settings = defaults_settings(args.bootstrap, prefix, workdir)
    changed = [
        name
        for name in not_defaults(settings)
        if name not in MUST_SET and not (name.startswith("kafka.") and name.endswith("_topic"))
    ]
    if changed:
        raise SystemExit(f"not the defaults: {', '.join(changed)} (a STREAMMON_ variable in this environment?)")
    kafka = settings.kafka
    ensure_topics(kafka)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    records = interleaved(
        kafka.predictions_topic, {kafka.labels_topic: 1}, n, t0, 0.001, 1, LABELS_BEHIND, DEFAULT_MODELS, REGIONS
    )
    asyncio.run(produce(args.bootstrap, records, n + n, "producing predictions with their labels"))
    raw = [asyncio.run(raw_consume(args.bootstrap, kafka.predictions_topic, n)) for _ in range(2)]
    raw_rate = n / min(raw)
    console.print(f"raw aiokafka + orjson: {raw_rate:,.0f} events/s")
    run = run_defaults_worker(settings, n, workdir, args.deadline, args.profile)
    console.print(
        f"worker: {run.rate:,.0f} predictions/s ({run.rate / raw_rate:.4f} of raw), {run.analyses_rate:.2f} analyses/s, "
        f"{run.windows:,} windows closed, {run.reports:,} reports, "
        f"{run.bytes_per_window or 0:,.0f} workspace bytes per window{'' if run.finished else ' (stopped at the deadline)'}"
    )
    text = report_defaults(settings, n, raw_rate, run, args.deadline, time.perf_counter() - started)
    if args.profile is not None and profile_file(args.profile, "defaults").exists():
        lines = [
            "",
            "Profile of the worker (py-spy, 50 Hz, all threads; inclusive share of samples):",
            "",
            "| share | function |",
            "|---|---|",
        ]
        lines += [f"| {share:.0%} | `{name}` |" for share, name in profile_summary(profile_file(args.profile, "defaults"))]
        text += "\n".join(lines) + "\n"
    return text


def large_windows_scenario(args: argparse.Namespace, n: int, prefix: str, workdir: Path, started: float) -> str:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    spacing = 0.001
    full = bench_settings(args.bootstrap, prefix, f"{prefix}.labels", workdir, "full")
    tenth = bench_settings(args.bootstrap, prefix, f"{prefix}.labels-10", workdir, "tenth")
    for s in (full, tenth):
        ensure_topics(s.kafka)
    labels = {full.kafka.labels_topic: 1, tenth.kafka.labels_topic: 10}
    records = interleaved(full.kafka.predictions_topic, labels, n, t0, spacing, 1, behind=LABELS_BEHIND)
    asyncio.run(produce(args.bootstrap, records, n + n + n // 10, "producing predictions with their labels"))
    raw = [asyncio.run(raw_consume(args.bootstrap, full.kafka.predictions_topic, n)) for _ in range(2)]
    raw_rate = n / min(raw)
    console.print(f"raw aiokafka + orjson: {raw_rate:,.0f} events/s")
    faust_rate = faust_floor(args.bootstrap, full.kafka.predictions_topic, min(n, 200_000))
    console.print(f"Faust agent floor: {faust_rate:,.0f} events/s")
    runs = [
        run_worker(full, "100 %", n, n, workdir, args.profile),
        run_worker(tenth, "10 %", n, n // 10, workdir, args.profile),
    ]
    for run in runs:
        console.print(
            f"labels {run.name}: {run.rate:,.0f} predictions/s, RSS {run.rss_mb}, loop lag >100ms {run.lag.late}/{run.lag.ticks}"
        )
    latency = bench_settings(args.bootstrap, f"{prefix}-latency", f"{prefix}-latency.labels", workdir, "latency")
    latency = latency.model_copy(
        update={
            "window": latency.window.model_copy(update={"size": 1000}),
            "reference": latency.reference.model_copy(update={"size": 1000}),
        }
    )
    ensure_topics(latency.kafka)
    latencies, latency_lag = asyncio.run(alert_latency(latency, 5 if args.quick else 30, workdir))
    console.print(
        f"alert latency p50 {np.percentile(latencies, 50):.2f} s, p99 {np.percentile(latencies, 99):.2f} s; loop lag >100ms {latency_lag.late}/{latency_lag.ticks}"
    )
    costs = evidently_cost((1000, 5000) if args.quick else (1000, 5000, 20_000, 50_000), 3 if args.quick else 5)
    return report_large_windows(args, n, raw_rate, faust_rate, runs, latencies, latency_lag, costs, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="defaults",
        help="defaults: every default setting, 10 models, segments by region (default); large-windows: windows of 20,000, "
        "references of 5,000, 3 models, labels at 100 %% and 10 %%, alert latency and Evidently's cost",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help=f"prediction events to produce (default: {EVENTS['defaults']:,} for defaults, {EVENTS['large-windows']:,} for large-windows)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_EVENTS['defaults']:,} events (defaults) or {QUICK_EVENTS['large-windows']:,} (large-windows; "
        "and fewer alert-latency cycles and window sizes), unless --events says otherwise; nothing written unless --output",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=900.0,
        help="defaults: seconds the worker gets to accept every prediction and label and report every window it closed; past "
        "them it is stopped and the figures are over what it did, saying so (default: 900)",
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default: bench/results/load.md); the scenario's section is replaced, the others kept",
    )
    parser.add_argument("--profile", type=Path, default=None, help="record each worker run with py-spy into this folder")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's temporary folder (worker configs and logs, state, workspace) and its topics",
    )
    args = parser.parse_args()
    if args.profile is not None:
        py_spy()  # before minutes of producing, not after
    n = args.events or (QUICK_EVENTS if args.quick else EVENTS)[args.scenario]
    output = args.output or (None if args.quick else Path(__file__).parent / "results" / "load.md")
    started = time.perf_counter()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="streammon-bench-"))
    console.print(f"scenario {args.scenario}: {n:,} events, topics {prefix}.*, working folder {workdir}")
    scenario = defaults_scenario if args.scenario == "defaults" else large_windows_scenario
    try:
        text = scenario(args, n, prefix, workdir, started)
    finally:
        if not args.keep:
            # Gigabytes of backlog otherwise, which the broker reloads at every start.
            delete_topics_under(
                KafkaSettings(bootstrap_servers=args.bootstrap), [f"{prefix}.", f"{prefix}-", f"streammon-{prefix}"]
            )
    print(text)
    if output is not None:
        write_results(output, args.scenario, text)
        console.print(f"written to {output} (section {args.scenario})")
    if args.keep:
        console.print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
