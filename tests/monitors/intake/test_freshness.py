from datetime import UTC, datetime, timedelta

import pytest

from monitors.alerting.lifecycle import AlertLifecycle
from monitors.intake.freshness import FreshnessMonitor, NoDataRule

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def observe(freshness: FreshnessMonitor, rule: NoDataRule, now: datetime) -> list:
    return [obs for model, silent_s in freshness.silences(now).items() for obs in rule.evaluate(model, silent_s)]


def test_silence_is_measured_per_model_from_its_last_event() -> None:
    freshness, rule = FreshnessMonitor(), NoDataRule(max_silence_s=60, critical_factor=2)
    freshness.update("a", at(0))
    freshness.update("b", at(50))
    levels = {o.labels["model"]: o.level(None, 0.0) for o in observe(freshness, rule, at(130))}
    assert levels == {"a": "critical", "b": "warning"}
    assert FreshnessMonitor().silences(at(0)) == {}


def test_a_silent_model_fires_once_and_resolves_when_events_return() -> None:
    freshness, rule = FreshnessMonitor(), NoDataRule(max_silence_s=30)
    lifecycle = AlertLifecycle(for_windows=2, keep_firing_for_windows=1)
    freshness.update("m", at(0))
    changes = []
    for second in range(0, 180, 10):
        if second == 150:
            freshness.update("m", at(second))
        changes += [(second, a.status) for a in lifecycle.observe(observe(freshness, rule, at(second)), at(second))]
    # warning from 30 s on (observed at 30 and 40: fires at 40); critical from 120 s; back at 150.
    assert changes == [(40, "firing"), (120, "resolved"), (120, "firing"), (150, "resolved")]


@pytest.mark.parametrize("kwargs", [{"max_silence_s": 0}, {"max_silence_s": 5, "critical_factor": 1}])
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs)) if len(kwargs) == 1 else "critical_factor"):
        NoDataRule(**kwargs)
