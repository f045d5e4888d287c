"""What ``streammon models`` shows: each model's label-driven quality and its online challenger."""

from __future__ import annotations

import pickle
from pathlib import Path

from pydantic import ValidationError
from rich.table import Table

from streams.compacted import read_latest
from streams.errors import StreammonError
from streams.events import ModelStatus
from streams.settings import KafkaSettings
from streams.worker.checkpoint import StateKeys, load_checkpoints, partition_checkpoint


def model_statuses(kafka: KafkaSettings) -> list[ModelStatus]:
    """The latest status of every model, from the compacted model-status topic."""
    statuses = []
    for value in read_latest(kafka, kafka.model_status_topic).values():
        try:
            statuses.append(ModelStatus.model_validate(value))
        except ValidationError:
            continue  # written by another version: nothing to show
    return sorted(statuses, key=lambda s: s.model)


def status_table(statuses: list[ModelStatus]) -> Table:
    """One row per model: labels, coverage, the latest window's metrics, and the challenger against the deployed model."""
    table = Table(title="models", title_justify="left")
    counts = {"predictions", "labelled", "coverage", "expired", "evicted", "repeated"}
    columns = (
        "model",
        "predictions",
        "labelled",
        "coverage",
        "expired",
        "evicted",
        "repeated",
        "latest window",
        "reference",
        "challenger",
    )
    for column in columns:
        table.add_column(column, justify="right" if column in counts else "left")
    for status in statuses:
        table.add_row(
            status.model,
            str(status.predictions),
            str(status.joined),
            f"{status.coverage:.1%}",
            str(status.expired),
            _evicted(status),
            f"{status.resent_predictions} resent, {status.conflicting_predictions} conflicting"
            if status.resent_predictions or status.conflicting_predictions
            else "0",
            _metrics(status.last_metrics, status.last_window),
            _metrics(status.reference_metrics, None),
            _challenger(status),
        )
    return table


def _evicted(status: ModelStatus) -> str:
    """Predictions and labels dropped from a full join, and the event time of the latest."""
    if not status.evicted or status.evicted_at is None:
        return str(status.evicted)
    return f"{status.evicted} (latest {status.evicted_at:%Y-%m-%d %H:%M})"


def _metrics(metrics: dict[str, float], window: int | None) -> str:
    if not metrics:
        return "—"
    text = " ".join(f"{name} {value:.3f}" for name, value in sorted(metrics.items()))
    return f"#{window}: {text}" if window is not None else text


def _challenger(status: ModelStatus) -> str:
    c = status.challenger
    if c is None:
        return "—"
    scores = (
        f"{c.metric} {c.challenger_score:.3f} vs deployed {c.deployed_score:.3f}"
        if c.challenger_score is not None and c.deployed_score is not None
        else "scoring"
    )
    flags = [flag for flag, on in (("paused", c.paused), ("PROMOTE", c.promoted)) if on]
    return f"{c.challenger}: {scores} over {c.labelled} ({c.learned} learned)" + (f" [{', '.join(flags)}]" if flags else "")


def export_model(kafka: KafkaSettings, model: str, path: Path, keys: StateKeys) -> int:
    """Write the online model of ``model`` from the latest checkpoints to ``path`` (pickle); return the labelled pairs it learned from.

    The checkpoints are verified with ``keys`` as the worker verifies them (a refused one raises).
    """
    names = [partition_checkpoint(kafka.group_id, p) for p in range(kafka.partitions)]
    checkpoints = load_checkpoints(kafka, kafka.state_topic, names, keys)
    if not checkpoints:
        raise StreammonError(f"no checkpoint of worker group {kafka.group_id} on {kafka.state_topic}")
    # A model's events, keyed by it, are all in one partition: one checkpoint has its online model.
    challengers = [state.challenger for state, _ in checkpoints.values() if state.challenger is not None]
    challenger = next((c for c in challengers if model in c.models), None)
    if challenger is None:
        known = sorted(m for c in challengers for m in c.models)
        raise StreammonError(f"no online model for {model!r} in the checkpoints (models: {known})")
    with path.open("wb") as file:
        pickle.dump(challenger.estimator(model), file, protocol=pickle.HIGHEST_PROTOCOL)
    return challenger.state(model).learned
