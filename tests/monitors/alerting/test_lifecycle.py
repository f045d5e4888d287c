from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.alerting.alerts import Alert, Observation
from monitors.alerting.fingerprint import fingerprint
from monitors.alerting.lifecycle import AlertLifecycle

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AGE = {"model": "churn", "kind": "data_drift", "feature": "age"}
INCOME = {"model": "churn", "kind": "data_drift", "feature": "income"}
WARNING_AT, CRITICAL_AT = 3.0, 6.0


def at(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def obs(value: float, labels: dict[str, str] = AGE, **annotations: str) -> Observation:
    return Observation(labels, value, WARNING_AT, CRITICAL_AT, annotations)


def run(lifecycle: AlertLifecycle, values: Sequence[float], start: int = 0) -> list[tuple[int, Alert]]:
    """Feed one observation of AGE per window; return (window, alert) for every change."""
    out: list[tuple[int, Alert]] = []
    for i, value in enumerate(values, start):
        out += [(i, alert) for alert in lifecycle.observe([obs(value)], at(i))]
    return out


def summary(changes: list[tuple[int, Alert]]) -> list[tuple[int, str, str]]:
    return [(i, a.labels["severity"], a.status) for i, a in changes]


# --- pending: for_windows --------------------------------------------------------------


def test_a_flapping_condition_never_fires() -> None:
    lifecycle = AlertLifecycle(for_windows=2)
    assert run(lifecycle, [4.0, 1.0] * 25) == []
    assert lifecycle.firing() == []
    assert lifecycle.snapshot()["conditions"] == {}  # the clear window forgot it


def test_fires_once_after_consecutive_active_windows_and_deduplicates() -> None:
    lifecycle = AlertLifecycle(for_windows=2)
    changes = run(lifecycle, [1.0, 4.0, 4.5, 4.1, 5.0, 3.9, 4.4] + [4.0] * 20)
    assert summary(changes) == [(2, "warning", "firing")]
    (_, alert) = changes[0]
    assert alert.labels == {**AGE, "severity": "warning"}
    assert alert.starts_at == at(2)
    assert alert.ends_at is None
    assert lifecycle.firing() == [alert]


def test_the_pending_count_needs_consecutive_windows() -> None:
    lifecycle = AlertLifecycle(for_windows=3)
    assert run(lifecycle, [4.0, 4.0, 1.0, 4.0, 4.0]) == []
    assert summary(run(lifecycle, [4.0], start=5)) == [(5, "warning", "firing")]


def test_pending_across_levels_fires_at_the_latest_level() -> None:
    lifecycle = AlertLifecycle(for_windows=2)
    assert summary(run(lifecycle, [4.0, 7.0])) == [(1, "critical", "firing")]


def test_for_windows_1_fires_on_the_first_active_window() -> None:
    assert summary(run(AlertLifecycle(for_windows=1), [0.0, 3.0])) == [(1, "warning", "firing")]


# --- resolution: keep_firing_for_windows -------------------------------------------------


def test_resolves_after_keep_firing_for_consecutive_clears_and_not_before() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=3)
    changes = run(lifecycle, [4.0, 1.0, 1.0, 4.0, 1.0, 1.0])
    assert summary(changes) == [(0, "warning", "firing")]  # two clears, then active: still firing
    assert len(lifecycle.firing()) == 1
    resolved = run(lifecycle, [1.0], start=6)
    assert summary(resolved) == [(6, "warning", "resolved")]
    (_, alert) = resolved[0]
    assert alert.starts_at == at(0)
    assert alert.ends_at == at(6)
    assert alert.fingerprint == changes[0][1].fingerprint
    assert lifecycle.firing() == []
    assert lifecycle.snapshot()["conditions"] == {}


def test_after_resolving_a_condition_waits_for_windows_again() -> None:
    lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=1)
    changes = run(lifecycle, [4.0, 4.0, 1.0, 4.0, 4.0])
    assert summary(changes) == [(1, "warning", "firing"), (2, "warning", "resolved"), (4, "warning", "firing")]
    assert changes[2][1].starts_at == at(4)


# --- hysteresis ----------------------------------------------------------------------


HOVERING = [3.05, 2.95, 3.02, 2.98] * 10


def test_a_value_hovering_at_the_threshold_fires_once_with_hysteresis() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
    assert summary(run(lifecycle, HOVERING)) == [(0, "warning", "firing")]
    assert [a.starts_at for a in lifecycle.firing()] == [at(0)]
    # It still resolves once the value really drops (below 3.0 - 10%).
    assert summary(run(lifecycle, [2.69], start=len(HOVERING))) == [(40, "warning", "resolved")]


def test_hysteresis_also_carries_a_pending_condition_over_a_dip() -> None:
    lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=1, hysteresis=0.1)
    assert summary(run(lifecycle, HOVERING)) == [(1, "warning", "firing")]


def test_the_same_value_flaps_without_hysteresis() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=1, hysteresis=0.0)
    changes = summary(run(lifecycle, HOVERING))
    assert len(changes) == len(HOVERING)
    assert [status for _, _, status in changes] == ["firing", "resolved"] * (len(HOVERING) // 2)


def test_keep_firing_for_also_damps_the_hovering_value() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=2, hysteresis=0.0)
    assert summary(run(lifecycle, HOVERING)) == [(0, "warning", "firing")]


# --- severity switches ---------------------------------------------------------------


def test_warning_to_critical_emits_resolved_then_firing_at_once() -> None:
    lifecycle = AlertLifecycle(for_windows=3, keep_firing_for_windows=1)
    run(lifecycle, [4.0, 4.0, 4.0])
    changes = run(lifecycle, [7.0], start=3)
    assert summary(changes) == [(3, "warning", "resolved"), (3, "critical", "firing")]
    old, new = changes[0][1], changes[1][1]
    assert old.fingerprint != new.fingerprint
    assert old.fingerprint == fingerprint({**AGE, "severity": "warning"})
    assert new.fingerprint == fingerprint({**AGE, "severity": "critical"})
    assert (old.starts_at, old.ends_at) == (at(2), at(3))
    assert (new.starts_at, new.ends_at) == (at(3), None)
    assert lifecycle.firing() == [new]


def test_critical_back_to_warning_respects_hysteresis() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
    run(lifecycle, [7.0])
    assert run(lifecycle, [5.5, 5.9, 5.41], start=1) == []  # critical holds down to 6.0 - 10% = 5.4
    assert summary(run(lifecycle, [5.3], start=4)) == [(4, "critical", "resolved"), (4, "warning", "firing")]
    assert summary(run(lifecycle, [0.0], start=5)) == [(5, "warning", "resolved")]


def test_a_clear_window_while_firing_does_not_switch_severity() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=2)
    run(lifecycle, [7.0])
    assert run(lifecycle, [0.0, 6.5], start=1) == []
    assert [a.labels["severity"] for a in lifecycle.firing()] == ["critical"]


# --- annotations, ordering, memory, validation -----------------------------------------


def test_changed_annotations_update_the_alert_without_emitting() -> None:
    lifecycle = AlertLifecycle()
    (fired,) = lifecycle.observe([obs(4.0, summary="score 4.0")], at(0))
    assert fired.annotations == {"summary": "score 4.0"}
    assert lifecycle.observe([obs(4.5, summary="score 4.5")], at(1)) == []
    (current,) = lifecycle.firing()
    assert current.annotations == {"summary": "score 4.5"}
    assert current.starts_at == at(0)
    (resolved,) = lifecycle.observe([obs(0.5, summary="score 0.5")], at(2))
    assert resolved.annotations == {"summary": "score 0.5"}


def test_changes_are_ordered_by_fingerprint_whatever_the_input_order() -> None:
    forward, backward = AlertLifecycle(), AlertLifecycle()
    batch = [obs(4.0, AGE), obs(7.0, INCOME)]
    a = forward.observe(batch, at(0))
    b = backward.observe(list(reversed(batch)), at(0))
    assert a == b
    # By condition fingerprint (the labels without severity).
    by_condition = sorted(batch, key=lambda o: fingerprint(o.labels))
    assert [x.labels["feature"] for x in a] == [o.labels["feature"] for o in by_condition]
    assert [x.labels["feature"] for x in forward.firing()] == [x.labels["feature"] for x in a]


def test_conditions_not_observed_keep_their_state() -> None:
    lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=2)
    lifecycle.observe([obs(4.0, AGE), obs(4.0, INCOME)], at(0))
    lifecycle.observe([obs(4.0, AGE)], at(1))  # AGE fires; INCOME stays pending
    assert [a.labels["feature"] for a in lifecycle.firing()] == ["age"]
    assert [a.labels["feature"] for a in lifecycle.observe([obs(4.0, INCOME)], at(2))] == ["income"]
    assert lifecycle.observe([obs(0.0, AGE)], at(3)) == []  # one clear of two
    assert len(lifecycle.firing()) == 2


def test_several_windows_of_one_condition_in_one_call_are_taken_in_order() -> None:
    lifecycle = AlertLifecycle(for_windows=2)
    assert [a.status for a in lifecycle.observe([obs(4.0), obs(4.0)], at(0))] == ["firing"]


def test_memory_holds_only_pending_and_firing_conditions() -> None:
    lifecycle = AlertLifecycle(for_windows=2)
    for i in range(200):
        lifecycle.observe([obs(0.0, {"model": "churn", "feature": f"f{i}"})], at(i))
    assert lifecycle.snapshot()["conditions"] == {}
    lifecycle.observe([obs(4.0, {"model": "churn", "feature": "f1"})], at(300))
    assert len(lifecycle.snapshot()["conditions"]) == 1


def test_observe_rejects_severity_labels_and_naive_times_without_changing_state() -> None:
    lifecycle = AlertLifecycle()
    with pytest.raises(ValueError, match="severity"):
        lifecycle.observe([obs(4.0), Observation({**AGE, "severity": "warning"}, 4.0, 3.0)], at(0))
    assert lifecycle.firing() == []
    with pytest.raises(ValueError, match="now"):
        lifecycle.observe([obs(4.0)], datetime(2026, 1, 1))
    assert lifecycle.firing() == []


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"for_windows": 0}, "for_windows"),
        ({"for_windows": 1.5}, "for_windows"),
        ({"keep_firing_for_windows": 0}, "keep_firing_for_windows"),
        ({"hysteresis": -0.01}, "hysteresis"),
        ({"hysteresis": 1.0}, "hysteresis"),
    ],
)
def test_constructor_validation(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        AlertLifecycle(**kwargs)  # type: ignore[arg-type]


def test_constructor_arguments_are_public_attributes() -> None:
    lifecycle = AlertLifecycle(for_windows=3, keep_firing_for_windows=2, hysteresis=0.25)
    assert (lifecycle.for_windows, lifecycle.keep_firing_for_windows, lifecycle.hysteresis) == (3, 2, 0.25)


# --- snapshot / restore ---------------------------------------------------------------


def reloaded(lifecycle: AlertLifecycle) -> AlertLifecycle:
    state = json.loads(json.dumps(lifecycle.snapshot()))
    return AlertLifecycle.restore(
        state,
        for_windows=lifecycle.for_windows,
        keep_firing_for_windows=lifecycle.keep_firing_for_windows,
        hysteresis=lifecycle.hysteresis,
    )


def test_restore_does_not_re_emit_a_firing_alert() -> None:
    lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=2)
    ((_, fired),) = run(lifecycle, [4.0, 4.0])
    lifecycle.observe([obs(4.0, annotations_key="x")], at(2))
    again = reloaded(lifecycle)
    assert again.firing() == lifecycle.firing()
    assert run(again, [4.0, 4.0], start=3) == []
    # The clear count continues too: one clear before the snapshot, one after.
    assert run(again, [0.0], start=5) == []
    again = reloaded(again)
    ((_, resolved),) = run(again, [0.0], start=6)
    assert (resolved.fingerprint, resolved.starts_at, resolved.ends_at) == (fired.fingerprint, at(1), at(6))


def test_restore_continues_a_pending_count() -> None:
    lifecycle = AlertLifecycle(for_windows=3)
    run(lifecycle, [4.0, 4.0])
    again = reloaded(lifecycle)
    assert summary(run(again, [4.0], start=2)) == [(2, "warning", "firing")]


def test_restore_keeps_hysteresis_state() -> None:
    lifecycle = AlertLifecycle(for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
    run(lifecycle, [7.0])
    assert run(reloaded(lifecycle), [5.5], start=1) == []  # still critical, not a switch


def test_restore_rejects_what_is_not_a_snapshot() -> None:
    with pytest.raises(ValueError, match="version"):
        AlertLifecycle.restore({}, for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
    lifecycle = AlertLifecycle()
    lifecycle.observe([obs(4.0)], at(0))
    state = json.loads(json.dumps(lifecycle.snapshot()))
    (key,) = state["conditions"]
    state["conditions"][key]["labels"]["feature"] = "tampered"
    with pytest.raises(ValueError, match="fingerprint"):
        AlertLifecycle.restore(state, for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)
    del state["conditions"][key]["firing"]
    with pytest.raises(ValueError, match=key):
        AlertLifecycle.restore(state, for_windows=1, keep_firing_for_windows=1, hysteresis=0.1)


# --- properties -----------------------------------------------------------------------

CONDITIONS = [AGE, INCOME, {"model": "fraud", "kind": "prediction_drift"}]
VALUES = st.sampled_from([0.0, 2.6, 2.8, 2.95, 3.0, 3.05, 4.0, 5.3, 5.5, 5.9, 6.0, 6.2, 9.0])
WINDOWS = st.lists(st.lists(st.tuples(st.integers(0, len(CONDITIONS) - 1), VALUES), max_size=4), max_size=40)
LIFECYCLES = st.builds(
    AlertLifecycle,
    for_windows=st.integers(1, 4),
    keep_firing_for_windows=st.integers(1, 4),
    hysteresis=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
)


def feed(lifecycle: AlertLifecycle, windows: list[list[tuple[int, float]]], start: int = 0) -> list[Alert]:
    out: list[Alert] = []
    for i, window in enumerate(windows, start):
        out += lifecycle.observe([obs(v, CONDITIONS[c]) for c, v in window], at(i))
    return out


@settings(deadline=None)
@given(lifecycle=LIFECYCLES, windows=WINDOWS)
def test_changes_alternate_firing_resolved_per_fingerprint(
    lifecycle: AlertLifecycle, windows: list[list[tuple[int, float]]]
) -> None:
    open_: dict[str, Alert] = {}  # fingerprint -> the firing alert not yet resolved
    for i, window in enumerate(windows):
        for alert in lifecycle.observe([obs(v, CONDITIONS[c]) for c, v in window], at(i)):
            if alert.status == "firing":
                assert alert.fingerprint not in open_, "fired twice without resolving"
                assert alert.starts_at == at(i)
                open_[alert.fingerprint] = alert
            else:
                assert alert.fingerprint in open_, "resolved without firing"
                assert alert.starts_at == open_.pop(alert.fingerprint).starts_at
                assert alert.ends_at == at(i)
        # What fires now is exactly what was emitted firing and not resolved since,
        # and a condition fires at one severity at most.
        firing = lifecycle.firing()
        assert {a.fingerprint: a.starts_at for a in firing} == {fp: a.starts_at for fp, a in open_.items()}
        conditions = [fingerprint({k: v for k, v in a.labels.items() if k != "severity"}) for a in firing]
        assert len(conditions) == len(set(conditions))


@settings(deadline=None)
@given(lifecycle=LIFECYCLES, windows=WINDOWS, cut=st.integers(0, 40))
def test_snapshot_and_restore_change_nothing(lifecycle: AlertLifecycle, windows: list[list[tuple[int, float]]], cut: int) -> None:
    twin = AlertLifecycle(lifecycle.for_windows, lifecycle.keep_firing_for_windows, lifecycle.hysteresis)
    cut = min(cut, len(windows))
    assert feed(twin, windows[:cut]) == feed(lifecycle, windows[:cut])
    restored = reloaded(twin)
    assert restored.snapshot() == twin.snapshot()
    assert feed(restored, windows[cut:], start=cut) == feed(lifecycle, windows[cut:], start=cut)
    assert restored.firing() == lifecycle.firing()


@settings(deadline=None)
@given(for_windows=st.integers(1, 5), pattern=st.lists(st.booleans(), max_size=60))
def test_fires_exactly_when_for_windows_consecutive_active_windows_are_reached(for_windows: int, pattern: list[bool]) -> None:
    lifecycle = AlertLifecycle(for_windows=for_windows, keep_firing_for_windows=1, hysteresis=0.0)
    streak = 0
    for i, active in enumerate(pattern):
        streak = streak + 1 if active else 0
        fired = [a for a in lifecycle.observe([obs(4.0 if active else 0.0)], at(i)) if a.status == "firing"]
        # keep_firing_for=1: a clear window resolves, so it fires exactly when the streak reaches for_windows.
        assert bool(fired) == (streak == for_windows)


def test_annotations_are_bounded_whatever_the_observation_quotes() -> None:
    from monitors.alerting.lifecycle import MAX_ANNOTATION_CHARS

    lifecycle = AlertLifecycle(for_windows=1)
    [alert] = lifecycle.observe([obs(9.0, summary="s" * 990_000, method="ks")], at(0))
    assert alert.annotations["method"] == "ks"
    summary = alert.annotations["summary"]
    assert len(summary) < MAX_ANNOTATION_CHARS + 40 and summary.endswith(f"({990_000 - MAX_ANNOTATION_CHARS:,} more characters)")
    # The snapshot a restart restores holds the bounded text too.
    assert len(json.dumps(lifecycle.snapshot())) < 2 * MAX_ANNOTATION_CHARS
