"""``streammon demo``: the whole pipeline on the local broker, with drift at a known point.

It starts (or reuses) the local broker, runs a worker in a child process on
topics of its own, publishes a synthetic stream (predictions, some features
logged separately, labels, and a few broken messages), prints the alerts as
they arrive and checks the outcome: the drift is alerted, nothing is alerted
before it, and every published message is accounted for.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaConsumer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from streams.admin import ensure_topics
from streams.alerting.view import render_alert
from streams.events import (
    AlertEvent,
    ModelStatus,
    PerformanceReport,
    PromotionEvent,
    WindowReport,
)
from streams.kafka_clients import client_options
from streams.local.broker.process import KafkaBroker
from streams.local.synthetic import synthetic_stream
from streams.publish import Publisher
from streams.receiver_settings import ReceiverConfig
from streams.settings import KafkaSettings, Settings, receiver_topics
from streams.worker.runner import spawn_worker, stop_worker

PREDICTIONS = 11_000
DRIFT_AT = 8_000
WINDOW_SIZE = 1_000
REFERENCE_SIZE = 2_000
SEPARATE_FEATURES_EVERY = 10
# Labels come late (in event time and in arrival order), and a tenth never come.
LABEL_LAG = 300
LABEL_DELAY_S = 45.0
UNLABELLED_EVERY = 10
BROKEN_MESSAGES = (
    b"{not json",
    b'{"model": "credit-risk", "prediction_id": "x-1"}',
    b'{"model": "credit-risk", "model_version": "1", "prediction_id": "x-2", '
    b'"event_time": "yesterday", "features": {"age": [1, 2]}, "prediction": 1}',
    b"\x00\xff\xfe binary",
)

console = Console()


@dataclass
class DemoOutcome:
    """What the demo saw on the output topics."""

    reports: list[WindowReport] = field(default_factory=list)
    performance: dict[int | None, PerformanceReport] = field(default_factory=dict)
    alerts: list[AlertEvent] = field(default_factory=list)
    dead_letters: int = 0
    notifications: list[dict[str, Any]] = field(default_factory=list)
    status: ModelStatus | None = None
    promotions: list[PromotionEvent] = field(default_factory=list)
    complete_in_time: bool = False  # everything expected arrived before the deadline

    def latest_status(self) -> dict[str, str]:
        """Each alert's latest status (one that fired and resolved within a group_wait is never notified)."""
        return {alert.fingerprint: alert.status for alert in self.alerts}

    def complete(self, expected_windows: int, labelled: dict[int | None, int]) -> bool:
        """Every window reported with all its labels, every firing alert notified, every broken message dead-lettered.

        Labels are counted in total: a prediction whose features come in their own
        event joins the window open when they arrive, which may be the next one.
        """
        announced = sum(len(report.alerts) for report in self.reports)
        notified = {a["fingerprint"] for n in self.notifications for a in n["alerts"]}
        return (
            len(self.reports) >= expected_windows
            and all(w in self.performance for w in labelled)
            and sum(self.performance[w].labelled for w in labelled) == sum(labelled.values())
            and len(self.alerts) >= announced
            and {fingerprint for fingerprint, status in self.latest_status().items() if status == "firing"} <= notified
            and self.dead_letters >= len(BROKEN_MESSAGES)
        )


def demo_settings(settings: Settings, run_id: str, metrics_port: int) -> Settings:
    """The demo's settings: its own topics and group, count windows, a stream reference."""
    # The local broker listens in plaintext, whatever security the configured cluster needs.
    local = KafkaSettings(bootstrap_servers=f"127.0.0.1:{settings.broker.port}", partitions=settings.kafka.partitions)
    kafka = local.namespaced(f"demo-{run_id}")
    receiver = {"name": "demo", "kafka": {"topic": f"demo-{run_id}.notifications"}}
    route = settings.alerting.route.model_copy(
        update={"receiver": "demo", "routes": [], "group_wait": 2.0, "group_interval": 10.0}
    )
    alerting = settings.alerting.model_copy(update={"route": route, "receivers": [ReceiverConfig.model_validate(receiver)]})
    return settings.model_copy(
        update={
            "kafka": kafka,
            "alerting": alerting,
            "window": settings.window.model_copy(update={"size": WINDOW_SIZE, "duration_s": 600.0}),
            "reference": settings.reference.model_copy(update={"path": None, "size": REFERENCE_SIZE}),
            "labels": settings.labels.model_copy(update={"update_interval": 2.0}),
            "worker": settings.worker.model_copy(update={"metrics_port": metrics_port, "checkpoint_interval": 2.0}),
        }
    )


def run_demo(settings: Settings, timeout_s: float = 150.0) -> bool:
    """Run the demo; True when the drift was alerted, only it, and nothing was lost."""
    started = time.monotonic()
    broker = KafkaBroker(
        settings.broker.home,
        port=settings.broker.port,
        controller_port=settings.broker.controller_port,
        heap=settings.broker.heap,
    )
    with console.status("starting the local Kafka broker"):
        seconds = broker.start()
    console.print(
        f"[green]✓[/green] Kafka {broker.status().version} at 127.0.0.1:{settings.broker.port} (ready in {seconds:.1f} s)"
    )

    run_id = uuid.uuid4().hex[:8]
    demo = demo_settings(settings, run_id, _free_port())
    state_dir = demo.worker.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    worker_log = state_dir / f"demo-{run_id}-worker.log"
    ensure_topics(demo.kafka, extra=receiver_topics(demo.alerting))
    worker = spawn_worker(demo, state_dir / f"demo-{run_id}.yaml", worker_log)
    console.print(f"[green]✓[/green] worker started (pid {worker.pid}, log {worker_log})")
    try:
        drift_time = _publish(demo)
        outcome = _collect(
            demo,
            expected_windows=(PREDICTIONS - REFERENCE_SIZE) // WINDOW_SIZE,
            labelled=_labelled_per_window(),
            worker=worker,
            timeout_s=timeout_s,
        )
    finally:
        stop_worker(worker)
    ok = _verdict(outcome, drift_time)
    console.print(f"\nEvidently workspace: [bold]{demo.workspace.path.resolve()}[/bold] — open it with")
    console.print(f"  evidently ui --workspace {demo.workspace.path.resolve()}")
    console.print(f"demo {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s (worker log: {worker_log})")
    return ok


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _labelled(index: int) -> bool:
    return index % UNLABELLED_EVERY != UNLABELLED_EVERY - 1


def _labelled_per_window() -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for i in range(PREDICTIONS):
        if _labelled(i):
            window = None if i < REFERENCE_SIZE else (i - REFERENCE_SIZE) // WINDOW_SIZE
            counts[window] = counts.get(window, 0) + 1
    return counts


def _publish(settings: Settings) -> datetime:
    """Publish the synthetic stream; return the event time at which the drift starts."""
    start = datetime.now(UTC) - timedelta(minutes=15)
    spacing_s = 0.05
    with Publisher(settings.kafka) as publisher, Progress(console=console, transient=True) as progress:
        task = progress.add_task("publishing predictions, features and labels", total=PREDICTIONS)
        labels: list[dict[str, Any]] = []
        for event in synthetic_stream(PREDICTIONS, DRIFT_AT, start, spacing_s=spacing_s):
            prediction = event.prediction
            if event.index % SEPARATE_FEATURES_EVERY == 0:
                # Some producers log features apart from the prediction.
                features = {k: prediction[k] for k in ("model", "prediction_id", "event_time", "features")}
                publisher.send("predictions", {**prediction, "features": {}})
                publisher.send("features", features)
            else:
                publisher.send("predictions", prediction)
            if _labelled(event.index):
                labels.append(_delayed(event.label))
            if len(labels) > LABEL_LAG:
                publisher.send("labels", labels.pop(0))
            if event.index % 500 == 0:
                progress.update(task, completed=event.index)
        for label in labels:
            publisher.send("labels", label)
        publisher.flush()
    with Publisher(settings.kafka, validate=False) as raw:
        for message in BROKEN_MESSAGES:
            raw.send("predictions", message)
    labelled = sum(_labelled_per_window().values())
    console.print(
        f"[green]✓[/green] published {PREDICTIONS} predictions (features logged separately for every "
        f"{SEPARATE_FEATURES_EVERY}th), {labelled} labels ({LABEL_DELAY_S:.0f} s late, {LABEL_LAG} predictions behind; "
        f"every {UNLABELLED_EVERY}th never comes) and {len(BROKEN_MESSAGES)} broken messages; "
        f"drift injected from prediction {DRIFT_AT}"
    )
    return start + timedelta(seconds=DRIFT_AT * spacing_s)


def _delayed(label: dict[str, Any]) -> dict[str, Any]:
    labelled_at = datetime.fromisoformat(label["event_time"]) + timedelta(seconds=LABEL_DELAY_S)
    return {**label, "event_time": labelled_at.isoformat()}


def _collect(
    settings: Settings,
    *,
    expected_windows: int,
    labelled: dict[int | None, int],
    worker: subprocess.Popen[bytes],
    timeout_s: float,
) -> DemoOutcome:
    kafka = settings.kafka
    consumer = KafkaConsumer(
        kafka.reports_topic,
        kafka.alerts_topic,
        kafka.dead_letter_topic,
        kafka.model_status_topic,
        kafka.model_updates_topic,
        _notifications_topic(settings),
        **client_options(kafka),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    outcome = DemoOutcome()
    deadline = time.monotonic() + timeout_s
    try:
        with console.status(f"waiting for {expected_windows} window reports") as status:
            while not outcome.complete(expected_windows, labelled) and time.monotonic() < deadline:
                if worker.poll() is not None:
                    console.print(f"[red]the worker exited with code {worker.returncode}[/red]")
                    break
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        _take(record.topic, record.value, settings, outcome)
                status.update(
                    f"waiting for window reports: {len(outcome.reports)}/{expected_windows}, "
                    f"labels joined: {outcome.status.joined if outcome.status else 0}/{sum(labelled.values())}"
                )
    finally:
        consumer.close()
    outcome.complete_in_time = outcome.complete(expected_windows, labelled)
    _print_reports(outcome.reports, outcome.performance)
    _print_challenger(outcome)
    return outcome


def _notifications_topic(settings: Settings) -> str:
    (receiver,) = settings.alerting.receivers
    assert receiver.kafka is not None, "the demo's receiver is a Kafka topic"
    return receiver.kafka.topic


def _take(topic: str, value: bytes, settings: Settings, outcome: DemoOutcome) -> None:
    kafka = settings.kafka
    if topic == kafka.reports_topic:
        report = orjson.loads(value)
        if report.get("kind") == "performance":
            performance = PerformanceReport.model_validate(report)
            known = outcome.performance.get(performance.window_index)
            if known is None or performance.version > known.version:
                outcome.performance[performance.window_index] = performance
        else:
            outcome.reports.append(WindowReport.model_validate(report))
    elif topic == kafka.model_status_topic:
        outcome.status = ModelStatus.model_validate_json(value)
    elif topic == kafka.model_updates_topic:
        promotion = PromotionEvent.model_validate_json(value)
        outcome.promotions.append(promotion)
        console.print(
            f"[bold magenta]promotion[/bold magenta] {promotion.model}: the online {promotion.challenger} scores "
            f"{promotion.metric} {promotion.challenger_score:.3f} against the deployed model's "
            f"{promotion.deployed_score:.3f} over {promotion.labelled} labelled predictions"
        )
    elif topic == kafka.alerts_topic:
        alert = AlertEvent.model_validate_json(value)
        outcome.alerts.append(alert)
        console.print(render_alert(alert))
    elif topic == kafka.dead_letter_topic:
        outcome.dead_letters += 1
        console.print(f"[yellow]dead letter:[/yellow] {orjson.loads(value)['error']}")
    else:
        notification = orjson.loads(value)
        outcome.notifications.append(notification)
        features = sorted(a["labels"].get("feature", "?") for a in notification["alerts"])
        console.print(
            f"[magenta]notification[/magenta] to {notification['receiver']} ({notification['status']}, "
            f"group {notification['groupKey']}): {len(features)} alerts: {', '.join(features)}"
        )


def _print_reports(reports: list[WindowReport], performance: dict[int | None, PerformanceReport]) -> None:
    table = Table(title="window reports: drift at close, quality as labels land", title_justify="left")
    for column in (
        "window",
        "events",
        "first event (UTC)",
        "drifted",
        "features drifted",
        "estimated accuracy (scores)",
        "labelled",
        "accuracy",
        "versions",
    ):
        table.add_column(column)
    reference = performance.get(None)
    if reference is not None:
        accuracy = reference.metrics.get("accuracy")
        table.add_row(
            "reference",
            str(reference.predictions),
            "",
            "",
            "",
            "",
            f"{reference.coverage:.0%}",
            f"{accuracy:.3f}" if accuracy is not None else "-",
            str(reference.version),
        )
    for report in sorted(reports, key=lambda r: r.window.index):
        drifted = [f.feature for f in report.features if f.drifted]
        quality = performance.get(report.window.index)
        accuracy = quality.metrics.get("accuracy") if quality is not None else None
        table.add_row(
            str(report.window.index),
            str(report.window.events),
            f"{report.window.start:%H:%M:%S}",
            f"{report.drifted_features}/{len(report.features)}",
            ", ".join(drifted) or "-",
            f"{report.estimate.accuracy:.3f} ({report.estimate.low:.3f}–{report.estimate.high:.3f})" if report.estimate else "-",
            f"{quality.coverage:.0%}" if quality is not None else "-",
            f"{accuracy:.3f}" if accuracy is not None else "-",
            str(quality.version) if quality is not None else "-",
        )
    console.print(table)


def _print_challenger(outcome: DemoOutcome) -> None:
    status = outcome.status
    if status is None:
        return
    console.print(
        f"labels: {status.joined} joined of {status.labels} received, {status.expired} expired unlabelled, "
        f"{status.coverage:.1%} of {status.predictions} predictions labelled"
    )
    challenger = status.challenger
    if challenger is not None and challenger.challenger_score is not None and challenger.deployed_score is not None:
        console.print(
            f"online challenger ({challenger.challenger}, learning from every label): {challenger.metric} "
            f"{challenger.challenger_score:.3f} against the deployed model's {challenger.deployed_score:.3f} over the "
            f"last labelled predictions; {'promotion proposed' if outcome.promotions else 'no promotion'}"
        )


def _window_index(alert: AlertEvent) -> int:
    """The window a performance alert names in its ``window`` annotation (-1 when it names none)."""
    found = re.search(r"window (\d+)", alert.annotations.get("window", ""))
    return int(found.group(1)) if found else -1


def _verdict(outcome: DemoOutcome, drift_time: datetime) -> bool:
    early = [a for a in outcome.alerts if a.window is not None and a.window.start < drift_time]
    on_drift = [
        a
        for a in outcome.alerts
        if a.labels.get("kind") == "data_drift" and a.window is not None and a.window.start >= drift_time
    ]
    windowed = sum(report.window.events for report in outcome.reports)
    accuracy_alerts = [a for a in outcome.alerts if a.labels.get("kind") == "performance" and a.status == "firing"]
    drift_window = (DRIFT_AT - REFERENCE_SIZE) // WINDOW_SIZE
    early_accuracy = [a for a in accuracy_alerts if _window_index(a) < drift_window]
    checks = {
        f"every prediction after the reference analysed ({windowed}/{PREDICTIONS - REFERENCE_SIZE})": windowed
        == PREDICTIONS - REFERENCE_SIZE,
        f"drift alerted (data_drift alerts after the drift point: {len(on_drift)})": bool(on_drift),
        f"no alert before the drift point ({len(early)} early)": not early,
        f"accuracy alerted once labels showed the drop ({len(accuracy_alerts)} performance alerts, "
        f"{len(early_accuracy)} before the drift)": bool(accuracy_alerts) and not early_accuracy,
        "online challenger scored next to the deployed model": outcome.status is not None
        and outcome.status.challenger is not None,
        f"alerts grouped into {len(outcome.notifications)} notifications": bool(outcome.notifications) or not outcome.alerts,
        f"every broken message dead-lettered ({outcome.dead_letters}/{len(BROKEN_MESSAGES)})": outcome.dead_letters
        == len(BROKEN_MESSAGES),
        "every window reported with all its labels, every firing alert notified, before the deadline": outcome.complete_in_time,
    }
    for text, ok in checks.items():
        console.print(f"{'[green]✓' if ok else '[red]✗'}[/] {text}")
    return all(checks.values())
