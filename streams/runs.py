"""What a run in the Evidently workspace says about itself: tags, metadata, streammon's values.

A window's drift run and a window version's performance run are stored by the
analysis process (:func:`window_notes`, :func:`performance_notes`); what only
the worker knows afterwards, the accuracy estimated from scores, is added to
the run then (:func:`estimate_notes`). The dashboard (:mod:`streams.dashboard`)
plots the values and selects runs by these tags and metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monitors._evidently import DRIFTED_FEATURES, ESTIMATED_ACCURACY, LABEL_COVERAGE, QUALITY_FINDINGS, RunValue
from monitors.alerts import Alert
from monitors.quality import CHECKS
from streams.events import EstimateOut, PerformanceReport, WindowReport

__all__ = ["RunNotes", "estimate_notes", "performance_notes", "window_notes", "worker_notes"]


@dataclass(frozen=True)
class RunNotes:
    """Tags, metadata and values for one run; merged into what the run already holds."""

    model: str
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    values: tuple[RunValue, ...] = ()


def _base_tags(model: str, kind: str, segment: str | None) -> tuple[str, ...]:
    tags = (f"model:{model}", f"kind:{kind}")
    return tags + ((f"segment:{segment}",) if segment is not None else ())


def window_notes(report: WindowReport) -> RunNotes:
    """The notes of a window's drift run, from its report."""
    per_check = {check: 0 for check in CHECKS}
    for finding in report.quality:
        per_check[finding.check] = per_check.get(finding.check, 0) + 1
    values = (RunValue(DRIFTED_FEATURES, float(report.drifted_features), "Features drifted (streammon's decision)"),) + tuple(
        RunValue(QUALITY_FINDINGS, float(count), f"Features at {check} warning level", (("check", check),))
        for check, count in per_check.items()
    )
    metadata = {"model": report.model, "segment": report.segment or "all", "kind": report.kind}
    return RunNotes(report.model, _base_tags(report.model, report.kind, report.segment), metadata, values)


def performance_notes(report: PerformanceReport) -> RunNotes:
    """The notes of a window version's performance run, from its report."""
    metadata = {"model": report.model, "segment": "all", "kind": report.kind}
    values = (RunValue(LABEL_COVERAGE, report.coverage, "Share of predictions labelled"),)
    return RunNotes(report.model, _base_tags(report.model, report.kind, None), metadata, values)


def estimate_notes(model: str, estimate: EstimateOut) -> RunNotes:
    """What the worker adds to a window's drift run: the accuracy estimated from its scores."""
    return RunNotes(model, values=(RunValue(ESTIMATED_ACCURACY, estimate.accuracy, "Accuracy estimated from scores (CBPE)"),))


def worker_notes(report: WindowReport | PerformanceReport, changes: Sequence[Alert]) -> RunNotes | None:
    """What the worker adds to a result's run once it has published it; None: nothing to add."""
    if isinstance(report, WindowReport) and report.estimate is not None:
        return estimate_notes(report.model, report.estimate)
    return None
