"""The fast drift path decides exactly as Evidently's full report does.

:meth:`DriftMonitor.run` scores each column without building Evidently's report;
:meth:`DriftMonitor.report` builds it. On a corpus of windows (shifted and not,
numeric and categorical, missing values, infinities, values of another type,
constant columns, Evidently's own choice of method, distance methods with
calibrated thresholds, per-feature thresholds, every correction) both must give
the same scores to 1e-9 and the same decisions, and the scores-only snapshot must
carry the report's metrics under the same ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitors.drift.monitor import DriftMonitor
from monitors.drift.results import DriftResult

Window = Callable[[np.random.Generator, int], pd.DataFrame]


def mixed(rng: np.random.Generator, n: int, shift: float = 0.0, p: tuple[float, ...] = (0.5, 0.3, 0.2)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, n),
            "income": rng.lognormal(10, 1, n),
            "score": rng.integers(0, 100, n),
            "country": rng.choice(["de", "fr", "it"], n, p=list(p)),
            "device": rng.choice(["ios", "android", "web", "tv"], n),
            "prediction": rng.integers(0, 2, n),
        }
    )


def with_missing(frame: pd.DataFrame, rng: np.random.Generator, share: float) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("age", "income", "country"):
        frame.loc[rng.random(len(frame)) < share, column] = np.nan
    return frame


def with_infinities(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[::50, "income"] = np.inf
    frame.loc[1::70, "age"] = -np.inf
    return frame


def with_other_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical values of other types (numbers, bools) among the strings, as JSON producers send them."""
    frame = frame.copy()
    frame["device"] = frame["device"].astype(object)
    frame.loc[::40, "device"] = 7
    frame.loc[3::60, "device"] = True
    return frame


def constant(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["score"] = 50
    frame["device"] = "web"
    return frame


def windows(rng: np.random.Generator) -> Iterator[tuple[str, pd.DataFrame]]:
    for size in (30, 1000):
        yield f"stationary {size}", mixed(rng, size)
        yield f"shifted {size}", mixed(rng, size, shift=3.0, p=(0.2, 0.3, 0.5))
    yield "missing values", with_missing(mixed(rng, 800), rng, 0.2)
    yield "mostly missing", with_missing(mixed(rng, 800, shift=2.0), rng, 0.9)
    yield "infinities", with_infinities(mixed(rng, 600, shift=1.0))
    yield "other types", with_other_types(mixed(rng, 700))
    yield "constant columns", constant(mixed(rng, 500))
    yield "small shift", mixed(rng, 1000, shift=0.8)


CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "defaults (K-S, chi-square homogeneity, BH)": {},
    "bonferroni": {"correction": "bonferroni"},
    "no correction": {"correction": "none"},
    "Evidently's choice of method": {"num_method": None, "cat_method": None},
    "Evidently's thresholds": {"alpha": None},
    "calibrated distances": {"num_method": "wasserstein", "cat_method": "jensenshannon"},
    "distances, Evidently's constants": {"num_method": "wasserstein", "cat_method": "psi", "calibrate_distances": False},
    "per-feature method and threshold": {
        "per_feature_method": {"income": "t_test", "device": "chisquare"},
        "per_feature_threshold": {"score": 0.05},
    },
    "other p-value tests": {"num_method": "mannw", "cat_method": "z"},
}


def columns(result: DriftResult) -> list[Any]:
    every = [*result.features, *([result.prediction] if result.prediction else [])]
    return [(f.feature, f.method, f.threshold, f.drifted, f.threshold_source) for f in every]


DEFAULTS = "defaults (K-S, chi-square homogeneity, BH)"
# Every window under the defaults; a few of them under each other configuration (a report costs ~0.5 s).
CASES = [(DEFAULTS, 2000, None), (DEFAULTS, 800, None)] + [
    (c, 2000, ("shifted 1000", "missing values", "other types", "constant columns")) for c in CONFIGURATIONS if c != DEFAULTS
]


# On windows with infinities and constant columns, Evidently's plots (standard deviations,
# correlations) and scipy's tests (an exact K-S falling back to its asymptotic form) warn.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("configuration", "reference_rows", "only"), CASES)
def test_the_fast_path_decides_as_the_report_does(configuration: str, reference_rows: int, only: tuple[str, ...] | None) -> None:
    rng = np.random.default_rng(reference_rows)
    reference = with_missing(mixed(rng, reference_rows), rng, 0.05)
    monitor = DriftMonitor(reference, prediction="prediction", **CONFIGURATIONS[configuration])
    drifted = 0
    for name, window in windows(rng):
        if only is not None and name not in only:
            continue
        try:
            full, _ = monitor.report(window)
        except (TypeError, ValueError) as exc:  # a test that cannot take this window fails alike on both paths
            with pytest.raises(type(exc)):
                monitor.run(window)
            continue
        fast, _ = monitor.run(window)
        assert columns(fast) == columns(full), name
        every = zip([*fast.features, fast.prediction], [*full.features, full.prediction])
        for a, b in every:
            assert a is not None and b is not None
            assert a.score == pytest.approx(b.score, rel=1e-9, abs=1e-12, nan_ok=True), (name, a.feature)
        drifted += bool(fast.drifted_features)
    assert drifted > 0  # the corpus holds windows each path must flag


def test_the_scores_snapshot_has_the_reports_metrics_under_the_same_ids() -> None:
    rng = np.random.default_rng(3)
    monitor = DriftMonitor(mixed(rng, 2000), prediction="prediction", num_method=None, per_feature_threshold={"score": 0.05})
    window = mixed(rng, 1000, shift=2.0)
    _, light = monitor.run(window)
    _, full = monitor.report(window)

    def drift_metrics(snapshot: Any) -> dict[str, tuple[dict[str, Any], float]]:
        found = {}
        for metric in snapshot.dict()["metrics"]:
            if metric["config"]["type"] == "evidently:metric_v2:ValueDrift":
                found[metric["id"]] = (metric["config"], metric["value"])
        return found

    light_metrics, full_metrics = drift_metrics(light), drift_metrics(full)
    assert light_metrics.keys() == full_metrics.keys()
    for metric_id, (config, value) in light_metrics.items():
        assert config == full_metrics[metric_id][0]
        assert value == pytest.approx(full_metrics[metric_id][1], rel=1e-9)
