"""Helpers for tests that run against the real broker."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    def until(self, condition: Callable[[dict[str, list[object]]], bool], timeout_s: float, what: str, worker: RunningWorker | None = None) -> dict[str, list[object]]:
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
