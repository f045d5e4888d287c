"""A clean stop with window analyses queued, on the real broker: nothing logged as an error, nothing lost.

A burst of events closes many small windows at once while the worker's only
analysis process is held (SIGSTOP), so analyses are queued when SIGTERM comes.
The worker waits its grace period, then says at INFO level that the unfinished
analyses' windows are in its last checkpoint; started again, it analyses them.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.events import WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, analysis_processes, metric_so_far, produce, wait_until

pytestmark = pytest.mark.integration

REFERENCE = 100
WINDOW = 50
WINDOWS = 10
FORBIDDEN = re.compile(r" ERROR |Traceback|Task exception was never retrieved|Crashed")


def _reports(records: dict[str, list[Any]], topic: str) -> dict[str, list[WindowReport]]:
    by_key: dict[str, list[WindowReport]] = {}
    for record in records[topic]:
        report = WindowReport.model_validate_json(record.value)
        if report.key.endswith("/drift/v1"):
            by_key.setdefault(report.key, []).append(report)
    return by_key


def test_a_stop_with_analyses_queued_keeps_their_windows_in_the_checkpoint_and_logs_no_error(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    settings = settings.model_copy(
        update={
            "window": settings.window.model_copy(update={"size": WINDOW}),
            "reference": settings.reference.model_copy(update={"size": REFERENCE}),
            # A short grace: the analyses are held, so the worker waits all of it.
            "worker": settings.worker.model_copy(update={"analysis_processes": 1, "stop_grace": 3.0}),
        }
    )
    kafka = settings.kafka
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    events = [orjson.dumps(e.prediction) for e in synthetic_stream(REFERENCE + WINDOWS * WINDOW, 10**9, start)]

    worker = start_worker(settings)
    # The reference and window 0: the first analysis starts the analysis process, which is then held.
    produce(bootstrap_servers, kafka.predictions_topic, events[: REFERENCE + WINDOW])
    wait_until(lambda: worker.assert_alive() or bool(analysis_processes(worker)), 60, "the worker's analysis process")
    (analyser,) = analysis_processes(worker)
    try:
        os.kill(analyser, signal.SIGSTOP)
        # The burst: every other window closes at once; the analyses queue up to their bound.
        produce(bootstrap_servers, kafka.predictions_topic, events[REFERENCE + WINDOW :])
        port = settings.worker.metrics_port
        wait_until(lambda: metric_so_far(worker, port, "streammon_analyses_queued") >= 4, 60, "analyses queued")

        worker.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "not finished before stopping" in worker.log(), 60, "the worker to give up on its analyses")
    finally:
        os.kill(analyser, signal.SIGCONT)  # its current analysis may end now, so the worker's exit can
    assert worker.process.wait(timeout=30) == 0
    log = worker.log()
    assert not FORBIDDEN.findall(log), [line for line in log.splitlines() if FORBIDDEN.search(line)]
    (waiting,) = re.findall(r" INFO streams\.worker\.results: waiting for (\d+) window analyses before stopping", log)
    (unfinished,) = re.findall(
        r" INFO streams\.worker\.results: (\d+) analyses not finished before stopping: the last checkpoint keeps their windows",
        log,
    )
    assert int(unfinished) == int(waiting) >= 4

    # The worker logs each report once the broker has it: none of the unfinished ones was published.
    assert len(re.findall(r" INFO streams\.worker\.results: credit-risk window \d+ \(", log)) <= WINDOWS - int(unfinished)

    # Started again from that checkpoint: the windows left unanalysed are analysed, each reported once.
    restarted = start_worker(settings)
    reader = topic_reader(kafka.reports_topic)
    records = reader.until(lambda r: len(_reports(r, kafka.reports_topic)) >= WINDOWS, 90, f"{WINDOWS} window reports", restarted)
    records = reader.until_end(30, "everything written so far", restarted)
    assert "resumed from checkpoint" in restarted.log()
    reports = _reports(records, kafka.reports_topic)
    assert sorted(copies[0].window.index for copies in reports.values()) == list(range(WINDOWS))
    assert all(len(copies) == 1 for copies in reports.values()), {key: len(c) for key, c in reports.items() if len(c) > 1}
