"""Vigil's topics come from Vigil, never from a broker creating them on first use.

Tansu creates a topic whenever a client asks for one it lacks (with 4 partitions), and
has no setting to stop it; a compose or managed Kafka has auto-creation off. So these
tests start from topic names no one created, give every topic a configured partition
count Tansu's would not have, and after the API or an agent replica started and the
London -> Paris story ran through, read the broker: each of Vigil's topics has exactly
its configured count, and none other with the run's names exists. A code path that
relied on auto-creation would leave a topic with 4 partitions, or one not in the list."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient

from ingestion.errors import DeliveryError
from ingestion.kafka import read_topic, topic_partitions
from ingestion.producer import EventProducer
from tests.agents.test_fraud_e2e import london_paris
from tests.api.conftest import Server, api_settings, serve_api
from tests.conftest import base_settings, clean_env, run_vigil, wait_for
from vigil.runtime.replica import Replica
from vigil.settings import Settings, Stream

#: what Tansu gives a topic it creates on first use
AUTO_PARTITIONS = 4


def unmade(kafka_bootstrap: str, redis_url: str, tmp_path: Path, uid: str) -> Settings:
    """Settings whose topics no one has created, each with a count Tansu would not give;
    Redis keys under the test's own prefix (the story's ids are the same in every test:
    under a shared prefix, another test's card sighting would be this one's)."""
    topics = {f"topic_{s.name.lower()}": f"{s.value}.{uid}" for s in Stream}
    return base_settings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, data_dir=tmp_path / "data",
        kafka_group_prefix=f"test.{uid}", kafka_default_partitions=2,
        kafka_topic_partitions={f"transactions.{uid}": 3}, redis_prefix=f"test:{uid}",
        checkpoint_prefix=f"test:{uid}:cp", **topics,
    )  # fmt: skip


def on_broker(s: Settings, uid: str) -> dict[str, int]:
    """Every topic of this run's on the broker, with its partition count."""
    admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    try:
        names = [t for t in admin.list_topics() if uid in t]
    finally:
        admin.close()
    return topic_partitions(s, names)


def configured(s: Settings) -> dict[str, int]:
    return {t: s.partitions(t) for t in s.all_topics()}


@pytest.mark.slow
def test_an_agent_replica_creates_the_topics_and_nothing_is_created_on_first_use(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, uid: str, redis_client: tuple[Any, str]
) -> None:
    s = unmade(kafka_bootstrap, redis_url, tmp_path, uid)
    assert on_broker(s, uid) == {}
    replica = Replica(s, ["fraud"], f"r-{uid}", ingest=True, beat_s=0.3)
    try:
        assert on_broker(s, uid) == configured(s)  # made at start, as configured
        with EventProducer(s) as producer:
            producer.publish(london_paris())

        def decided() -> bool:
            return len(read_topic(s, s.topic(Stream.FRAUD_DECISIONS), idle_s=0.3)) >= 2

        wait_for(decided, 60, "both payments screened")
        wait_for(lambda: any(service.worker.metrics.escalated for service in replica.services),
                 30, "the escalation")  # fmt: skip
    finally:
        replica.drain(10)
    found = on_broker(s, uid)
    assert found == configured(s), {t: n for t, n in found.items() if n == AUTO_PARTITIONS}
    assert AUTO_PARTITIONS not in found.values()


def test_the_api_creates_the_topics_at_start(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, uid: str, redis_client: tuple[Any, str]
) -> None:
    from graphs.llm.fake import ScriptedChatModel

    client, prefix = redis_client
    s = api_settings(unmade(kafka_bootstrap, redis_url, tmp_path, uid), prefix, tmp_path)
    app, deps = serve_api(s, client, prefix, ScriptedChatModel(script=["hi"]))
    assert on_broker(s, uid) == {}
    with Server(app):
        assert on_broker(s, uid) == configured(s)
    if deps.close:
        deps.close()


def test_vigil_topics_ensure_creates_them_once(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, uid: str
) -> None:
    s = unmade(kafka_bootstrap, redis_url, tmp_path, uid)
    env = clean_env()
    env.update({"VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "VIGIL_REDIS_URL": redis_url,
                "VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_KAFKA_DEFAULT_PARTITIONS": "2",
                "VIGIL_KAFKA_TOPIC_PARTITIONS": f'{{"transactions.{uid}": 3}}'})  # fmt: skip
    env.update({f"VIGIL_TOPIC_{st.name}": f"{st.value}.{uid}" for st in Stream})
    first = run_vigil("topics", "ensure", env=env)
    assert first.returncode == 0, first.stderr
    n = len(s.all_topics())
    assert f"{n} created, 0 already there" in first.stdout
    assert on_broker(s, uid) == configured(s)
    again = run_vigil("topics", "ensure", env=env)
    assert f"0 created, {n} already there" in again.stdout


def test_a_topic_without_metadata_is_an_error_that_names_it(tmp_path: Path) -> None:
    """A broker that never answers for the topic (missing with auto-creation off, or not
    reachable): the send fails in bounded time, naming the topic and what creates it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    s = base_settings(kafka_bootstrap=f"127.0.0.1:{silent.getsockname()[1]}",
                      data_dir=tmp_path, kafka_request_timeout_ms=1000)  # fmt: skip
    try:
        producer = EventProducer(s, max_block_ms=800, api_version=(3, 0))
        with pytest.raises(DeliveryError, match=r"topic 'transactions' is not on the broker.*"
                                                r"vigil topics ensure"):  # fmt: skip
            producer.publish(london_paris()[:1])
        producer.close(1)
    finally:
        stop.set()
        for conn in held:
            conn.close()
        silent.close()
