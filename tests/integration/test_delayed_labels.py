"""Delayed labels on the real broker: the join, per-window quality, accuracy alerts, the online challenger, restarts."""

from __future__ import annotations

import os
import pickle
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from kafka import KafkaProducer

from streams.events import AlertEvent, ModelStatus, PerformanceReport, PromotionEvent, WindowReport
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, children_of, wait_until

pytestmark = pytest.mark.integration

MODEL = "credit"
REFERENCE = 1000
WINDOW = 500
WINDOWS = 6
DRIFT_WINDOW = 3  # the concept changes from this window on
START = datetime(2026, 11, 25, 8, tzinfo=UTC)


def label_settings(settings: Settings, batch_size: int = 1) -> Settings:
    return Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 36000},
            "reference": {"size": REFERENCE},
            "labels": {"ttl": "30m", "update_interval": "1s"},
            "performance": {"max_drop": {"accuracy": 0.1}, "min_labelled": 100},
            "online": {
                "model": "logistic_regression",
                "min_labelled": 300,
                "window": 300,
                "margin": 0.05,
                "batch_size": batch_size,
            },
            "quality": {"no_data_after": None},
            "worker": {**settings.worker.model_dump(mode="json"), "checkpoint_interval": "1s"},
        }
    )


class Scenario:
    """Predictions of a deployed model that is right 75 % of the time until the concept changes, then labels.

    Each prediction carries its score, calibrated until the change: 0.75 for a
    positive decision, 0.25 for a negative one. Labels are true for ``x1 + x2 > 0`` before the change and for ``x1 - x2 > 0``
    after it; the deployed model keeps predicting the old concept. A fifth of
    the labels never come; the others come 10 to 600 s after their prediction,
    shuffled within blocks of 500; some of the first thousand arrive before their
    prediction.
    """

    def __init__(self, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        n = REFERENCE + WINDOW * WINDOWS
        self.x = rng.normal(size=(n, 2))
        drifted = np.arange(n) >= REFERENCE + WINDOW * DRIFT_WINDOW
        old_concept = self.x[:, 0] + self.x[:, 1] > 0
        self.truth = np.where(drifted, self.x[:, 0] - self.x[:, 1] > 0, old_concept)
        self.predicted = np.where(rng.random(n) < 0.25, ~old_concept, old_concept)
        self.labelled = rng.random(n) >= 0.2
        self.delay = rng.uniform(10, 600, n)
        ids = np.flatnonzero(self.labelled)
        early = (ids < REFERENCE) & (rng.random(len(ids)) < 0.1)
        self.early_labels = rng.permutation(ids[early])
        late = ids[~early]
        self.late_labels = np.concatenate([rng.permutation(late[i : i + 500]) for i in range(0, len(late), 500)])

    def prediction(self, i: int) -> bytes:
        return orjson.dumps(
            {
                "model": MODEL,
                "model_version": "7",
                "prediction_id": f"p{i}",
                "event_time": (START + timedelta(seconds=i)).isoformat(),
                "features": {"x1": float(self.x[i, 0]), "x2": float(self.x[i, 1])},
                "prediction": bool(self.predicted[i]),
                "score": 0.75 if self.predicted[i] else 0.25,
            }
        )

    def label(self, i: int) -> bytes:
        return orjson.dumps(
            {
                "prediction_id": f"p{i}",
                "model": MODEL,
                "event_time": (START + timedelta(seconds=i + float(self.delay[i]))).isoformat(),
                "label": bool(self.truth[i]),
            }
        )

    def window_of(self, i: int) -> int | None:
        return None if i < REFERENCE else (i - REFERENCE) // WINDOW

    def accuracy(self, window: int) -> float:
        ids = [i for i in np.flatnonzero(self.labelled) if self.window_of(i) == window]
        return float(np.mean(self.predicted[ids] == self.truth[ids]))

    def labelled_in(self, window: int | None) -> int:
        return sum(1 for i in np.flatnonzero(self.labelled) if self.window_of(i) == window)


def send(producer: KafkaProducer, topic: str, values: list[bytes]) -> None:
    for value in values:
        producer.send(topic, key=MODEL.encode(), value=value)
    producer.flush()


def latest_status(records: list[object]) -> ModelStatus | None:
    statuses = [ModelStatus.model_validate_json(r.value) for r in records]  # type: ignore[attr-defined]
    return statuses[-1] if statuses else None


def latest_performance(records: list[object]) -> dict[int | None, PerformanceReport]:
    latest: dict[int | None, PerformanceReport] = {}
    for record in records:
        value = orjson.loads(record.value)  # type: ignore[attr-defined]
        if value.get("kind") != "performance":
            continue
        report = PerformanceReport.model_validate(value)
        if report.window_index not in latest or report.version > latest[report.window_index].version:
            latest[report.window_index] = report
    return latest


def drift_report(record: object) -> WindowReport | None:
    value = orjson.loads(record.value)  # type: ignore[attr-defined]
    return WindowReport.model_validate(value) if value.get("kind") == "drift" else None


def window_named(alert: AlertEvent) -> int:
    found = re.search(r"window (\d+)", alert.annotations["window"])
    assert found, alert.annotations
    return int(found.group(1))


def test_delayed_shuffled_missing_labels_give_exact_window_quality_alerts_and_a_promotion(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
    tmp_path: Path,
) -> None:
    settings = label_settings(settings)
    kafka = settings.kafka
    scenario = Scenario()
    worker = start_worker(settings)
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    send(producer, kafka.labels_topic, [scenario.label(i) for i in scenario.early_labels])
    send(producer, kafka.predictions_topic, [scenario.prediction(i) for i in range(len(scenario.x))])
    send(producer, kafka.labels_topic, [scenario.label(i) for i in scenario.late_labels])
    producer.close()
    labels_sent = len(scenario.early_labels) + len(scenario.late_labels)

    reader = topic_reader(kafka.model_status_topic, kafka.reports_topic, kafka.alerts_topic, kafka.model_updates_topic)

    def settled(records: dict[str, list[object]]) -> bool:
        status = latest_status(records[kafka.model_status_topic])
        performance = latest_performance(records[kafka.reports_topic])
        return (
            status is not None
            and status.joined == labels_sent
            and status.expired > 0  # missing labels expire once the label stream is 30 minutes past them
            and all(w in performance and performance[w].labelled == scenario.labelled_in(w) for w in [None, *range(WINDOWS)])
        )

    records = reader.until(settled, 150, "every label joined, missing ones expired and every window's quality up to date", worker)

    status = latest_status(records[kafka.model_status_topic])
    assert status is not None
    assert status.predictions == len(scenario.x) and status.labels == labels_sent
    assert status.joined == labels_sent and status.orphaned == 0 and status.duplicates == 0
    # Missing labels expire only once the label stream is 30 minutes past their prediction.
    assert 0 < status.expired <= len(scenario.x) - labels_sent
    assert status.settled_coverage == pytest.approx(labels_sent / (labels_sent + status.expired))
    assert status.coverage == pytest.approx(labels_sent / len(scenario.x))

    performance = latest_performance(records[kafka.reports_topic])
    for window in range(WINDOWS):
        report = performance[window]
        assert report.predictions == WINDOW
        assert report.coverage == pytest.approx(scenario.labelled_in(window) / WINDOW)
        assert report.metrics["accuracy"] == pytest.approx(scenario.accuracy(window), abs=1e-9), window
        assert report.delay_max_s is not None and 10 <= report.delay_p50_s <= report.delay_max_s <= 600  # type: ignore[operator]

    # Before any label, each window's accuracy is estimated from its scores (through the calibration fitted
    # on the reference period's labelled scores) and checked against the realized accuracy once labels land.
    drift_reports = {r.window.index: r for r in map(drift_report, records[kafka.reports_topic]) if r is not None}
    assert sorted(drift_reports) == list(range(WINDOWS))
    for window, drift in drift_reports.items():
        assert drift.estimate is not None and drift.estimate.rows == WINDOW, window
        assert abs(drift.estimate.accuracy - 0.75) < 0.1, drift.estimate
    assert "scores are calibrated on the reference period" in worker.log() or "scores are NOT calibrated" in worker.log()
    reconciled = performance[0].estimate
    assert reconciled["estimated"] == pytest.approx(drift_reports[0].estimate.accuracy)  # type: ignore[union-attr]
    assert reconciled["realized"] == pytest.approx(scenario.accuracy(0), abs=1e-9)

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[kafka.alerts_topic]]  # type: ignore[attr-defined]
    accuracy_alerts = [a for a in alerts if a.labels["kind"] == "performance" and a.labels["feature"] == "accuracy"]
    assert accuracy_alerts and accuracy_alerts[0].status == "firing"
    # It fired on a window after the change, never on one before it.
    fired_on = [window_named(a) for a in accuracy_alerts if a.status == "firing"]
    assert all(w >= DRIFT_WINDOW for w in fired_on), fired_on

    promotions = [PromotionEvent.model_validate_json(r.value) for r in records[kafka.model_updates_topic]]  # type: ignore[attr-defined]
    assert len(promotions) >= 1
    first = promotions[0]
    assert first.model == MODEL and first.labelled >= 300
    assert first.challenger_score >= first.deployed_score + 0.05
    assert status.challenger is not None and status.challenger.labelled == labels_sent

    # What an engineer sees, and the model they can take away.
    shown = cli(settings, "models")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith(f"│ {MODEL} "))
    assert f" {labels_sent} │" in row and "logistic_regression" in row and "[PROMOTE]" in shown.stdout
    exported = tmp_path / "challenger.pkl"
    written = cli(settings, "models", "export", MODEL, "-o", str(exported))
    assert written.returncode == 0, written.stderr
    with exported.open("rb") as file:
        online = pickle.load(file)
    sure_true, sure_false = {"x1": 3.0, "x2": 3.0}, {"x1": -3.0, "x2": -3.0}
    assert online.predict_one(sure_true) != online.predict_one(sure_false)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMMON_")}
    kafka = settings.kafka
    env.update(
        STREAMMON_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        STREAMMON_KAFKA__STATE_TOPIC=kafka.state_topic,
        STREAMMON_KAFKA__MODEL_STATUS_TOPIC=kafka.model_status_topic,
        STREAMMON_KAFKA__GROUP_ID=kafka.group_id,
        COLUMNS="250",
    )
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=120, env=env)


def test_a_worker_killed_mid_stream_resumes_the_join_and_the_online_model_exactly(
    settings: Settings,
    start_worker: Callable[[Settings], RunningWorker],
    topic_reader: Callable[..., TopicReader],
    bootstrap_servers: str,
) -> None:
    # Mini-batches of 16, so that the restart goes through checkpoints holding a batch under way.
    settings = label_settings(settings, batch_size=16)
    kafka = settings.kafka
    scenario = Scenario(seed=11)
    worker = start_worker(settings)
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    send(producer, kafka.labels_topic, [scenario.label(i) for i in scenario.early_labels])
    send(producer, kafka.predictions_topic, [scenario.prediction(i) for i in range(len(scenario.x))])
    half = len(scenario.late_labels) // 2
    send(producer, kafka.labels_topic, [scenario.label(i) for i in scenario.late_labels[:half]])
    reader = topic_reader(kafka.model_status_topic)
    joined_before = len(scenario.early_labels) + half

    def some_joined(records: dict[str, list[object]]) -> bool:
        status = latest_status(records[kafka.model_status_topic])
        return status is not None and status.joined >= joined_before // 2

    reader.until(some_joined, 120, "part of the labels joined", worker)
    children = children_of(worker.process.pid)
    assert children, "the worker runs its analyses in a child process"
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait()
    # Its analysis process does not outlive it.
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 15, "the orphaned analysis process to exit")

    restarted = start_worker(settings)
    send(producer, kafka.labels_topic, [scenario.label(i) for i in scenario.late_labels[half:]])
    producer.close()
    labels_sent = len(scenario.early_labels) + len(scenario.late_labels)

    def all_joined(records: dict[str, list[object]]) -> bool:
        status = latest_status(records[kafka.model_status_topic])
        return (
            status is not None
            and status.joined >= labels_sent
            and status.challenger is not None
            and (status.challenger.labelled >= labels_sent)
        )

    records = reader.until(all_joined, 150, "every label joined after the restart", restarted)
    # Let a few more checkpoints pass: a double count would show up as more than was sent.
    records = reader.collect_for(3)
    status = latest_status(records[kafka.model_status_topic])
    assert status is not None
    assert status.predictions == len(scenario.x)
    assert status.labels == labels_sent and status.joined == labels_sent
    assert status.duplicates == 0 and status.orphaned == 0
    assert status.challenger is not None
    assert status.challenger.labelled == labels_sent
    assert status.challenger.learned > 0 and status.challenger.learned % 16 == 0  # whole batches only
    assert "resumed from checkpoint" in restarted.log()
