import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from monitors.quality.monitor import CHECKS, DataQualityMonitor, QualityFinding
from monitors.quality.profile import ReferenceProfile, robust_rate
from monitors.quality.rules import QualityRule

PLANS = ["basic", "plus", "pro"]


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(PLANS, n, p=[0.6, 0.3, 0.1]),
            "active": rng.random(n) < 0.7,
        }
    )


@pytest.fixture(scope="module")
def monitor() -> DataQualityMonitor:
    return DataQualityMonitor(ReferenceProfile.of(frame(np.random.default_rng(0), 4000)))


def by(findings: list[QualityFinding], check: str, feature: str | None) -> QualityFinding:
    (finding,) = [f for f in findings if f.check == check and f.feature == feature]
    return finding


def warned(findings: list[QualityFinding]) -> set[tuple[str, str | None]]:
    return {(f.check, f.feature) for f in findings if f.value >= f.warning_at}


def test_a_clean_window_reports_every_check_for_every_feature_and_nothing_at_a_level(
    monitor: DataQualityMonitor,
) -> None:
    findings = monitor.run(frame(np.random.default_rng(1), 1000))
    assert warned(findings) == set()
    keys = [(f.check, f.feature) for f in findings]
    features = ["active", "age", "income", "plan"]
    assert keys == (
        [("schema", f) for f in features]
        + [("schema", None)]
        + [("missing_values", f) for f in features]
        + [("out_of_range", f) for f in ["age", "income"]]
        + [("unseen_categories", f) for f in ["active", "plan"]]
        + [("constant", f) for f in features]
    )
    assert [f.check for f in findings] == sorted((f.check for f in findings), key=CHECKS.index)


def test_missing_values_fire_on_an_increase_of_the_null_share(monitor: DataQualityMonitor) -> None:
    window = frame(np.random.default_rng(2), 1000)
    window.loc[:309, "age"] = np.nan
    window.loc[:39, "income"] = np.nan  # 4 %: under the 5 % increase
    findings = monitor.run(window)
    age = by(findings, "missing_values", "age")
    assert age.value == pytest.approx(0.31) and age.warning_at == pytest.approx(0.05)
    assert age.critical_at == pytest.approx(0.2)
    assert age.summary == "age: 31.0% missing (reference 0.0%)"
    assert warned(findings) == {("missing_values", "age")}


def test_fewer_missing_values_than_in_the_reference_is_a_negative_value() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, None, 4.0] * 100})
    finding = by(
        DataQualityMonitor(ReferenceProfile.of(reference)).run(pd.DataFrame({"x": np.arange(100.0)})), "missing_values", "x"
    )
    assert finding.value == pytest.approx(-0.25)


def test_a_mixed_type_column_is_a_schema_change(monitor: DataQualityMonitor) -> None:
    window = frame(np.random.default_rng(3), 1000)
    window["age"] = window["age"].astype(object)
    window.loc[:4, "age"] = "forty"  # 5 strings among 995 numbers, as a JSON decoder leaves them
    window["active"] = window["active"].astype(object)
    window.loc[0, "active"] = 1  # a number where booleans were
    findings = monitor.run(window)
    age = by(findings, "schema", "age")
    assert (age.value, age.warning_at, age.critical_at) == (1.0, 1.0, 1.0)
    assert age.summary == "age: 5 of 1000 values are string (reference: number)"
    assert by(findings, "schema", "active").value == 1.0
    assert warned(findings) == {("schema", "age"), ("schema", "active")}
    # the strings are the schema check's, not counted as out of range
    assert by(findings, "out_of_range", "age").value < 0.01


def test_absent_and_all_null_features_are_schema_changes_unless_the_reference_makes_them_likely() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000), "sparse": rng.normal(size=2000)})
    reference.loc[reference.index % 2 == 0, "sparse"] = np.nan  # null half of the time
    monitor = DataQualityMonitor(ReferenceProfile.of(reference))
    window = pd.DataFrame({"a": [np.nan] * 3, "sparse": [np.nan] * 3})
    findings = monitor.run(window)
    assert by(findings, "schema", "a").value == 1.0  # never null in the reference
    assert "null in all 3 rows" in by(findings, "schema", "a").summary
    assert by(findings, "schema", "b").value == 1.0  # absent
    assert "absent" in by(findings, "schema", "b").summary
    assert by(findings, "schema", "sparse").value == 0.0  # 1 in 8 windows of 3 rows
    longer = monitor.run(pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "sparse": [np.nan] * 40}))
    assert by(longer, "schema", "sparse").value == 1.0  # 0.5 ** 40


def test_new_features_are_one_window_level_schema_finding_and_ignored_columns_are_not_new() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "request_id": [f"r{i}" for i in range(100)]})
    monitor = DataQualityMonitor(ReferenceProfile.of(reference, ignore=["request_id"]))
    window = pd.DataFrame({"x": np.arange(50.0), "request_id": ["q"] * 50, "extra": ["y"] * 50, "empty": [None] * 50})
    findings = monitor.run(window)
    new = by(findings, "schema", None)
    assert new.value == 1.0 and new.summary == "1 features not in the reference: extra"
    assert {f.feature for f in findings} == {"x", None}
    assert by(monitor.run(window[["x", "empty"]]), "schema", None).value == 0.0


def test_out_of_range_counts_values_outside_the_reference_quantiles(monitor: DataQualityMonitor) -> None:
    profile = monitor.profile.columns["age"]
    assert profile.low is not None and profile.high is not None
    window = frame(np.random.default_rng(5), 1000)
    window.loc[:49, "age"] = profile.high + 50  # 5 %, plus the ~0.2 % expected
    findings = monitor.run(window)
    age = by(findings, "out_of_range", "age")
    assert 0.05 <= age.value < 0.06 and age.warning_at == pytest.approx(0.02)
    assert age.critical_at == pytest.approx(0.08)
    assert warned(findings) == {("out_of_range", "age")}
    wide = DataQualityMonitor(monitor.profile, range_margin=1.0).run(window)
    assert by(wide, "out_of_range", "age").value < 0.01


def test_the_range_is_robust_to_an_outlier_in_the_reference() -> None:
    rng = np.random.default_rng(16)
    reference = pd.DataFrame({"latency": np.r_[rng.normal(100, 10, 4999), 1e6]})
    profile = ReferenceProfile.of(reference)
    assert profile.columns["latency"].high is not None and profile.columns["latency"].high < 200
    window = pd.DataFrame({"latency": np.r_[rng.normal(100, 10, 950), np.full(50, 1000.0)]})
    assert by(DataQualityMonitor(profile).run(window), "out_of_range", "latency").value >= 0.05


def test_a_long_tailed_category_does_not_alarm_on_its_own_rare_values() -> None:
    rng = np.random.default_rng(17)
    weights = 1 / np.arange(1, 20001)
    agents = [f"agent-{i}" for i in range(20000)]

    def data(n: int) -> pd.DataFrame:
        return pd.DataFrame({"agent": rng.choice(agents, n, p=weights / weights.sum())})

    monitor = DataQualityMonitor(ReferenceProfile.of(data(3000)))
    assert monitor.profile.columns["agent"].expected_share > 0.1  # Good-Turing: many categories seen once
    for _ in range(10):
        finding = by(monitor.run(data(1000)), "unseen_categories", "agent")
        assert 0.05 < finding.value < finding.warning_at


def test_unseen_categories_fire_and_name_the_categories(monitor: DataQualityMonitor) -> None:
    window = frame(np.random.default_rng(6), 1000)
    window.loc[:29, "plan"] = "enterprise"
    findings = monitor.run(window)
    plan = by(findings, "unseen_categories", "plan")
    assert plan.value == pytest.approx(0.03) and plan.warning_at == pytest.approx(0.01)
    assert "'enterprise'" in plan.summary
    assert warned(findings) == {("unseen_categories", "plan")}


def test_categories_compare_as_json_values_not_python_reprs() -> None:
    reference = pd.DataFrame({"code": [1, 2, 3, None] * 50})  # floats 1.0, 2.0, 3.0 with NaN
    monitor = DataQualityMonitor(ReferenceProfile.of(reference, categorical=["code"]))
    findings = monitor.run(pd.DataFrame({"code": [1, 2, 3] * 20}))  # ints
    assert by(findings, "unseen_categories", "code").value == 0.0
    assert by(findings, "schema", "code").value == 0.0


def test_a_feature_stuck_at_one_value_is_constant(monitor: DataQualityMonitor) -> None:
    window = frame(np.random.default_rng(7), 1000)
    window["plan"] = "basic"
    window["income"] = 0.0
    findings = monitor.run(window)
    assert by(findings, "constant", "plan").value == 1.0
    assert by(findings, "constant", "plan").summary == "plan: constant at 'basic' over 1000 values (varies in the reference)"
    assert by(findings, "constant", "plan").critical_at is None
    assert by(findings, "constant", "income").value == 1.0
    assert by(findings, "constant", "age").value == 0.0


def test_a_rare_flag_all_equal_in_a_small_window_is_not_constant() -> None:
    rng = np.random.default_rng(8)
    monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"flag": rng.random(5000) < 0.02})))
    assert by(monitor.run(pd.DataFrame({"flag": [False] * 40})), "constant", "flag").value == 0.0
    assert by(monitor.run(pd.DataFrame({"flag": [False] * 2000})), "constant", "flag").value == 1.0


def test_a_constant_reference_feature_is_never_reported_constant() -> None:
    monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"v": ["1.0"] * 100})))
    assert by(monitor.run(pd.DataFrame({"v": ["1.0"] * 100})), "constant", "v").value == 0.0


def test_volume_compares_event_rates_both_ways() -> None:
    start = datetime(2026, 1, 1)
    reference = pd.DataFrame({"x": np.arange(1001.0)})
    profile = ReferenceProfile.of(reference, event_times=[start + timedelta(seconds=i / 10) for i in range(1001)])
    assert profile.events_per_second == pytest.approx(10.0)
    monitor = DataQualityMonitor(profile)

    def volume(rows: int, seconds: float) -> QualityFinding:
        return by(monitor.run(pd.DataFrame({"x": np.arange(float(rows))}), window_seconds=seconds), "volume", None)

    assert volume(600, 60).value == pytest.approx(1.0)
    flood = volume(2400, 60)
    assert flood.value == pytest.approx(4.0) and (flood.warning_at, flood.critical_at) == (3.0, 12.0)
    assert volume(150, 60).value == pytest.approx(4.0)
    silence = volume(0, 60)
    assert silence.value == pytest.approx(1200.0)  # half an event against 600 expected
    assert silence.summary == "0 events/s, 0.000833x the reference rate of 10/s"
    # unknown rates: no volume finding
    assert all(f.check != "volume" for f in monitor.run(pd.DataFrame({"x": [1.0]})))
    assert all(f.check != "volume" for f in monitor.run(pd.DataFrame({"x": [1.0]}), window_seconds=0))
    unrated = DataQualityMonitor(ReferenceProfile.of(reference))
    assert all(f.check != "volume" for f in unrated.run(pd.DataFrame({"x": [1.0]}), window_seconds=60))


def _poisson_times(rng: np.random.Generator, start: datetime, rate: float, n: int) -> list[datetime]:
    """``n`` event times of a stationary stream at ``rate`` events per second."""
    offsets = np.cumsum(rng.exponential(1 / rate, n))
    return [start + timedelta(seconds=float(s)) for s in offsets]


def _volume_of(monitor: DataQualityMonitor, times: list[datetime]) -> QualityFinding:
    return by(monitor.run(pd.DataFrame({"x": np.zeros(len(times))}), event_times=times), "volume", None)


@pytest.mark.parametrize("n", [100, 1000])
def test_stragglers_do_not_raise_a_volume_finding(n: int) -> None:
    rng = np.random.default_rng(21)
    start = datetime(2026, 1, 1)
    reference = _poisson_times(rng, start, 10.0, 1000)
    monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"x": np.zeros(1000)}), event_times=reference))
    window = _poisson_times(rng, start + timedelta(hours=1), 10.0, n)

    stationary = _volume_of(monitor, window)
    assert stationary.value < 1.5
    # One event dated 1970 (its window spans 56 years from first to last event) ...
    from_1970 = _volume_of(monitor, [datetime(1970, 1, 1), *window[1:]])
    assert from_1970.value < stationary.warning_at
    assert from_1970.value == pytest.approx(stationary.value, rel=0.1)
    # ... or two predictions resent a couple of minutes late: no volume finding either.
    resent = [window[0] - timedelta(minutes=3), window[0] - timedelta(minutes=2), *window[2:]]
    assert _volume_of(monitor, resent).value < stationary.warning_at
    # The same two at the other end (clock skew ahead) neither.
    ahead = [*window[:-2], window[-1] + timedelta(minutes=2), window[-1] + timedelta(minutes=3)]
    assert _volume_of(monitor, ahead).value < stationary.warning_at


def test_a_straggler_in_the_reference_does_not_change_its_rate() -> None:
    rng = np.random.default_rng(22)
    times = _poisson_times(rng, datetime(2026, 1, 1), 10.0, 1000)
    rows = pd.DataFrame({"x": np.zeros(1000)})
    clean = ReferenceProfile.of(rows, event_times=times).events_per_second
    straggled = ReferenceProfile.of(rows, event_times=[datetime(1970, 1, 1), *times[1:]]).events_per_second
    assert clean == pytest.approx(10.0, rel=0.1) and straggled == pytest.approx(clean, rel=0.05)


def test_a_genuine_volume_drop_or_flood_is_still_found() -> None:
    rng = np.random.default_rng(23)
    start = datetime(2026, 1, 1)
    reference = _poisson_times(rng, start, 10.0, 1000)
    monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"x": np.zeros(1000)}), event_times=reference))
    later = start + timedelta(hours=1)

    drop = _volume_of(monitor, [datetime(1970, 1, 1), *_poisson_times(rng, later, 1.0, 500)])
    assert drop.value >= drop.warning_at and drop.value == pytest.approx(10.0, rel=0.15)
    flood = _volume_of(monitor, _poisson_times(rng, later, 50.0, 1000))
    assert flood.value == pytest.approx(5.0, rel=0.15) and flood.value >= flood.warning_at


def test_robust_rate_needs_two_events_over_some_time() -> None:
    start = datetime(2026, 1, 1)
    assert robust_rate([]) is None and robust_rate([start]) is None and robust_rate([start, start]) is None
    assert robust_rate([start, start + timedelta(seconds=4)]) == pytest.approx(0.25)
    # Too few events to leave any out: every interval counts.
    assert robust_rate([start + timedelta(seconds=s) for s in (0, 1, 3)]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        robust_rate([start], trim_share=0.5)


def test_a_small_window_gets_schema_and_volume_findings_only() -> None:
    start = datetime(2026, 1, 1)
    reference = frame(np.random.default_rng(9), 1000)
    profile = ReferenceProfile.of(reference, event_times=[start + timedelta(seconds=i) for i in range(1000)])
    window = frame(np.random.default_rng(10), 10)
    window["plan"] = "unknown"  # 100 % unseen and constant, but only 10 rows
    window["age"] = np.nan
    findings = DataQualityMonitor(profile).run(window, window_seconds=10.0)
    assert {f.check for f in findings} == {"schema", "volume"}
    assert warned(findings) == {("schema", "age")}  # all null where the reference never is
    assert len(DataQualityMonitor(profile, min_rows=10).run(window)) > len(findings)


def test_share_thresholds_rise_to_the_noise_floor_of_small_windows() -> None:
    rng = np.random.default_rng(11)
    monitor = DataQualityMonitor(ReferenceProfile.of(pd.DataFrame({"x": rng.normal(size=5000)})))
    window = pd.DataFrame({"x": np.r_[rng.normal(size=49), 100.0]})  # 1 of 50 out of range: 2 %
    finding = by(monitor.run(window), "out_of_range", "x")
    assert finding.value == pytest.approx(0.02) and finding.warning_at > 0.05
    big = by(monitor.run(pd.DataFrame({"x": rng.normal(size=1000)})), "out_of_range", "x")
    assert big.warning_at == pytest.approx(0.02)


def test_a_stationary_stream_raises_no_warning_at_the_defaults() -> None:
    rng = np.random.default_rng(12)

    def data(n: int) -> pd.DataFrame:
        columns: dict[str, object] = {f"x{i}": rng.normal(i, 1 + i, n) for i in range(7)}
        columns["count"] = rng.poisson(3, n).astype(float)
        columns["amount"] = rng.lognormal(3, 1.5, n)
        columns["ratio"] = rng.beta(0.5, 0.5, n)
        columns["plan"] = rng.choice(PLANS, n, p=[0.6, 0.3, 0.1])
        columns["country"] = rng.choice([f"c{i}" for i in range(20)], n, p=np.r_[0.5, np.full(19, 0.5 / 19)])
        columns["active"] = rng.random(n) < 0.9
        table = pd.DataFrame(columns)
        for name in ("x0", "amount", "country"):
            table.loc[rng.random(n) < 0.05, name] = None
        return table

    monitor = DataQualityMonitor(ReferenceProfile.of(data(5000)))
    for _ in range(20):
        findings = monitor.run(data(1000))
        assert len(findings) == 13 + 1 + 13 + 10 + 3 + 13
        assert warned(findings) == set()


def test_the_profile_survives_a_json_round_trip() -> None:
    start = datetime(2026, 1, 1)
    reference = frame(np.random.default_rng(13), 500)
    reference["id"] = range(500)
    reference.loc[:9, "income"] = np.nan
    profile = ReferenceProfile.of(reference, event_times=[start + timedelta(seconds=2 * i) for i in range(500)], ignore=["id"])
    restored = ReferenceProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored == profile
    assert restored.columns["plan"].categories == frozenset(PLANS)
    assert restored.ignored == frozenset({"id"}) and restored.events_per_second == pytest.approx(0.5)
    window = frame(np.random.default_rng(14), 300)
    assert DataQualityMonitor(restored).run(window) == DataQualityMonitor(profile).run(window)
    with pytest.raises(ValueError, match="version"):
        ReferenceProfile.from_dict({**profile.to_dict(), "version": 99})


def test_observations_carry_the_labels_and_agree_with_the_findings(monitor: DataQualityMonitor) -> None:
    window = frame(np.random.default_rng(15), 1000)
    window.loc[:299, "age"] = np.nan  # critical missing values
    window.loc[:29, "plan"] = "enterprise"  # warning unseen categories
    findings = monitor.run(window, window_seconds=60)
    observations = QualityRule().evaluate("churn", findings, {"window": "w1"})
    assert len(observations) == len(findings)
    for finding, obs in zip(findings, observations):
        assert dict(obs.labels) == {"model": "churn", "kind": finding.check, "feature": finding.feature or "*"}
        assert (obs.value, obs.warning_at, obs.critical_at) == (finding.value, finding.warning_at, finding.critical_at)
        assert obs.annotations["summary"] == f"churn: {finding.summary}" and obs.annotations["window"] == "w1"
    levels = {(o.labels["kind"], o.labels["feature"]): o.level(None, 0.1) for o in observations}
    assert {k: v for k, v in levels.items() if v} == {
        ("missing_values", "age"): "critical",
        ("unseen_categories", "plan"): "warning",
    }
    assert levels[("schema", "*")] is None


def test_the_reference_must_hold_one_type_per_column() -> None:
    with pytest.raises(ValueError, match="'x' mixes JSON types"):
        ReferenceProfile.of(pd.DataFrame({"x": [1, "a", 2.0]}))
    with pytest.raises(ValueError, match="event_times"):
        ReferenceProfile.of(pd.DataFrame({"x": [1.0, 2.0]}), event_times=[datetime(2026, 1, 1)])


@pytest.mark.parametrize(
    "arguments",
    [{"missing_increase": 0}, {"unseen_share": 1.5}, {"volume_ratio": 1}, {"min_rows": 0}, {"alpha": 1}, {"range_margin": -1}],
)
def test_bad_thresholds_are_refused(monitor: DataQualityMonitor, arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(arguments))):
        DataQualityMonitor(monitor.profile, **arguments)  # type: ignore[arg-type]


def test_summaries_quote_long_values_bounded() -> None:
    rng = np.random.default_rng(24)
    reference = pd.DataFrame({"plan": rng.choice(PLANS, 1000), "code": rng.choice(["a", "b"], 1000)})
    monitor = DataQualityMonitor(ReferenceProfile.of(reference))
    huge = [c * 990_000 for c in "xyz"] + ["w" * 990_000]
    window = pd.DataFrame({"plan": huge * 10 + list(rng.choice(PLANS, 460)), "code": ["k" * 990_000] * 500})

    unseen = by(monitor.run(window), "unseen_categories", "plan")
    assert unseen.value >= unseen.warning_at and len(unseen.summary) < 600
    assert "(989,920 more characters)" in unseen.summary and unseen.summary.endswith(", ...)")
    constant = by(monitor.run(window), "constant", "code")
    assert constant.value == 1.0 and len(constant.summary) < 300 and "more characters" in constant.summary
