from datetime import UTC, datetime, timedelta

import pytest

from monitors.alerting.lifecycle import AlertLifecycle
from monitors.intake.freshness import Freshness

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_silence_is_measured_per_model_from_its_last_event() -> None:
    freshness = Freshness(max_silence_s=60, critical_factor=2)
    freshness.seen("a", at(0))
    freshness.seen("b", at(50))
    levels = {o.labels["model"]: o.level(None, 0.0) for o in freshness.observe(at(130))}
    assert levels == {"a": "critical", "b": "warning"}
    assert Freshness(60).observe(at(0)) == []


def test_a_silent_model_fires_once_and_resolves_when_events_return() -> None:
    freshness, lifecycle = Freshness(max_silence_s=30), AlertLifecycle(for_windows=2, keep_firing_for_windows=1)
    freshness.seen("m", at(0))
    changes = []
    for second in range(0, 180, 10):
        if second == 150:
            freshness.seen("m", at(second))
        changes += [(second, a.status) for a in lifecycle.observe(freshness.observe(at(second)), at(second))]
    # warning from 30 s on (observed at 30 and 40: fires at 40); critical from 120 s; back at 150.
    assert changes == [(40, "firing"), (120, "resolved"), (120, "firing"), (150, "resolved")]


@pytest.mark.parametrize("kwargs", [{"max_silence_s": 0}, {"max_silence_s": 5, "critical_factor": 1}])
def test_invalid_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Freshness(**kwargs)
