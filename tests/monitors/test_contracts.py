"""One contract for every monitor and every rule, found by walking ``monitors/``.

A ``*Monitor`` turns a window (``run``) or events (``update``) into a result; a
``*Rule`` turns a result into alert observations (:class:`monitors.alerting.rule.Rule`).
Each of them, whatever its concept:

- survives pickling (the worker checkpoints its state, and sends work to other
  processes) and behaves afterwards as it did before;
- has a repr that says what it is, not ``<... object at 0x...>``;
- rejects a bad constructor argument with a ValueError or TypeError that names it;
- for rules: labels every observation with the model it was asked about and a
  ``kind``, and carries the shared annotations (``context``).

:data:`CASES` says how to build and exercise each class. A class the walk finds
without a case fails :func:`test_every_monitor_and_rule_has_a_case`, so a new one
cannot escape the contract.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

import monitors
from monitors.alerting.rule import Rule
from monitors.drift.monitor import DriftMonitor
from monitors.drift.multivariate import MultivariateDriftMonitor, MultivariateResult
from monitors.drift.results import DriftResult, FeatureDrift
from monitors.drift.rules import DriftRule, MultivariateRule
from monitors.intake.freshness import FreshnessMonitor, NoDataRule
from monitors.labels.estimates import Estimate
from monitors.labels.performance import PerformanceResult
from monitors.labels.rules import EstimateRule, PerformanceRule
from monitors.online.detectors import ConceptDriftRule, Detection, Detections, ErrorMonitor
from monitors.partition import PartitionMonitor, PartitionRules
from monitors.quality.monitor import DataQualityMonitor, QualityFinding
from monitors.quality.profile import ReferenceProfile
from monitors.quality.rules import QualityRule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = {"window": "w7"}

# Alertmanager's vocabulary, kept as it is there (an inhibit rule mutes alerts; it makes no observation).
ALERTMANAGER_NAMES = {"monitors.alerting.inhibition.InhibitRule"}


def discovered() -> list[type]:
    """Every class defined in ``monitors/`` that is named a monitor or a rule, or implements the rule protocol.

    Alertmanager's own names are left out: there, an inhibit rule mutes alerts.
    """
    found: dict[str, type] = {}
    for module in pkgutil.walk_packages(monitors.__path__, "monitors."):
        loaded = importlib.import_module(module.name)
        for name, cls in inspect.getmembers(loaded, inspect.isclass):
            if cls.__module__ != module.name or getattr(cls, "_is_protocol", False):
                continue
            qualified = f"{cls.__module__}.{name}"
            if (name.endswith(("Monitor", "Rule")) or issubclass(cls, Rule)) and qualified not in ALERTMANAGER_NAMES:
                found[qualified] = cls
    return [found[key] for key in sorted(found)]


def frame(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "y": rng.normal(0.0, 1.0, rows),
            "plan": rng.choice(["a", "b", "c"], rows),
        }
    )


@dataclass
class Prediction:
    prediction_id: str
    prediction: Any
    event_time: datetime
    model: str = "churn"
    score: float | None = None
    probabilities: dict[str, float] | None = None
    segment: dict[str, str] = field(default_factory=dict)


RULES = PartitionRules(
    window_size=5,
    segment_keys=(),
    segment_top_k=5,
    segment_learn=5,
    pause_on_quality_alerts=True,
    learn_min_labelled=10,
    pause_below_coverage=0.5,
    performance=PerformanceRule(),
    estimate=EstimateRule(),
)


def build_partition(reference_size: int = 5, capacity: int = 1000) -> PartitionMonitor:
    return PartitionMonitor.fresh(RULES, reference_size=reference_size, capacity=capacity)


def exercise_partition(monitor: PartitionMonitor) -> Any:
    # Each call goes on from the last event time, with new prediction ids.
    start = 0 if monitor.event_time is None else int((monitor.event_time - T0).total_seconds()) + 1
    effects = [
        monitor.update(Prediction(f"p{i}", i % 2, T0 + timedelta(seconds=i)), {"x": float(i)}, b"{}")
        for i in range(start, start + 12)
    ]
    return [[(job.model, job.window.index, len(job.window)) for job in e.windows] for e in effects]


def exercise_errors(monitor: ErrorMonitor) -> Any:
    rng = np.random.default_rng(len(monitor.models))
    detections = [monitor.update("churn", bool(rng.random() < 0.1 if i < 400 else rng.random() < 0.5), False) for i in range(900)]
    return [d for d in detections if d is not None], monitor.close("churn")


def exercise_freshness(monitor: FreshnessMonitor) -> Any:
    monitor.update("churn", T0)
    monitor.update("fraud", T0 + timedelta(seconds=30))
    return monitor.silences(T0 + timedelta(seconds=90))


def exercise_drift(monitor: DriftMonitor) -> Any:
    result, _ = monitor.run(frame(200, seed=1, shift=0.5))
    return result


@dataclass(frozen=True)
class Case:
    """How to build one class with small valid arguments, break one of them, and exercise what it does."""

    build: Callable[..., Any]
    bad: Mapping[str, Any]  # argument -> a value it must refuse; empty for a class without arguments
    exercise: Callable[[Any], Any]
    restore: Callable[[Any], None] = lambda restored: None  # what a restored object is given again (never pickled)
    evaluate: Mapping[str, Any] = field(default_factory=dict)  # a rule's keyword arguments beyond (model, result, context)


def rule_case(build: Callable[..., Any], bad: Mapping[str, Any], result: Any, **evaluate: Any) -> Case:
    return Case(build, bad, lambda rule: rule.evaluate("churn", result, CONTEXT, **evaluate), evaluate=evaluate)


DRIFT = DriftResult((FeatureDrift("age", 1e-9, "K-S p_value", 0.002, True),), None, n_current=1000, n_reference=2000)

CASES: dict[type, Case] = {
    # --- monitors ---
    DriftMonitor: Case(
        lambda **kw: DriftMonitor(frame(300), **{"alpha": 0.01, **kw}), {"alpha": 1.5, "correction": "none?"}, exercise_drift
    ),
    MultivariateDriftMonitor: Case(
        lambda **kw: MultivariateDriftMonitor(frame(300), **{"draws": 20, **kw}),
        {"level": 1.5, "draws": 1, "explained_variance": 0.0},
        lambda monitor: monitor.run(frame(200, seed=1, shift=0.5)),
    ),
    DataQualityMonitor: Case(
        lambda **kw: DataQualityMonitor(ReferenceProfile.of(frame(300)), **kw),
        {"min_rows": 0, "missing_increase": 2.0, "volume_ratio": 1.0, "alpha": 0.0, "profile": "a profile"},
        lambda monitor: monitor.run(frame(100, seed=1, shift=5.0), window_seconds=60.0),
    ),
    ErrorMonitor: Case(lambda **kw: ErrorMonitor(**kw), {"warmup": -1, "task": "ranking", "detector": "cusum"}, exercise_errors),
    FreshnessMonitor: Case(lambda: FreshnessMonitor(), {}, exercise_freshness),
    PartitionMonitor: Case(
        build_partition, {"capacity": 0}, exercise_partition, restore=lambda restored: restored.configure(RULES)
    ),
    # --- rules ---
    DriftRule: rule_case(
        lambda **kw: DriftRule(**kw),
        {"critical_p_factor": 1.0, "critical_distance_factor": 0.5, "prediction_drift": "yes"},
        DRIFT,
    ),
    MultivariateRule: rule_case(
        lambda **kw: MultivariateRule(**kw),
        {"critical_factor": 1.0},
        MultivariateResult(2.5, 2.4, True, 2.2, (("x1", 0.6),), 4, 1000, "calibrated"),
    ),
    QualityRule: rule_case(lambda: QualityRule(), {}, [QualityFinding("volume", None, 5.0, 3.0, 12.0, "5x the reference rate")]),
    PerformanceRule: rule_case(
        lambda **kw: PerformanceRule(**{"minimum": {"accuracy": 0.8}, **kw}),
        {"min_labelled": 0, "critical_factor": 1.0, "minimum": {"auc": 0.8}, "max_drop": {"f1": -0.1}, "maximum": 3.0},
        PerformanceResult({"accuracy": 0.7}, labelled=500, coverage=0.9),
    ),
    EstimateRule: rule_case(
        lambda **kw: EstimateRule(**kw),
        {"max_drop": -0.1, "min_rows": 0},
        Estimate(accuracy=0.78, low=0.75, high=0.81, n=800),
        reference_accuracy=0.9,
    ),
    ConceptDriftRule: rule_case(
        lambda: ConceptDriftRule(), {}, Detections("adwin", "classification", Detection("churn", "adwin", 3200, 0.11, 0.24), 1)
    ),
    NoDataRule: rule_case(
        lambda **kw: NoDataRule(**{"max_silence_s": 60.0, **kw}), {"max_silence_s": 0, "critical_factor": 1}, 90.0
    ),
}

CLASSES = discovered()
RULE_CLASSES = [cls for cls in CLASSES if issubclass(cls, Rule)]


def test_every_monitor_and_rule_has_a_case() -> None:
    assert len(RULE_CLASSES) >= 7 and len(CLASSES) - len(RULE_CLASSES) >= 6, "the walk should find them all"
    assert [cls for cls in CLASSES if cls not in CASES] == []
    assert [cls for cls in CASES if cls not in CLASSES] == []


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_one_name_per_role(cls: type) -> None:
    if cls.__name__.endswith("Rule"):
        assert issubclass(cls, Rule), "a rule turns a result into observations with evaluate(model, result, context)"
    else:
        assert cls.__name__.endswith("Monitor"), "a class with evaluate(model, result, context) is a rule: name it *Rule"
        verbs = {name for name in ("run", "update") if callable(getattr(cls, name, None))}
        assert len(verbs) == 1, "a monitor takes its input with run (a window) or update (events)"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_it_pickles_and_behaves_the_same_afterwards(cls: type) -> None:
    case = CASES[cls]
    original = case.build()
    case.exercise(original)  # state worth keeping, for the stateful ones
    twin = pickle.loads(pickle.dumps(original))
    case.restore(twin)
    assert type(twin) is cls
    assert case.exercise(twin) == case.exercise(original)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_its_repr_says_what_it_is(cls: type) -> None:
    shown = repr(CASES[cls].build())
    assert shown.startswith(cls.__name__) and " object at 0x" not in shown


@pytest.mark.parametrize(
    ("cls", "argument", "value"),
    [(cls, argument, value) for cls in CLASSES for argument, value in CASES[cls].bad.items()],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_a_bad_argument_is_refused_by_name(cls: type, argument: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=argument):
        CASES[cls].build(**{argument: value})


def test_only_classes_without_arguments_have_no_bad_one() -> None:
    for cls in CLASSES:
        takes = [p for p in inspect.signature(CASES[cls].build).parameters.values() if p.kind is not p.VAR_POSITIONAL]
        assert bool(CASES[cls].bad) == bool(takes), cls.__name__


@pytest.mark.parametrize("cls", RULE_CLASSES, ids=lambda cls: cls.__name__)
def test_a_rules_observations_carry_the_model_the_kind_and_the_context(cls: type) -> None:
    observations = CASES[cls].exercise(CASES[cls].build())
    assert observations, "the case's result should give at least one observation"
    for obs in observations:
        assert obs.labels["model"] == "churn" and obs.labels["kind"]
        assert "severity" not in obs.labels  # the lifecycle's to add
        assert obs.annotations["window"] == CONTEXT["window"] and obs.annotations["summary"]
