"""What a checkpoint costs: the CPU of pickling and compressing one partition's state.

A checkpoint's child process pickles and compresses the state of each partition the
worker owns (``streams.worker.checkpoint.dump``), every ``worker.checkpoint_interval_s``;
its CPU is taken from the same cores as the worker's. This builds the state of one
partition as the worker would hold it after ``--events`` predictions of
``bench/load.py``'s default scenario (20 features, 10 models, the ``region`` segment, a
label for every prediction 2,000 predictions behind it; every default but
``segments.keys: [region]``), through the worker's own per-message path
(``bench/event_path.py``), then times ``dump`` of it, and the pickling of each of its
parts (the parts' pickles share nothing, so they sum to more than the whole).

Run: ``.venv/bin/python bench/checkpoint.py --events 100000 [--runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from event_path import _feed, _records  # noqa: E402

from streams.settings import Settings  # noqa: E402
from streams.worker.app import StreamWorker  # noqa: E402
from streams.worker.checkpoint import dump  # noqa: E402
from streams.worker.state import WorkerState, new_state  # noqa: E402


def build(events: int, workdir: Path) -> WorkerState:
    """The state of partition 0 after ``events`` predictions and their labels."""
    settings = Settings(
        segments={"keys": ["region"]},
        worker={"state_dir": workdir / "state"},
        workspace={"path": workdir / "workspace"},
    )
    worker = StreamWorker(settings)
    state = worker.partitions.states[0] = new_state(settings)
    asyncio.new_event_loop().run_until_complete(_feed(worker, _records(events, settings)))
    return state


T = TypeVar("T")


def cpu(action: Callable[[], T]) -> tuple[float, T]:
    """Seconds of this process's CPU ``action`` took, and what it returned."""
    started = time.process_time()
    result = action()
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="predictions fed (as many labels besides)")
    parser.add_argument("--runs", type=int, default=3, help="times dump is timed (the first also packs each sealed reference)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        state = build(args.events, Path(workdir))
        for run in range(1, args.runs + 1):
            seconds, payload = cpu(lambda: dump(state))
            print(f"dump, run {run}: {seconds:.3f} s of CPU, {len(payload) / 1e6:.1f} MB")
        parts = []
        for name, value in vars(state).items():
            runs = [cpu(lambda value=value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) for _ in range(args.runs)]
            parts.append((min(seconds for seconds, _ in runs), len(runs[0][1]), name))
        print(f"pickling each part alone (the least of {args.runs} runs):")
        for seconds, size, name in sorted(parts, reverse=True)[:5]:
            print(f"  {name}: {seconds:.3f} s, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
