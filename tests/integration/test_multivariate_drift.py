"""Multivariate drift on the real broker: a correlation that breaks is alerted, though no feature drifts."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import pytest

from streams.events import AlertEvent
from tests.integration.test_alerting import REFERENCE, START, WINDOW, alerting_settings, produce, reports

pytestmark = pytest.mark.integration


def events(n: int, offset: int, rng: np.random.Generator, rho: float) -> list[bytes]:
    """Predictions whose features ``a`` and ``b`` are correlated at ``rho``; every feature is standard normal."""
    x, y, z = rng.normal(size=(3, n))
    b = rho * x + np.sqrt(1 - rho**2) * y
    return [
        orjson.dumps(
            {
                "model": "pairs",
                "model_version": "1",
                "prediction_id": f"pairs-{offset + i}",
                "event_time": (START + timedelta(seconds=offset + i)).isoformat(),
                "features": {"a": float(x[i]), "b": float(b[i]), "c": float(z[i])},
                "prediction": int(z[i] > 0),
            }
        )
        for i in range(n)
    ]


def test_a_broken_correlation_raises_a_multivariate_drift_alert(settings, start_worker, topic_reader) -> None:
    settings = alerting_settings(settings)
    rng = np.random.default_rng(21)
    worker = start_worker(settings)
    # The reference and a window as it was, then two windows in which a and b are anti-correlated.
    before = REFERENCE + WINDOW
    produce(settings, events(before, 0, rng, rho=0.9) + events(2 * WINDOW, before, rng, rho=-0.9), b"pairs")

    def alerted_and_reported(records: dict[str, list]) -> bool:
        alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
        windows = {a.window.index for a in alerts if a.labels["kind"] == "multivariate_drift" and a.window is not None}
        return bool(windows) and windows <= {r.window.index for r in reports(records, settings)}

    reader = topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic)
    records = reader.until(alerted_and_reported, 120, "a multivariate_drift alert and its window's report", worker)

    alerts = [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]
    (alert,) = [a for a in alerts if a.labels["kind"] == "multivariate_drift"]
    assert alert.status == "firing" and alert.labels["model"] == "pairs" and alert.labels["feature"] == "*"
    assert alert.window is not None and alert.window.index >= 1  # a broken window, not the unchanged one
    assert alert.annotations["top_features"].split(" (")[0] in {"a", "b"}  # the broken pair leads
    assert not [a for a in alerts if a.labels["kind"] in ("data_drift", "prediction_drift")]
    by_index = {r.window.index: r for r in reports(records, settings) if r.segment is None}
    assert by_index[0].multivariate is not None and not by_index[0].multivariate.drifted
    assert by_index[alert.window.index].multivariate.drifted  # type: ignore[union-attr]
