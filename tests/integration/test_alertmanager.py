"""AlertmanagerReceiver against a real Prometheus Alertmanager (Debian's 0.25 binary)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitors.alerting.alerts import Alert
from monitors.alerting.dispatch import Notification
from streams.alerting.receivers.alertmanager import AlertmanagerReceiver
from streams.alerting.receivers.deliveries import Deliveries
from streams.local.alertmanager import (
    ALERTMANAGER_PACKAGE,
    LocalAlertmanager,
)
from tests.helpers import free_port

pytestmark = pytest.mark.integration


def get_alerts(am: LocalAlertmanager, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{am.url}/api/v2/alerts", params=params, timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def test_alerts_fire_and_resolve_in_alertmanager(alertmanager: LocalAlertmanager) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    labels = [
        {"model": "churn", "kind": "data_drift", "feature": feature, "severity": "warning"} for feature in ("age", "income")
    ]
    firing = tuple(
        Alert(ls, {"summary": f"churn: {ls['feature']} drifted", "generator_url": "http://streammon.local/r/1"}, started)
        for ls in labels
    )

    async def deliver(alerts: tuple[Alert, ...]) -> None:
        receiver = AlertmanagerReceiver("am", alertmanager.url, resend_interval_s=60)
        try:
            await receiver.deliver(Notification("am", '{}:{model="churn"}', {"model": "churn"}, alerts))
        finally:
            await receiver.aclose()

    asyncio.run(deliver(firing))
    stored = {a["fingerprint"]: a for a in get_alerts(alertmanager)}
    assert set(stored) == {a.fingerprint for a in firing}  # Alertmanager's fingerprint is streammon's
    for alert in firing:
        got = stored[alert.fingerprint]
        assert got["labels"] == dict(alert.labels)
        assert got["annotations"] == dict(alert.annotations)
        assert got["generatorURL"] == "http://streammon.local/r/1"
        assert got["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
        assert datetime.fromisoformat(got["startsAt"].replace("Z", "+00:00")) == started
        ends_at = datetime.fromisoformat(got["endsAt"].replace("Z", "+00:00"))
        # Our explicit endsAt (now + 4 × resend interval), not the 5 min resolve_timeout.
        assert timedelta(minutes=3) < ends_at - datetime.now(UTC) <= timedelta(minutes=4)
    assert {a["fingerprint"] for a in get_alerts(alertmanager, active="true")} == set(stored)

    resolved_at = datetime.now(UTC)
    asyncio.run(deliver(tuple(Alert(a.labels, a.annotations, a.starts_at, resolved_at) for a in firing)))
    # Alertmanager 0.25 keeps a resolved alert in memory until its next GC, but its API lists
    # only alerts whose endsAt is still ahead, whatever the filters: resolved alerts are gone.
    assert get_alerts(alertmanager) == []
    assert get_alerts(alertmanager, active="true") == []
    assert get_alerts(alertmanager, active="false", silenced="true", inhibited="true", unprocessed="true") == []
    groups = httpx.get(f"{alertmanager.url}/api/v2/alerts/groups", timeout=5).json()
    assert [a for group in groups for a in group["alerts"]] == []
    metrics = httpx.get(f"{alertmanager.url}/metrics", timeout=5).text
    assert 'alertmanager_alerts_received_total{status="firing",version="v2"} 2' in metrics
    assert 'alertmanager_alerts_received_total{status="resolved",version="v2"} 2' in metrics


def test_firing_alerts_are_kept_alive_until_the_receiver_stops(alertmanager: LocalAlertmanager) -> None:
    """Re-posted every resend interval, an alert outlives its first endsAt; unrefreshed, it expires."""
    alert = Alert({"model": "churn", "kind": "data_drift", "feature": "age"}, {}, datetime.now(UTC))

    async def scenario() -> None:
        receiver = AlertmanagerReceiver("am", alertmanager.url, resend_interval_s=0.5)  # endsAt: now + 2 s
        deliveries = Deliveries({"am": receiver})
        await deliveries.start()
        deliveries.submit(Notification("am", "g", {}, (alert,)))
        first_ends_at = await asyncio.to_thread(wait_for_alerts, alertmanager, lambda alerts: len(alerts) == 1)
        deadline = datetime.fromisoformat(first_ends_at[0]["endsAt"].replace("Z", "+00:00")) + timedelta(seconds=1)
        while datetime.now(UTC) < deadline:
            await asyncio.sleep(0.1)
        still = await asyncio.to_thread(get_alerts, alertmanager)
        assert [a["fingerprint"] for a in still] == [alert.fingerprint]
        assert still[0]["endsAt"] > first_ends_at[0]["endsAt"]
        await deliveries.stop()

    asyncio.run(scenario())
    wait_for_alerts(alertmanager, lambda alerts: alerts == [], timeout_s=10)


def wait_for_alerts(am: LocalAlertmanager, condition: Any, timeout_s: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = get_alerts(am)
        if condition(alerts):
            return alerts
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s; Alertmanager lists {alerts}")
        time.sleep(0.1)


def test_missing_binary_names_the_package(tmp_path: Path) -> None:
    from streams.errors import StreammonError

    am = LocalAlertmanager(tmp_path, free_port(), binary=tmp_path / "no-such-alertmanager")
    with pytest.raises(StreammonError, match=f"apt-get install {ALERTMANAGER_PACKAGE}"):
        am.start()
