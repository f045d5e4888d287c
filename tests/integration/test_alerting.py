"""Alert handling end to end on the real broker: for, grouping, resolve, silences, inhibition, restarts, Alertmanager."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from kafka import KafkaProducer

from streams.alerting.silences import create_silence, list_silences
from streams.events import AlertEvent, WindowReport
from streams.settings import Settings
from tests.helpers import RunningWorker, TopicReader, free_port, metric, wait_until

pytestmark = pytest.mark.integration

WINDOW = 200
REFERENCE = 400
START = datetime(2026, 11, 24, 8, tzinfo=UTC)


def alerting_settings(settings: Settings, **alerting: object) -> Settings:
    """Small windows, quick group timers, a Kafka receiver on this test's own topic."""
    prefix = settings.kafka.reports_topic.rsplit(".", 1)[0]
    base = {
        "route": {
            "receiver": "team",
            "group_by": ["model", "kind"],
            "group_wait": "1s",
            "group_interval": "3s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "team", "kafka": {"topic": f"{prefix}.notifications"}}],
    }
    return Settings.model_validate(
        {
            **settings.model_dump(mode="json", by_alias=True),
            "window": {"size": WINDOW, "duration_s": 3600},
            "reference": {"size": REFERENCE},
            "alerting": {**base, **alerting},
        }
    )


def notifications_topic(settings: Settings) -> str:
    (receiver,) = [r for r in settings.alerting.receivers if r.kafka is not None]
    assert receiver.kafka is not None
    return receiver.kafka.topic


class Stream:
    """Prediction events of one model, window by window, each window stationary or shifted."""

    def __init__(self, model: str, features: int = 3, seed: int = 1) -> None:
        self.model = model
        self.features = [f"f{i:02d}" for i in range(features)]
        self.rng = np.random.default_rng(seed)
        self.sent = 0

    def rows(self, n: int, shift: float = 0.0, prediction_shift: float = 0.0) -> list[bytes]:
        values = self.rng.normal(0.0, 1.0, (n, len(self.features))) + shift
        predictions = self.rng.normal(prediction_shift, 1.0, n)
        events = []
        for row, prediction in zip(values, predictions):
            events.append(
                orjson.dumps(
                    {
                        "model": self.model,
                        "model_version": "1",
                        "prediction_id": f"{self.model}-{self.sent}",
                        "event_time": (START + timedelta(seconds=self.sent)).isoformat(),
                        "features": dict(zip(self.features, map(float, row))),
                        "prediction": float(prediction),
                    }
                )
            )
            self.sent += 1
        return events

    def windows(self, *shifts: float, prediction_shift: float = 0.0) -> list[bytes]:
        return [e for shift in shifts for e in self.rows(WINDOW, shift, prediction_shift if shift else 0.0)]


def produce(settings: Settings, events: list[bytes], model: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for event in events:
        producer.send(settings.kafka.predictions_topic, key=model, value=event)
    producer.flush()
    producer.close()


def reports(records: dict[str, list], settings: Settings) -> list[WindowReport]:
    return [WindowReport.model_validate_json(r.value) for r in records[settings.kafka.reports_topic]]


DRIFT_KINDS = ("data_drift", "prediction_drift")


def alerts(records: dict[str, list], settings: Settings, kinds: tuple[str, ...] = DRIFT_KINDS) -> list[AlertEvent]:
    """The alert state changes of these kinds (the shifts here also trip out_of_range checks)."""
    changes = (AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic])
    return [a for a in changes if a.labels["kind"] in kinds]


def notifications(records: dict[str, list], settings: Settings, kinds: tuple[str, ...] = DRIFT_KINDS) -> list[dict]:
    """The notifications of groups of these kinds."""
    sent = (orjson.loads(r.value) for r in records[notifications_topic(settings)])
    return [n for n in sent if n["groupLabels"].get("kind") in kinds]


def settled(settings: Settings, n_reports: int) -> Callable[[dict[str, list]], bool]:
    """Every window reported and every alert state change it announced is on the alerts topic."""

    def done(records: dict[str, list]) -> bool:
        got = reports(records, settings)
        return len(got) >= n_reports and len(records[settings.kafka.alerts_topic]) >= sum(len(r.alerts) for r in got)

    return done


def reader_for(topic_reader: Callable[..., TopicReader], settings: Settings) -> TopicReader:
    return topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic, notifications_topic(settings))


def test_a_flapping_drift_pages_only_once_for_is_met(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings, conditions={"for": 2, "for_critical": None})
    stream = Stream("flappy")
    worker = start_worker(settings)
    produce(settings, stream.rows(REFERENCE) + stream.windows(1.5, 0, 1.5, 0, 1.5, 0, 1.5, 1.5, 1.5), b"flappy")

    reader = reader_for(topic_reader, settings)
    reader.until(settled(settings, 9), 120, "9 windows", worker)
    records = reader.until(lambda r: len(notifications(r, settings)) >= 1, 30, "a notification", worker)

    fired = alerts(records, settings)
    assert fired, "the drift that held for two windows was never alerted"
    assert {a.window.index for a in fired} == {7}, "an alert fired before the drift held for two consecutive windows"
    assert {a.status for a in fired} == {"firing"}
    assert {a.labels["feature"] for a in fired} == {"f00", "f01", "f02"}
    (notification,) = notifications(records, settings)
    assert notification["status"] == "firing" and len(notification["alerts"]) == 3


def test_thirty_drifted_features_are_one_notification_and_are_resolved_together(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    stream = Stream("wide", features=30)
    worker = start_worker(settings)
    produce(settings, stream.rows(REFERENCE) + stream.windows(0, 1.0, 1.0), b"wide")

    reader = reader_for(topic_reader, settings)
    reader.until(lambda r: len(notifications(r, settings)) >= 1, 120, "the firing notification", worker)
    # The recovery comes after the page: a group that resolves within its group_wait is never notified.
    produce(settings, stream.windows(0, 0), b"wide")
    reader.until(settled(settings, 5), 120, "5 windows", worker)
    records = reader.until(
        lambda r: any(n["status"] == "resolved" for n in notifications(r, settings)), 30, "the resolve notification", worker
    )

    changes = alerts(records, settings)
    firing = [a for a in changes if a.status == "firing"]
    resolved = [a for a in changes if a.status == "resolved"]
    assert len(firing) == 30 and {a.window.index for a in firing} == {1}
    assert len(resolved) == 30 and {a.window.index for a in resolved} == {3}
    assert {a.fingerprint for a in firing} == {a.fingerprint for a in resolved}
    first, last = notifications(records, settings)
    assert first["status"] == "firing" and len(first["alerts"]) == 30
    assert first["groupLabels"] == {"kind": "data_drift", "model": "wide"}
    assert last["status"] == "resolved" and len(last["alerts"]) == 30
    assert all(a["status"] == "resolved" for a in last["alerts"])


def test_a_silence_mutes_matching_alerts_until_it_expires(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    silence = create_silence(settings.kafka, ['model="quiet"'], 25, "oncall", "known issue, fix deploying")
    assert [s.id for s in list_silences(settings.kafka)] == [silence.id]
    quiet, loud = Stream("quiet", seed=2), Stream("loud", seed=3)
    worker = start_worker(settings)
    produce(settings, quiet.rows(REFERENCE) + quiet.windows(1.5), b"quiet")
    produce(settings, loud.rows(REFERENCE) + loud.windows(1.5), b"loud")

    reader = reader_for(topic_reader, settings)
    records = reader.until(
        lambda r: settled(settings, 2)(r) and len(notifications(r, settings)) >= 1, 120, "2 windows and a notification", worker
    )
    assert {a.labels["model"] for a in alerts(records, settings)} == {"quiet", "loud"}, "alerts are recorded, silenced or not"
    assert datetime.now(UTC) < silence.ends_at, "the test was too slow to see the silence at work"
    assert {n["groupLabels"]["model"] for n in notifications(records, settings)} == {"loud"}

    records = reader.until(
        lambda r: any(n["groupLabels"]["model"] == "quiet" for n in notifications(r, settings)),
        60,
        "the silenced alerts, once the silence expired",
        worker,
    )
    (late,) = [n for n in notifications(records, settings) if n["groupLabels"]["model"] == "quiet"]
    assert datetime.now(UTC) >= silence.ends_at
    assert late["status"] == "firing" and len(late["alerts"]) == 3


def test_an_inhibition_rule_mutes_the_dependent_alerts(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(
        settings,
        inhibit_rules=[
            {"source_matchers": ['kind="prediction_drift"'], "target_matchers": ['kind="data_drift"'], "equal": ["model"]}
        ],
    )
    both, features_only = Stream("both", seed=4), Stream("features-only", seed=5)
    worker = start_worker(settings)
    produce(settings, both.rows(REFERENCE) + both.windows(1.5, prediction_shift=1.5), b"both")
    produce(settings, features_only.rows(REFERENCE) + features_only.windows(1.5), b"features-only")

    reader = reader_for(topic_reader, settings)
    reader.until(settled(settings, 2), 120, "2 windows", worker)
    records = reader.until(lambda r: len(notifications(r, settings)) >= 2, 30, "2 notifications", worker)
    kinds = {(a.labels["model"], a.labels["kind"]) for a in alerts(records, settings)}
    assert kinds == {("both", "prediction_drift"), ("both", "data_drift"), ("features-only", "data_drift")}

    # A muted group would have gone out within one more group interval.
    records = reader.collect_for(settings.alerting.route.group_interval + 1)
    sent = {(n["groupLabels"]["model"], n["groupLabels"]["kind"]) for n in notifications(records, settings)}
    assert sent == {("both", "prediction_drift"), ("features-only", "data_drift")}


def test_a_worker_restart_pages_nothing_twice_and_keeps_the_resolve(settings, start_worker, topic_reader, tmp_path: Path) -> None:
    stream = Stream("restart", seed=6)
    settings = _with_reference_file(alerting_settings(settings), stream, tmp_path / "reference.csv")

    first = start_worker(settings)
    produce(settings, stream.windows(1.5, 1.5), b"restart")
    reader = reader_for(topic_reader, settings)
    reader.until(settled(settings, 2), 120, "2 drifted windows", first)
    reader.until(lambda r: len(notifications(r, settings)) >= 1, 30, "the page", first)
    first.process.terminate()
    assert first.process.wait(timeout=60) == 0

    second = start_worker(settings)
    produce(settings, stream.windows(1.5, 1.5, 0), b"restart")
    records = reader.until(
        lambda r: any(n["status"] == "resolved" for n in notifications(r, settings)), 120, "the resolve after the restart", second
    )
    sent = notifications(records, settings)
    assert [n["status"] for n in sent] == ["firing", "resolved"], "the restart paged again, or lost the resolve"
    changes = alerts(records, settings)
    assert [a.status for a in changes if a.labels["feature"] == "f00"] == ["firing", "resolved"]


def _with_reference_file(settings: Settings, stream: Stream, path: Path) -> Settings:
    """Windows from the first event on: the reference comes from a file, not from the stream."""
    pd.DataFrame(
        [orjson.loads(e)["features"] | {"prediction": orjson.loads(e)["prediction"]} for e in stream.rows(REFERENCE)]
    ).to_csv(path, index=False)
    return settings.model_copy(update={"reference": settings.reference.model_copy(update={"path": path})})


def owned(worker: RunningWorker) -> set[int]:
    """The input partitions a worker owns now, as its log says: started (or resumed), and not handed over since."""
    partitions: set[int] = set()
    for line in worker.log().splitlines():
        if started := re.search(r" partition (\d+): ", line):
            partitions.add(int(started.group(1)))
        elif handed := re.search(r" partitions ([\d, ]+) handed over", line):
            partitions -= {int(p) for p in handed.group(1).split(", ")}
    return partitions


def test_a_partition_handed_over_to_another_worker_pages_nothing_twice(
    settings, start_worker, topic_reader, tmp_path: Path
) -> None:
    stream = Stream("handover", seed=9)
    settings = _with_reference_file(alerting_settings(settings), stream, tmp_path / "reference.csv")
    ports = {}

    def start(port: int) -> RunningWorker:
        worker = start_worker(settings.model_copy(update={"worker": settings.worker.model_copy(update={"metrics_port": port})}))
        ports[id(worker)] = port
        return worker

    first, second = start(free_port()), start(free_port())
    # The group has settled once each worker owns some partitions and together they own each once (the two may
    # join in one rebalance, or the first may take every partition and then hand some over).
    everything = set(range(settings.kafka.partitions))

    def settled_group() -> bool:
        mine, theirs = owned(first), owned(second)
        return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == everything

    wait_until(settled_group, 120, "both workers in the group")
    produce(settings, stream.windows(1.5, 1.5), b"handover")
    reader = reader_for(topic_reader, settings)
    reader.until(settled(settings, 2), 120, "2 drifted windows", first)
    reader.until(lambda r: len(notifications(r, settings)) >= 1, 30, "the page", first)

    def windows_of(worker: RunningWorker) -> float:
        return metric(ports[id(worker)], "streammon_windows_closed_total", model="handover")

    owner, heir = (first, second) if windows_of(first) else (second, first)
    assert windows_of(heir) == 0, "the model's partition moved before the page"
    owner.process.terminate()
    assert owner.process.wait(timeout=60) == 0
    # Still drifted, then back to normal: the heir carries the firing group on, then resolves it.
    produce(settings, stream.windows(1.5, 0), b"handover")
    records = reader.until(
        lambda r: any(n["status"] == "resolved" for n in notifications(r, settings)), 120, "the resolve by the heir", heir
    )
    assert windows_of(heir) >= 2, "the windows after the hand-over were not the heir's"
    sent = notifications(records, settings)
    assert [n["status"] for n in sent] == ["firing", "resolved"], "the hand-over paged again, or lost the resolve"


def test_alerts_reach_a_real_alertmanager_and_resolve_there(settings, start_worker, topic_reader, alertmanager) -> None:
    settings = alerting_settings(
        settings,
        receivers=[{"name": "am", "alertmanager": {"url": alertmanager.url}}],
        route={"receiver": "am", "group_by": ["model"], "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
    )
    stream = Stream("am-model", seed=7)
    worker = start_worker(settings)
    produce(settings, stream.rows(REFERENCE) + stream.windows(1.5), b"am-model")

    def active() -> list[dict]:
        response = httpx.get(
            f"{alertmanager.url}/api/v2/alerts", params={"filter": ['model="am-model"', 'kind="data_drift"']}, timeout=5
        )
        response.raise_for_status()
        return response.json()

    deadline = time.monotonic() + 90
    while len(active()) < 3:
        worker.assert_alive()
        assert time.monotonic() < deadline, "the alerts never reached Alertmanager"
        time.sleep(0.5)  # Alertmanager is polled: it has no feed to wait on
    received = active()
    assert sorted(a["labels"]["feature"] for a in received) == ["f00", "f01", "f02"]
    for alert in received:
        assert alert["labels"]["kind"] == "data_drift" and alert["labels"]["model"] == "am-model"
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["status"]["state"] == "active"
        assert "drifted" in alert["annotations"]["summary"]

    produce(settings, stream.windows(0), b"am-model")
    deadline = time.monotonic() + 90
    while active():
        worker.assert_alive()
        assert time.monotonic() < deadline, "the resolve never reached Alertmanager"
        time.sleep(0.5)


def test_a_silent_model_raises_no_data_and_resolves_when_it_sends_again(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    settings = settings.model_copy(
        update={"quality": settings.quality.model_copy(update={"no_data_after": 2.0, "freshness_check_interval": 0.5})}
    )
    stream = Stream("sleepy", seed=8)
    worker = start_worker(settings)
    produce(settings, stream.rows(50), b"sleepy")

    reader = topic_reader(settings.kafka.alerts_topic)
    records = reader.until(lambda r: len(alerts(r, settings, kinds=("no_data",))) >= 1, 60, "the no_data alert", worker)
    (fired,) = alerts(records, settings, kinds=("no_data",))
    assert fired.status == "firing" and fired.labels == {
        "model": "sleepy",
        "kind": "no_data",
        "feature": "*",
        "severity": "warning",
    }
    assert fired.window is None and "no events for" in fired.annotations["summary"]

    produce(settings, stream.rows(10), b"sleepy")
    records = reader.until(lambda r: len(alerts(r, settings, kinds=("no_data",))) >= 2, 30, "the resolve", worker)
    resolved = alerts(records, settings, kinds=("no_data",))[1]
    assert resolved.status == "resolved" and resolved.fingerprint == fired.fingerprint
