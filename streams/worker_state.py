"""Everything a worker knows of one input partition that it cannot recompute: one object, checkpointed as a whole.

The input topics are co-partitioned (a model's predictions, features and labels
are keyed by model, and every input topic has the same partition count), so
partition *p* of all of them is one unit of work: its monitors that hold stream
state (windows and references, the feature and label joins, the performance
windows, the error detectors, the online challengers, the alert lifecycle and
freshness of its models), the input offsets that state reflects, and the
results computed from it but not yet published. Restoring it and skipping input
below its offsets resumes the partition exactly where the checkpoint left it,
in this worker or in the one it moves to when the group rebalances.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitors.cbpe import CBPEConditions
from monitors.challenger import Challenger
from monitors.detectors import ErrorStream
from monitors.duplicates import SeenPredictions
from monitors.freshness import Freshness
from monitors.lifecycle import AlertLifecycle
from monitors.join import KeyedJoin
from monitors.labels import LabelJoin
from monitors.partition import PartitionMonitor, PartitionRules
from monitors.performance import PerformanceConditions, PerformanceJob, PerformanceWindows
from monitors.watch import DriftWatch, WindowJob
from streams.settings import Settings

__all__ = ["WorkerState", "new_state", "partition_rules", "seen_predictions"]

TopicPartition = tuple[str, int]


@dataclass
class WorkerState(PartitionMonitor):
    """A partition's monitor, with the input offsets it reflects and the results it made but did not publish yet.

    The monitor's rules come from the settings of each start (:meth:`PartitionMonitor.configure`);
    the rest is checkpointed as one object.
    """

    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    unpublished: dict[str, WindowJob | PerformanceJob] = field(default_factory=dict)
    applied: dict[str, str] = field(default_factory=dict)  # control command key -> id of the command applied

    def __setstate__(self, saved: dict[str, Any]) -> None:
        # A checkpoint written before prediction ids were remembered: remember them from now on,
        # for as long and as many as its label join keeps predictions.
        if "seen" not in saved:
            labels: LabelJoin = saved["labels"]
            saved["seen"] = seen_predictions(labels.ttl_s, labels.per_model_ttl_s, labels.capacity)
        super().__setstate__(saved)

    def reflects(self, topic: str, partition: int, offset: int) -> bool:
        """Whether the message at this offset already had its effect on this state."""
        return offset < self.offsets.get((topic, partition), 0)

    def consumed(self, topic: str, partition: int, offset: int) -> None:
        """Record that the message at this offset has had its effect."""
        self.offsets[(topic, partition)] = offset + 1

    def register(self, windows: list[WindowJob], performance: list[PerformanceJob]) -> list[tuple[str, WindowJob | PerformanceJob]]:
        """Keep results due until they are published (a crash must not lose them); each with its key."""
        due: list[tuple[str, WindowJob | PerformanceJob]] = []
        for job in [*windows, *performance]:
            key = (
                f"drift/{job.model}/{job.segment}/{job.window.index}"
                if isinstance(job, WindowJob)
                else f"performance/{job.model}/{job.window}/{job.version}"
            )
            self.unpublished[key] = job
            due.append((key, job))
        return due


def partition_rules(settings: Settings) -> PartitionRules:
    """The rules of a partition's monitor, from the settings they read."""
    performance, online, segments = settings.performance, settings.online, settings.segments
    return PartitionRules(
        window_size=settings.window.size,
        segment_keys=tuple(segments.keys),
        segment_top_k=segments.top_k,
        # The top values are learned over as many events as a stream reference holds.
        segment_learn=settings.reference.size,
        pause_on_quality_alerts=online.pause_on_quality_alerts,
        learn_min_labelled=online.min_labelled,
        pause_below_coverage=online.pause_below_coverage,
        performance=PerformanceConditions(
            minimum=dict(performance.minimum),
            max_drop=dict(performance.max_drop),
            maximum=dict(performance.maximum),
            min_labelled=performance.min_labelled,
        ),
        estimate=CBPEConditions(max_drop=performance.max_drop.get("accuracy", 0.05), min_rows=performance.min_labelled),
    )


def new_state(settings: Settings, reference: list[dict[str, Any]] | None = None) -> WorkerState:
    """A partition's state before its first event."""
    performance, online, conditions = settings.performance, settings.online, settings.alerting.conditions
    no_data_after = settings.quality.no_data_after
    return WorkerState(
        rules=partition_rules(settings),
        watch=DriftWatch(
            settings.window.size,
            settings.window.duration_s,
            settings.reference.size,
            reference=reference,
            rolling_windows=settings.reference.rolling_windows,
        ),
        features=KeyedJoin(settings.worker.join_capacity),
        labels=LabelJoin(settings.labels.ttl, settings.labels.capacity, dict(settings.labels.per_model_ttl)),
        seen=seen_predictions(settings.labels.ttl, settings.labels.per_model_ttl, settings.labels.capacity),
        # As many labelled pairs as the label join holds waiting predictions, at most.
        performance=PerformanceWindows(keep_predictions=settings.labels.capacity),
        errors=(
            ErrorStream(
                performance.detector,
                dict(performance.detector_params),
                task=performance.task,
                warmup=performance.detector_warmup,
            )
            if performance.detector is not None
            else None
        ),
        challenger=(
            Challenger(
                online.model,
                dict(online.params),
                task=performance.task,
                metric=online.metric,
                window=online.window,
                margin=online.margin,
                min_labelled=online.min_labelled,
                batch_size=online.batch_size,
            )
            if online.enabled
            else None
        ),
        lifecycle=AlertLifecycle(
            conditions.for_windows,
            conditions.keep_firing_for,
            conditions.hysteresis,
            critical_for_windows=conditions.for_critical,
        ),
        freshness=Freshness(no_data_after) if no_data_after else None,
    )


def seen_predictions(ttl_s: float, per_model_ttl_s: Mapping[str, float], capacity: int) -> SeenPredictions:
    """Prediction ids remembered as long as a label could still join them (the longest ttl), ``capacity`` at most."""
    return SeenPredictions(max([ttl_s, *per_model_ttl_s.values()]), capacity)
