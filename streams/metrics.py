"""Prometheus metrics of the worker, served on ``worker.metrics_port`` (0 turns it off)."""

from __future__ import annotations

from functools import cache
from typing import TypeVar, cast

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

EVENTS = Counter(
    "streammon_events",
    "Input messages consumed, by topic and outcome (accepted, dead_lettered, repeated: a prediction sent again, or "
    "skipped: already in the restored state).",
    ["topic", "outcome"],
)
ROWS = Counter(
    "streammon_rows",
    "Joined predictions routed per model into its reference or its windows.",
    ["model", "destination"],
)
WINDOWS_CLOSED = Counter("streammon_windows_closed", "Windows closed, by model and reason.", ["model", "reason"])
REPORTS = Counter("streammon_reports", "Window reports published, by model.", ["model"])
ALERTS = Counter("streammon_alerts", "Alert state changes published, by kind and status (firing, resolved).", ["kind", "status"])
ALERTS_FIRING = Gauge("streammon_alerts_firing", "Alerts firing now.")
NOTIFICATIONS = Counter(
    "streammon_notifications",
    "Notifications handed to receivers, by receiver and outcome (delivered, failed, dropped).",
    ["receiver", "outcome"],
)
TOO_LARGE = Counter(
    "streammon_messages_too_large",
    "Messages not produced because they do not fit their topic (producer max_request_size or the broker's limit), by topic.",
    ["topic"],
)
ANALYSIS_FAILURES = Counter("streammon_analysis_failures", "Window analyses that raised, by model.", ["model"])
ANALYSIS_SECONDS = Histogram(
    "streammon_window_analysis_seconds",
    "Time from a window's close to its analysis result.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ANALYSES_QUEUED = Gauge("streammon_analyses_queued", "Window analyses waiting for an analysis process or running.")
ANALYSIS_BEHIND = Gauge(
    "streammon_analysis_behind_seconds",
    "Event time from the end of the oldest window not yet analysed to the newest event read on its partition (0: none waiting).",
)
FULL_REPORTS = Counter(
    "streammon_full_reports", "Evidently reports with plots written, by model and reason.", ["model", "reason"]
)
FULL_REPORTS_SKIPPED = Counter(
    "streammon_full_reports_skipped", "Full reports not built because as many were queued already, by model.", ["model"]
)
JOIN_PENDING = Gauge("streammon_join_pending", "Predictions and feature events waiting for their partner.")
JOIN_EVICTED = Gauge("streammon_join_evicted", "Items evicted unpaired from the feature join since start.")
DUPLICATE_PREDICTIONS = Counter(
    "streammon_duplicate_predictions",
    "Predictions whose id was already accepted, by outcome: resent (the same bytes, ignored) or conflict "
    "(other content, dead-lettered). The first event stands.",
    ["model", "outcome"],
)
INPUTS_PAUSED = Gauge(
    "streammon_inputs_paused",
    "Input partitions not read now (1), by reason: join_full (its next item would wait in a full join while the "
    "partner input has unread messages), ahead (its event time runs ahead of another input of the partition) or "
    "refused (its checkpoint was refused: see streammon_checkpoints_refused).",
    ["topic", "partition", "reason"],
)

LABELLED = Counter("streammon_labelled", "Predictions joined with their label, by model.", ["model"])
LABELLED_REJECTED = Counter(
    "streammon_labelled_rejected", "Labelled predictions unusable for the task (e.g. a text label for a regression).", ["model"]
)
LABELS_EXPIRED = Counter("streammon_labels_expired", "Predictions whose label did not come within the ttl, by model.", ["model"])
CHECKPOINT_BYTES = Gauge(
    "streammon_checkpoint_bytes", "Size of the latest state checkpoint of each input partition (compressed).", ["partition"]
)
CHECKPOINTS_REFUSED = Counter(
    "streammon_checkpoints_refused",
    "Checkpoints not restored, so partitions not started, by partition and reason: bad_signature (no key of "
    "worker.state_keys verifies it), unsigned (keys set, checkpoint unsigned), no_key (signed, no keys set), format, "
    "incomplete, unreadable.",
    ["partition", "reason"],
)
CHECKPOINT_SECONDS = Histogram(
    "streammon_checkpoint_seconds",
    "Time to write a state checkpoint to Kafka.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
EVENT_LOOP_LAG = Histogram(
    "streammon_event_loop_lag_seconds",
    "How late the worker's event loop ran a tick due every 100 ms: time it spent blocked by work that did not yield.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONSUMER_LAG = Gauge(
    "streammon_consumer_lag",
    "Input messages not yet processed, per topic partition: the high watermark minus the next offset to process.",
    ["topic", "partition"],
)
MESSAGES_OUT = Counter("streammon_messages_out", "Messages the worker produced and the broker acknowledged, by topic.", ["topic"])


_M = TypeVar("_M", bound=MetricWrapperBase)


def child(metric: _M, *values: str) -> _M:
    """``metric.labels(*values)``, looked up once: the per-event path counts tens of thousands of times a second."""
    return cast(_M, _child(metric, values))


@cache
def _child(metric: MetricWrapperBase, values: tuple[str, ...]) -> MetricWrapperBase:
    return metric.labels(*values)


def serve(host: str, port: int) -> None:
    """Serve /metrics on ``host``:``port`` unless ``port`` is 0."""
    if port:
        start_http_server(port, addr=host)
