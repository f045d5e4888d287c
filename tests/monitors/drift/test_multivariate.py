"""Multivariate drift: a broken correlation is seen where the per-feature tests see nothing; stationary windows are not."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from monitors.drift.monitor import DriftMonitor
from monitors.drift.multivariate import MultivariateDriftMonitor, MultivariateResult
from monitors.drift.rules import MultivariateRule


def correlated(rng: np.random.Generator, n: int, rho: float = 0.9) -> pd.DataFrame:
    """Three correlated pairs and two independent columns; ``rho`` is the first pair's correlation.

    Every column is standard normal (or a fixed categorical) whatever ``rho``: only how
    ``a`` and ``b`` relate changes.
    """
    z = rng.normal(size=(8, n))
    mix = np.sqrt(1 - 0.81)
    return pd.DataFrame(
        {
            "a": z[0],
            "b": rho * z[0] + np.sqrt(1 - rho**2) * z[1],
            "c": z[2],
            "d": 0.9 * z[2] + mix * z[3],
            "e": z[4],
            "f": 0.9 * z[4] + mix * z[5],
            "g": z[6],
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return correlated(np.random.default_rng(1), 2000)


@pytest.fixture(scope="module")
def monitor(reference: pd.DataFrame) -> MultivariateDriftMonitor:
    return MultivariateDriftMonitor(reference, level=0.001)


def test_a_broken_correlation_is_detected_while_no_feature_drifts(
    reference: pd.DataFrame, monitor: MultivariateDriftMonitor
) -> None:
    rng = np.random.default_rng(2)
    per_feature = DriftMonitor(reference)  # the worker's default tests: K-S / chi-square, alpha 0.01, BH
    for _ in range(3):
        broken = correlated(rng, 1000, rho=-0.9)
        result = monitor.run(broken)
        assert result.drifted, result
        assert result.error > 1.2 * result.threshold
        assert {name for name, _ in result.top_features[:2]} == {"a", "b"}
        drift, _ = per_feature.run(broken)
        assert drift.drifted_features == (), drift.drifted_features


def test_stationary_windows_rarely_reach_the_threshold(monitor: MultivariateDriftMonitor) -> None:
    """At level 0.001, 300 stationary windows of 500 rows: 0.3 expected; measured 0.5 % on 20 references of another set."""
    rng = np.random.default_rng(3)
    results = [monitor.run(correlated(rng, 500)) for _ in range(300)]
    assert sum(r.drifted for r in results) <= 3
    # The threshold sits above the windows' errors, not far above them: a drift half the way is seen.
    errors = np.array([r.error for r in results])
    assert results[0].threshold < errors.mean() + 8 * errors.std()


def test_the_threshold_is_calibrated_once_per_window_size_and_repeatable(reference: pd.DataFrame) -> None:
    monitor = MultivariateDriftMonitor(reference)
    rng = np.random.default_rng(4)
    first = monitor.run(correlated(rng, 1000))
    monitor.run(correlated(rng, 1010))  # rounds to the same size
    assert list(monitor.thresholds) == [1000]
    assert monitor.run(correlated(rng, 100)).threshold > first.threshold  # small windows vary more
    assert MultivariateDriftMonitor(reference).run(correlated(rng, 1000)).threshold == first.threshold
    assert "reference sub-windows of 1000 rows" in first.threshold_source


def test_missing_values_unseen_categories_and_absent_columns_are_imputed(monitor: MultivariateDriftMonitor) -> None:
    rng = np.random.default_rng(5)
    window = correlated(rng, 500)
    window.loc[:50, "a"] = np.nan
    window.loc[:20, "plan"] = None
    window.loc[21:30, "plan"] = "enterprise"  # never in the reference
    window["a"] = window["a"].astype(object)
    window.loc[60, "a"] = "not a number"
    result = monitor.run(window.drop(columns=["g"]))
    assert np.isfinite(result.error) and result.n_current == 500


def test_components_keep_the_share_of_variance_asked_for(reference: pd.DataFrame) -> None:
    # Three pairs at 0.9 carry 1.9 each of 8 standardised columns (71 % together); the plan and g 1 each.
    assert MultivariateDriftMonitor(reference, explained_variance=0.4).components == 2
    assert MultivariateDriftMonitor(reference, explained_variance=0.65).components == 3
    assert MultivariateDriftMonitor(reference, explained_variance=0.75).components == 4


def test_a_monitor_pickles_with_its_thresholds(monitor: MultivariateDriftMonitor) -> None:
    window = correlated(np.random.default_rng(6), 500)
    copy = pickle.loads(pickle.dumps(monitor))
    assert copy.run(window) == monitor.run(window)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"level": 0.0}, "level"),
        ({"explained_variance": 1.0}, "explained_variance"),
        ({"draws": 2}, "draws"),
        ({"numerical": ["nope"]}, "not in the reference"),
        ({"numerical": ["plan"]}, "do not hold numbers"),
    ],
)
def test_bad_arguments_are_refused(reference: pd.DataFrame, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MultivariateDriftMonitor(reference, **kwargs)  # type: ignore[arg-type]


def test_an_empty_window_is_refused(monitor: MultivariateDriftMonitor) -> None:
    with pytest.raises(ValueError, match="at least one row"):
        monitor.run(pd.DataFrame(columns=["a"]))


def test_the_observation_is_a_multivariate_drift_condition_naming_the_features() -> None:
    result = MultivariateResult(1.8, 1.2, True, 1.1, (("a", 0.55), ("b", 0.4)), 4, 1000, "calibrated: ...")
    (obs,) = MultivariateRule(critical_factor=2.0).evaluate("churn", result, {"window": "w1"})
    assert dict(obs.labels) == {"model": "churn", "kind": "multivariate_drift", "feature": "*"}
    # Measured from the stationary mean: 0.7 above it, warning at 0.1, critical at 0.2.
    assert (obs.value, obs.warning_at, obs.critical_at) == pytest.approx((0.7, 0.1, 0.2))
    assert obs.level(None, 0.1) == "critical"
    assert (obs.annotations["value"], obs.annotations["threshold"]) == ("1.8", "1.2")
    assert obs.annotations["top_features"] == "a (55%), b (40%)"
    assert obs.annotations["window"] == "w1"
    (quiet,) = MultivariateRule().evaluate("churn", MultivariateResult(1.1, 1.2, False, 1.1, (), 4, 1000))
    assert quiet.level(None, 0.1) is None
    assert quiet.annotations["top_features"] == "-"


def test_a_chance_warning_is_not_held_through_the_next_ordinary_window() -> None:
    """Hysteresis is a share of the threshold: measured from 0, 10 % of an error of 2.6 would span every stationary window."""
    (warned,) = MultivariateRule().evaluate("m", MultivariateResult(2.61, 2.60, True, 2.50, (), 13, 1000))
    (ordinary,) = MultivariateRule().evaluate("m", MultivariateResult(2.54, 2.60, False, 2.50, (), 13, 1000))
    assert warned.level(None, 0.1) == "warning"
    assert ordinary.level("warning", 0.1) is None
