from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors.alerting.alerts import Observation
from monitors.alerting.inhibition import Inhibitor, InhibitRule
from monitors.alerting.lifecycle import AlertLifecycle
from monitors.alerting.matchers import parse_matchers

CRIT_MUTES_WARN = InhibitRule(
    parse_matchers(['severity="critical"']), parse_matchers(['severity="warning"']), ("model", "feature")
)


def labels(severity: str, **extra: str) -> dict[str, str]:
    return {"kind": "data_drift", **extra, "severity": severity}


def test_critical_mutes_the_warning_with_equal_labels() -> None:
    inhibitor = Inhibitor([CRIT_MUTES_WARN])
    firing = [labels("critical", model="churn", feature="age")]
    assert inhibitor.inhibited(labels("warning", model="churn", feature="age"), firing)
    assert not inhibitor.inhibited(labels("warning", model="churn", feature="income"), firing)
    assert not inhibitor.inhibited(labels("warning", model="fraud", feature="age"), firing)


def test_target_must_match_target_matchers() -> None:
    inhibitor = Inhibitor([CRIT_MUTES_WARN])
    firing = [labels("critical", model="churn", feature="age")]
    assert not inhibitor.inhibited(labels("info", model="churn", feature="age"), firing)


def test_source_must_match_source_matchers() -> None:
    inhibitor = Inhibitor([CRIT_MUTES_WARN])
    firing = [labels("warning", model="churn", feature="age"), labels("info", model="churn", feature="age")]
    assert not inhibitor.inhibited(labels("warning", model="churn", feature="age"), firing)


def test_equal_label_missing_from_both_counts_as_equal() -> None:
    inhibitor = Inhibitor([CRIT_MUTES_WARN])
    # Neither alert has "feature": equal, as in Alertmanager.
    assert inhibitor.inhibited(labels("warning", model="churn"), [labels("critical", model="churn")])
    # Missing in one and present in the other: not equal.
    assert not inhibitor.inhibited(labels("warning", model="churn"), [labels("critical", model="churn", feature="age")])
    assert not inhibitor.inhibited(labels("warning", model="churn", feature="age"), [labels("critical", model="churn")])
    # A missing label is the empty string.
    assert inhibitor.inhibited(labels("warning", model="churn", feature=""), [labels("critical", model="churn")])


def test_without_equal_any_source_mutes_every_target() -> None:
    rule = InhibitRule(parse_matchers(['kind="broker_down"']), parse_matchers(['kind=~".*drift"']))
    inhibitor = Inhibitor([rule])
    firing = [{"kind": "broker_down"}]
    assert inhibitor.inhibited({"kind": "data_drift", "model": "churn"}, firing)
    assert inhibitor.inhibited({"kind": "prediction_drift", "model": "fraud"}, firing)
    assert not inhibitor.inhibited({"kind": "accuracy", "model": "fraud"}, firing)


def test_an_alert_never_inhibits_itself() -> None:
    # Every data-drift alert is both a source and a target of this rule.
    rule = InhibitRule(parse_matchers(['kind="data_drift"']), parse_matchers(['kind="data_drift"']), ("model",))
    inhibitor = Inhibitor([rule])
    alert = labels("warning", model="churn", feature="age")
    assert not inhibitor.inhibited(alert, [alert])
    assert not inhibitor.inhibited(alert, [dict(alert)])
    # Two alerts on both sides do not mute each other either (Alertmanager).
    other = labels("warning", model="churn", feature="income")
    assert not inhibitor.inhibited(alert, [alert, other])
    assert not inhibitor.inhibited(other, [alert, other])


def test_a_one_sided_source_still_mutes_a_two_sided_target() -> None:
    rule = InhibitRule(parse_matchers(['model="churn"']), parse_matchers(['kind="data_drift"']))
    inhibitor = Inhibitor([rule])
    target = {"model": "churn", "kind": "data_drift"}  # matches both sides
    assert not inhibitor.inhibited(target, [target])
    assert inhibitor.inhibited(target, [target, {"model": "churn", "kind": "accuracy"}])


def test_any_rule_suffices() -> None:
    other = InhibitRule(parse_matchers(['kind="broker_down"']), parse_matchers(['severity="warning"']))
    inhibitor = Inhibitor([CRIT_MUTES_WARN, other])
    target = labels("warning", model="churn", feature="age")
    assert inhibitor.inhibited(target, [{"kind": "broker_down", "severity": "critical"}])
    assert not Inhibitor([]).inhibited(target, [{"kind": "broker_down", "severity": "critical"}])


def test_firing_may_be_a_one_shot_iterator() -> None:
    other = InhibitRule(parse_matchers(['kind="broker_down"']), parse_matchers(['severity="warning"']))
    inhibitor = Inhibitor([CRIT_MUTES_WARN, other])
    target = labels("warning", model="churn", feature="age")
    firing = iter([{"kind": "noise", "severity": "critical"}, {"kind": "broker_down", "severity": "critical"}])
    assert inhibitor.inhibited(target, firing)


def test_only_firing_sources_count() -> None:
    """The performance alert mutes the model's drift warnings while it fires, and no longer."""
    rule = InhibitRule(parse_matchers(['kind="accuracy"']), parse_matchers(['kind="data_drift"']), ("model",))
    inhibitor = Inhibitor([rule])
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    accuracy = {"model": "churn", "kind": "accuracy"}
    drift = {"model": "churn", "kind": "data_drift", "feature": "age", "severity": "warning"}

    fired = lifecycle.observe([Observation(accuracy, 5.0, 3.0)], t0)
    assert [a.status for a in fired] == ["firing"]
    assert inhibitor.inhibited(drift, [a.labels for a in lifecycle.firing()])

    resolved = lifecycle.observe([Observation(accuracy, 0.0, 3.0)], t0 + timedelta(minutes=5))
    assert [a.status for a in resolved] == ["resolved"]
    # The resolved alert is no source any more.
    assert not inhibitor.inhibited(drift, [a.labels for a in lifecycle.firing()])
    assert not inhibitor.inhibited(drift, [a.labels for a in resolved if a.status == "firing"])


def test_rule_validation() -> None:
    with pytest.raises(TypeError, match="equal"):
        InhibitRule(parse_matchers(['a="1"']), parse_matchers(['b="1"']), "model")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source_matchers"):
        InhibitRule(['a="1"'], parse_matchers(['b="1"']))  # type: ignore[arg-type]
    rule = InhibitRule(list(parse_matchers(['a="1"'])), list(parse_matchers(['b="1"'])), ["x"])  # type: ignore[arg-type]
    assert rule.equal == ("x",) and isinstance(rule.source_matchers, tuple)
    assert Inhibitor([rule]).rules == (rule,)
