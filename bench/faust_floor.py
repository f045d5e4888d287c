"""The floor of a Faust agent on this broker: read and JSON-decode N messages of a topic, nothing else.

Run by ``bench/load.py`` next to the raw aiokafka loop and the worker, to show what Faust's
per-message path costs (it is why the worker reads its inputs with aiokafka). Prints the
rate as JSON on stdout and exits.

    .venv/bin/python bench/faust_floor.py TOPIC N [--bootstrap 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import faust
import orjson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("n", type=int)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    # Tuned as far as Faust goes: big polls, big buffers, big fetches, batches of events.
    app = faust.App(
        f"faust-floor-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{args.bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=10_000,
        stream_buffer_maxsize=65_536,
        consumer_max_fetch_size=16 * 1024 * 1024,
        datadir=f"/tmp/faust-floor-{os.getpid()}",
    )
    topic = app.topic(args.topic, value_serializer="raw", key_serializer="raw")
    seen = {"n": 0, "started": 0.0}

    async def consume(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(args.batch, within=0.5):  # type: ignore[attr-defined]
            if not seen["n"]:
                seen["started"] = time.perf_counter()
            for event in batch:
                orjson.loads(event.value)
            seen["n"] += len(batch)
            if seen["n"] >= args.n:
                rate = seen["n"] / (time.perf_counter() - seen["started"])
                sys.stdout.write(orjson.dumps({"rate": rate}).decode() + "\n")
                sys.stdout.flush()
                os._exit(0)

    app.agent(topic)(consume)
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


if __name__ == "__main__":
    main()
