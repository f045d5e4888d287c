"""Faults on the real broker: bad input, a broker restart and a worker killed with SIGKILL, all accounted for.

Every produced event ends up counted exactly once: in a window (or the
reference), or as a dead letter with its coordinates. Duplicated output after
a crash is recognisable by its stable key (a report's ``key``, an alert's
fingerprint, a dead letter's coordinates) and says the same thing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import random
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import CommitFailedError
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

from monitors.labels.join import PendingPrediction
from monitors.labels.performance import PerformanceJob
from streams.events import AlertEvent, DeadLetter, WindowReport
from streams.local.broker.process import KafkaBroker
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from streams.worker.app import StreamWorker
from streams.worker.checkpoint import partition_checkpoint
from streams.worker.state import new_state
from tests.helpers import RunningWorker, TopicReader, free_ports, metric, produce, wait_until

pytestmark = pytest.mark.integration

MODEL = "credit-risk"
REFERENCE = 1000
WINDOW = 500
TEN_MB = 10 * 2**20
START = datetime(2026, 11, 30, 9, tzinfo=UTC)


def predictions(n: int, drift_at: int = 10**9, prefix: str = "f") -> list[bytes]:
    return [orjson.dumps(e.prediction) for e in synthetic_stream(n, drift_at, START, id_prefix=prefix)]


def drift_reports(records: list[Any]) -> dict[str, list[WindowReport]]:
    """Drift reports by their stable key, duplicates (after a restart) included."""
    by_key: dict[str, list[WindowReport]] = {}
    for record in records:
        value = orjson.loads(record.value)
        if value.get("kind") == "drift" and value.get("segment") is None:
            report = WindowReport.model_validate(value)
            assert record.key == report.key.encode()
            by_key.setdefault(report.key, []).append(report)
    return by_key


def letters_by_coordinates(records: list[Any]) -> dict[tuple[str, int, int], list[DeadLetter]]:
    letters: dict[tuple[str, int, int], list[DeadLetter]] = {}
    for record in records:
        letter = DeadLetter.model_validate_json(record.value)
        letters.setdefault((letter.topic, letter.partition, letter.offset), []).append(letter)
    return letters


def consumed(port: int) -> float:
    """Input messages the worker counted (accepted or dead-lettered), 0 while its metrics do not answer yet."""
    try:
        return metric(port, "streammon_events_total")
    except OSError:
        return 0.0


# -- bad input ---------------------------------------------------------------------


_HOLE = "\u0000hole\u0000"


def _with(event: dict[str, Any], raw: bytes, field: str, feature: str | None = None) -> bytes:
    """The event's JSON with a raw token (any bytes) as the value of ``field`` (or of one of its features)."""
    if feature is None:
        event = {**event, field: _HOLE}
    else:
        event = {**event, "features": {feature: _HOLE, **event["features"]}}
    return orjson.dumps(event).replace(orjson.dumps(_HOLE), raw)


def _poison(valid: bytes) -> list[tuple[bytes | None, str]]:
    """Messages most likely to break a worker, each with a part of the reason its dead letter must give."""
    event = orjson.loads(valid)
    return [
        (_with(event, b"NaN", "features", "poison"), "features.poison: not a finite number (nan)"),
        (_with(event, b"Infinity", "features", "poison"), "features.poison: not a finite number (inf)"),
        (_with(event, b"1e400", "features", "poison"), "features.poison: not a finite number (inf)"),
        (_with(event, b"1" + b"0" * 30, "features", "poison"), "features.poison: integer out of the 64-bit range"),
        (_with(event, b"-Infinity", "score"), "score: not a finite number (-inf)"),
        (_with(event, b'{"nested": {"deeper": [1, {"x": null}]}}', "features", "poison"), "features.poison: wrong type (dict)"),
        (_with(event, b"[" * 5000 + b"]" * 5000, "features", "poison"), "recursion limit exceeded"),
        (_with(event, b'"9999-12-31T23:59:59.999999Z"', "event_time"), "event_time: out of the supported range"),
        (_with(event, b"[1]", "features", "line\nbreak"), "features.line\\nbreak: wrong type (list)"),
        (_with(event, b'"\\ud800"', "model"), "not valid JSON"),
        (_with(event, b'"\xff\xfe"', "model"), "not valid JSON"),
        (None, "empty message (no value: a tombstone)"),
        (b"", "not valid JSON"),
    ]


def test_bad_input_is_dead_lettered_exactly_once_and_never_stops_the_worker(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    kafka = settings.kafka
    # The predictions topic takes 10 MB messages, as an operator would configure it for such producers;
    # the dead-letter topic keeps Kafka's default limit (about 1 MB).
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    admin.create_topics(
        [NewTopic(kafka.predictions_topic, kafka.partitions, 1, topic_configs={"max.message.bytes": str(16 * 2**20)})]
    )
    admin.close()
    worker = start_worker(settings)

    good = predictions(REFERENCE + 2 * WINDOW)
    # Valid but unusual: a new feature with a long text, every feature null, names in other scripts.
    # Each keeps its own prediction id: another event under a used id is a conflict, dead-lettered.
    unusual = [orjson.loads(good[REFERENCE + i]) for i in (10, 11, 12)]
    good[REFERENCE + 10] = orjson.dumps({**unusual[0], "features": {**unusual[0]["features"], "notes": "é" * 100_000}})
    good[REFERENCE + 11] = orjson.dumps({**unusual[1], "features": dict.fromkeys(unusual[1]["features"])})
    good[REFERENCE + 12] = orjson.dumps({**unusual[2], "features": {**unusual[2]["features"], "年齢": 3, "emoji 🙂": "ok"}})
    rng = random.Random(7)
    poison = _poison(good[0])
    huge = good[0].replace(b'"features":{', b'"features":{"blob":"' + b"x" * TEN_MB + b'",', 1)
    burst = [orjson.dumps({"prediction_id": f"wrong-{i}", "event_time": START.isoformat(), "label": i % 2}) for i in range(300)]
    noise = [rng.randbytes(rng.randint(1, 3000)) for _ in range(25)]
    # Interleaved with the valid ones, in one partition (one key), so windows see them in this order.
    groups: list[list[tuple[bytes | None, str]]] = [
        poison,
        [(huge, f"message of {len(huge)} bytes is larger than the limit of 1000000")],
        [(b, "model_version: Field required") for b in burst],
        [(b, "") for b in noise],
    ]
    cuts = [300, 700, 1200, 1600, len(good)]
    plan: list[tuple[bytes | None, str | None]] = [(v, None) for v in good[: cuts[0]]]
    for group, start, end in zip(groups, cuts, cuts[1:]):
        plan += group
        plan += [(v, None) for v in good[start:end]]
    coordinates = produce(bootstrap_servers, kafka.predictions_topic, [v for v, _ in plan], max_request_size=16 * 2**20)
    bad_at = {
        (kafka.predictions_topic, *where): (v, reason) for (v, reason), where in zip(plan, coordinates) if reason is not None
    }
    assert len(bad_at) == sum(map(len, groups)) and len(plan) - len(bad_at) == len(good)

    port = settings.worker.metrics_port
    wait_until(lambda: worker.assert_alive() or consumed(port) >= len(plan), 90, f"{len(plan)} messages counted")
    reader = topic_reader(kafka.dead_letter_topic, kafka.reports_topic)
    records = reader.until(lambda r: len(drift_reports(r[kafka.reports_topic])) >= 2, 60, "2 window reports", worker)
    records = reader.until_end(30, "the dead letters and reports written so far", worker)

    worker.assert_alive()
    letters = letters_by_coordinates(records[kafka.dead_letter_topic])
    assert set(letters) == set(bad_at), "a dead letter is missing, or a valid event was dead-lettered"
    for where, (value, reason) in bad_at.items():
        (letter,) = letters[where]  # exactly once
        assert reason in letter.error and letter.error.splitlines() == [letter.error], (where, letter.error)
        raw = value or b""
        assert letter.value_bytes == len(raw) and letter.value_sha256 == hashlib.sha256(raw).hexdigest()
        kept = base64.b64decode(letter.value_b64)
        assert kept == raw if not letter.value_truncated else raw.startswith(kept) and len(kept) > 700_000
        assert base64.b64decode(letter.key_b64 or "") == MODEL.encode()
    (huge_letter,) = letters[next(w for w, (v, _) in bad_at.items() if v is huge)]
    assert huge_letter.value_truncated and huge_letter.value_text is None
    assert all(len(r.value) <= 1_000_000 for r in records[kafka.dead_letter_topic])

    reports = drift_reports(records[kafka.reports_topic])
    assert sorted(r.window.index for (r,) in reports.values()) == [0, 1]
    assert sum(r.window.events for (r,) in reports.values()) + REFERENCE == len(good)
    assert metric(port, "streammon_events_total", outcome="accepted") == len(good)
    assert metric(port, "streammon_events_total", outcome="dead_lettered") == len(bad_at)
    assert metric(port, "streammon_events_total") == len(plan)
    assert metric(port, "streammon_rows_total", destination="reference") == REFERENCE
    assert metric(port, "streammon_rows_total", destination="window") == 2 * WINDOW
    assert metric(port, "streammon_analysis_failures_total") == 0


# -- checkpoint writes that fail ----------------------------------------------------------


def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_one_whole_and_never_crashes_the_timer(settings: Settings) -> None:
    """Without a broker: the worker's sends fail as they do once a long outage outlasts the producer's timeout."""
    worker = StreamWorker(settings)
    kafka = settings.kafka
    worker.partitions.states[0], worker.partitions.generations[0] = new_state(settings), 0  # as if partition 0 was assigned
    worker.partitions.states[0].labels.add_prediction("p1", PendingPrediction(MODEL, 0, True, None, None, {}, START))
    sent: list[tuple[str, bytes | None]] = []
    failing = {kafka.state_topic, kafka.model_status_topic}

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        if topic in failing:
            raise KafkaTimeoutError("broker unavailable")
        sent.append((topic, key))

    worker.output.send = send  # type: ignore[method-assign]
    try:
        asyncio.run(worker.partitions.checkpoint({0}))  # the state cannot be written
        failing.discard(kafka.state_topic)
        asyncio.run(worker.partitions.checkpoint({0}))  # the state is written, the model status is not: no exception either
    finally:
        worker.results.pool.shutdown()
    # The retry took the slot of the failed attempt, not the one the last manifest names.
    name = partition_checkpoint(kafka.group_id, 0)
    assert sent == [(kafka.state_topic, f"{name}/1/0".encode()), (kafka.state_topic, f"{name}/manifest".encode())]


def test_a_commit_refused_by_a_rebalance_is_logged_and_made_by_the_next_checkpoint(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a broker: a rebalance under way (a member that died mid-join) refuses the checkpoint's commit."""
    worker = StreamWorker(settings)
    kafka = settings.kafka
    worker.partitions.states[0], worker.partitions.generations[0] = new_state(settings), 0  # as if partition 0 was assigned
    worker.partitions.states[0].consumed(kafka.predictions_topic, 0, 41)
    committed: list[dict[tuple[str, int], int]] = []

    class Inputs:
        """The consumer's commit as a group in the middle of a rebalance answers it, once."""

        refusals = 1

        async def commit(self, offsets: dict[tuple[str, int], int]) -> None:
            if self.refusals:
                self.refusals -= 1
                raise CommitFailedError("UnknownMemberIdError: the group rebalanced")
            committed.append(dict(offsets))

    async def send(topic: str, key: bytes | None, value: bytes) -> None:
        return None

    worker.output.send = send  # type: ignore[method-assign]
    worker.partitions.inputs = Inputs()  # type: ignore[assignment]
    try:
        with caplog.at_level(logging.WARNING, logger="streams.worker.partitions"):
            asyncio.run(worker.partitions.checkpoint({0}))  # refused: no exception reaches the timer
            asyncio.run(worker.partitions.checkpoint({0}))
    finally:
        worker.results.pool.shutdown()
    assert committed == [{(kafka.predictions_topic, 0): 42}]
    (refused,) = [r for r in caplog.records if "not committed" in r.getMessage()]
    assert refused.levelno == logging.WARNING and "partition 0" in refused.getMessage()


def test_a_result_due_once_the_worker_stops_is_left_to_the_last_checkpoint(settings: Settings) -> None:
    """Without a broker: the stop cancelled the queued analyses, and reading, which waited for room, goes on."""
    worker = StreamWorker(settings)
    started: list[str] = []

    async def evaluate(state: object, key: str, job: object, previous: object) -> None:
        started.append(key)

    worker.results._evaluate_and_publish = evaluate  # type: ignore[method-assign]
    worker.results.stopping = True
    state = new_state(settings)
    try:
        asyncio.run(worker.results.submit(state, "performance/credit-risk/0/1", PerformanceJob(MODEL, 0, 1, 100, (), (), False)))
    finally:
        worker.results.pool.shutdown()
    assert not worker.results.pending and not started


# -- broker restart ------------------------------------------------------------------


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of this test's own on free loopback ports (the shared one at 9092 must not be restarted)."""
    port, controller_port = free_ports(2)
    broker = KafkaBroker(
        tmp_path / "broker",
        port=port,
        controller_port=controller_port,
        heap="384m",
        libs_home=Path.home() / ".cache" / "streammon",
    )
    broker.start()
    yield broker
    broker.stop()


def test_the_worker_reconnects_after_a_broker_restart_and_counts_every_event(
    own_broker: KafkaBroker, settings: Settings, start_worker: Callable[[Settings], RunningWorker]
) -> None:
    # own_broker comes first: set up before the worker, it is stopped after it.
    bootstrap = own_broker.status().bootstrap_servers
    settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})})
    kafka = settings.kafka
    windows = 3
    good = predictions(REFERENCE + windows * WINDOW, prefix="r")
    first = REFERENCE + WINDOW + WINDOW // 2  # the reference, window 0 and half of window 1
    worker = start_worker(settings)
    pid = worker.process.pid
    port = settings.worker.metrics_port
    produce(bootstrap, kafka.predictions_topic, good[:first])
    # A reader per broker life: kafka-python 3.0.12 leaks a socket for every refused reconnection.
    with closing(TopicReader(bootstrap, kafka.reports_topic)) as reader:
        reader.until(lambda r: len(drift_reports(r[kafka.reports_topic])) >= 1, 60, "window 0's report", worker)
    wait_until(lambda: consumed(port) >= first, 30, "the first half consumed")

    # SIGKILL: no clean shutdown; the broker recovers its logs from disk when it starts again.
    assert own_broker.kill()
    outage = time.monotonic()
    own_broker.start()
    outage = time.monotonic() - outage
    produce(bootstrap, kafka.predictions_topic, good[first:])

    with closing(TopicReader(bootstrap, kafka.reports_topic)) as reader:
        records = reader.until(
            lambda r: len(drift_reports(r[kafka.reports_topic])) >= windows, 90, f"{windows} window reports", worker
        )
    worker.assert_alive()
    assert worker.process.pid == pid  # the same worker process: it reconnected, it was not restarted
    assert outage > 3, "the broker was down too briefly for the worker to notice"
    reports = drift_reports(records[kafka.reports_topic])
    assert sorted(r.window.index for (r, *_) in reports.values()) == list(range(windows))
    assert all(len({(r.window, r.reference_events) for r in copies}) == 1 for copies in reports.values())
    assert all(r.window.events == WINDOW and r.reference_events == REFERENCE for (r, *_) in reports.values())
    # Nothing counted twice and nothing dropped across the outage.
    assert metric(port, "streammon_events_total", outcome="accepted") == len(good)
    assert metric(port, "streammon_rows_total", destination="window") == windows * WINDOW


# -- worker killed -----------------------------------------------------------------------


def test_a_worker_killed_mid_stream_accounts_for_every_prediction_once_after_its_restart(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    # Checkpoints far enough apart that the kill falls between two of them: what the worker did
    # after the first one is done again after the restart, and published again.
    settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"checkpoint_interval": 10.0})})
    kafka = settings.kafka
    windows, drift_window = 6, 3
    good = predictions(REFERENCE + windows * WINDOW, drift_at=REFERENCE + drift_window * WINDOW, prefix="k")
    rng = random.Random(11)
    invalid = [rng.choice([b"{oops", b'{"model": "credit-risk"}', rng.randbytes(40)]) for _ in range(40)]
    at = dict(zip(rng.sample(range(len(good)), len(invalid)), invalid))
    stream = [value for i, event in enumerate(good) for value in ([at[i]] if i in at else []) + [event]]
    # Three parts: before the first checkpoint (windows 0 and 1 close), before the kill (windows 2
    # and 3, the first drifted one), after it (windows 4 and 5).
    cuts = [0, *(stream.index(good[REFERENCE + n * WINDOW + WINDOW // 2]) for n in (2, 4)), len(stream)]
    parts = [stream[a:b] for a, b in zip(cuts, cuts[1:])]

    def reported(n: int) -> Callable[[dict[str, list[Any]]], bool]:
        return lambda r: len(drift_reports(r[kafka.reports_topic])) >= n

    worker = start_worker(settings)
    reader = topic_reader(kafka.reports_topic, kafka.alerts_topic, kafka.dead_letter_topic, kafka.state_topic)
    produce(bootstrap_servers, kafka.predictions_topic, parts[0])
    reader.until(
        lambda r: reported(2)(r) and any(m.key.endswith(b"/manifest") for m in r[kafka.state_topic]),
        60,
        "windows 0 and 1 reported and a checkpoint",
        worker,
    )
    produce(bootstrap_servers, kafka.predictions_topic, parts[1])
    reader.until(reported(4), 60, "windows 2 and 3 reported", worker)
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait()
    produce(bootstrap_servers, kafka.predictions_topic, parts[2])
    restarted = start_worker(settings)

    def complete(records: dict[str, list[Any]]) -> bool:
        alerts = [AlertEvent.model_validate_json(r.value) for r in records[kafka.alerts_topic]]
        return reported(windows)(records) and any(a.labels["kind"] == "data_drift" and a.status == "firing" for a in alerts)

    reader.until(complete, 120, f"{windows} window reports and a drift alert", restarted)
    records = reader.until_end(30, "everything written so far", restarted)
    restarted.assert_alive()
    assert "resumed from checkpoint" in restarted.log()

    # Every window exactly once by its key; a duplicate (published again after the restart) says the same.
    reports = drift_reports(records[kafka.reports_topic])
    assert sorted(copies[0].window.index for copies in reports.values()) == list(range(windows))
    for key, copies in reports.items():
        contents = {orjson.dumps(r.model_dump(mode="json", exclude={"snapshot", "alerts"})) for r in copies}
        assert len(contents) == 1, f"{key} was published {len(copies)} times with different results"
    distinct = sorted((copies[0] for copies in reports.values()), key=lambda r: r.window.index)
    assert all(r.window.events == WINDOW for r in distinct)
    assert [r.drifted_features > 0 for r in distinct] == [i >= drift_window for i in range(windows)]

    # Every invalid message dead-lettered, once by its coordinates; everything produced accounted for.
    letters = letters_by_coordinates(records[kafka.dead_letter_topic])
    assert len(letters) == len(invalid)
    for copies in letters.values():
        assert len({(c.error, c.value_b64, c.value_sha256) for c in copies}) == 1
    assert sum(r.window.events for r in distinct) + REFERENCE + len(letters) == len(stream)

    # The drift alert fired; its records are keyed by its fingerprint, so a repeat is recognisable.
    alerts = [(r.key, AlertEvent.model_validate_json(r.value)) for r in records[kafka.alerts_topic]]
    assert all(key == alert.fingerprint.encode() for key, alert in alerts)
    drift_alerts = [alert for _, alert in alerts if alert.labels["kind"] == "data_drift"]
    assert {"salary", "age"} <= {a.labels["feature"] for a in drift_alerts if a.status == "firing"}
    assert all(a.window is not None and a.window.index >= drift_window for a in drift_alerts)
    for fingerprint in {a.fingerprint for a in drift_alerts}:
        # Fired again when window 3 was analysed again: the same alert from the same window.
        assert len({(a.labels["feature"], a.window) for a in drift_alerts if a.fingerprint == fingerprint}) == 1

    if re.search(r"resumed from checkpoint 1 \((?!0 events)", restarted.log()):
        # Killed before its second checkpoint: windows 2 and 3 were closed again and published again.
        assert {copies[0].window.index for copies in reports.values() if len(copies) > 1} >= {2, 3}
