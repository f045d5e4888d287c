"""The dispatcher: group_wait / group_interval / repeat_interval, dedup, resolve, routing, muting, restarts."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.alerting.alerts import Alert
from monitors.alerting.dispatch import Dispatcher, Notification
from monitors.alerting.matchers import parse_matchers
from monitors.alerting.routing import Route, RouteConfig

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT, INTERVAL, REPEAT = 30.0, 300.0, 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_route(*children: RouteConfig, group_wait_s: float = WAIT) -> Route:
    return Route.build(
        RouteConfig(
            receiver="team",
            group_by=("model",),
            group_wait_s=group_wait_s,
            group_interval_s=INTERVAL,
            repeat_interval_s=REPEAT,
            routes=children,
        )
    )


def labels(feature: str, model: str = "churn", severity: str = "warning") -> dict[str, str]:
    return {"model": model, "kind": "data_drift", "feature": feature, "severity": severity}


def firing(feature: str, start: float = 0, **kw: str) -> Alert:
    return Alert(labels(feature, **kw), {"summary": f"{feature} drifted"}, at(start))


def resolved(feature: str, start: float, end: float, **kw: str) -> Alert:
    return Alert(labels(feature, **kw), {"summary": f"{feature} drifted"}, at(start), ends_at=at(end))


def features(notification: Notification, status: str | None = None) -> list[str]:
    return [a.labels["feature"] for a in notification.alerts if status is None or a.status == status]


def flush_each_second(
    dispatcher: Dispatcher, start: float, stop: float, muter: MuteFeatures | None = None
) -> dict[float, list[Notification]]:
    """Flush every second in [start, stop]; return the non-empty results by time."""
    sent: dict[float, list[Notification]] = {}
    second = start
    while second <= stop:
        out = dispatcher.flush(at(second), muter)
        if out:
            sent[second] = out
        second += 1
    return sent


class MuteFeatures:
    """A muter that mutes the listed features."""

    def __init__(self, *muted: str) -> None:
        self.features = set(muted)
        self.calls: list[tuple[dict[str, str], list[dict[str, str]]]] = []

    def muted(self, labels: Mapping[str, str], now: datetime, firing: Sequence[Mapping[str, str]]) -> bool:
        self.calls.append((dict(labels), [dict(f) for f in firing]))
        return labels.get("feature") in self.features


# --- group_wait ---------------------------------------------------------------------------


def test_thirty_alerts_within_group_wait_make_one_notification_at_group_wait() -> None:
    dispatcher = Dispatcher(make_route())
    severities = ["warning", "critical"]
    order = random.Random(7).sample(range(30), 30)
    for step, i in enumerate(order):
        alert = Alert(labels(f"f{i:02d}", severity=severities[i % 2]), {}, at(step * 0.9))
        dispatcher.add(alert, at(step * 0.9))
        assert dispatcher.flush(at(step * 0.9)) == []
    assert flush_each_second(dispatcher, 0, WAIT - 1) == {}
    sent = flush_each_second(dispatcher, WAIT, WAIT + INTERVAL - 1)
    assert list(sent) == [WAIT]
    [notification] = sent[WAIT]
    assert notification.receiver == "team"
    assert notification.group_labels == {"model": "churn"}
    assert notification.status == "firing"
    assert features(notification) == [f"f{i:02d}" for i in range(30)]  # sorted by labels
    assert len({a.fingerprint for a in notification.alerts}) == 30
    assert notification.alerts == tuple(sorted(notification.alerts, key=lambda a: sorted(a.labels.items())))
    assert notification.common_labels == {"kind": "data_drift", "model": "churn"}


def test_group_wait_counts_from_the_group_creation_not_each_alert() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city", start=29), at(29))
    [notification] = dispatcher.flush(at(WAIT))
    assert features(notification) == ["age", "city"]


def test_group_wait_zero_sends_at_the_first_flush() -> None:
    dispatcher = Dispatcher(make_route(group_wait_s=0))
    dispatcher.add(firing("age"), at(5))
    [notification] = dispatcher.flush(at(5))
    assert features(notification) == ["age"]
    assert dispatcher.flush(at(6)) == []


def test_groups_are_per_model() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age", model="churn"), at(0))
    dispatcher.add(firing("age", model="fraud"), at(0))
    sent = dispatcher.flush(at(WAIT))
    assert [n.group_labels for n in sent] == [{"model": "churn"}, {"model": "fraud"}]


# --- group_interval and repeat_interval ---------------------------------------------------


def test_new_alert_waits_for_group_interval_and_unchanged_group_repeats() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    assert list(flush_each_second(dispatcher, 0, WAIT)) == [WAIT]

    dispatcher.add(firing("city", start=40), at(40))
    sent = flush_each_second(dispatcher, WAIT + 1, WAIT + INTERVAL)
    assert list(sent) == [WAIT + INTERVAL]  # not before group_interval after the last one
    [update] = sent[WAIT + INTERVAL]
    assert features(update) == ["age", "city"]

    # Nothing changed: nothing at the next ticks, until repeat_interval has passed.
    last = WAIT + INTERVAL
    sent = flush_each_second(dispatcher, last + 1, last + REPEAT + INTERVAL)
    assert list(sent) == [last + REPEAT]
    [repeat] = sent[last + REPEAT]
    assert features(repeat) == ["age", "city"]


def test_a_change_after_group_interval_goes_out_at_the_next_tick() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    assert dispatcher.flush(at(WAIT + INTERVAL)) == []  # tick, nothing new
    dispatcher.add(firing("city", start=WAIT + INTERVAL + 10), at(WAIT + INTERVAL + 10))
    sent = flush_each_second(dispatcher, WAIT + INTERVAL + 10, WAIT + 3 * INTERVAL)
    assert list(sent) == [WAIT + 2 * INTERVAL]


def test_annotation_update_of_a_notified_alert_is_not_a_change() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(Alert(labels("age"), {"summary": "still drifting"}, at(0)), at(100))
    assert flush_each_second(dispatcher, WAIT + 1, WAIT + 2 * INTERVAL) == {}
    assert dispatcher.firing()[0].annotations == {"summary": "still drifting"}


# --- resolve ------------------------------------------------------------------------------


def test_resolved_alert_is_notified_once_then_removed_and_the_group_deleted() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(resolved("age", 0, 100), at(100))
    sent = flush_each_second(dispatcher, WAIT + 1, WAIT + REPEAT + INTERVAL)
    assert list(sent) == [WAIT + INTERVAL]
    [notification] = sent[WAIT + INTERVAL]
    assert notification.status == "resolved"
    assert features(notification, "resolved") == ["age"]
    assert notification.firing == ()
    assert notification.resolved[0].ends_at == at(100)
    assert dispatcher.firing() == []
    assert dispatcher.snapshot()["groups"] == []


def test_resolve_beside_firing_alerts_is_sent_once_with_status_firing() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(resolved("age", 0, 60), at(60))
    [notification] = dispatcher.flush(at(WAIT + INTERVAL))
    assert notification.status == "firing"
    assert features(notification) == ["city", "age"]  # firing first
    assert features(notification, "firing") == ["city"]
    assert features(notification, "resolved") == ["age"]
    assert dispatcher.flush(at(WAIT + 2 * INTERVAL)) == []
    assert [a.labels["feature"] for a in dispatcher.firing()] == ["city"]
    # A duplicate resolve (a replay) is ignored, not notified again.
    dispatcher.add(resolved("age", 0, 60), at(WAIT + 2 * INTERVAL + 1))
    assert dispatcher.flush(at(WAIT + 3 * INTERVAL)) == []


def test_replayed_updates_of_an_older_episode_are_ignored() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(resolved("age", 0, 100), at(100))
    dispatcher.add(firing("age", start=200), at(200))  # fires again before the tick
    assert dispatcher.flush(at(WAIT + INTERVAL)) == []  # resolve and re-fire absorbed: the receiver knows it fires
    dispatcher.add(resolved("age", 0, 100), at(400))  # a replay of the old episode's resolve
    dispatcher.add(firing("age"), at(400))  # and of its firing
    assert dispatcher.flush(at(WAIT + 2 * INTERVAL)) == []
    assert [a.starts_at for a in dispatcher.firing()] == [at(200)]
    # Within one episode a resolve is final: a late firing update does not undo it.
    dispatcher.add(resolved("age", 200, 700), at(700))
    dispatcher.add(firing("age", start=200), at(701))
    [notification] = dispatcher.flush(at(WAIT + 3 * INTERVAL))
    assert (notification.status, notification.resolved[0].ends_at) == ("resolved", at(700))


def test_alert_that_fires_and_resolves_before_group_wait_sends_nothing() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(resolved("age", 0, 10), at(10))
    assert flush_each_second(dispatcher, 0, WAIT + 2 * INTERVAL) == {}
    assert dispatcher.snapshot()["groups"] == []


@pytest.mark.parametrize("restart", [False, True])
def test_a_group_recreated_after_a_resolve_still_respects_group_interval(restart: bool) -> None:
    route = make_route()
    dispatcher = Dispatcher(route)
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(resolved("age", 0, 40), at(40))
    assert len(dispatcher.flush(at(WAIT + INTERVAL))) == 1  # resolved, group deleted
    assert dispatcher.snapshot()["groups"] == []
    if restart:
        dispatcher = reborn(dispatcher, route)
    dispatcher.add(firing("age", start=WAIT + INTERVAL + 5), at(WAIT + INTERVAL + 5))
    sent = flush_each_second(dispatcher, WAIT + INTERVAL + 5, WAIT + 3 * INTERVAL)
    assert list(sent) == [WAIT + 2 * INTERVAL]


def test_a_late_flush_restarts_the_interval_from_the_flush() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    assert len(dispatcher.flush(at(100))) == 1  # the timer was missed: sent late
    dispatcher.add(firing("city", start=110), at(110))
    sent = flush_each_second(dispatcher, 101, 100 + 2 * INTERVAL)
    assert list(sent) == [100 + INTERVAL]


def test_resolves_the_receiver_cannot_place_are_not_sent() -> None:
    # The receiver was last told that nothing it can see fires (city is muted);
    # income fires and resolves between two ticks: there is nothing to tell it.
    dispatcher = Dispatcher(make_route())
    muter = MuteFeatures("city")
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city"), at(0))
    dispatcher.flush(at(WAIT), muter)
    dispatcher.add(resolved("age", 0, 40), at(40))
    [notification] = dispatcher.flush(at(WAIT + INTERVAL), muter)
    assert (notification.status, features(notification)) == ("resolved", ["age"])
    dispatcher.add(firing("income", start=400), at(400))
    dispatcher.add(resolved("income", 400, 410), at(410))
    assert flush_each_second(dispatcher, WAIT + INTERVAL + 1, WAIT + 3 * INTERVAL, muter) == {}


# --- routing ------------------------------------------------------------------------------


def test_continue_sends_one_notification_per_receiver() -> None:
    route = make_route(
        RouteConfig(receiver="slack", matchers=parse_matchers(['kind="data_drift"']), continue_=True),
        RouteConfig(receiver="pager", matchers=parse_matchers(['severity="critical"'])),
    )
    dispatcher = Dispatcher(route)
    dispatcher.add(firing("age", severity="critical"), at(0))
    dispatcher.add(firing("city", severity="warning"), at(0))
    sent = dispatcher.flush(at(WAIT))
    assert [n.receiver for n in sent] == ["slack", "pager"]
    assert features(sent[0]) == ["age", "city"]
    assert features(sent[1]) == ["age"]
    assert len({n.group_key for n in sent}) == 2
    assert len(dispatcher.firing()) == 2  # one alert in two groups is listed once


# --- muting -------------------------------------------------------------------------------


def test_a_muted_alert_is_left_out_and_notified_when_the_mute_lifts() -> None:
    dispatcher = Dispatcher(make_route())
    muter = MuteFeatures("city")
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city"), at(0))
    [notification] = dispatcher.flush(at(WAIT), muter)
    assert features(notification) == ["age"]
    assert flush_each_second(dispatcher, WAIT + 1, WAIT + INTERVAL, muter) == {}  # muted: no change
    muter.features.clear()
    sent = flush_each_second(dispatcher, WAIT + INTERVAL + 1, WAIT + 2 * INTERVAL, muter)
    assert list(sent) == [WAIT + 2 * INTERVAL]
    assert features(sent[WAIT + 2 * INTERVAL][0]) == ["age", "city"]


def test_a_group_with_every_alert_muted_sends_nothing_until_the_mute_lifts() -> None:
    dispatcher = Dispatcher(make_route())
    muter = MuteFeatures("age", "city")
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city"), at(0))
    assert flush_each_second(dispatcher, 0, WAIT + INTERVAL - 1, muter) == {}
    muter.features = {"city"}
    sent = flush_each_second(dispatcher, WAIT + INTERVAL, WAIT + 2 * INTERVAL, muter)
    assert list(sent) == [WAIT + INTERVAL]
    assert features(sent[WAIT + INTERVAL][0]) == ["age"]


def test_a_muted_resolve_is_dropped_silently() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    dispatcher.add(resolved("age", 0, 50), at(50))
    assert dispatcher.flush(at(WAIT + INTERVAL), MuteFeatures("age")) == []
    assert dispatcher.snapshot()["groups"] == []


def test_muter_sees_every_firing_alert_of_the_dispatcher() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age", model="churn", severity="critical"), at(0))
    dispatcher.add(firing("age", model="fraud"), at(10))
    dispatcher.add(resolved("age", 10, 20, model="fraud"), at(20))
    dispatcher.add(firing("city", model="fraud"), at(20))
    dispatcher.flush(at(WAIT))  # only churn is due
    muter = MuteFeatures()
    dispatcher.flush(at(40), muter)  # only fraud is due
    assert [call[0]["feature"] for call in muter.calls] == ["age", "city"]
    firing_seen = muter.calls[0][1]
    assert sorted((f["model"], f["feature"]) for f in firing_seen) == [("churn", "age"), ("fraud", "city")]


# --- snapshot / restore -------------------------------------------------------------------


def reborn(dispatcher: Dispatcher, route: Route) -> Dispatcher:
    return Dispatcher.restore(route, json.loads(json.dumps(dispatcher.snapshot())))


def test_restore_sends_nothing_already_notified_and_keeps_a_pending_resolve() -> None:
    route = make_route()
    dispatcher = Dispatcher(route)
    dispatcher.add(firing("age"), at(0))
    dispatcher.add(firing("city"), at(0))
    assert len(dispatcher.flush(at(WAIT))) == 1
    dispatcher.add(resolved("age", 0, 100), at(100))

    restarted = reborn(dispatcher, route)
    assert flush_each_second(restarted, WAIT + 1, WAIT + INTERVAL - 1) == {}
    [notification] = restarted.flush(at(WAIT + INTERVAL))
    assert features(notification, "resolved") == ["age"]
    assert features(notification, "firing") == ["city"]
    # And the original, had it lived, would have said the same.
    assert dispatcher.flush(at(WAIT + INTERVAL)) == [notification]
    # No repeat before repeat_interval after a second restart.
    again = reborn(restarted, route)
    assert flush_each_second(again, WAIT + INTERVAL + 1, WAIT + REPEAT) == {}
    assert list(flush_each_second(again, WAIT + REPEAT + 1, WAIT + REPEAT + INTERVAL)) == [WAIT + REPEAT + INTERVAL]


def test_restore_before_the_first_notification_sends_it_once_at_group_wait() -> None:
    route = make_route()
    dispatcher = Dispatcher(route)
    dispatcher.add(firing("age"), at(0))
    restarted = reborn(dispatcher, route)
    sent = flush_each_second(restarted, 1, WAIT + INTERVAL)
    assert list(sent) == [WAIT]


def test_restarting_every_step_changes_nothing() -> None:
    route = make_route(RouteConfig(receiver="pager", matchers=parse_matchers(['severity="critical"']), continue_=True))
    steady, restarted = Dispatcher(route), Dispatcher(route)
    events: dict[float, Alert] = {
        0: firing("age", severity="critical"),
        10: firing("city"),
        200: resolved("city", 10, 200),
        400: firing("income"),
        700: resolved("age", 0, 700, severity="critical"),
    }
    steady_sent, restarted_sent = [], []
    for second in range(0, 2000, 5):
        if second in events:
            steady.add(events[second], at(second))
            restarted.add(events[second], at(second))
        steady_sent += steady.flush(at(second))
        restarted_sent += restarted.flush(at(second))
        restarted = reborn(restarted, route)
    assert restarted_sent == steady_sent
    assert len(steady_sent) >= 5


def test_restore_does_not_hand_a_resolve_back_to_a_group_that_already_sent_it() -> None:
    route = make_route(
        RouteConfig(receiver="slack", matchers=parse_matchers(['kind="data_drift"']), continue_=True),
        RouteConfig(receiver="pager", matchers=parse_matchers(['severity="critical"'])),
    )
    dispatcher = Dispatcher(route)
    dispatcher.add(firing("city"), at(0))  # slack group ticks at 30, 330, ...
    dispatcher.add(firing("age", start=10, severity="critical"), at(10))  # pager group ticks at 40, 340, ...
    assert [n.receiver for out in flush_each_second(dispatcher, 0, 40).values() for n in out] == ["slack", "pager"]
    dispatcher.add(resolved("age", 10, 100, severity="critical"), at(100))
    [to_slack] = dispatcher.flush(at(WAIT + INTERVAL))
    assert (to_slack.receiver, features(to_slack, "resolved")) == ("slack", ["age"])
    restarted = reborn(dispatcher, route)
    sent = flush_each_second(restarted, WAIT + INTERVAL + 1, WAIT + 3 * INTERVAL)
    assert [(n.receiver, features(n, "resolved")) for n in sent.pop(40 + INTERVAL)] == [("pager", ["age"])]
    assert sent == {}


def test_restore_under_a_changed_tree_regroups_the_alerts() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    dispatcher.flush(at(WAIT))
    by_feature = Route.build(
        RouteConfig(
            receiver="team",
            group_by=("feature",),
            group_wait_s=WAIT,
            group_interval_s=INTERVAL,
            repeat_interval_s=REPEAT,
        )
    )
    restarted = Dispatcher.restore(by_feature, json.loads(json.dumps(dispatcher.snapshot())))
    [notification] = restarted.flush(at(WAIT + 1))  # a new group, created at the old one's creation
    assert notification.group_labels == {"feature": "age"}


def test_snapshot_is_json_and_restore_rejects_garbage() -> None:
    dispatcher = Dispatcher(make_route())
    dispatcher.add(firing("age"), at(0))
    state = dispatcher.snapshot()
    assert json.loads(json.dumps(state)) == state
    with pytest.raises(ValueError, match="version"):
        Dispatcher.restore(make_route(), {"groups": []})
    with pytest.raises(ValueError, match="malformed"):
        Dispatcher.restore(make_route(), {"version": 1, "groups": [{"key": "x"}], "not_before": {}})


def test_naive_datetimes_are_refused() -> None:
    dispatcher = Dispatcher(make_route())
    with pytest.raises(ValueError, match="timezone-aware"):
        dispatcher.add(firing("age"), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        dispatcher.flush(datetime(2026, 1, 1))


# --- properties ---------------------------------------------------------------------------

FEATURES = ["age", "city", "income"]
MODELS = ["churn", "fraud"]

# Steps near the timers matter most; times only increase.
step = st.one_of(st.sampled_from([0, 1, 29, 30, 31, 270, 299, 300, 301, 3599, 3600]), st.integers(1, 400))
alert_id = st.tuples(st.sampled_from(MODELS), st.sampled_from(FEATURES))
operation = st.one_of(
    st.tuples(st.sampled_from(["fire", "fire", "resolve", "replay", "flush"]), alert_id, step),
    st.tuples(st.sampled_from(["mute", "restart"]), st.tuples(st.just(""), st.sampled_from([*FEATURES, ""])), step),
)


def run_operations(
    route: Route, operations: Iterable[tuple[str, tuple[str, str], int]]
) -> tuple[Dispatcher, list[tuple[float, Notification]]]:
    dispatcher = Dispatcher(route)
    muter = MuteFeatures()
    started: dict[tuple[str, str], float] = {}
    last_resolve: dict[tuple[str, str], Alert] = {}
    sent: list[tuple[float, Notification]] = []
    now = 0.0
    for kind, (model, feature), seconds in operations:
        now += seconds
        if kind == "fire":
            started.setdefault((model, feature), now)
            dispatcher.add(firing(feature, start=started[(model, feature)], model=model), at(now))
        elif kind == "resolve" and (model, feature) in started:
            start = started.pop((model, feature))
            last_resolve[(model, feature)] = resolved(feature, start, now, model=model)
            dispatcher.add(last_resolve[(model, feature)], at(now))
        elif kind == "replay" and (model, feature) in last_resolve:
            dispatcher.add(last_resolve[(model, feature)], at(now))  # the lifecycle says it again
        elif kind == "mute":
            muter.features = {feature} if feature else set()
        elif kind == "restart":
            dispatcher = Dispatcher.restore(route, json.loads(json.dumps(dispatcher.snapshot())))
        out = dispatcher.flush(at(now), muter)
        assert not {a.labels["feature"] for n in out for a in n.alerts} & muter.features, "a muted alert was sent"
        sent += [(now, n) for n in out]
    # Let every group tick at least once after the last change, unmuted.
    muter.features = set()
    for extra in (WAIT + 1, WAIT + INTERVAL + 2, WAIT + 2 * INTERVAL + 3):
        sent += [(now + extra, n) for n in dispatcher.flush(at(now + extra), muter)]
    return dispatcher, sent


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, min_size=20, max_size=100))
def test_property_spacing_resolve_once_and_firing_alerts_reach_the_receiver(
    operations: list[tuple[str, tuple[str, str], int]],
) -> None:
    route = make_route(RouteConfig(receiver="pager", matchers=parse_matchers(['feature="age"']), continue_=True))
    dispatcher, sent = run_operations(route, operations)

    last_sent: dict[str, float] = {}
    for when, notification in sent:
        if notification.group_key in last_sent:
            assert when - last_sent[notification.group_key] >= INTERVAL, notification.group_key
        last_sent[notification.group_key] = when
        assert notification.alerts, "a notification carries alerts"

    resolves = [(n.group_key, a.fingerprint, a.ends_at) for _, n in sent for a in n.resolved]
    assert len(resolves) == len(set(resolves)), "a resolve notified twice to one group"

    # Every alert still firing was in the last notification of each of its groups.
    last: dict[str, Notification] = {n.group_key: n for _, n in sent}
    for alert in dispatcher.firing():
        for node in route.match(alert.labels):
            notification = last[node.group_key(alert.labels)]
            assert alert.fingerprint in {a.fingerprint for a in notification.firing}


def test_the_muter_sees_the_firing_alerts_it_is_given_not_only_the_dispatchers_own() -> None:
    """A worker's dispatchers (one per partition) are muted by what fires on any of them."""
    dispatcher = Dispatcher(make_route(group_wait_s=0))
    dispatcher.add(firing("age"), at(0))
    everywhere = [labels("age"), labels("salary", model="fraud")]
    muter = MuteFeatures()
    dispatcher.flush(at(0), muter, firing=everywhere)
    assert [seen for _, seen in muter.calls] == [everywhere]
