"""The same input gives the same windows, whatever the worker's speed and however often it restarts (real broker)."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.admin import ensure_topics
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, free_port, metric, produce, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 2, tzinfo=UTC)
MODELS = ("alpha", "beta")
REGIONS = ("eu", "us", "apac")
N = 1_200


def events() -> list[tuple[str, bytes]]:
    """Predictions of two models in three regions, with pauses of 10 s so that windows close by time.

    Windows last 5 s of event time, so the last ones close after 5 s of idleness (wall clock), and the
    slow worker's stall (6 s) is longer than a window: a stall that moved event time on would show.
    """
    rng = random.Random(19)
    at, out = START, []
    for i in range(N):
        at += timedelta(seconds=10 if i % 175 == 174 else rng.uniform(0.025, 0.225))
        model = MODELS[i % 2]
        shift = 1.5 if i > N // 2 and model == "beta" else 0.0
        event = {
            "model": model,
            "model_version": "1",
            "prediction_id": f"{model}-{i}",
            "event_time": at.isoformat(),
            "segment": {"region": rng.choice(REGIONS)},
            "features": {"x": rng.gauss(shift, 1.0), "y": rng.gauss(0.0, 1.0), "colour": rng.choice("rgb")},
            "prediction": rng.random() < 0.3,
        }
        out.append((model, orjson.dumps(event)))
    for model in MODELS:
        # One event an hour later closes every window still open by event time.
        last = {
            **orjson.loads(out[-1][1]),
            "model": model,
            "prediction_id": f"{model}-last",
            "event_time": (at + timedelta(hours=1)).isoformat(),
        }
        out.append((model, orjson.dumps(last)))
    return out


def run_settings(base: Settings, prefix: str, **worker: object) -> Settings:
    """``base`` reading the same input topics, with outputs, state and a consumer group of its own."""
    kafka = base.kafka.namespaced(prefix).model_copy(
        update={
            "predictions_topic": base.kafka.predictions_topic,
            "features_topic": base.kafka.features_topic,
            "labels_topic": base.kafka.labels_topic,
        }
    )
    dumped = base.model_dump(mode="json", by_alias=True)
    return Settings.model_validate(
        {
            **dumped,
            "kafka": kafka.model_dump(mode="json", by_alias=True),
            "window": {"size": 150, "duration_s": 5},
            "reference": {"size": 150},
            "segments": {"keys": ["region"], "top_k": 3},
            "online": {"enabled": False},
            "worker": {
                **dumped["worker"],
                "state_dir": f"{dumped['worker']['state_dir']}-{prefix}",
                "checkpoint_interval": "1s",
                "metrics_port": free_port(),
                **worker,
            },
        }
    )


def windows(reader: TopicReader, topic: str) -> dict[str, Any]:
    """The latest drift report of each window key: its bounds, size, and drift scores."""
    seen: dict[str, Any] = {}
    for record in reader.records[topic]:
        report = orjson.loads(record.value)  # type: ignore[attr-defined]
        if report.get("kind") == "drift":
            window = report["window"]
            seen[report["key"]] = (
                window["start"],
                window["end"],
                window["events"],
                window["closed_by"],
                sorted((f["feature"], round(f["score"], 12)) for f in report["features"]),
            )
    return seen


def test_windows_are_the_same_read_fast_read_slowly_and_with_a_restart(
    settings: Settings, start_worker: Any, topic_reader: Any
) -> None:
    ensure_topics(settings.kafka)
    for model in MODELS:
        produce(
            settings.kafka.bootstrap_servers,
            settings.kafka.predictions_topic,
            [e for m, e in events() if m == model],
            key=model.encode(),
        )
    run = settings.kafka.predictions_topic.rsplit(".", 1)[0]
    fast = run_settings(settings, f"{run}-fast", batch_size=500)
    slow = run_settings(settings, f"{run}-slow", batch_size=1, batch_within_s=0.01)

    first: RunningWorker = start_worker(fast)
    second: RunningWorker = start_worker(slow)
    fast_reader: TopicReader = topic_reader(fast.kafka.reports_topic)
    slow_reader: TopicReader = topic_reader(slow.kafka.reports_topic)

    def read_slowly() -> float:
        try:
            return metric(slow.worker.metrics_port, "streammon_events_total", outcome="accepted")
        except OSError:  # not serving yet
            return 0.0

    # The slow worker stalls for a few seconds of wall-clock time with input still to read (a long GC pause,
    # a starved CPU): that must not move event time on. It stays within the group's session timeout.
    wait_until(lambda: second.assert_alive() or read_slowly() >= N // 3, 120, "a third of the input read slowly", poll_s=0.05)
    second.process.send_signal(signal.SIGSTOP)
    time.sleep(6)  # the stall itself is the scenario: there is no event to await
    second.process.send_signal(signal.SIGCONT)
    # Then it dies without a word, and another takes over at once.
    wait_until(
        lambda: second.assert_alive() or read_slowly() >= 2 * N // 3, 120, "two thirds of the input read slowly", poll_s=0.05
    )
    second.process.send_signal(signal.SIGKILL)
    second.process.wait()
    third: RunningWorker = start_worker(slow)

    last = orjson.loads(events()[-1][1])["event_time"].replace("+00:00", "Z")

    def closed(reader: TopicReader, topic: str) -> bool:
        """Whether the windows of the last events, the model's and its segment's, have closed (by idleness)."""
        return sum(w[0] == last for w in windows(reader, topic).values()) == 2 * len(MODELS)

    fast_reader.until(lambda r: closed(fast_reader, fast.kafka.reports_topic), 120, "every window of the fast run", first)
    slow_reader.until(lambda r: closed(slow_reader, slow.kafka.reports_topic), 180, "every window read slowly", third)
    expected = windows(fast_reader, fast.kafka.reports_topic)
    got = windows(slow_reader, slow.kafka.reports_topic)
    # Every prediction but the references' is in a closed window of its model.
    assert sum(w[2] for key, w in expected.items() if "/*/" in key) == N - len(MODELS) * 150 + len(MODELS)
    assert any(w[3] == "time" for w in expected.values()) and any("region" in k for k in expected)
    assert got == expected
