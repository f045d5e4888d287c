"""The worker's cost per input event, in process: no broker, no analysis.

Feeds the events of ``bench/load.py``'s default scenario (20 features, 10 models, a
``region`` segment of 3 values, a label for every prediction 2,000 predictions behind
it) through the worker's own per-message path (``Ingestion._take``, then what the monitor's effects cause per batch: decoding and
validation, the joins, the windows and their segment copies, learning from each
label, the online challengers learning in their own process as in the worker), with every
default setting in force but ``segments.keys: [region]``. Closed
windows are registered as the worker does and then dropped: their analysis is another
process's work (``bench/analysis.py`` times it).

It prints the CPU time per prediction (its label included: the process's CPU time, which a
busy machine disturbs less than the time on the clock) and, with ``--profile``,
the functions that take the time (cProfile, which slows the whole by about half).

Run: ``.venv/bin/python bench/event_path.py --events 100000 [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import DEFAULT_MODELS, LABELS_BEHIND, REGIONS, interleaved  # noqa: E402

from monitors.partition import Effects  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker.app import StreamWorker  # noqa: E402
from streams.worker.state import new_state  # noqa: E402

BATCH = 500  # messages a batch of the worker's input loop holds (worker.batch_size)


class _Inputs:
    """An input consumer whose partner inputs are always read to their end: joins never hold."""

    def unread(self, topic: str, partition: int, next_offset: int) -> bool:
        return False

    def held(self, topic: str, partition: int) -> bool:
        return False

    def release(self, tp: Any) -> None:
        pass


def _records(n: int, settings: Settings) -> list[ConsumerRecord[bytes, bytes]]:
    kafka = settings.kafka
    t0 = datetime.now(UTC).replace(microsecond=0)
    offsets: dict[str, int] = {}
    records = []
    for topic, key, value in interleaved(
        kafka.predictions_topic, {kafka.labels_topic: 1}, n, t0, 0.001, 1, LABELS_BEHIND, DEFAULT_MODELS, REGIONS
    ):
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        records.append(ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key), len(value), ()))
    return records


async def _feed(worker: StreamWorker, records: list[ConsumerRecord[bytes, bytes]]) -> tuple[float, float]:
    """CPU seconds of this process and seconds on the clock, the learner's process caught up."""
    state = worker.partitions.states[0]
    learning, ingestion = worker.learning, worker.ingestion
    if learning.learner is not None and state.challenger is not None:
        learning.learner.start()
        learning.learner.put(0, state.challenger)
        await learning.take(0)  # the child started (its imports take seconds) before the clock starts
    inputs: Any = _Inputs()
    effects = Effects()
    started, clock = time.process_time(), time.perf_counter()
    for i, record in enumerate(records, start=1):
        if isinstance(await ingestion._take(state, inputs, record, effects), datetime):
            state.expire(into=effects)
        state.consumed(record.topic, record.partition, record.offset)
        if i % BATCH == 0 or i == len(records):  # as the worker does after each batch
            for _, key, _ in await ingestion.carry_out(0, state, effects):
                state.unpublished.pop(key, None)
            effects = Effects()
            await learning.collect()
    await learning.take(0)
    return time.process_time() - started, time.perf_counter() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="predictions (as many labels besides)")
    parser.add_argument("--profile", action="store_true", help="print the 25 functions with the most time (cProfile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(
            segments={"keys": ["region"]},
            worker={"state_dir": Path(workdir) / "state"},
            workspace={"path": Path(workdir) / "workspace"},
        )
        worker = StreamWorker(settings)
        worker.partitions.states[0] = new_state(settings)
        records = _records(args.events, settings)
        # As the worker freezes what it built at start-up (streams.worker.runner); here the
        # input records too, which in the worker come and go with each fetch.
        gc.freeze()
        loop = asyncio.new_event_loop()
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
        seconds, clock = loop.run_until_complete(_feed(worker, records))
        if args.profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        print(
            f"{args.events:,} predictions and their labels in {seconds:.1f} s of CPU: "
            f"{seconds / args.events * 1e6:.0f} µs per prediction with its label, {args.events / seconds:,.0f} predictions/s; "
            f"{clock:.1f} s on the clock, the online challengers' learning (in its own process) caught up"
        )


if __name__ == "__main__":
    main()
