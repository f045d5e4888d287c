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

from dataclasses import dataclass, field
from typing import Any

from monitors.intake.join import KeyedJoin
from monitors.labels.join import LabelJoin
from monitors.labels.performance import PerformanceJob, PerformanceWindows
from monitors.partition import PartitionMonitor
from monitors.windows.watch import WindowJob
from streams.assembly import (
    alert_lifecycle,
    challenger,
    drift_watch,
    error_monitor,
    freshness_monitor,
    label_join,
    partition_rules,
    seen_predictions,
)
from streams.settings import Settings

__all__ = ["WorkerState", "new_state"]

TopicPartition = tuple[str, int]


@dataclass(repr=False)  # the monitor's summary, not every part's default repr
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

    def register(
        self, windows: list[WindowJob], performance: list[PerformanceJob]
    ) -> list[tuple[str, WindowJob | PerformanceJob]]:
        """Keep results due until they are published (a crash must not lose them); each with its key."""
        due: list[tuple[str, WindowJob | PerformanceJob]] = []
        for job in [*windows, *performance]:
            key = (
                f"drift/{job.model}/{job.segment}/{job.window.index}"
                if isinstance(job, WindowJob)
                else f"performance/{job.model}/{job.window}/{job.version}"
                if job.segment is None
                else f"performance/{job.model}/{job.segment}/{job.window}/{job.version}"
            )
            self.unpublished[key] = job
            due.append((key, job))
        return due


def new_state(settings: Settings, reference: list[dict[str, Any]] | None = None) -> WorkerState:
    """A partition's state before its first event."""
    labels = settings.labels
    return WorkerState(
        rules=partition_rules(settings),
        watch=drift_watch(settings, reference),
        features=KeyedJoin(settings.worker.join_capacity),
        labels=label_join(labels),
        seen=seen_predictions(labels.ttl, labels.per_model_ttl, labels.capacity),
        # As many labelled pairs as the label join holds waiting predictions, at most.
        performance=PerformanceWindows(keep_predictions=labels.capacity),
        errors=error_monitor(settings.performance),
        challenger=challenger(settings.online, settings.performance.task),
        lifecycle=alert_lifecycle(settings.alerting.conditions),
        freshness=freshness_monitor(settings.quality),
    )
