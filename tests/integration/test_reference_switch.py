"""Replacing the reference while the worker runs, and a rolling reference, on the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streams.events import WindowReport
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, wait_until
from tests.integration.test_alerting import REFERENCE, WINDOW, Stream, produce

pytestmark = pytest.mark.integration


def window_reports(records: dict[str, list[object]], topic: str) -> list[WindowReport]:
    return [WindowReport.model_validate_json(r.value) for r in records[topic]]  # type: ignore[attr-defined]


def small_windows(settings: Settings, **reference: object) -> Settings:
    return Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 3600},
            "reference": {"size": REFERENCE, **reference},
        }
    )


def test_reference_set_replaces_the_reference_without_a_restart(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    tmp_path: Path,
) -> None:
    settings = small_windows(settings)
    kafka = settings.kafka
    stream = Stream("pricing")
    worker = start_worker(settings)
    produce(settings, stream.rows(REFERENCE) + stream.windows(2.0, 2.0), b"pricing")
    reader = topic_reader(kafka.reports_topic)
    records = reader.until(lambda r: len(r[kafka.reports_topic]) >= 2, 90, "2 shifted windows", worker)
    assert all(report.drifted_features == 3 for report in window_reports(records, kafka.reports_topic))

    # The shift was a planned change: the shifted data becomes the reference.
    rng = np.random.default_rng(3)
    new_reference = pd.DataFrame(rng.normal(2.0, 1.0, (REFERENCE, 3)), columns=stream.features)
    new_reference["prediction"] = rng.normal(0.0, 1.0, REFERENCE)
    path = tmp_path / "new-reference.csv"
    new_reference.to_csv(path, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMMON_")}
    env.update(
        STREAMMON_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        STREAMMON_KAFKA__CONTROL_TOPIC=kafka.control_topic,
        COLUMNS="200",
    )
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "reference", "set", str(path), "--model", "pricing"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"{REFERENCE} rows" in done.stderr
    wait_until(lambda: "reference of pricing replaced" in worker.log(), 30, "the worker to apply the new reference")

    produce(settings, stream.windows(2.0, 2.0), b"pricing")
    records = reader.until(lambda r: len(r[kafka.reports_topic]) >= 4, 90, "2 more windows", worker)
    later = sorted(window_reports(records, kafka.reports_topic), key=lambda r: r.window.index)[2:]
    assert [r.window.index for r in later] == [2, 3]
    assert all(report.drifted_features == 0 for report in later), [r.drifted_features for r in later]
    assert all(report.reference_events == REFERENCE for report in later)


def test_a_rolling_reference_flags_a_shift_where_it_starts_and_then_absorbs_it(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
) -> None:
    settings = small_windows(settings, rolling_windows=2)
    kafka = settings.kafka
    stream = Stream("rolling")
    worker = start_worker(settings)
    produce(settings, stream.rows(REFERENCE) + stream.windows(0, 0, 2.0, 2.0, 2.0, 2.0), b"rolling")
    reader = topic_reader(kafka.reports_topic)
    records = reader.until(lambda r: len(r[kafka.reports_topic]) >= 6, 120, "6 windows", worker)
    drifted = [r.drifted_features for r in sorted(window_reports(records, kafka.reports_topic), key=lambda r: r.window.index)]
    # Windows 0-1 match the stream reference; 2 is compared with 0-1 (shifted), 3 with 1-2 (half shifted),
    # and from 4 on the reference is the shifted data itself.
    assert drifted[:2] == [0, 0] and drifted[2] == 3 and drifted[4:] == [0, 0], drifted
