"""A synthetic model in production, from River's Agrawal generator, with drift at a known point.

A Hoeffding tree, trained on data from before the drift, plays the deployed
model. From event ``drift_at`` on, the applicants change (covariate drift:
salaries and ages rise) and so does the rule that labels them (concept drift,
Agrawal function 0 → 2). The demo, the tests and the benchmarks share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from river import tree
from river.datasets import synth

# Agrawal encodes these as integers; they are categories.
_CATEGORICAL = {"elevel": "level-", "car": "car-", "zipcode": "zip-"}
_SALARY_SHIFT = 40_000.0
_AGE_SHIFT = 15.0
_TRAINING_ROWS = 2000


@dataclass(frozen=True)
class SyntheticEvent:
    """One prediction of the synthetic model and its label."""

    index: int
    prediction: dict[str, Any]
    label: dict[str, Any]
    drifted: bool


def _applicants(function: int, seed: int, shifted: bool) -> Iterator[tuple[dict[str, Any], int]]:
    for x, y in synth.Agrawal(classification_function=function, seed=seed):
        if shifted:
            x = {**x, "salary": x["salary"] + _SALARY_SHIFT, "age": x["age"] + _AGE_SHIFT}
        row = {k: (f"{_CATEGORICAL[k]}{v}" if k in _CATEGORICAL else float(v)) for k, v in x.items()}
        yield row, int(y)


def deployed_model(seed: int = 7) -> tree.HoeffdingTreeClassifier:
    """The model 'in production': trained once on pre-drift data."""
    model = tree.HoeffdingTreeClassifier(nominal_attributes=list(_CATEGORICAL), grace_period=100)
    for i, (x, y) in enumerate(_applicants(0, seed, shifted=False)):
        if i == _TRAINING_ROWS:
            break
        model.learn_one(x, y)
    return model


def synthetic_stream(
    n: int,
    drift_at: int,
    start: datetime,
    *,
    model_name: str = "credit-risk",
    model_version: str = "1",
    id_prefix: str = "p",
    spacing_s: float = 0.05,
    seed: int = 42,
) -> Iterator[SyntheticEvent]:
    """Yield ``n`` prediction events (with their labels); drift starts at event ``drift_at``.

    Event times start at ``start`` and are ``spacing_s`` apart.
    """
    model = deployed_model()
    before = _applicants(0, seed, shifted=False)
    after = _applicants(2, seed + 1, shifted=True)
    for i in range(n):
        drifted = i >= drift_at
        x, y = next(after if drifted else before)
        proba = model.predict_proba_one(x)
        score = float(proba.get(1, 0.0))
        event_time = (start + timedelta(seconds=i * spacing_s)).isoformat()
        prediction_id = f"{id_prefix}-{i}"
        prediction = {
            "model": model_name,
            "model_version": model_version,
            "prediction_id": prediction_id,
            "event_time": event_time,
            "features": x,
            "prediction": int(score >= 0.5),
            "score": round(score, 6),
        }
        label = {"model": model_name, "prediction_id": prediction_id, "event_time": event_time, "label": y}
        yield SyntheticEvent(i, prediction, label, drifted)
