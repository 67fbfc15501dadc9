"""Topics Vigil creates for itself, and deletes again (an eval's on a shared cluster)."""

from __future__ import annotations

from kafka import KafkaAdminClient

from ingestion.kafka import drop_topics, ensure_topics
from vigil.settings import Settings


def test_topics_are_created_once_and_dropped(settings: Settings, uid: str) -> None:
    names = [f"scratch-a.{uid}", f"scratch-b.{uid}"]
    assert ensure_topics(settings, names) == names
    assert ensure_topics(settings, names) == []  # already there
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        assert set(names) <= set(admin.list_topics())
        assert drop_topics(settings, [*names, f"never-made.{uid}"]) == names
        assert not set(names) & set(admin.list_topics())
    finally:
        admin.close()
