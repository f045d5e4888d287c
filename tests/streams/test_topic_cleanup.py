"""Deleting a run's topics by prefix: only the run's own go, Faust's internal ones included."""

from __future__ import annotations

from streams.admin import admin_client, delete_topics_under, ensure_topics
from streams.settings import Settings
from tests.helpers import wait_until


def _topics(settings: Settings) -> set[str]:
    admin = admin_client(settings.kafka)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_deletes_the_topics_under_a_prefix_and_no_other(settings: Settings) -> None:
    run = settings.kafka.predictions_topic.rsplit(".", 1)[0]
    other = settings.kafka.namespaced(f"{run}x")  # shares the prefix's text without its separator
    created = set(ensure_topics(settings.kafka)) | set(ensure_topics(other))

    deleted = delete_topics_under(settings.kafka, [f"{run}."])

    assert set(deleted) == {name for name in created if name.startswith(f"{run}.")}
    assert other.predictions_topic not in deleted
    wait_until(lambda: not _topics(settings) & set(deleted), 30, "the deleted topics to leave the broker's metadata")
    assert other.predictions_topic in _topics(settings)


def test_no_prefix_deletes_nothing(settings: Settings) -> None:
    ensure_topics(settings.kafka)
    assert delete_topics_under(settings.kafka, []) == []
    assert settings.kafka.predictions_topic in _topics(settings)
