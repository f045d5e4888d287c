"""Helpers for tests that run against the real broker."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from streams.settings import Settings


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free loopback ports (for a broker of a test's own)."""
    # All sockets stay open until every port is chosen, so the ports differ.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class RunningWorker:
    process: subprocess.Popen[bytes]
    log_file: Path

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"worker exited with {self.process.returncode}:\n{self.log()[-4000:]}"


class TopicReader:
    """Reads topics from their beginning, without a consumer group, as records arrive."""

    def __init__(self, bootstrap_servers: str, *topics: str) -> None:
        from kafka import KafkaConsumer

        self.records: dict[str, list[object]] = {topic: [] for topic in topics}
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )

    def until(
        self,
        condition: Callable[[dict[str, list[object]]], bool],
        timeout_s: float,
        what: str,
        worker: RunningWorker | None = None,
    ) -> dict[str, list[object]]:
        """Consume until ``condition(records)`` holds; fail naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not condition(self.records):
            if worker is not None:
                worker.assert_alive()
            if time.monotonic() > deadline:
                counts = {topic: len(records) for topic, records in self.records.items()}
                log = worker.log()[-3000:] if worker is not None else ""
                pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}; got {counts}\n{log}")
            for records in self._consumer.poll(timeout_ms=500).values():
                for record in records:
                    self.records[record.topic].append(record)
        return self.records

    def until_end(self, timeout_s: float, what: str, worker: RunningWorker | None = None) -> dict[str, list[object]]:
        """Consume until every partition of the topics is read up to its end as of this call."""
        from kafka import TopicPartition

        partitions = [
            TopicPartition(topic, partition)
            for topic in self.records
            for partition in self._consumer.partitions_for_topic(topic) or ()
        ]
        ends = {(tp.topic, tp.partition): end for tp, end in self._consumer.end_offsets(partitions).items() if end > 0}

        def read_to_the_end(records: dict[str, list[object]]) -> bool:
            seen: dict[tuple[str, int], int] = {}
            for topic, topic_records in records.items():
                for record in topic_records:
                    seen[(topic, record.partition)] = max(seen.get((topic, record.partition), -1), record.offset)  # type: ignore[attr-defined]
            return all(seen.get(where, -1) + 1 >= end for where, end in ends.items())

        return self.until(read_to_the_end, timeout_s, what, worker)

    def collect_for(self, seconds: float) -> dict[str, list[object]]:
        """Consume whatever arrives during ``seconds``: for checking that something does *not* come."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for records in self._consumer.poll(timeout_ms=250).values():
                for record in records:
                    self.records[record.topic].append(record)
        return self.records

    def close(self) -> None:
        self._consumer.close()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being read
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def analysis_processes(worker: RunningWorker) -> list[int]:
    """The window-analysis processes of ``worker``: its spawned children but the learner its log names."""
    learners = {int(found) for found in re.findall(r"the online challengers learn in process (\d+)", worker.log())}
    found = []
    for child in children_of(worker.process.pid):
        try:
            spawned = b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if spawned and child not in learners:
            found.append(child)
    return found


def produce(
    bootstrap_servers: str, topic: str, values: list[bytes | None], key: bytes | None = b"credit-risk", **options: object
) -> list[tuple[int, int]]:
    """Produce raw values (None: a tombstone) with one key, in order; return each one's (partition, offset)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **options)
    try:
        futures = [producer.send(topic, key=key, value=value) for value in values]
        producer.flush()
        return [(m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)]
    finally:
        producer.close()


def prediction_events(
    model: str,
    n: int,
    start: datetime,
    seed: int,
    shift: Callable[[int], float] = lambda i: 0.0,
    segment: Mapping[str, str] | None = None,
) -> list[bytes]:
    """``n`` predictions of ``model`` as JSON, one a second of event time from ``start``.

    Features ``a`` and ``b`` are standard normal, ``a`` moved by ``shift(i)`` for the i-th event, and
    ``c`` is ``x`` or ``y``; the prediction is 0 or 1. ``segment``, if given, goes into every event.
    """
    rng = np.random.default_rng(seed)
    return [
        orjson.dumps(
            {
                "model": model,
                "model_version": "1",
                "prediction_id": f"{model}-{i}",
                "event_time": (start + timedelta(seconds=i)).isoformat(),
                **({"segment": dict(segment)} if segment is not None else {}),
                "features": {"a": float(rng.normal(shift(i))), "b": float(rng.normal()), "c": str(rng.choice(["x", "y"]))},
                "prediction": int(rng.integers(0, 2)),
            }
        )
        for i in range(n)
    ]


def metric_so_far(worker: RunningWorker, port: int, name: str, **labels: str) -> float:
    """:func:`metric` of a worker that must be running, 0.0 while it does not serve its metrics yet."""
    worker.assert_alive()
    try:
        return metric(port, name, **labels)
    except OSError:
        return 0.0


def metric(port: int, name: str, **labels: str) -> float:
    """The sum of a metric's samples on a worker's /metrics whose labels include ``labels``; OSError while it does not serve."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class EvidentlyUI:
    """Evidently's own server (``evidently ui``) on ``workspace``, started in the background.

    One serves every test that looks at runs through it, each test writing a project of its own
    (:meth:`settings_for`). A running server learns of the projects and runs created after it
    started from its file watcher, in a thread of its own (streammon puts their files in place so
    that the watcher reads them whole: ``streams.workspace.store``). :meth:`reload` waits for it to
    know a project and has it read the project's runs again, as it reads them all when it starts.
    """

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        workspace.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self._address = f"http://127.0.0.1:{port}"
        self._ready = False
        self._process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("evidently")),
                "ui",
                "--workspace",
                str(self.workspace),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        """The server's address, once it answers (it starts while the tests fill the workspace)."""
        deadline = time.monotonic() + 60
        while not self._ready:
            try:
                urllib.request.urlopen(f"{self._address}/api/projects", timeout=5).read()
                self._ready = True
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise
                time.sleep(0.5)  # the UI is still starting: nothing to wait on but its port
        return self._address

    def settings_for(self, settings: Settings) -> Settings:
        """``settings`` writing to a project of the test's own (named after its consumer group) in the served workspace."""
        workspace = settings.workspace.model_copy(update={"path": self.workspace, "project": settings.kafka.group_id})
        return settings.model_copy(update={"workspace": workspace})

    def reload(self, project_id: str, timeout_s: float = 10.0) -> None:
        """Wait for the server to know the project, then have it read the project's runs from the workspace again.

        The server answers 404 for a project made after it started until its file watcher has
        read it; past ``timeout_s`` the test fails (the watcher missed the project).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/projects/{project_id}/reload", timeout=30).read()
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"the Evidently UI still answers 404 for project {project_id} {timeout_s:.0f} s after it was "
                        "created: its file watcher missed the project"
                    )
                time.sleep(0.2)  # the watcher reads new projects in a thread of its own: nothing to await from here

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)
