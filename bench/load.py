"""Load benchmark: the worker against a raw aiokafka loop on the same broker, in one run.

One run, on the local broker (``streammon broker start``):

1. produce ``--events`` prediction events (20 features: 16 numeric, 4 categorical; 3 models)
   and their labels (100 %, and on a second topic every tenth: 10 %) once;
2. raw: an ``aiokafka`` consumer reads the predictions and decodes each value with
   ``orjson`` (the floor any worker on this broker pays);
3. the worker (``streammon worker`` in a child process, default settings except the window
   and reference sizes below) consumes the same predictions with the labels at 100 % and
   then, with a fresh consumer group, at 10 %. Its rate is read off its own ``/metrics``
   (accepted predictions over time, from the first to the last); its RSS is read from
   ``/proc`` as it passes 100k, 250k, 500k and 1M events; its event-loop lag is the worker's own
   ``streammon_event_loop_lag_seconds`` histogram;
4. alert latency: with the worker caught up, drifted windows are produced one at a time
   and the time from the produce acknowledgement of a window's last event to its alert on
   the alerts topic is measured (p50, p99);
5. Evidently's cost per window against the window's size (in process, no broker).

Results are printed and written to ``bench/results/load.md``; copy them into
BENCHMARKS.md. ``--quick`` is a smoke run (100k events) that writes nothing unless given
``--output``.

    .venv/bin/python bench/load.py            # 1M events; about 9 minutes on 2 cores
    .venv/bin/python bench/load.py --quick
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

from streams.admin import ensure_topics  # noqa: E402
from streams.runner import spawn_worker, stop_worker  # noqa: E402
from streams.settings import Settings  # noqa: E402

console = Console(stderr=True)

MODELS = ("credit-risk", "fraud", "churn")
NUMERIC = [f"x{i}" for i in range(16)]
CATEGORICAL = {f"c{i}": [f"v{j}" for j in range(5 + i)] for i in range(4)}
# At 10 % labels the label join fills to its capacity (100,000 per partition) by about 330k events
# (100,000 / 0.9 a partition, 3 partitions): memory should level off after that.
RSS_MARKS = (100_000, 250_000, 500_000, 1_000_000)
# Labels are produced this many predictions after their own, interleaved with the predictions.
LABELS_BEHIND = 2000


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


# -- events ----------------------------------------------------------------


def prediction_values(
    n: int, start: datetime, spacing_s: float, seed: int, shift: float = 0.0, models: tuple[str, ...] = MODELS
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of ``n`` prediction events, round-robin over ``models``; ``shift`` moves the first four features."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(0.0, 1.0, size=(n, len(NUMERIC)))
    numeric[:, :4] += shift
    numeric = numeric.round(4)
    cats = {c: rng.integers(0, len(v), size=n) for c, v in CATEGORICAL.items()}
    scores = rng.random(n).round(4)
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
        yield model.encode(), orjson.dumps(event)


def label_values(n: int, start: datetime, spacing_s: float, seed: int, every: int) -> Iterator[tuple[bytes, bytes]]:
    """Labels of every ``every``-th of the predictions above, a second after them in event time."""
    rng = np.random.default_rng(seed + 1)
    labels = rng.integers(0, 2, size=n)
    for i in range(0, n, every):
        model = MODELS[i % len(MODELS)]
        event = {
            "model": model,
            "prediction_id": f"{model}-{seed}-{i}",
            "event_time": (start + timedelta(seconds=i * spacing_s + 1)).isoformat(),
            "label": int(labels[i]),
        }
        yield model.encode(), orjson.dumps(event)


def interleaved(
    predictions_topic: str, labels: dict[str, int], n: int, start: datetime, spacing_s: float, seed: int, behind: int
) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value): the predictions, and on each labels topic (every k-th of them) the labels ``behind`` predictions later, as they arrive in production."""
    streams = {topic: label_values(n, start, spacing_s, seed, every) for topic, every in labels.items()}
    pending: dict[str, tuple[bytes, bytes] | None] = {topic: next(stream, None) for topic, stream in streams.items()}
    for i, (key, value) in enumerate(prediction_values(n, start, spacing_s, seed)):
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


async def produce(bootstrap: str, records: Iterator[tuple[str, bytes, bytes]], total: int, what: str) -> float:
    """Send every record and wait for the acknowledgements; return the time of the last one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks=1)
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
    return time.time()


# -- raw loop --------------------------------------------------------------


async def raw_consume(bootstrap: str, topic: str, total: int) -> float:
    """Seconds for a bare aiokafka consumer to read and JSON-decode ``total`` messages."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False)
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
    """The worker's analysis process: a checkpoint's forked child shares the worker's pages, and is not counted."""
    try:
        pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return [p for p in pids if b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()]
    except OSError:
        return []


def run_worker(settings: Settings, name: str, predictions: int, labels: int, workdir: Path, profile: Path | None = None) -> WorkerRun:
    """Run a worker over the produced events; measure its rate, RSS and loop lag."""
    port = settings.worker.metrics_port
    worker = spawn_worker(settings, workdir / f"{name}.yaml", workdir / f"{name}.log")
    spy = None
    if profile is not None:
        out = profile / f"{name.replace(' ', '-').replace('%', 'pct')}.txt"
        profile.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen([py_spy(), "record", "--pid", str(worker.pid), "--rate", "50", "--format", "raw", "--nonblocking", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait()
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
    alerts = AIOKafkaConsumer(kafka.alerts_topic, bootstrap_servers=kafka.bootstrap_servers, group_id=None, auto_offset_reset="earliest")
    await producer.start()
    await alerts.start()
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    latencies: list[float] = []
    sent = 0

    async def window(shift: float, seed: int) -> float:
        nonlocal sent
        futures = []
        for key, value in prediction_values(size, t0 + timedelta(seconds=sent * 0.001), 0.001, seed, shift=shift, models=("latency",)):
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
    """Median seconds of ``streams.analysis.analyse`` (drift and quality) per window of each size, 20 features."""
    from dataclasses import replace

    from monitors.watch import DriftWatch
    from streams.analysis import analyse
    from streams.app import analysis_spec

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
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)


def bench_settings(bootstrap: str, prefix: str, labels_topic: str, workdir: Path, group: str) -> Settings:
    base = Settings().kafka.model_copy(update={"bootstrap_servers": bootstrap}).namespaced(prefix)
    kafka = base.model_copy(update={"labels_topic": labels_topic, "group_id": f"streammon-{prefix}-{group}", "state_topic": f"{prefix}.{group}.state", "alert_state_topic": f"{prefix}.{group}.alert-state", "reports_topic": f"{prefix}.{group}.reports", "alerts_topic": f"{prefix}.{group}.alerts", "model_status_topic": f"{prefix}.{group}.model-status"})
    return Settings(
        kafka=kafka,
        window={"size": 20_000, "duration_s": 600},
        reference={"size": 5000},
        workspace={"path": str(workdir / f"workspace-{group}")},
        worker={"metrics_port": free_port(), "state_dir": str(workdir / f"state-{group}")},
        quality={"no_data_after": None},
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def faust_floor(bootstrap: str, topic: str, n: int) -> float:
    """Messages per second of a tuned Faust agent that only decodes them (bench/faust_floor.py)."""
    script = Path(__file__).parent / "faust_floor.py"
    out = subprocess.run([sys.executable, str(script), topic, str(n), "--bootstrap", bootstrap], capture_output=True, timeout=600, check=True)
    # Faust sends stdout to its log: the result is the JSON object in that line.
    found = re.search(rb'\{"rate":[0-9.e+]+\}', out.stdout + out.stderr)
    if found is None:
        raise SystemExit(f"bench/faust_floor.py printed no rate:\n{(out.stdout + out.stderr).decode()[-2000:]}")
    return float(orjson.loads(found.group())["rate"])


def py_spy() -> str:
    """The py-spy executable: the virtualenv's (``.[bench]``), or one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
    return found


def profile_summary(raw: Path, top: int = 18) -> list[tuple[float, str]]:
    """Share of the worker's samples under each of its own functions (inclusive), from a py-spy raw profile."""
    inclusive: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples += int(count)
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            ours = any(part in where for part in ("streams/", "monitors/", "river/", "aiokafka/"))
            entry = name == "<module>" or any(part in where for part in ("streams/cli.py", "streams/runner.py"))
            if ours and not entry and name not in seen:
                seen.add(name)
                inclusive[name] = inclusive.get(name, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return [(count / samples, name) for name, count in ranked]


def report(
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
    lines = [
        "## Load: throughput, memory, event-loop lag, alert latency, Evidently cost",
        "",
        f"Command: `{shlex.join(['.venv/bin/python', 'bench/load.py', *sys.argv[1:]])}`; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Apache Kafka 4.1.1 (local, `streammon broker start`); "
        f"{seconds:.0f} s, all figures from this one run. The broker, the producer of the events and the worker share the machine.",
        "",
        f"{n:,} prediction events (20 features: 16 numeric, 4 categorical; 3 models keyed to their partitions), with their labels "
        "at 100 % (as many label messages) or 10 %. Worker settings: the defaults (drift with BH-corrected K-S/chi-square on at most "
        "5,000 rows per window, data quality, ADWIN on the errors, online logistic regression challenger, checkpoints every 5 s) "
        "except windows of 20,000 events and references of 5,000.",
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
            raw = args.profile / f"{run.name.replace(' ', '-').replace('%', 'pct')}.txt"
            if raw.exists():
                lines += ["", f"Profile of the worker, labels {run.name} (py-spy, 50 Hz, all threads; inclusive share of samples):", ""]
                lines += ["| share | function |", "|---|---|"]
                lines += [f"| {share:.0%} | `{name}` |" for share, name in profile_summary(raw)]
    if costs:
        lines += ["", "| window events | analysis per window (drift + quality, 20 features; median) |", "|---|---|"]
        lines += [f"| {size:,} | {cost:.2f} s |" for size, cost in costs.items()]
        lines += ["", "Evidently sees at most `drift.max_rows` (5,000) rows of a window; the quality checks see all of them."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k events, nothing written unless --output")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="record each worker run with py-spy into this folder")
    args = parser.parse_args()
    if args.profile is not None:
        py_spy()  # before minutes of producing, not after
    n = 100_000 if args.quick else args.events
    output = args.output or (None if args.quick else Path(__file__).parent / "results" / "load.md")
    started = time.perf_counter()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="streammon-bench-"))
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
        console.print(f"labels {run.name}: {run.rate:,.0f} predictions/s, RSS {run.rss_mb}, loop lag >100ms {run.lag.late}/{run.lag.ticks}")
    latency = bench_settings(args.bootstrap, f"{prefix}-latency", f"{prefix}-latency.labels", workdir, "latency")
    latency = latency.model_copy(update={"window": latency.window.model_copy(update={"size": 1000}), "reference": latency.reference.model_copy(update={"size": 1000})})
    ensure_topics(latency.kafka)
    latencies, latency_lag = asyncio.run(alert_latency(latency, 5 if args.quick else 30, workdir))
    console.print(f"alert latency p50 {np.percentile(latencies, 50):.2f} s, p99 {np.percentile(latencies, 99):.2f} s; loop lag >100ms {latency_lag.late}/{latency_lag.ticks}")
    costs = evidently_cost((1000, 5000) if args.quick else (1000, 5000, 20_000, 50_000), 3 if args.quick else 5)
    text = report(args, n, raw_rate, faust_rate, runs, latencies, latency_lag, costs, time.perf_counter() - started)
    print(text)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"written to {output}")


if __name__ == "__main__":
    main()
