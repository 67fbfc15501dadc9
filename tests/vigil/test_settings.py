"""Settings: environment with the VIGIL_ prefix, .env files, masking, topic helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vigil.settings import DEV_LAKE_KEY, INPUT_STREAMS, Settings, Stream, mask_url


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
    env.write_text("VIGIL_KAFKA_BOOTSTRAP=broker-a:9092,broker-b:9092\nVIGIL_DLQ_SUFFIX=.dead\n"
                   f"VIGIL_LAKE_HASH_KEY={'k' * 32}\n")  # fmt: skip
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
        lake_hash_key="super-secret-key-0123456789abcdef0123",
    )
    dump = s.public_dump()
    text = repr(dump)
    assert "hunter2" not in text
    assert "super-secret-key-0123456789abcdef0123" not in text
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


def test_a_short_token_secret_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes, this one has 6"):
        Settings(_env_file=None, api_token_secret="s3cret")
    assert Settings(_env_file=None, api_token_secret="x" * 32).api_token_secret is not None


def test_the_development_lake_key_is_refused_with_real_servers() -> None:
    assert Settings(_env_file=None).lake_hash_key.get_secret_value() == DEV_LAKE_KEY  # embedded
    servers: list[dict[str, Any]] = [
        {"kafka_bootstrap": "kafka:9092"}, {"redis_url": "redis://cache:6379/0"},
        {"weaviate_url": "http://weaviate:8080"},
    ]  # fmt: skip
    for server in servers:
        with pytest.raises(ValidationError, match="VIGIL_LAKE_HASH_KEY is the development default"):
            Settings(_env_file=None, **server)
        assert Settings(_env_file=None, lake_hash_key="k" * 32, **server)
    with pytest.raises(ValidationError, match="VIGIL_LAKE_HASH_KEY needs at least 32 bytes"):
        Settings(_env_file=None, lake_hash_key="short")
