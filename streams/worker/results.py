"""Results: closed windows and quality versions analysed in a pool of processes, then published in order.

Evidently is CPU-bound and would stall consumption, so each result is computed
in one of ``worker.analysis_processes`` processes while the worker reads on. A
model's (or segment's) windows, and a model's quality versions, are published
in the order they closed; the queue is bounded, and a full queue makes reading
wait (nothing is dropped). A result that raises, changes or resolves an alert,
and one window per ``workspace.full_report_interval``, also get a full
Evidently report with its plots, built in the background.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitors.alerting.alerts import Alert
from monitors.labels.estimates import Calibration, Estimate
from monitors.labels.performance import PerformanceJob
from monitors.windows.watch import WindowJob
from monitors.workspace.full_reports import FullReportPolicy
from streams import metrics
from streams.alerting.service import AlertService
from streams.events import PerformanceReport, SnapshotRef, WindowReport
from streams.settings import Settings
from streams.worker.analysis import (
    AnalysisSpec,
    PerformanceOutcome,
    ReferenceRows,
    WindowOutcome,
    analyse,
    analysis_spec,
    annotate_run,
    evaluate_performance,
    follow_parent,
    full_performance_report,
    full_report,
    performance_name,
)
from streams.worker.output import Output
from streams.worker.partitions import Partitions
from streams.worker.state import WorkerState
from streams.workspace.runs import alert_notes

log = logging.getLogger(__name__)

# Analyses queued beyond this (or twice the analysis processes, if more) make the
# consumer wait: memory stays bounded when windows close faster than they are analysed.
# Windows close in bursts (every model's and segment's at about the same event count):
# with room for 4 the worker waited on each burst while the analysis process worked
# through it, then the process waited for the next; 16 (a few MB of windows) overlaps them.
MAX_PENDING_ANALYSES = 16
# How often, at most, the log says that analyses hold the consumer back.
BEHIND_WARNING_INTERVAL_S = 60.0


class Results:
    """The analysis processes, the results queued for them, and their publication."""

    def __init__(self, settings: Settings, partitions: Partitions, alerting: AlertService, output: Output) -> None:
        self.settings = settings
        self.spec = analysis_spec(settings)
        self.partitions = partitions
        self.alerting = alerting
        self.output = output
        self.pending: set[asyncio.Future[None]] = set()
        # The latest result task of each ordered stream (a model's or segment's windows, a
        # model's performance versions): the next one publishes after it.
        self._tails: dict[tuple[str, tuple[str, str] | None, str], asyncio.Future[None]] = {}
        # Window analyses not returned yet: the state they belong to, and the window's end.
        self._unanalysed: dict[asyncio.Future[None], tuple[WorkerState, datetime]] = {}
        self._full_reports: set[asyncio.Future[None]] = set()
        self._references: dict[tuple[str, tuple[str, str] | None], ReferenceRows] = {}  # packed, by model and segment
        self.full_report_policy = FullReportPolicy(settings.workspace.full_report_interval)
        self._warned_behind_at = -math.inf
        self.stopping = False
        # spawn, not fork: a child must not inherit the event loop and Kafka sockets.
        # The processes start with the first windows, not here.
        processes = settings.worker.analysis_processes or max(1, (os.cpu_count() or 1) - 1)
        self._max_pending = max(MAX_PENDING_ANALYSES, 2 * processes)
        self.pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=follow_parent,
            initargs=(os.getpid(),),
        )

    async def wait(self) -> None:
        """Give the analyses queued ``worker.stop_grace`` seconds to finish and publish (before a hand-over or a stop)."""
        if self.pending:
            await asyncio.wait(self.pending, timeout=self.settings.worker.stop_grace)

    async def stop(self) -> None:
        """Let the analyses queued finish within ``worker.stop_grace``, cancel the rest, and start no other.

        Windows already closed are worth their reports; those not published by
        then stay in the states' unpublished results, so in the last checkpoint.
        """
        if self.pending:
            log.info("waiting for %d window analyses before stopping", len(self.pending))
        await self.wait()
        self.stopping = True
        unfinished = list(self.pending)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
            log.info(
                "%d analyses not finished before stopping: the last checkpoint keeps their windows, analysed at the next start",
                len(unfinished),
            )

    def shutdown(self) -> None:
        """Stop the analysis processes."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, state: WorkerState, key: str, job: WindowJob | PerformanceJob) -> None:
        """Hand a result to the analysis processes; its stream's results are published in order."""
        await self._room_for_analysis()
        if self.stopping:
            # The stop cancelled the analyses queued (which made room): one started now would outlive the
            # pool and the producer. The job stays in the state's unpublished results, so in the last checkpoint.
            return
        if isinstance(job, WindowJob):
            metrics.WINDOWS_CLOSED.labels(model=job.model, reason=job.window.reason).inc()
            stream = (job.model, job.segment, "drift")
            task = asyncio.ensure_future(self._analyse_and_publish(state, key, job, self._tails.get(stream)))
            self._unanalysed[task] = (state, job.window.end)
        else:
            stream = (job.model, job.segment, "performance")
            task = asyncio.ensure_future(self._evaluate_and_publish(state, key, job, self._tails.get(stream)))
        self._tails[stream] = task
        self.pending.add(task)
        metrics.ANALYSES_QUEUED.set(len(self.pending))
        task.add_done_callback(functools.partial(self._finished, stream))

    def _finished(self, stream: tuple[str, tuple[str, str] | None, str], task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here, so asyncio never reports it as lost; the result stays unpublished (checkpointed).
            log.error("a result could not be analysed or published: %r", task.exception(), exc_info=task.exception())
        self.pending.discard(task)
        self._unanalysed.pop(task, None)
        if self._tails.get(stream) is task:
            del self._tails[stream]
        metrics.ANALYSES_QUEUED.set(len(self.pending))

    async def _room_for_analysis(self) -> None:
        """Wait while the analyses queued are at their bound: the consumer slows down, nothing is dropped."""
        if len(self.pending) < self._max_pending:
            return
        now = time.monotonic()
        if now - self._warned_behind_at >= BEHIND_WARNING_INTERVAL_S:
            self._warned_behind_at = now
            log.warning(
                "window analyses are behind: %d queued, the oldest %.0f s of event time behind the input; reading "
                "waits for them (more worker.analysis_processes, larger window.size, or fewer segments.top_k help)",
                len(self.pending),
                self.measure_backlog(),
            )
        while len(self.pending) >= self._max_pending:
            await asyncio.wait(self.pending, return_when=asyncio.FIRST_COMPLETED)

    def measure_backlog(self) -> float:
        """Seconds of event time from the end of the oldest window not analysed yet to the newest event read.

        Within each partition, whose event clock the window follows (partitions
        read from one backlog may be far apart in event time); the most of them.
        """
        behind = 0.0
        for state, end in self._unanalysed.values():
            if state.event_time is not None:
                behind = max(behind, (state.event_time - end).total_seconds())
        metrics.ANALYSIS_BEHIND.set(behind)
        return behind

    def _packed_reference(self, job: WindowJob) -> ReferenceRows:
        """The job's reference, packed once per version of it."""
        packed = self._references.get((job.model, job.segment))
        if packed is None or packed.key != ReferenceRows.key_of(job):
            packed = self._references[(job.model, job.segment)] = ReferenceRows.of(job)
        return packed

    async def _analyse_and_publish(
        self, state: WorkerState, key: str, job: WindowJob, previous: asyncio.Future[None] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        reference = self._packed_reference(job)
        job = replace(job, reference=())  # sent packed, apart
        try:
            calibration = state.calibrations.get(job.model)
            outcome: WindowOutcome = await loop.run_in_executor(self.pool, analyse, job, self.spec, reference, calibration)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("analysis of %s failed", job.name)
            async with self.partitions.lock:
                state.unpublished.pop(key, None)
            return
        metrics.ANALYSIS_SECONDS.observe(loop.time() - started)
        self._unanalysed.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        if previous is not None:
            await asyncio.wait([previous])  # the window before it is published first
        async with self.partitions.lock:
            report = await self._publish_window(state, key, job, outcome)
        if report.snapshot is not None and self.full_report_policy.wants(
            job.window.start, job.window.end, alert_changes=len(report.alerts)
        ):
            reason = "alert" if report.alerts else "interval"
            build = functools.partial(full_report, reference=reference)
            self._start_full_report(build, job, report.snapshot, reason, job.name)

    def _start_full_report(
        self,
        build_report: Callable[[Any, AnalysisSpec, SnapshotRef], None],
        job: WindowJob | PerformanceJob,
        snapshot: SnapshotRef,
        reason: str,
        what: str,
    ) -> None:
        """Build a result's Evidently report with its plots in the background, in place of its values-only run.

        At most as many as analyses may be queued: a storm of alert changes must not
        queue seconds-long reports without end ahead of the windows still to analyse.
        Beyond that a result keeps its values-only run (the alert still points to it).
        """
        if len(self._full_reports) >= self._max_pending:
            metrics.FULL_REPORTS_SKIPPED.labels(model=job.model).inc()
            log.debug("full report of %s skipped: %d already queued", what, len(self._full_reports))
            return

        async def build() -> None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.pool, build_report, job, self.spec, snapshot)
            except Exception:
                log.exception("full report of %s failed", what)
                return
            metrics.FULL_REPORTS.labels(model=job.model, reason=reason).inc()

        task = asyncio.ensure_future(build())
        self._full_reports.add(task)
        task.add_done_callback(self._full_reports.discard)

    async def _publish_window(self, state: WorkerState, key: str, job: WindowJob, outcome: WindowOutcome) -> WindowReport:
        report = outcome.report
        observations = list(outcome.observations)
        if report.estimate is not None:
            reported = report.estimate
            observations += state.estimated(job, Estimate(reported.accuracy, reported.low, reported.high, reported.rows))
        changes = await self.alerting.observe(
            self.partitions.partition_of(state), state.lifecycle, observations, report.window, report.snapshot
        )
        report = report.model_copy(update={"alerts": [alert.fingerprint for alert in changes]})
        await self._annotate_run(report, changes)
        if not await self.output.publish_result(state, key, job.name, report):
            return report
        metrics.REPORTS.labels(model=job.model).inc()
        log.info(
            "%s (%d events): %d/%d features drifted, %d alert changes",
            job.name,
            report.window.events,
            report.drifted_features,
            len(report.features),
            len(changes),
        )
        return report

    async def _annotate_run(self, report: WindowReport | PerformanceReport, changes: list[Alert]) -> None:
        """Add to the result's run in the workspace what only the worker knows: the alerts it changed."""
        if report.snapshot is not None and changes:
            notes = alert_notes(report.model, changes)
            await asyncio.get_running_loop().run_in_executor(None, annotate_run, self.spec, report.snapshot, notes)

    def _calibrate(self, state: WorkerState, model: str, calibration: Calibration) -> None:
        """Keep the score calibration the analysis fitted on a model's reference period."""
        state.calibrated(model, calibration)
        log.info(
            "%s: scores %s calibrated on the reference period (expected calibration error %.3f); "
            "accuracy estimates use the isotonic map",
            model,
            "are" if calibration.calibrated else "are NOT",
            calibration.ece or 0.0,
        )

    async def _evaluate_and_publish(
        self, state: WorkerState, key: str, job: PerformanceJob, previous: asyncio.Future[None] | None
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome: PerformanceOutcome = await loop.run_in_executor(self.pool, evaluate_performance, job, self.spec)
        except Exception:
            metrics.ANALYSIS_FAILURES.labels(model=job.model).inc()
            log.exception("performance of %s failed", performance_name(job))
            async with self.partitions.lock:
                state.unpublished.pop(key, None)
            return
        if previous is not None:
            await asyncio.wait([previous])  # the model's earlier versions and windows are published first
        async with self.partitions.lock:
            report = await self._publish_performance(state, key, job, outcome)
        # The model's reference period's quality is what every window is judged against: worth its plots too
        # (a segment's reference versions are not: one per segment and version would crowd the full reports).
        if report.snapshot is not None and (report.alerts or (job.window is None and job.segment is None)):
            reason = "alert" if report.alerts else "reference"
            what = performance_name(job)
            self._start_full_report(full_performance_report, job, report.snapshot, reason, what)

    async def _publish_performance(
        self, state: WorkerState, key: str, job: PerformanceJob, outcome: PerformanceOutcome
    ) -> PerformanceReport:
        result = outcome.result
        measured = state.measured(job, result)
        if job.window is None and job.segment is None and outcome.calibration is not None:
            self._calibrate(state, job.model, outcome.calibration)
        changes = []
        if measured.observations is not None:
            changes = await self.alerting.observe(
                self.partitions.partition_of(state),
                state.lifecycle,
                measured.observations,
                window=None,
                snapshot=outcome.report.snapshot,
            )
        report = outcome.report.model_copy(
            update={
                "alerts": [alert.fingerprint for alert in changes],
                "estimate": measured.reconciled,
                "reference_metrics": measured.reference_metrics,
            }
        )
        await self._annotate_run(report, changes)
        what = performance_name(job)
        if not await self.output.publish_result(state, key, what, report):
            return report
        log.info(
            "%s: %d/%d labelled, %s",
            what,
            result.labelled,
            job.predictions,
            ", ".join(f"{name} {value:.3f}" for name, value in sorted(result.metrics.items())) or "no metrics yet",
        )
        return report
