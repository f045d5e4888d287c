"""Names chosen by producers cannot forge lines in the worker's readable log (real broker)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from streams.events import WindowReport
from streams.settings import Settings
from tests.helpers import produce, wait_until

pytestmark = pytest.mark.integration

FORGED = "FORGED-LOG-LINE CRITICAL streammon: fake window 0 (100 events): 0/20 features drifted, 0 alert changes"
MODEL = f"evil\n{FORGED}\rX"
REFERENCE, WINDOW = 100, 100
START = datetime(2026, 12, 1, tzinfo=UTC)
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ")


def events(n: int) -> list[bytes]:
    rng = np.random.default_rng(20)
    return [
        orjson.dumps(
            {
                "model": MODEL,
                "model_version": "1",
                "prediction_id": f"evil-{i}",
                "event_time": (START + timedelta(seconds=i)).isoformat(),
                "features": {"a": float(rng.normal()), "b": str(rng.choice(["x", "y"]))},
                "prediction": int(rng.integers(0, 2)),
            }
        )
        for i in range(n)
    ]


def test_a_model_name_with_line_breaks_writes_one_log_line(settings, start_worker, topic_reader) -> None:
    settings = Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 3600},
            "reference": {"size": REFERENCE},
        }
    )
    worker = start_worker(settings)
    produce(settings.kafka.bootstrap_servers, settings.kafka.predictions_topic, events(REFERENCE + WINDOW), key=b"evil")

    reader = topic_reader(settings.kafka.reports_topic)
    records = reader.until(lambda r: len(r[settings.kafka.reports_topic]) >= 1, 120, "the window's report", worker)
    report = WindowReport.model_validate_json(records[settings.kafka.reports_topic][0].value)
    assert report.model == MODEL  # the name itself is kept as sent; only the log escapes it

    escaped = "evil\\n" + FORGED + "\\rX window 0 (100 events)"
    wait_until(lambda: escaped in worker.log(), 30, "the window's line in the worker's log")
    lines = worker.log().splitlines()
    assert [line for line in lines if FORGED in line] == [line for line in lines if escaped in line]
    assert len([line for line in lines if escaped in line]) == 1
    assert all(RECORD.match(line) for line in lines if FORGED in line)
    assert "\r" not in worker.log()
