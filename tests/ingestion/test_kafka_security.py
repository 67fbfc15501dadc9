"""Kafka's SASL and TLS settings: checked whole at start, and passed to every Kafka client
Vigil builds (each is caught as it is constructed; a new one anywhere in the code must be
added here, or the scan at the end fails)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingestion import kafka as ingestion_kafka
from ingestion import member as ingestion_member
from ingestion import producer as ingestion_producer
from ingestion.contracts import Transaction
from ingestion.kafka import (
    BrokerProbe,
    describe_groups,
    ensure_topics,
    group_backlog,
    read_topic,
    topic_partitions,
)
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner
from tests.conftest import LAKE_KEY
from vigil import demo
from vigil.bench import fraud as bench_fraud
from vigil.bench import kafka as bench_kafka
from vigil.settings import Settings, Stream

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("agents", "api", "evals", "graphs", "ingestion", "tools", "vigil")
CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "_GroupAdmin"}


def confluent(tmp_path: Path, **more: Any) -> Settings:
    """Settings as for Confluent Cloud (SASL_SSL, PLAIN), with a CA file of our own."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    values: dict[str, Any] = {
        "kafka_bootstrap": "pkc-123.eu-west-1.aws.confluent.cloud:9092",
        "lake_hash_key": LAKE_KEY, "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "API-KEY-1",
        "kafka_sasl_password": "api-secret-1", "kafka_ssl_cafile": ca,
    }  # fmt: skip
    values.update(more)
    return Settings(_env_file=None, **values)


def test_confluent_cloud_settings_become_kafka_python_arguments(tmp_path: Path) -> None:
    s = confluent(tmp_path)
    assert s.kafka_security() == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "API-KEY-1", "sasl_plain_password": "api-secret-1",
        "ssl_check_hostname": True, "ssl_cafile": str(tmp_path / "ca.pem"),
    }  # fmt: skip
    assert s.public_dump()["kafka_sasl_password"] == "***"
    key, cert = tmp_path / "client.key", tmp_path / "client.pem"
    key.write_text("k")
    cert.write_text("c")
    mtls = Settings(_env_file=None, kafka_bootstrap="b:9093", lake_hash_key=LAKE_KEY,
                    kafka_security_protocol="SSL", kafka_ssl_certfile=cert, kafka_ssl_keyfile=key,
                    kafka_ssl_password="pw")  # fmt: skip
    assert mtls.kafka_security() == {
        "security_protocol": "SSL", "ssl_check_hostname": True, "ssl_certfile": str(cert),
        "ssl_keyfile": str(key), "ssl_password": "pw",
    }  # fmt: skip
    assert Settings(_env_file=None).kafka_security() == {}  # PLAINTEXT: nothing added


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kafka_sasl_password": None}, "SASL_SSL needs VIGIL_KAFKA_SASL_PASSWORD"),
        ({"kafka_sasl_mechanism": None, "kafka_sasl_username": None},
         "needs VIGIL_KAFKA_SASL_MECHANISM, VIGIL_KAFKA_SASL_USERNAME"),
        ({"kafka_security_protocol": "SSL"}, "SASL settings are set but"),
        ({"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_mechanism": None,
          "kafka_sasl_username": None, "kafka_sasl_password": None},
         "VIGIL_KAFKA_SSL_CAFILE set but VIGIL_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        ({"kafka_ssl_cafile": Path("/nonexistent/ca.pem")},
         "/nonexistent/ca.pem is not a readable"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
    ],
)  # fmt: skip
def test_incomplete_or_contradictory_security_is_refused_at_start(
    tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValidationError, match=words.replace(".", r"\.")):
        confluent(tmp_path, **changes)


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("c")
    with pytest.raises(ValidationError, match="CERTFILE and VIGIL_KAFKA_SSL_KEYFILE come together"):
        confluent(tmp_path, kafka_ssl_certfile=cert)


class BuiltError(Exception):
    """Raised by a stand-in Kafka class once it has recorded how it was built."""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every Kafka class Vigil's modules construct, replaced by one that records its
    arguments and stops there (no connection is made)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Callable[..., Any]:
        def make(*_args: Any, **kw: Any) -> Any:
            seen.append((name, kw))
            raise BuiltError(name)

        return make

    for module in (ingestion_kafka, ingestion_member, ingestion_producer, bench_kafka, bench_fraud):
        for name in CLIENTS:
            if hasattr(module, name):
                monkeypatch.setattr(module, name, recorder(f"{module.__name__}.{name}"))
    import kafka

    monkeypatch.setattr(kafka, "KafkaConsumer", recorder("vigil.demo.KafkaConsumer"))
    return seen


def test_every_kafka_client_is_built_with_the_security_settings(
    tmp_path: Path, built: list[tuple[str, dict[str, Any]]]
) -> None:
    s = confluent(tmp_path)
    t = "transactions"
    calls: list[Callable[[], Any]] = [
        lambda: EventProducer(s),
        lambda: ConsumerRunner(
            s, topic=t, model=Transaction, handler=lambda _b: None, group="g", producer=MagicMock()
        ),
        lambda: ensure_topics(s),
        lambda: topic_partitions(s, [t]),
        lambda: read_topic(s, t),
        lambda: describe_groups(s, ["g"]),
        lambda: group_backlog(s, "g", t),
        lambda: BrokerProbe(s, t).check(),
        lambda: bench_kafka.raw_consumer(s, t, "raw"),
        lambda: bench_kafka._raw_produce(s, t, []),
        lambda: bench_fraud.raw_consume_produce(s, t, "out", 1),
        lambda: demo._read_topic(s, Stream.TRANSACTIONS, Transaction),
    ]
    for call in calls:
        with pytest.raises(BuiltError):
            call()
    assert len(built) == len(calls)
    want = s.kafka_security()
    for name, kw in built:
        assert {k: kw.get(k) for k in want} == want, name
        assert kw["bootstrap_servers"] == ["pkc-123.eu-west-1.aws.confluent.cloud:9092"], name
    assert {name.rsplit(".", 1)[-1] for name, _ in built} == CLIENTS


def test_no_other_kafka_client_is_built_anywhere() -> None:
    """Every construction of a Kafka client in Vigil's packages is one of those above
    (a new one would be built without the security settings unless it is checked)."""
    found: list[str] = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                name = node.func.id if isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Name) else None  # fmt: skip
                if name in CLIENTS:
                    found.append(f"{path.relative_to(ROOT)}:{name}")
    assert sorted(found) == sorted([
        "ingestion/kafka.py:KafkaAdminClient", "ingestion/kafka.py:KafkaAdminClient",
        "ingestion/kafka.py:KafkaAdminClient", "ingestion/kafka.py:KafkaAdminClient",
        "ingestion/kafka.py:KafkaConsumer",
        "ingestion/kafka.py:KafkaConsumer", "ingestion/kafka.py:_GroupAdmin",
        "ingestion/kafka.py:_GroupAdmin", "ingestion/member.py:KafkaConsumer",
        "ingestion/producer.py:KafkaProducer", "vigil/bench/fraud.py:KafkaProducer",
        "vigil/bench/kafka.py:KafkaConsumer", "vigil/bench/kafka.py:KafkaProducer",
        "vigil/demo.py:KafkaConsumer",
    ])  # fmt: skip


hostile_text = st.one_of(
    st.text(max_size=300), st.sampled_from(["", " ", "a\x00b", "\x1f\x7f", "../../etc/passwd",
                                            "\ud800", "x" * 5000, "PLAIN\n", "sasl_ssl"]),
)  # fmt: skip


@hsettings(max_examples=200, deadline=None)
@given(protocol=st.one_of(st.sampled_from(["SASL_SSL", "SASL_PLAINTEXT"]), hostile_text),
       mechanism=st.one_of(st.sampled_from(["PLAIN", "SCRAM-SHA-512"]), hostile_text),
       user=hostile_text, password=hostile_text,
       endpoint=st.one_of(hostile_text.map(lambda t: "http://" + t), hostile_text))  # fmt: skip
def test_hostile_security_settings_are_refused_or_make_sound_arguments(
    protocol: str, mechanism: str, user: str, password: str, endpoint: str
) -> None:
    """Any text in the security settings and the trace endpoint: refused with a
    ValidationError, or read into arguments kafka-python takes (never a crash later)."""
    try:
        s = Settings(_env_file=None, kafka_security_protocol=protocol,
                     kafka_sasl_mechanism=mechanism, kafka_sasl_username=user,
                     kafka_sasl_password=password, otel_endpoint=endpoint)  # fmt: skip
    except ValidationError:
        return
    args = s.kafka_security()
    assert args["security_protocol"] in ("SASL_PLAINTEXT", "SASL_SSL")
    assert not any(ord(c) < 32 or ord(c) == 127 for c in str(args["sasl_plain_username"]))
    assert "\x00" not in str(args["sasl_plain_password"])  # SASL PLAIN's separator
    assert args["sasl_mechanism"] in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    assert s.otel_endpoint is not None
    assert s.otel_endpoint.startswith(("http://", "https://"))
    assert not any(c.isspace() for c in s.otel_endpoint)
