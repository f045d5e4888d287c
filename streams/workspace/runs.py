"""What a run in the Evidently workspace says about itself: tags, metadata, streammon's values.

A window's drift run and a window version's performance run are stored by the
analysis process (:func:`window_notes`, with the accuracy estimated from the
scores, :func:`estimate_value`; :func:`performance_notes`); what only the worker
knows afterwards, the alerts the result raised, escalated or resolved, is added
to the run then (:func:`alert_notes`).
In Evidently's UI, "Filter by Tags" finds a model's runs (``model:churn``) or
the runs that raised alerts (``alerting``); "Search in Metadata" finds a window
(``window_index``) or an alert (its fingerprint in ``alerts_raised``). The dashboard (:mod:`streams.workspace.dashboard`)
plots the values and selects runs by these tags and metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from monitors.alerting.alerts import Alert
from monitors.evidently.annotations import DRIFTED_FEATURES, ESTIMATED_ACCURACY, LABEL_COVERAGE, QUALITY_FINDINGS, RunValue
from monitors.evidently.methods import P_VALUE_DISPLAY_NAMES
from monitors.quality.monitor import CHECKS
from streams.events import EstimateOut, FeatureDriftOut, PerformanceReport, WindowReport

__all__ = [
    "ALERT_METADATA",
    "ALERT_TAGS",
    "RunNotes",
    "alert_notes",
    "estimate_value",
    "headline",
    "performance_notes",
    "window_notes",
]

#: The tags and metadata :func:`alert_notes` writes.
ALERT_TAGS = frozenset({"alerting", "raised", "escalated", "resolved"})
ALERT_METADATA = frozenset({"alerts", "alerts_raised", "alerts_escalated", "alerts_resolved"})


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
    """The notes of a window's drift run, from its report.

    Tags: ``model:<model>``, ``kind:drift``, ``version:<v>`` for each model
    version in the window, ``segment:<name>=<value>`` for a segment's window.
    Metadata: model, segment (``all`` for the whole model), kind, the model
    versions, the window's index, bounds and events, the features streammon
    decided drifted, the correction and the thresholds' sources. Values: the
    features drifted, the quality findings by check, and the accuracy estimated
    from the scores when the window has one.
    """
    per_check = {check: 0 for check in CHECKS}
    for finding in report.quality:
        per_check[finding.check] = per_check.get(finding.check, 0) + 1
    values = (RunValue(DRIFTED_FEATURES, float(report.drifted_features), "Features drifted (streammon's decision)"),) + tuple(
        RunValue(QUALITY_FINDINGS, float(count), f"Features at {check} warning level", (("check", check),))
        for check, count in per_check.items()
    )
    if report.estimate is not None:
        values += (estimate_value(report.estimate),)
    tested = [*report.features, *([report.prediction] if report.prediction is not None else [])]
    window = report.window
    metadata = {
        "model": report.model,
        "segment": report.segment or "all",
        "kind": report.kind,
        "model_versions": ",".join(report.model_versions),
        "window_index": str(window.index),
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "window_events": str(window.events),
        "features_tested": str(len(report.features)),
        "drifted_features": ",".join(f.feature for f in report.features if f.drifted),
        "drift_decisions": ", ".join(_decision(f) for f in report.features if f.drifted),
        "prediction_drifted": str(report.prediction is not None and report.prediction.drifted).lower(),
        "correction": report.correction,
        "threshold_source": "; ".join(dict.fromkeys(f.threshold_source for f in tested)),
    }
    tags = _base_tags(report.model, report.kind, report.segment) + tuple(f"version:{v}" for v in report.model_versions)
    return RunNotes(report.model, tags, metadata, values)


def _decision(drift: FeatureDriftOut) -> str:
    """One feature's decision for people: its test, score and the threshold it crossed."""
    crossed = "<=" if drift.method in P_VALUE_DISPLAY_NAMES else ">="
    return f"{drift.feature} ({drift.method} {drift.score:.3g} {crossed} {drift.threshold:.3g})"


def performance_notes(report: PerformanceReport) -> RunNotes:
    """The notes of a window version's performance run, from its report.

    Tags: ``model:<model>``, ``kind:performance``, ``segment:<name>=<value>``
    for a segment's window, ``final`` for the last version. Metadata: model,
    segment (``all`` for the whole model), kind, the window's index
    (``reference`` for the reference period), the result's version, the
    predictions and how many are labelled.
    """
    metadata = {
        "model": report.model,
        "segment": report.segment or "all",
        "kind": report.kind,
        "window_index": "reference" if report.window_index is None else str(report.window_index),
        "result_version": str(report.version),
        "final": str(report.final).lower(),
        "predictions": str(report.predictions),
        "labelled": str(report.labelled),
        "metrics": ", ".join(f"{name} {value:.3f}" for name, value in sorted(report.metrics.items())),
    }
    values = (RunValue(LABEL_COVERAGE, report.coverage, "Share of predictions labelled"),)
    tags = _base_tags(report.model, report.kind, report.segment) + (("final",) if report.final else ())
    return RunNotes(report.model, tags, metadata, values)


def alert_notes(model: str, changes: Sequence[Alert]) -> RunNotes:
    """What a result's alert changes add to its run.

    An alert firing is *raised*, or *escalated* when the same condition's
    alert at the other severity resolved in the same changes (a severity
    switch); an alert resolved is *resolved* (unless it made way for its
    escalation). Tags: ``alerting`` when the result raised or escalated an
    alert, and ``raised``, ``escalated``, ``resolved`` for what it did.
    Metadata: ``alerts_raised``, ``alerts_escalated``, ``alerts_resolved``
    (fingerprints, comma-separated) and ``alerts`` (one line each, for people).
    """
    switched = {_condition(a) for a in changes if a.status == "resolved"} & {
        _condition(a) for a in changes if a.status == "firing"
    }
    by_change: dict[str, list[Alert]] = {"raised": [], "escalated": [], "resolved": []}
    for alert in changes:
        if alert.status == "firing":
            by_change["escalated" if _condition(alert) in switched else "raised"].append(alert)
        elif _condition(alert) not in switched:
            by_change["resolved"].append(alert)
    tags = tuple(change for change, alerts in by_change.items() if alerts)
    if by_change["raised"] or by_change["escalated"]:
        tags = ("alerting", *tags)
    metadata = {f"alerts_{change}": ",".join(a.fingerprint for a in alerts) for change, alerts in by_change.items() if alerts}
    if changes:
        metadata["alerts"] = "; ".join(
            f"{change} {_describe(alert)} [{alert.fingerprint}]" for change, alerts in by_change.items() for alert in alerts
        )
    return RunNotes(model, tags, metadata)


def _condition(alert: Alert) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in alert.labels.items() if k != "severity"))


def _describe(alert: Alert) -> str:
    labels = alert.labels
    what = " ".join(v for k in ("kind", "feature", "check", "metric", "segment") if (v := labels.get(k)))
    return f"{labels.get('severity', '')} {what}".strip()


def estimate_value(estimate: EstimateOut) -> RunValue:
    """A window's accuracy estimated from its scores, as a value of its drift run."""
    return RunValue(ESTIMATED_ACCURACY, estimate.accuracy, "Accuracy estimated from scores (CBPE)")


def headline(metadata: Mapping[str, str]) -> tuple[str, str] | None:
    """What a run's report page opens with: streammon's decision and the alerts it changed, as (value, label).

    Built from the run's metadata (:func:`window_notes`, :func:`performance_notes`,
    :func:`alert_notes`), so it follows the run when the worker adds its
    alerts or a full report takes the run's place. None for a run without them.
    """
    alerts = metadata.get("alerts")
    said = f"Alerts: {alerts}." if alerts else "Alerts: none raised, escalated or resolved by this result."
    if metadata.get("kind") == "drift":
        drifted = [f for f in metadata.get("drifted_features", "").split(",") if f]
        value = f"Drift in {', '.join(drifted)}" if drifted else "No feature drifted"
        prediction = "drifted" if metadata.get("prediction_drifted") == "true" else "not drifted"
        decided = (
            f"streammon's decision: {len(drifted)} of {metadata.get('features_tested', '?')} features drifted"
            + (f": {metadata['drift_decisions']}" if drifted and metadata.get("drift_decisions") else "")
            + f"; thresholds: {metadata.get('threshold_source', '?')}; prediction {prediction}."
        )
        return value, f"{decided} {said}"
    if metadata.get("kind") == "performance":
        where = metadata.get("window_index", "?")
        value = metadata.get("metrics") or "no metrics yet"
        decided = (
            f"streammon: window {where}, version {metadata.get('result_version', '?')}, "
            f"{metadata.get('labelled', '?')} of {metadata.get('predictions', '?')} predictions labelled."
        )
        return value, f"{decided} {said}"
    return None
