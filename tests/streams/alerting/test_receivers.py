"""Receivers and deliveries against local HTTP endpoints (no broker, no Alertmanager)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from aiohttp import web
from pydantic import ValidationError

from monitors.alerting.alerts import Alert
from monitors.alerting.dispatch import Notification
from streams.alerting.receivers.alertmanager import AlertmanagerReceiver
from streams.alerting.receivers.build import build_receivers
from streams.alerting.receivers.deliveries import Deliveries
from streams.alerting.receivers.kafka import KafkaReceiver
from streams.alerting.receivers.webhook import WebhookReceiver
from streams.codec import record_bytes
from streams.errors import ConfigError, MessageTooLargeError, NotifyError
from streams.receiver_settings import ReceiverConfig
from tests.helpers import free_port

T = TypeVar("T")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
WAIT_S = 10.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def drift_alert(feature: str, *, resolved: bool = False) -> Alert:
    return Alert(
        {"model": "churn", "kind": "data_drift", "feature": feature, "severity": "warning"},
        {"summary": f"churn: {feature} drifted", "method": "ks"},
        T0,
        T0 + timedelta(minutes=5) if resolved else None,
    )


def notification(receiver: str = "hook", key: str = "g", alerts: Sequence[Alert] | None = None) -> Notification:
    chosen = tuple(alerts) if alerts is not None else (drift_alert("age"), drift_alert("income", resolved=True))
    return Notification(receiver, f'{{}}:{{model="churn",key="{key}"}}', {"model": "churn"}, chosen)


@dataclass
class Hook:
    """A local HTTP endpoint that records each POST and answers with scripted statuses (the last repeats)."""

    statuses: Sequence[int] = (200,)
    hold: asyncio.Event | None = None  # when set, each request waits for it before answering
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.received = asyncio.Event()
        self.port = free_port()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.headers), await request.json()))
        self.received.set()
        if self.hold is not None:
            await self.hold.wait()
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return web.Response(status=status, text="" if status < 300 else "nope")

    async def __aenter__(self) -> Hook:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)  # the server is not under test
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        await self._runner.cleanup()


class Results:
    """Collects on_result calls; lets a test wait for one receiver's next outcome."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self._changed = asyncio.Event()

    def __call__(self, receiver: str, outcome: str, attempts: int) -> None:
        self.calls.append((receiver, outcome, attempts))
        self._changed.set()

    def of(self, receiver: str) -> list[tuple[str, int]]:
        return [(outcome, attempts) for name, outcome, attempts in self.calls if name == receiver]

    async def wait_for(self, receiver: str, count: int = 1) -> list[tuple[str, int]]:
        async def reached() -> None:
            while len(self.of(receiver)) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), WAIT_S)
        return self.of(receiver)


async def deliver_with(deliveries: Deliveries, *notifications: Notification) -> None:
    await deliveries.start()
    for n in notifications:
        deliveries.submit(n)


# --- payloads -------------------------------------------------------------------------


def test_webhook_posts_the_alertmanager_payload_with_headers() -> None:
    async def scenario() -> None:
        async with Hook() as hook:
            receiver = WebhookReceiver("hook", hook.url(), headers={"Authorization": "Bearer s3cret"})
            try:
                await receiver.deliver(notification())
            finally:
                await receiver.aclose()
            [(path, headers, body)] = hook.requests
            assert path == "/hook"
            assert headers["Authorization"] == "Bearer s3cret"
            assert headers["Content-Type"] == "application/json"
            assert body["version"] == "4"
            assert body["groupKey"] == '{}:{model="churn",key="g"}'
            assert body["status"] == "firing"
            assert body["receiver"] == "hook"
            assert body["groupLabels"] == {"model": "churn"}
            assert body["commonLabels"] == {"model": "churn", "kind": "data_drift", "severity": "warning"}
            assert body["commonAnnotations"] == {"method": "ks"}
            assert body["externalURL"] == ""
            firing, resolved = body["alerts"]
            age = drift_alert("age")
            assert firing == {
                "status": "firing",
                "labels": dict(age.labels),
                "annotations": dict(age.annotations),
                "startsAt": "2026-01-01T12:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": age.fingerprint,
            }
            assert resolved["status"] == "resolved"
            assert resolved["endsAt"] == "2026-01-01T12:05:00.000Z"
            assert resolved["fingerprint"] == drift_alert("income").fingerprint

    run(scenario())


def test_webhook_posts_a_slack_message() -> None:
    async def scenario() -> None:
        async with Hook() as hook:
            receiver = WebhookReceiver("slack", hook.url("/services/T/B/x"), format="slack")
            many = [drift_alert(f"f{i:02d}") for i in range(12)] + [drift_alert("income", resolved=True)]
            try:
                await receiver.deliver(notification("slack", alerts=many))
            finally:
                await receiver.aclose()
            [(_, _, body)] = hook.requests
            assert body["text"] == "[FIRING:12] model=churn"
            header, firing, resolved = body["blocks"]
            assert header == {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:12] model=churn"}}
            firing_text = firing["text"]["text"]
            assert firing["text"]["type"] == "mrkdwn"
            assert firing_text.startswith("*Firing (12)*\n• [warning] churn: f00 drifted — since 2026-01-01 12:00 UTC")
            assert "f09 drifted" in firing_text and "f10 drifted" not in firing_text
            assert firing_text.endswith("… and 2 more")
            assert resolved["text"]["text"] == (
                "*Resolved (1)*\n• [warning] churn: income drifted — resolved 2026-01-01 12:05 UTC"
            )

    run(scenario())


def test_kafka_receiver_sends_the_payload_keyed_by_group_key() -> None:
    sent: list[tuple[str, bytes, bytes]] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append((topic, key, value))

    async def broken(topic: str, key: bytes, value: bytes) -> None:
        raise RuntimeError("broker unreachable")

    n = notification("kafka")
    run(KafkaReceiver("kafka", "streammon.notifications", send).deliver(n))
    [(topic, key, value)] = sent
    assert topic == "streammon.notifications"
    assert key == n.group_key.encode()
    payload = json.loads(value)
    assert payload["groupKey"] == n.group_key and len(payload["alerts"]) == 2

    with pytest.raises(NotifyError, match="receiver kafka: .*broker unreachable") as raised:
        run(KafkaReceiver("kafka", "t", broken).deliver(n))
    assert raised.value.recoverable


def test_a_notification_too_large_for_its_topic_is_sent_with_the_alerts_that_fit() -> None:
    limit = 4_000
    sent: list[bytes] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        if record_bytes(key, value) > limit:  # as the worker's producer does
            raise MessageTooLargeError(topic, key, record_bytes(key, value), limit)
        sent.append(value)

    alerts = [drift_alert(f"feature-{i:03d}") for i in range(40)]
    run(KafkaReceiver("kafka", "t", send).deliver(notification("kafka", alerts=alerts)))
    [value] = sent
    payload = json.loads(value)
    kept = len(payload["alerts"])
    assert 0 < kept < 40 and payload["truncatedAlerts"] == 40 - kept
    assert [a["labels"]["feature"] for a in payload["alerts"]] == [f"feature-{i:03d}" for i in range(kept)]
    assert record_bytes(b"x" * 40, value) > limit - 400  # as many as fit, not a few

    # A group whose labels alone do not fit is dropped at once, not retried.
    async def tiny(topic: str, key: bytes, value: bytes) -> None:
        raise MessageTooLargeError(topic, key, record_bytes(key, value), 10)

    with pytest.raises(NotifyError, match="does not fit") as raised:
        run(KafkaReceiver("kafka", "t", tiny).deliver(notification("kafka", alerts=alerts)))
    assert not raised.value.recoverable


# --- errors and retries ---------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, 429])
def test_recoverable_status_is_retried_until_it_succeeds(status: int) -> None:
    async def scenario() -> None:
        async with Hook(statuses=(status, status, 200)) as hook:
            results = Results()
            deliveries = Deliveries(
                {"hook": WebhookReceiver("hook", hook.url())}, backoff_s=0.01, max_backoff_s=0.05, on_result=results
            )
            await deliver_with(deliveries, notification())
            assert await results.wait_for("hook") == [("delivered", 3)]
            await deliveries.stop()
            assert len(hook.requests) == 3

    run(scenario())


@pytest.mark.parametrize("status", [400, 404, 413])
def test_client_error_fails_after_one_attempt(status: int) -> None:
    async def scenario() -> None:
        async with Hook(statuses=(status, 200)) as hook:
            results = Results()
            deliveries = Deliveries({"hook": WebhookReceiver("hook", hook.url())}, backoff_s=0.01, on_result=results)
            await deliver_with(deliveries, notification())
            assert await results.wait_for("hook") == [("failed", 1)]
            await deliveries.stop()
            assert len(hook.requests) == 1

    run(scenario())


def test_persistent_recoverable_failure_gives_up_after_max_attempts() -> None:
    async def scenario() -> None:
        async with Hook(statuses=(503,)) as hook:
            results = Results()
            deliveries = Deliveries(
                {"hook": WebhookReceiver("hook", hook.url())}, max_attempts=4, backoff_s=0.01, on_result=results
            )
            await deliver_with(deliveries, notification())
            assert await results.wait_for("hook") == [("failed", 4)]
            await deliveries.stop()
            assert len(hook.requests) == 4

    run(scenario())


def test_connection_errors_and_timeouts_are_recoverable() -> None:
    async def scenario() -> None:
        refused = WebhookReceiver("refused", f"http://127.0.0.1:{free_port()}/hook")
        with pytest.raises(NotifyError, match="receiver refused: ConnectError") as raised:
            await refused.deliver(notification("refused"))
        assert raised.value.recoverable
        await refused.aclose()

        async with Hook(hold=asyncio.Event()) as hook:
            slow = WebhookReceiver("slow", hook.url(), timeout_s=0.2)
            with pytest.raises(NotifyError, match=r"receiver slow: no answer within 0.2 s") as raised:
                await slow.deliver(notification("slow"))
            assert raised.value.recoverable
            await slow.aclose()

    run(scenario())


# --- isolation, queues, shutdown ------------------------------------------------------


@pytest.mark.parametrize("failure", ["hanging", "failing"])
def test_a_bad_receiver_does_not_delay_another(failure: str) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        bad_hook = Hook(hold=release) if failure == "hanging" else Hook(statuses=(503,))
        async with bad_hook as bad, Hook() as good:
            results = Results()
            deliveries = Deliveries(
                {"bad": WebhookReceiver("bad", bad.url()), "good": WebhookReceiver("good", good.url())},
                max_attempts=1000,
                backoff_s=0.01,
                max_backoff_s=0.02,
                on_result=results,
            )
            await deliveries.start()
            deliveries.submit(notification("bad", "b1"))
            deliveries.submit(notification("bad", "b2"))
            await asyncio.wait_for(bad.received.wait(), WAIT_S)  # the bad receiver is busy
            deliveries.submit(notification("good", "g1"))
            assert await results.wait_for("good") == [("delivered", 1)]
            # The good receiver was served while the bad one was still hanging or failing.
            assert results.of("bad") == []
            assert deliveries.pending("bad") == 1
            release.set()
            await deliveries.stop(timeout_s=0.5)
            if failure == "hanging":
                assert results.of("bad") == [("delivered", 1), ("delivered", 1)]
            else:  # still retrying at the deadline: dropped, in flight and queued
                outcomes = [outcome for outcome, _ in results.of("bad")]
                assert outcomes == ["dropped", "dropped"]

    run(scenario())


class GatedReceiver:
    """A receiver that records notifications and holds each delivery until it is let through."""

    def __init__(self, name: str = "gated") -> None:
        self.name = name
        self.delivered: list[str] = []
        self.busy = asyncio.Event()
        self.gate = asyncio.Event()

    async def deliver(self, notification: Notification) -> None:
        self.busy.set()
        await self.gate.wait()
        self.delivered.append(notification.group_key)


def test_a_full_queue_drops_its_oldest_notification() -> None:
    async def scenario() -> None:
        receiver = GatedReceiver()
        results = Results()
        deliveries = Deliveries({"gated": receiver}, queue_size=2, on_result=results)
        await deliveries.start()
        first, *rest = [notification("gated", f"n{i}") for i in range(4)]
        deliveries.submit(first)
        await asyncio.wait_for(receiver.busy.wait(), WAIT_S)  # n0 in flight, the queue is empty
        for n in rest:  # n1, n2 fill the queue; n3 pushes n1 out
            deliveries.submit(n)
        assert results.of("gated") == [("dropped", 0)]
        assert deliveries.pending("gated") == 2
        receiver.gate.set()
        await results.wait_for("gated", 4)
        await deliveries.stop()
        assert receiver.delivered == [first.group_key, rest[1].group_key, rest[2].group_key]
        assert results.of("gated") == [("dropped", 0), ("delivered", 1), ("delivered", 1), ("delivered", 1)]

    run(scenario())


def test_stop_drains_within_its_timeout_and_drops_the_rest() -> None:
    async def scenario() -> None:
        receiver = GatedReceiver()
        results = Results()
        unknown: list[tuple[str, str, int]] = []
        deliveries = Deliveries({"gated": receiver}, on_result=results)
        deliveries.submit(notification("gated", "before-start"))
        await deliveries.start()
        deliveries.submit(notification("gated", "queued"))
        await asyncio.wait_for(receiver.busy.wait(), WAIT_S)
        await deliveries.stop(timeout_s=0.1)  # the gate never opens
        assert results.of("gated") == [("dropped", 1), ("dropped", 0)]  # in flight, then queued
        deliveries.submit(notification("gated", "after-stop"))
        assert results.of("gated")[-1] == ("dropped", 0)

        drained = GatedReceiver()
        drained.gate.set()
        deliveries = Deliveries({"gated": drained}, on_result=lambda *call: unknown.append(call))
        await deliver_with(deliveries, notification("gated", "a"), notification("gated", "b"))
        deliveries.submit(notification("nobody", "c"))
        await deliveries.stop(timeout_s=5)
        assert drained.delivered == [notification("gated", "a").group_key, notification("gated", "b").group_key]
        assert ("nobody", "dropped", 0) in unknown

    run(scenario())


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    deliveries = Deliveries({}, backoff_s=0.5, max_backoff_s=3.0)
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)]:
        delays = [deliveries._backoff(attempt) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > 0  # jittered


# --- secrets --------------------------------------------------------------------------


def test_urls_and_headers_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = "T0KEN-b4d5e6f7a8"

    async def scenario() -> list[str]:
        async with Hook(statuses=(503, 400)) as hook:
            url = hook.url(f"/services/{token}")
            refused_url = f"http://user:{token}@127.0.0.1:{free_port()}/{token}"
            results = Results()
            deliveries = Deliveries(
                {
                    "team-slack": WebhookReceiver(
                        "team-slack", url, format="slack", headers={"Authorization": f"Bearer {token}"}
                    ),
                    "down": WebhookReceiver("down", refused_url),
                    "am": AlertmanagerReceiver("am", hook.url(f"/{token}")),
                },
                max_attempts=2,
                backoff_s=0.01,
                on_result=results,
            )
            await deliver_with(deliveries, notification("team-slack"), notification("down"), notification("am"))
            for name in ("team-slack", "down", "am"):
                await results.wait_for(name)
            await deliveries.stop()
            return [url, refused_url]

    urls = run(scenario())
    text = caplog.text
    assert "team-slack" in text and "down" in text  # failures are logged, by receiver name
    assert "HTTP Request" in text  # httpx's request log went through the redaction
    for secret in [token, *urls]:
        assert secret not in text
    config = ReceiverConfig.model_validate({"name": "x", "webhook": {"url": urls[0], "headers": {"A": token}}})
    assert token not in repr(config) and token not in str(config)


# --- Alertmanager receiver (fake endpoint; the real one is in tests/integration) -------


def test_alertmanager_receiver_posts_and_keeps_firing_alerts_alive() -> None:
    now = [T0 + timedelta(minutes=1)]

    async def scenario() -> None:
        async with Hook() as hook:
            receiver = AlertmanagerReceiver("am", hook.url(""), resend_interval_s=30, clock=lambda: now[0])
            age, income = drift_alert("age"), drift_alert("income")
            try:
                await receiver.deliver(notification("am", alerts=[age, income]))
                now[0] += timedelta(seconds=30)
                await receiver.refresh()
                await receiver.deliver(notification("am", alerts=[drift_alert("age", resolved=True)]))
                await receiver.refresh()
            finally:
                await receiver.aclose()
            paths = [path for path, _, _ in hook.requests]
            assert paths == ["/api/v2/alerts"] * 4
            first, refreshed, resolve, refreshed_again = (body for _, _, body in hook.requests)
            assert first == [
                {
                    "labels": dict(a.labels),
                    "annotations": dict(a.annotations),
                    "startsAt": "2026-01-01T12:00:00.000Z",
                    "endsAt": "2026-01-01T12:03:00.000Z",  # now + 4 × resend interval
                }
                for a in (age, income)
            ]
            assert [a["endsAt"] for a in refreshed] == ["2026-01-01T12:03:30.000Z"] * 2
            assert resolve[0]["labels"] == dict(age.labels) and resolve[0]["endsAt"] == "2026-01-01T12:05:00.000Z"
            assert [a["labels"] for a in refreshed_again] == [dict(income.labels)]
            assert receiver.firing == (income,)

    run(scenario())


def test_alertmanager_receiver_adopts_alerts_delivered_before_a_restart() -> None:
    async def scenario() -> None:
        async with Hook() as hook:
            receiver = AlertmanagerReceiver("am", hook.url(""), resend_interval_s=30)
            receiver.adopt([drift_alert("age"), drift_alert("income", resolved=True)])
            try:
                await receiver.refresh()
            finally:
                await receiver.aclose()
            ((path, _, body),) = hook.requests
            assert path == "/api/v2/alerts" and [a["labels"]["feature"] for a in body] == ["age"]

    run(scenario())


def test_alertmanager_receiver_resends_on_its_own_once_started() -> None:
    async def scenario() -> None:
        async with Hook() as hook:
            receiver = AlertmanagerReceiver("am", hook.url(), resend_interval_s=0.05)
            deliveries = Deliveries({"am": receiver})
            await deliver_with(deliveries, notification("am", alerts=[drift_alert("age")]))

            async def resent() -> None:
                while len(hook.requests) < 3:
                    hook.received.clear()
                    await hook.received.wait()

            await asyncio.wait_for(resent(), WAIT_S)
            await deliveries.stop()
            count = len(hook.requests)
            await asyncio.sleep(0.2)
            assert len(hook.requests) == count  # stopped with the deliveries

    run(scenario())


# --- configuration --------------------------------------------------------------------


def test_receiver_config_needs_exactly_one_destination() -> None:
    with pytest.raises(ValidationError, match="receiver 'pager': set exactly one of kafka, webhook, alertmanager"):
        ReceiverConfig.model_validate({"name": "pager", "kafka": {"topic": "t"}, "webhook": {"url": "https://hooks.example/x"}})
    with pytest.raises(ValidationError, match=r"receiver 'empty': .*\(got none\)"):
        ReceiverConfig.model_validate({"name": "empty"})
    with pytest.raises(ValidationError, match="url must start with http"):
        ReceiverConfig.model_validate({"name": "x", "alertmanager": {"url": "ftp://secret-host/"}})
    with pytest.raises(ValidationError, match="format"):
        ReceiverConfig.model_validate({"name": "x", "webhook": {"url": "https://h/x", "format": "teams"}})


def test_build_receivers() -> None:
    async def send(topic: str, key: bytes, value: bytes) -> None:
        pass

    configs = [
        ReceiverConfig.model_validate(c)
        for c in [
            {"name": "k", "kafka": {"topic": "t"}},
            {"name": "w", "webhook": {"url": "https://hooks.example/x", "format": "slack", "timeout_s": 3}},
            {"name": "a", "alertmanager": {"url": "http://127.0.0.1:9093/"}},
        ]
    ]
    receivers = build_receivers(configs, send)
    assert list(receivers) == ["k", "w", "a"]
    k, w, a = receivers.values()
    assert isinstance(k, KafkaReceiver) and k.topic == "t"
    assert isinstance(w, WebhookReceiver) and w.format == "slack" and w.timeout_s == 3
    assert isinstance(a, AlertmanagerReceiver) and a.url.get_secret_value() == "http://127.0.0.1:9093"
    with pytest.raises(ConfigError, match="receiver 'k': a Kafka receiver needs a producer"):
        build_receivers(configs[:1], None)

    async def close() -> None:
        for r in (w, a):
            await r.aclose()

    run(close())
