"""The online challengers' cost per labelled pair, in process: what the learner's process does.

Feeds the labelled pairs of ``bench/load.py``'s default scenario (20 features: 16
numeric, 4 categorical; 10 models; a random 0/1 label per prediction) to the
challengers as the learner's process gets them (``streams.worker.learner``: one request per
batch of the worker's input loop, features as JSON), with the default settings'
online model, and prints the CPU time per labelled pair (the process's CPU time, which
a busy machine disturbs less than the time on the clock). ``--process`` runs them in
the learner's own process instead (``streams.worker.learner.Learner``, the pairs going down its
pipe as the worker sends them) and prints that process's CPU time, start-up left out.
``--batch-size`` sets the linear models' mini-batches (``online.batch_size``).
``--parts`` also times the pieces of that cost one by one; ``--profile`` prints the
functions that take the time (cProfile, which slows the whole). ``--sizes 1,8,16`` prints,
for each mini-batch size, the CPU time per pair (in process, median of ``--runs``) and what
it costs the default model in prequential accuracy on three synthetic streams (a linear one
with categories; the same whose rule changes half-way, where the accuracy after the change
says how fast a model follows; River's Agrawal).

Run: ``.venv/bin/python bench/learner.py --pairs 100000 [--batch 250] [--batch-size 16] [--process] [--parts] [--profile] [--sizes 1,4,16 [--runs 3]]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import DEFAULT_MODELS, prediction_values  # noqa: E402

from monitors.online import minibatch  # noqa: E402
from monitors.online.challenger import METRICS, Challenger, _without_prepare  # noqa: E402
from monitors.online.models import build_model, prepare  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker.learner import Learner, _learn  # noqa: E402
from streams.worker.state import new_state  # noqa: E402

# Labelled pairs in one request to the learner's process: a batch of the worker's input
# loop (worker.batch_size, 500 messages) holds a prediction and a label about as often.
BATCH = 250


def _pairs(n: int, seed: int = 1) -> list[tuple[int, str, bytes, Any, Any, bool, str]]:
    """``n`` labelled pairs as the worker sends them: partition, model, features (JSON), prediction, label, learn, id."""
    t0 = datetime.now(UTC).replace(microsecond=0)
    labels = np.random.default_rng(seed + 1).integers(0, 2, size=n).tolist()
    pairs = []
    for (_, value), label in zip(prediction_values(n, t0, 0.001, seed, models=DEFAULT_MODELS), labels):
        event = orjson.loads(value)
        pairs.append(
            (0, event["model"], orjson.dumps(event["features"]), event["prediction"], label, True, event["prediction_id"])
        )
    return pairs


def _feed(challenger: Challenger, pairs: list[Any], batch: int) -> float:
    """CPU seconds to learn ``pairs``, ``batch`` to a request, as the learner's process does."""
    challengers = {0: challenger}
    started = time.process_time()
    for i in range(0, len(pairs), batch):
        _learn(challengers, pairs[i : i + batch])
    return time.process_time() - started


def _child_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _feed_process(challenger: Challenger, pairs: list[Any], batch: int) -> float:
    """CPU seconds the learner's process takes to learn ``pairs``, sent ``batch`` to a request as the worker sends them."""
    learner = Learner()
    learner.start()
    try:
        learner.put(0, challenger)
        await learner.take(0)  # started and imported before the count starts
        assert learner.pid is not None
        started = _child_cpu(learner.pid)
        for i in range(0, len(pairs), batch):
            for pair in pairs[i : i + batch]:
                learner.learn(*pair)
            await learner.send()
        taken, _ = await learner.take(0)
        seconds = _child_cpu(learner.pid) - started
    finally:
        learner.close()
    assert taken is not None
    challenger.__dict__.update(taken.__dict__)  # what it learned, for the summary
    return seconds


def _parts(settings: Settings, pairs: list[Any]) -> None:
    """Time the pieces of a pair's cost one at a time: pair by pair (the cost before batches), then the batch path's own."""
    online = settings.online
    decoded = [orjson.loads(p[2]) for p in pairs]
    prepared = [prepare(x) for x in decoded]
    models = {p[1]: build_model(online.model, online.params) for p in pairs}
    steps = {m: pipeline["StandardScaler"] for m, pipeline in models.items()}
    last = {m: pipeline[-1] for m, pipeline in models.items()}

    def timed(what: str, run: Any) -> None:
        started = time.process_time()
        run()
        print(f"  {what:<44} {(time.process_time() - started) / len(pairs) * 1e6:6.1f} µs per pair")

    timed("decode the features (orjson)", lambda: [orjson.loads(p[2]) for p in pairs])
    timed("prepare", lambda: [prepare(x) for x in decoded])
    scaled: list[dict[str, float]] = []
    timed("scaler: learn_one", lambda: [steps[p[1]].learn_one(x) for p, x in zip(pairs, prepared)])
    timed("scaler: transform_one", lambda: scaled.extend(steps[p[1]].transform_one(x) for p, x in zip(pairs, prepared)))
    timed("model: predict_one", lambda: [last[p[1]].predict_one(x) for p, x in zip(pairs, scaled)])
    timed("model: learn_one", lambda: [last[p[1]].learn_one(x, p[4]) for p, x in zip(pairs, scaled)])
    metric = METRICS["accuracy"][1]
    scores = [metric() for _ in range(4)]

    def score() -> None:
        for p in pairs:
            for s in scores:
                s.update(p[4], p[3])
            scores[0].revert(p[4], p[3])
            scores[1].revert(p[4], p[3])

    timed("metrics: 4 updates and 2 reverts", score)
    size = online.batch_size
    print(f"  in mini-batches of {size} pairs of a model (each predicted, then learned, as one matrix):")
    by_model: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_model.setdefault(p[1], []).append(i)
    groups = [(m, ix[start : start + size]) for m, ix in by_model.items() for start in range(0, len(ix), size)]
    batched = {m: _without_prepare(build_model(online.model, online.params)) for m in models}
    rows: list[minibatch.Rows] = []
    timed("the batch's matrix (Rows.of)", lambda: rows.extend(minibatch.Rows.of([prepared[i] for i in ix]) for _, ix in groups))
    timed("predict_many", lambda: [minibatch.predict_many(batched[m], r) for (m, _), r in zip(groups, rows)])
    timed(
        "learn_many (and its own Rows.of)",
        lambda: [
            minibatch.learn_many(batched[m], minibatch.Rows.of([prepared[i] for i in ix]), [pairs[i][4] for i in ix])
            for m, ix in groups
        ],
    )


def _linear_stream(n: int, seed: int = 3, change_at: int | None = None) -> list[tuple[dict[str, Any], int]]:
    """16 numbers and 4 categories; the label is a noisy linear rule of three numbers and one category (from ``change_at``, another)."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        x: dict[str, Any] = {f"x{i}": rng.gauss(0, 1) for i in range(16)}
        x.update({f"c{c}": f"v{rng.randrange(5 + c)}" for c in range(4)})
        if change_at is None or i < change_at:
            z = 1.2 * x["x0"] - x["x1"] + 0.8 * x["x2"] + (1.0 if x["c0"] == "v1" else 0.0) + rng.gauss(0, 1)
        else:
            z = -1.2 * x["x0"] + x["x3"] + 0.8 * x["x2"] - (1.0 if x["c1"] == "v2" else 0.0) + rng.gauss(0, 1)
        pairs.append((x, int(z > 0)))
    return pairs


def _quality(size: int, n: int = 20_000) -> str:
    """Prequential accuracy of the default challenger with mini-batches of ``size``: over the whole stream, its first 2,000 pairs, and (changing stream) the 2,000 after the change."""
    from river.datasets import synth

    streams = {
        "linear": _linear_stream(n),
        "changing": _linear_stream(n, change_at=n // 2),
        "Agrawal": list(synth.Agrawal(seed=42).take(n)),
    }
    cells = []
    for name, pairs in streams.items():
        challenger = Challenger(window=2000, min_labelled=n + 1, batch_size=size)
        marks: dict[int, float] = {}
        for i, (x, y) in enumerate(pairs, start=1):
            challenger.learn("m", x, y, y)
            if i in (2000, n // 2, n // 2 + 2000):
                state = challenger.state("m")
                marks[i] = (
                    state.challenger_score if i == n // 2 + 2000 else state.challenger_cumulative
                )  # rolling over the last 2,000
        whole = challenger.state("m").challenger_cumulative
        if name == "changing":
            cells.append(f"{whole:.4f} / after the change {marks[n // 2 + 2000]:.4f}")
        else:
            cells.append(f"{whole:.4f} / first 2,000 {marks[2000]:.4f}")
    return " | ".join(cells)


def _sizes(settings: Settings, pairs: list[Any], batch: int, sizes: list[int], runs: int) -> None:
    """CPU per pair (in process, median of ``runs``) and prequential accuracy, by mini-batch size."""
    print(
        f"by mini-batch size ({len(pairs):,} pairs, {batch} a request; µs of CPU per pair, median of {runs}; prequential accuracy over 20,000 pairs):"
    )
    print("| batch_size | µs per pair (runs) | linear | changing | Agrawal |")
    print("|---|---|---|---|---|")
    # Runs interleaved (each run goes through every size): a busy machine slows every size alike.
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(runs):
        for size in sizes:
            challenger = new_state(_with_batch_size(settings, size)).challenger
            assert challenger is not None
            seconds[size].append(_feed(challenger, pairs, batch) / len(pairs) * 1e6)
    for size in sizes:
        times = ", ".join(f"{s:.1f}" for s in seconds[size])
        print(f"| {size} | {statistics.median(seconds[size]):.1f} ({times}) | {_quality(size)} |", flush=True)


def _with_batch_size(settings: Settings, size: int) -> Settings:
    return settings.model_copy(update={"online": settings.online.model_copy(update={"batch_size": size})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000, help="labelled pairs")
    parser.add_argument("--batch", type=int, default=BATCH, help="pairs per request to the learner's process")
    parser.add_argument("--process", action="store_true", help="learn in the learner's process; count its CPU time")
    parser.add_argument("--parts", action="store_true", help="also time the pieces of a pair's cost")
    parser.add_argument("--profile", action="store_true", help="print the 30 functions with the most time (cProfile)")
    parser.add_argument("--batch-size", type=int, default=None, help="the linear models' mini-batches (online.batch_size)")
    parser.add_argument(
        "--sizes", default=None, help="comma-separated mini-batch sizes: CPU per pair and prequential accuracy of each"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per size (--sizes)")
    args = parser.parse_args()
    settings = Settings()
    if args.batch_size is not None:
        settings = _with_batch_size(settings, args.batch_size)
    challenger = new_state(settings).challenger
    assert challenger is not None, "the default settings have online learning on"
    pairs = _pairs(args.pairs)
    gc.freeze()  # as the worker freezes what it built at start-up
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
    if args.process:
        seconds = asyncio.run(_feed_process(challenger, pairs, args.batch))
    else:
        seconds = _feed(challenger, pairs, args.batch)
    if args.profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    learned = sum(challenger.state(m).learned for m in challenger.models)
    print(
        f"{args.pairs:,} labelled pairs ({settings.online.model}, mini-batches of {settings.online.batch_size}, {len(challenger.models)} models, "
        f"{args.batch} pairs a request{', in its own process' if args.process else ''}) "
        f"in {seconds:.2f} s of CPU: {seconds / args.pairs * 1e6:.1f} µs per pair; {learned:,} learned"
    )
    if args.parts:
        _parts(settings, pairs)
    if args.sizes:
        _sizes(settings, pairs, args.batch, [int(size) for size in args.sizes.split(",")], args.runs)


if __name__ == "__main__":
    main()
