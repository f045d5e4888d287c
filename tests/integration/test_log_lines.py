"""The worker's readable log: names chosen by producers cannot forge lines, segment windows are named (real broker)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from streams.events import WindowReport
from streams.settings import Settings
from tests.helpers import prediction_events, produce, wait_until

pytestmark = pytest.mark.integration

FORGED = "FORGED-LOG-LINE CRITICAL streammon: fake window 0 (100 events): 0/20 features drifted, 0 alert changes"
MODEL = f"evil\n{FORGED}\rX"
REGION = "eu\r\nFORGED-SEGMENT"
REFERENCE, WINDOW = 100, 100
START = datetime(2026, 12, 1, tzinfo=UTC)
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ")


def test_names_with_line_breaks_write_one_log_line_and_segment_windows_are_named(settings, start_worker, topic_reader) -> None:
    settings = Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 3600},
            "reference": {"size": REFERENCE},
            "segments": {"keys": ["region"], "top_k": 1},
        }
    )
    worker = start_worker(settings)
    # The segment's values are learned over the model's reference period, then the segment
    # has a reference and windows of its own: model windows 0 and 1, segment window 0.
    events = prediction_events(MODEL, REFERENCE + 2 * WINDOW, START, seed=20, segment={"region": REGION})
    produce(settings.kafka.bootstrap_servers, settings.kafka.predictions_topic, events, key=b"evil")

    reader = topic_reader(settings.kafka.reports_topic)
    records = reader.until(lambda r: len(r[settings.kafka.reports_topic]) >= 3, 120, "the windows' reports", worker)
    reports = [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]
    # The names themselves are kept as sent; only the log escapes them.
    assert sorted((r.model, r.segment or "", r.window.index) for r in reports) == [
        (MODEL, "", 0),
        (MODEL, "", 1),
        (MODEL, f"region={REGION}", 0),
    ]

    model = "evil\\n" + FORGED + "\\rX"
    window = model + " window 0 (100 events)"
    segment_window = model + " [region=eu\\r\\nFORGED-SEGMENT] window 0 (100 events)"
    wait_until(lambda: segment_window in worker.log() and window in worker.log(), 30, "the windows' lines in the worker's log")
    lines = worker.log().splitlines()
    # Every line quoting the names is a record of its own, and each window has one line.
    forged = [line for line in lines if "FORGED" in line]
    assert forged and all(RECORD.match(line) and model in line for line in forged)
    assert len([line for line in lines if window in line]) == 1
    assert len([line for line in lines if segment_window in line]) == 1
    assert "\r" not in worker.log()
