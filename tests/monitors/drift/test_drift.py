"""DriftMonitor on Evidently: decisions, thresholds, and the false-alarm rate."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from monitors.drift.monitor import DriftMonitor
from monitors.drift.results import DriftResult, FeatureDrift
from monitors.evidently.drift_report import parse_value_drift
from monitors.evidently.library import Snapshot
from monitors.evidently.methods import Kind

NUMERICAL = [f"x{i}" for i in range(10)]
CATEGORICAL = ["c0", "c1"]
LEVELS = {"c0": ["a", "b", "c"], "c1": ["u", "v", "w", "z"]}
P = {"c0": [0.5, 0.3, 0.2], "c1": [0.4, 0.3, 0.2, 0.1]}


def frame(
    rng: np.random.Generator,
    n: int,
    *,
    shift: dict[str, float] | None = None,
    p: dict[str, list[float]] | None = None,
    numerical: list[str] = NUMERICAL,
    categorical: list[str] = CATEGORICAL,
) -> pd.DataFrame:
    """Independent standard normal features and categorical features; shifted on demand."""
    shift = shift or {}
    p = {**P, **(p or {})}
    data: dict[str, object] = {c: rng.normal(shift.get(c, 0.0), 1.0, n) for c in numerical}
    data.update({c: rng.choice(LEVELS[c], n, p=p[c]) for c in categorical})
    return pd.DataFrame(data)


def names(result: DriftResult) -> list[str]:
    return [f.feature for f in result.drifted_features]


def test_stationary_window_is_not_drifted_with_defaults() -> None:
    rng = np.random.default_rng(1)
    monitor = DriftMonitor(frame(rng, 1000))
    result, snapshot = monitor.run(frame(rng, 1000))

    assert isinstance(snapshot, Snapshot)
    assert monitor.correction == result.correction == "bh"
    assert [f.feature for f in result.features] == sorted(NUMERICAL + CATEGORICAL)
    assert {f.method for f in result.features} == {"K-S p_value", "chi-square homogeneity p_value"}
    assert result.drifted_features == ()
    assert result.drifted_share == 0.0
    assert result.prediction is None
    assert (result.n_current, result.n_reference) == (1000, 1000)


def test_one_shifted_numerical_feature_is_the_only_one_flagged() -> None:
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(frame(rng, 1000))
    result, _ = monitor.run(frame(rng, 1000, shift={"x3": 0.3}))

    assert names(result) == ["x3"]
    assert result.drifted_share == pytest.approx(1 / 12)
    x3 = next(f for f in result.features if f.feature == "x3")
    assert x3.score <= x3.threshold


def test_categorical_frequency_change_is_flagged() -> None:
    rng = np.random.default_rng(3)
    monitor = DriftMonitor(frame(rng, 1000))
    result, _ = monitor.run(frame(rng, 1000, p={"c0": [0.4, 0.3, 0.3]}))

    assert names(result) == ["c0"]
    assert result.drifted_features[0].method == "chi-square homogeneity p_value"


def test_prediction_drift_is_reported_apart_and_not_counted() -> None:
    rng = np.random.default_rng(4)
    reference = frame(rng, 1000, categorical=[]).assign(score=rng.normal(0.0, 1.0, 1000))
    current = frame(rng, 1000, categorical=[]).assign(score=rng.normal(0.5, 1.0, 1000))
    result, _ = DriftMonitor(reference, prediction="score").run(current)

    assert result.prediction is not None
    assert result.prediction.feature == "score"
    assert result.prediction.drifted
    assert "score" not in [f.feature for f in result.features]
    assert len(result.features) == 10
    assert result.drifted_features == ()
    assert result.drifted_share == 0.0
    # The prediction is one of the 11 columns the window's alpha is shared by.
    assert result.prediction.threshold == pytest.approx(0.01 / 11)
    assert all(f.threshold == pytest.approx(0.01 / 11) for f in result.features)


def test_a_classifiers_numeric_classes_are_tested_as_categories() -> None:
    rng = np.random.default_rng(6)
    reference = frame(rng, 1000, categorical=[]).assign(prediction=rng.choice([0, 1], 1000, p=[0.7, 0.3]))
    current = frame(rng, 1000, categorical=[]).assign(prediction=rng.choice([0, 1], 1000, p=[0.5, 0.5]))

    by_dtype, _ = DriftMonitor(reference, prediction="prediction").run(current)
    as_classes, _ = DriftMonitor(reference, prediction="prediction", prediction_kind="categorical").run(current)

    assert by_dtype.prediction is not None and by_dtype.prediction.method == "K-S p_value"
    assert as_classes.prediction is not None and as_classes.prediction.method == "chi-square homogeneity p_value"
    assert as_classes.prediction.drifted
    with pytest.raises(ValueError, match="prediction_kind"):
        DriftMonitor(reference.assign(prediction="yes"), prediction="prediction", prediction_kind="numerical")
    with pytest.raises(ValueError, match="prediction_kind"):
        DriftMonitor(reference, prediction="prediction", prediction_kind="ordinal")  # type: ignore[arg-type]


def test_bonferroni_threshold_and_overrides() -> None:
    rng = np.random.default_rng(5)
    reference, current = frame(rng, 1000), frame(rng, 1000)
    monitor = DriftMonitor(
        reference,
        alpha=0.05,
        calibrate_distances=False,  # Evidently's own distance threshold, as this test checks
        per_feature_method={"x1": "wasserstein", "x2": "mannw"},
        per_feature_threshold={"x2": 0.2, "c1": 0.5},
        correction="bonferroni",
    )
    result, _ = monitor.run(current)
    got = {f.feature: (f.method, f.threshold) for f in result.features}
    assert result.correction == "bonferroni"

    assert got["x0"] == ("K-S p_value", pytest.approx(0.05 / 12))
    assert got["c0"] == ("chi-square homogeneity p_value", pytest.approx(0.05 / 12))
    # A distance keeps Evidently's threshold: alpha is a probability, a distance is not.
    assert got["x1"] == ("Wasserstein distance (normed)", 0.1)
    assert got["x2"] == ("Mann-Whitney U-rank test", 0.2)
    assert got["c1"] == ("chi-square homogeneity p_value", 0.5)

    unadjusted, _ = DriftMonitor(reference, alpha=None).run(current)
    assert {f.threshold for f in unadjusted.features} == {0.05}  # Evidently's defaults
    assert unadjusted.correction == "none"


def test_thresholds_decide_through_evidently() -> None:
    """Thresholds just above / below each score flip Evidently's decision accordingly."""
    rng = np.random.default_rng(6)
    reference, current = frame(rng, 1000, categorical=[]), frame(rng, 1000, categorical=[])
    first, _ = DriftMonitor(reference).run(current)
    scores = {f.feature: f.score for f in first.features}
    above = {c: s * 1.5 for i, (c, s) in enumerate(scores.items()) if i % 2 == 0}
    below = {c: s / 1.5 for i, (c, s) in enumerate(scores.items()) if i % 2 == 1}

    second, _ = DriftMonitor(reference, per_feature_threshold={**above, **below}).run(current)

    assert sorted(names(second)) == sorted(above)
    assert {f.feature: f.score for f in second.features} == scores


def test_no_method_falls_back_to_evidentlys_size_aware_default() -> None:
    rng = np.random.default_rng(7)
    num, cat = ["x0", "x1"], ["c0"]
    small = frame(rng, 1000, numerical=num, categorical=cat)
    large = frame(rng, 2000, numerical=num, categorical=cat)
    current = frame(rng, 500, numerical=num, categorical=cat)

    on_small, _ = DriftMonitor(small, num_method=None, cat_method=None, calibrate_distances=False).run(current)
    on_large, _ = DriftMonitor(large, num_method=None, cat_method=None, calibrate_distances=False).run(current)

    assert [(f.method, f.threshold) for f in on_small.features] == [
        ("chi-square p_value", pytest.approx(0.01 / 3)),
        ("K-S p_value", pytest.approx(0.01 / 3)),
        ("K-S p_value", pytest.approx(0.01 / 3)),
    ]
    assert [(f.method, f.threshold) for f in on_large.features] == [
        ("Jensen-Shannon distance", 0.1),
        ("Wasserstein distance (normed)", 0.1),
        ("Wasserstein distance (normed)", 0.1),
    ]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": math.nan}, "alpha"),
        ({"per_feature_method": {"nope": "ks"}}, "per_feature_method"),
        ({"per_feature_method": {"c0": "ks"}}, "per_feature_method"),
        ({"per_feature_threshold": {"nope": 0.1}}, "per_feature_threshold"),
        ({"per_feature_threshold": {"x0": 0.0}}, "per_feature_threshold"),
        ({"num_method": "no-such-test"}, "num_method"),
        ({"cat_method": "wasserstein"}, "cat_method"),
        ({"numerical": ["x0", "nope"]}, "numerical"),
        ({"numerical": "x0"}, "numerical"),
        ({"numerical": ["c0"]}, "numerical"),
        ({"categorical": ["x0"], "numerical": ["x0"]}, "categorical"),
        ({"prediction": "nope"}, "prediction"),
        ({"correction": "holm"}, "correction"),
        ({"correction": None}, "correction"),
        ({"numerical": [], "categorical": []}, "numerical"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(kwargs: dict[str, object], argument: str) -> None:
    reference = frame(np.random.default_rng(8), 50)
    with pytest.raises(ValueError, match=argument):
        DriftMonitor(reference, **kwargs)  # type: ignore[arg-type]


def test_reference_without_rows_is_rejected() -> None:
    with pytest.raises(ValueError, match="reference"):
        DriftMonitor(frame(np.random.default_rng(9), 0))


def test_window_without_rows_or_columns_is_rejected() -> None:
    rng = np.random.default_rng(10)
    monitor = DriftMonitor(frame(rng, 100))
    with pytest.raises(ValueError, match="current"):
        monitor.run(frame(rng, 0))
    with pytest.raises(ValueError, match="current"):
        monitor.run(frame(rng, 100).drop(columns=["x4"]))


def test_false_alarm_rate_over_stationary_windows() -> None:
    """alpha bounds the share of stationary windows with any drifted feature, with BH too.

    With no feature drifted every flag is false, so BH's false discovery rate is
    the chance that a window is flagged at all: alpha = 0.01 for 10 independent
    K-S tests, as with Bonferroni (1 - 0.999**10 = 0.00995). Over 40 windows the
    count is at most Binomial(40, 0.01): P(count >= 3) < 0.008. Evidently's own
    threshold (0.05 per feature) would flag a window with probability
    1 - 0.95**10 = 0.40: about 16 of 40, and fewer than 8 with probability < 0.01.
    """
    rng = np.random.default_rng(11)
    monitor = DriftMonitor(frame(rng, 2000, categorical=[]), alpha=0.01)
    flagged = flagged_by_bonferroni = flagged_by_evidently_defaults = 0
    for _ in range(40):
        result, _ = monitor.run(frame(rng, 500, categorical=[]))
        # One cut-off per window: alpha / m when nothing drifted, k * alpha / m for k flags.
        k = len(result.drifted_features)
        assert all(f.threshold == pytest.approx(max(k, 1) * 0.001) for f in result.features)
        flagged += k > 0
        flagged_by_bonferroni += any(f.score <= 0.001 for f in result.features)
        flagged_by_evidently_defaults += any(f.score <= 0.05 for f in result.features)

    assert result.correction == "bh"
    assert flagged_by_bonferroni <= flagged <= 2
    assert flagged_by_evidently_defaults >= 8


def test_bh_flags_more_of_a_moderate_drift_than_bonferroni() -> None:
    """4 of 10 features shift by 0.18 sd, windows and reference of 1,000 rows, alpha = 0.01.

    Bonferroni holds each K-S p-value to 0.001; BH lets the k smallest through at
    k * 0.001 when they all are within it, so when several features drift at
    once it finds more of them. Simulated with scipy's K-S (300 repetitions of
    6 windows): BH finds 16.2 of the 24 drifted columns on average, Bonferroni
    12.9; BH finds at least 2 more in 84 % of repetitions, and flags at most one
    of the 36 stationary columns in 99.7 %. This seed: 13 against 9, one false.
    """
    drifting = ["x0", "x1", "x2", "x3"]
    rng = np.random.default_rng(21)
    reference = frame(rng, 1000, categorical=[])
    bh, bonferroni = DriftMonitor(reference), DriftMonitor(reference, correction="bonferroni")
    found = {"bh": 0, "bonferroni": 0}
    false_alarms = {"bh": 0, "bonferroni": 0}
    for _ in range(6):
        current = frame(rng, 1000, categorical=[], shift=dict.fromkeys(drifting, 0.18))
        by_bh, by_bonferroni = set(names(bh.run(current)[0])), set(names(bonferroni.run(current)[0]))
        assert by_bonferroni <= by_bh
        for correction, flagged in (("bh", by_bh), ("bonferroni", by_bonferroni)):
            found[correction] += len(flagged & set(drifting))
            false_alarms[correction] += len(flagged - set(drifting))

    assert found["bonferroni"] <= 18  # a moderate drift: Bonferroni misses at least a quarter of it
    assert found["bh"] >= found["bonferroni"] + 2
    assert false_alarms["bh"] <= 1


def test_bonferroni_is_the_previous_behaviour_and_bh_flags_at_least_as_much() -> None:
    """correction="bonferroni" returns Evidently's own decisions at alpha / m, as before BH existed.

    Before the correction, the result was read straight from Evidently's snapshot,
    run with alpha / m for every p-value column (m: every tested column); that
    snapshot is still produced, whatever the correction.
    """
    rng = np.random.default_rng(14)

    def data(n: int, drift: float) -> pd.DataFrame:
        shift = {"x0": 3 * drift, "x1": drift, "x2": drift, "x3": drift, "x9": drift}
        return frame(rng, n, shift=shift, p={"c0": [0.5 - drift, 0.3, 0.2 + drift]}).assign(score=rng.normal(drift, 1.0, n))

    reference, current = data(1000, 0.0), data(1000, 0.15)
    kinds: dict[str, Kind] = {c: "numerical" for c in [*NUMERICAL, "score"]}
    kinds.update({c: "categorical" for c in CATEGORICAL})
    options: dict[str, object] = {
        "prediction": "score",
        "per_feature_method": {"x8": "wasserstein", "x7": "mannw"},
        "per_feature_threshold": {"x7": 0.2, "x9": 0.02},
        "calibrate_distances": False,  # the previous behaviour, distances at Evidently's thresholds
    }
    results = {}
    for correction in ("bonferroni", "bh"):
        monitor = DriftMonitor(reference, correction=correction, **options)  # type: ignore[arg-type]
        result, snapshot = monitor.report(current)
        evidently = {
            c: FeatureDrift(d.column, d.score, d.method, d.threshold, d.drifted)
            for c, d in parse_value_drift(snapshot.dict(), kinds).items()
        }
        results[correction] = (result, evidently)
        assert result.correction == correction

    bonferroni, before = results["bonferroni"]
    assert bonferroni.features == tuple(before[c] for c in sorted(kinds) if c != "score")
    assert bonferroni.prediction == before["score"]
    assert {f.feature: f.threshold for f in bonferroni.features if f.threshold != pytest.approx(0.01 / 13)} == {
        "x7": 0.2,  # mannw, own threshold
        "x8": 0.1,  # Wasserstein, Evidently's default
        "x9": 0.02,  # K-S, own threshold
    }

    bh, snapshot_decisions = results["bh"]
    by_bh = {f.feature: f for f in (*bh.features, bh.prediction) if f is not None}
    assert all(by_bh[c].drifted for c, d in snapshot_decisions.items() if d.drifted)  # never fewer than Evidently
    assert {c for c, d in snapshot_decisions.items() if d.drifted} == {c for c, d in before.items() if d.drifted}
    # Columns outside the family keep their own thresholds and decisions.
    for column in ("x7", "x8", "x9"):
        assert by_bh[column] == before[column]
    # The family shares one cut-off, at least Bonferroni's.
    family = [f for c, f in by_bh.items() if c not in ("x7", "x8", "x9")]
    (cut_off,) = {f.threshold for f in family}
    assert cut_off >= 0.01 / 13
    assert all(f.drifted == (f.score <= cut_off) for f in family)
    assert set(names(bh)) >= set(names(bonferroni))


@pytest.mark.xfail(
    strict=True,
    reason="Evidently's chisquare tests the window's counts against the reference's "
    "proportions as if exact, ignoring the reference's own noise: with a reference "
    "the size of the window its p-values are too small (statistic ~2x) and alpha "
    "no longer bounds the false alarms",
)
def test_chisquare_false_alarm_rate_is_bounded() -> None:
    """Same bound as for K-S: at most 2 of 40 stationary windows flagged at alpha=0.01.

    Measured: 6 of 40 (seed 12), 7 of 40 (seed 13). Two categorical columns only,
    so a report costs ~0.05 s.
    """
    rng = np.random.default_rng(12)
    monitor = DriftMonitor(frame(rng, 1000, numerical=[]), cat_method="chisquare", alpha=0.01)
    flagged = sum(bool(monitor.run(frame(rng, 1000, numerical=[]))[0].drifted_features) for _ in range(40))
    assert flagged <= 2


@pytest.mark.parametrize("seed", [12, 13])
def test_chi2_homogeneity_false_alarm_rate_is_bounded(seed: int) -> None:
    """The default categorical test keeps the bound where Evidently's chisquare fails it (same seeds)."""
    rng = np.random.default_rng(seed)
    monitor = DriftMonitor(frame(rng, 1000, numerical=[]), alpha=0.01)
    flagged = sum(bool(monitor.run(frame(rng, 1000, numerical=[]))[0].drifted_features) for _ in range(40))
    assert flagged <= 2


def test_chi2_homogeneity_is_scipys_contingency_test_with_rare_categories_pooled() -> None:
    from scipy.stats import chi2_contingency

    from monitors.evidently.methods import chi2_homogeneity_p_value

    reference = pd.Series(["a"] * 300 + ["b"] * 200 + ["c"] * 100 + ["rare1"] * 3 + ["rare2"] * 2)
    current = pd.Series(["a"] * 120 + ["b"] * 130 + ["c"] * 40 + ["rare1"] * 1 + ["rare3"] * 2)
    table = [[300, 200, 100, 5], [120, 130, 40, 3]]
    expected = chi2_contingency(table, correction=False).pvalue
    assert chi2_homogeneity_p_value(reference, current) == pytest.approx(expected, rel=1e-12)
    assert chi2_homogeneity_p_value(pd.Series(["a"] * 5), pd.Series(["a"] * 9)) == 1.0


# --- Distance methods: thresholds calibrated on the reference -----------------

DISTANCE_COLUMNS = {"numerical": ["x0", "x1", "x2"], "categorical": ["c0"]}


def test_distance_methods_get_calibrated_thresholds_and_stationary_windows_pass() -> None:
    """Wasserstein and Jensen-Shannon at alpha = 0.01 over 4 columns: each at level 0.0025.

    Measured over 35 references (seeds 0 to 34), 30 windows each: 19 of 1,050
    stationary windows flagged (1.8 %; about 1.1 % expected from the measured
    accuracy of the calibration, the rest the luck of a few references), more
    than 1 of 30 for 4 references; the shifted feature was flagged for all 35,
    with one other feature once. This seed: none. Evidently's constant (0.1)
    happens to suit windows of this size; tests/monitors/drift/test_thresholds.py shows
    sizes where it does not.
    """
    rng = np.random.default_rng(41)
    monitor = DriftMonitor(frame(rng, 4000, **DISTANCE_COLUMNS), num_method="wasserstein", cat_method="jensenshannon")
    flagged = 0
    for i in range(30):
        result, _ = monitor.run(frame(rng, 495 + i % 10, **DISTANCE_COLUMNS))  # 495 to 504 rows
        flagged += bool(result.drifted_features)
    assert flagged <= 1

    sources = {f.feature: f.threshold_source for f in result.features}
    assert sources["x0"] == (
        "calibrated: 99.75th percentile of Wasserstein distance (normed) over 40 reference sub-windows of 500 rows"
    )
    assert sources["c0"].startswith("calibrated: 99.75th percentile of Jensen-Shannon distance")
    # Windows of 495 to 504 rows share one calibration per column.
    assert sorted(monitor.distance_thresholds) == [
        ("c0", "jensenshannon", 500),
        ("x0", "wasserstein", 500),
        ("x1", "wasserstein", 500),
        ("x2", "wasserstein", 500),
    ]
    ids = {"Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon"}
    calibrations = monitor.distance_thresholds
    assert all(f.threshold == calibrations[(f.feature, ids[f.method], 500)].threshold for f in result.features)

    shifted, snapshot = monitor.report(frame(rng, 500, shift={"x1": 0.4}, **DISTANCE_COLUMNS))
    assert names(shifted) == ["x1"]
    x1 = next(f for f in shifted.features if f.feature == "x1")
    assert x1.score >= x1.threshold
    # Evidently decided with the calibrated threshold: its snapshot agrees.
    kinds: dict[str, Kind] = {"x0": "numerical", "x1": "numerical", "x2": "numerical", "c0": "categorical"}
    evidently = parse_value_drift(snapshot.dict(), kinds)
    assert {c: (d.threshold, d.drifted) for c, d in evidently.items()} == {
        f.feature: (f.threshold, f.drifted) for f in shifted.features
    }

    smaller, _ = monitor.run(frame(rng, 100, **DISTANCE_COLUMNS))
    assert len(monitor.distance_thresholds) == 8  # a new size, a new calibration
    assert all(s.threshold > f.threshold for s, f in zip(smaller.features, result.features))


def test_calibrate_distances_false_keeps_evidentlys_threshold() -> None:
    rng = np.random.default_rng(42)
    reference, current = frame(rng, 2000, **DISTANCE_COLUMNS), frame(rng, 500, **DISTANCE_COLUMNS)
    options: dict[str, object] = {"num_method": "wasserstein", "cat_method": "jensenshannon"}
    monitor = DriftMonitor(reference, calibrate_distances=False, **options)  # type: ignore[arg-type]
    result, _ = monitor.run(current)

    assert monitor.calibrate_distances is False
    assert {(f.threshold, f.threshold_source) for f in result.features} == {(0.1, "evidently default")}
    assert monitor.distance_thresholds == {}
    calibrated, _ = DriftMonitor(reference, **options).run(current)  # type: ignore[arg-type]
    assert [f.score for f in calibrated.features] == [f.score for f in result.features]
    assert all(f.threshold != 0.1 for f in calibrated.features)


def test_methods_evidently_chooses_are_calibrated_once_resolved() -> None:
    rng = np.random.default_rng(43)
    monitor = DriftMonitor(frame(rng, 2000, **DISTANCE_COLUMNS), num_method=None, cat_method=None)
    result, _ = monitor.run(frame(rng, 800, **DISTANCE_COLUMNS))

    assert {f.method for f in result.features} == {"Wasserstein distance (normed)", "Jensen-Shannon distance"}
    assert all(f.threshold_source.startswith("calibrated: 99.75th percentile of") for f in result.features)
    assert all(f.threshold_source.endswith("sub-windows of 800 rows") for f in result.features)
    assert result.drifted_features == ()


def test_every_threshold_says_where_it_came_from() -> None:
    rng = np.random.default_rng(44)
    reference, current = frame(rng, 2000, **DISTANCE_COLUMNS), frame(rng, 500, **DISTANCE_COLUMNS)
    monitor = DriftMonitor(
        reference, per_feature_method={"x2": "psi"}, per_feature_threshold={"x1": 0.02}, correction="bonferroni"
    )
    sources = {f.feature: f.threshold_source for f in monitor.run(current)[0].features}
    assert sources == {
        "c0": "bonferroni: alpha=0.01 over 4 columns",
        "x0": "bonferroni: alpha=0.01 over 4 columns",
        "x1": "per-feature threshold",
        "x2": "calibrated: 99.75th percentile of PSI over 40 reference sub-windows of 500 rows",
    }
    bh = DriftMonitor(reference, alpha=0.05).run(current)[0]
    assert {f.threshold_source for f in bh.features} == {"bh: alpha=0.05 over 4 columns"}
    uncorrected = DriftMonitor(reference, correction="none").run(current)[0]
    assert {f.threshold_source for f in uncorrected.features} == {"none: alpha=0.01 per column"}
    unadjusted = DriftMonitor(reference, alpha=None).run(current)[0]
    assert {f.threshold_source for f in unadjusted.features} == {"evidently default"}


def test_threshold_source_is_optional_and_not_compared() -> None:
    drift = FeatureDrift("x", 0.3, "Wasserstein distance (normed)", 0.2, True)
    assert drift.threshold_source == "evidently default"
    assert drift == FeatureDrift("x", 0.3, "Wasserstein distance (normed)", 0.2, True, "calibrated: ...")


def test_calibrated_monitor_pickles_with_its_thresholds() -> None:
    rng = np.random.default_rng(45)
    monitor = DriftMonitor(frame(rng, 2000, **DISTANCE_COLUMNS), num_method="wasserstein", cat_method="jensenshannon")
    current = frame(rng, 500, **DISTANCE_COLUMNS)
    result, _ = monitor.run(current)

    restored = pickle.loads(pickle.dumps(monitor))
    assert dict(restored.distance_thresholds) == dict(monitor.distance_thresholds)
    again, _ = restored.run(current)
    assert [(f.threshold, f.threshold_source) for f in again.features] == [
        (f.threshold, f.threshold_source) for f in result.features
    ]


def test_calibrate_distances_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="calibrate_distances"):
        DriftMonitor(frame(np.random.default_rng(46), 50), calibrate_distances="yes")  # type: ignore[arg-type]
