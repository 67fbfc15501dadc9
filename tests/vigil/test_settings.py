"""Settings: environment with the VIGIL_ prefix, .env files, masking, topic helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vigil.settings import INPUT_STREAMS, Settings, Stream, mask_url


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TOPIC_TRANSACTIONS", "payments.card")
    monkeypatch.setenv("VIGIL_KAFKA_TOPIC_PARTITIONS", '{"payments.card": 12}')
    monkeypatch.setenv("VIGIL_EMBEDDED_KAFKA_PORT", "19092")
    s = Settings(_env_file=None)
    assert s.topic(Stream.TRANSACTIONS) == "payments.card"
    assert s.partitions("payments.card") == 12
    assert s.partitions("alerts") == s.kafka_default_partitions == 3
    assert s.embedded_kafka_port == 19092


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("VIGIL_KAFKA_BOOTSTRAP=broker-a:9092,broker-b:9092\nVIGIL_DLQ_SUFFIX=.dead\n")
    s = Settings(_env_file=env)
    assert s.kafka_bootstrap == "broker-a:9092,broker-b:9092"
    assert s.dlq_topic("transactions") == "transactions.dead"


def test_every_input_stream_has_a_dlq_topic() -> None:
    s = Settings(_env_file=None)
    topics = s.all_topics()
    for stream in INPUT_STREAMS:
        assert f"{stream.value}.dlq" in topics
    assert "fraud.decisions.dlq" not in topics  # outputs are ours: nothing to dead-letter
    assert len(topics) == len(set(topics)) == len(Stream) + len(INPUT_STREAMS)


def test_public_dump_masks_secrets_and_url_passwords() -> None:
    s = Settings(
        _env_file=None,
        redis_url="redis://default:hunter2@cache.internal:6379/0",
        lake_hash_key="super-secret-key",
    )
    dump = s.public_dump()
    text = repr(dump)
    assert "hunter2" not in text
    assert "super-secret-key" not in text
    assert dump["redis_url"] == "redis://default:***@cache.internal:6379/0"
    assert dump["lake_hash_key"] == "***"


def test_mask_url_leaves_urls_without_password_alone() -> None:
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("embedded_kafka_port", 70000),
        ("kafka_default_partitions", 0),
        ("kafka_topic_partitions", {"transactions": 0}),
        ("kafka_session_timeout_ms", 10),
    ],
)
def test_bad_values_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: value})
