"""The online challengers' cost per labelled pair, in process: what the learner's process does.

Feeds the labelled pairs of ``bench/load.py``'s default scenario (20 features: 16
numeric, 4 categorical; 10 models; a random 0/1 label per prediction) to the
challengers as the learner's process gets them (``streams.learner``: one request per
batch of the worker's input loop, features as JSON), with the default settings'
online model, and prints the CPU time per labelled pair (the process's CPU time, which
a busy machine disturbs less than the time on the clock). ``--process`` runs them in
the learner's own process instead (``streams.learner.Learner``, the pairs going down its
pipe as the worker sends them) and prints that process's CPU time, start-up left out.
``--parts`` also times the
pieces of that cost one by one; ``--profile`` prints the functions that take the time
(cProfile, which slows the whole). ``--quality`` prints what learning in mini-batches costs
the default model in prequential accuracy, against learning one pair at a time, on two
synthetic streams (a linear one with categories, River's Agrawal).

Run: ``.venv/bin/python bench/learner.py --pairs 100000 [--batch 250] [--process] [--parts] [--profile] [--quality]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import DEFAULT_MODELS, prediction_values  # noqa: E402

from monitors import minibatch  # noqa: E402
from monitors.challenger import METRICS, Challenger, _without_prepare, build_model, prepare  # noqa: E402
from streams.learner import Learner, _learn  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker_state import new_state  # noqa: E402

# Labelled pairs in one request to the learner's process: a batch of the worker's input
# loop (worker.batch_size, 500 messages) holds a prediction and a label about as often.
BATCH = 250


def _pairs(n: int, seed: int = 1) -> list[tuple[int, str, bytes, Any, Any, bool, str]]:
    """``n`` labelled pairs as the worker sends them: partition, model, features (JSON), prediction, label, learn, id."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    labels = np.random.default_rng(seed + 1).integers(0, 2, size=n).tolist()
    pairs = []
    for (_, value), label in zip(prediction_values(n, t0, 0.001, seed, models=DEFAULT_MODELS), labels):
        event = orjson.loads(value)
        pairs.append((0, event["model"], orjson.dumps(event["features"]), event["prediction"], label, True, event["prediction_id"]))
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


def _parts(settings: Settings, pairs: list[Any], batch: int) -> None:
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
    print(f"  in mini-batches (each request's pairs of a model, {batch} pairs a request):")
    groups: list[tuple[str, list[int]]] = []
    for start in range(0, len(pairs), batch):
        by_model: dict[str, list[int]] = {}
        for i in range(start, min(start + batch, len(pairs))):
            by_model.setdefault(pairs[i][1], []).append(i)
        groups += by_model.items()
    batched = {m: _without_prepare(build_model(online.model, online.params)) for m in models}
    rows: list[minibatch.Rows] = []
    timed("the batch's matrix (Rows.of)", lambda: rows.extend(minibatch.Rows.of([prepared[i] for i in ix]) for _, ix in groups))
    timed("predict_many", lambda: [minibatch.predict_many(batched[m], r) for (m, _), r in zip(groups, rows)])
    timed("learn_many", lambda: [minibatch.learn_many(batched[m], r, [pairs[i][4] for i in ix]) for (m, ix), r in zip(groups, rows)])


def _linear_stream(n: int, seed: int = 3) -> list[tuple[dict[str, Any], int]]:
    """16 numbers and 4 categories; the label is a noisy linear rule of three numbers and one category."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        x: dict[str, Any] = {f"x{i}": rng.gauss(0, 1) for i in range(16)}
        x.update({f"c{c}": f"v{rng.randrange(5 + c)}" for c in range(4)})
        z = 1.2 * x["x0"] - x["x1"] + 0.8 * x["x2"] + (1.0 if x["c0"] == "v1" else 0.0) + rng.gauss(0, 1)
        pairs.append((x, int(z > 0)))
    return pairs


def _quality(n: int = 20_000, sizes: tuple[int, ...] = (1, 25, 50)) -> None:
    """Prequential accuracy of the default challenger by batch size (1: one pair at a time)."""
    from river.datasets import synth

    streams = {"linear": _linear_stream(n), "Agrawal": list(synth.Agrawal(seed=42).take(n))}
    for name, pairs in streams.items():
        for size in sizes:
            challenger = Challenger(window=n, min_labelled=n + 1)
            early = None
            for start in range(0, n, size):
                challenger.learn_many([("m", x, y, y, True) for x, y in pairs[start : start + size]])
                if early is None and start + size >= 2000:
                    early = challenger.state("m").challenger_cumulative
            print(
                f"  {name:<8} batches of {size:>3}: prequential accuracy {challenger.state('m').challenger_cumulative:.4f} "
                f"over {n:,} pairs, {early:.4f} over the first 2,000"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000, help="labelled pairs")
    parser.add_argument("--batch", type=int, default=BATCH, help="pairs per request to the learner's process")
    parser.add_argument("--process", action="store_true", help="learn in the learner's process; count its CPU time")
    parser.add_argument("--parts", action="store_true", help="also time the pieces of a pair's cost")
    parser.add_argument("--profile", action="store_true", help="print the 30 functions with the most time (cProfile)")
    parser.add_argument("--quality", action="store_true", help="also compare prequential accuracy by batch size")
    args = parser.parse_args()
    settings = Settings()
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
        f"{args.pairs:,} labelled pairs ({settings.online.model}, {len(challenger.models)} models, {args.batch} pairs a request{', in its own process' if args.process else ''}) "
        f"in {seconds:.2f} s of CPU: {seconds / args.pairs * 1e6:.1f} µs per pair; {learned:,} learned"
    )
    if args.parts:
        _parts(settings, pairs, args.batch)
    if args.quality:
        _quality()


if __name__ == "__main__":
    main()
