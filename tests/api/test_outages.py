"""The broker and Redis restarted under the running API and fraud agent, each on a server
of this test's own (127.0.0.1): /ready turns 503 naming the dependency within 5 s,
requests that need it answer 503 with Retry-After, and within 30 s of its return every
route works again, with no process restarted and nothing accepted lost.

Found before: with the broker killed /ready stayed 200 and approvals answered 500 after
30 s; once it was back every publish failed ("InitProducerIdResponse UnknownError") until
the process restarted. Redis down gave 500s, and pooled connections kept failing after it
came back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka.errors import KafkaError

from agents.service import AgentService
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import BlockAction
from ingestion.errors import DeliveryError
from ingestion.kafka import ensure_topics, read_topic
from ingestion.knowledge.types import Chunk
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers
from tests.agents.helpers import read_events
from tests.agents.test_fraud_e2e import BLOCK
from tests.api.conftest import Api, Server, api_settings, serve_api
from tests.api.test_approvals_api import propose_a_block
from tests.conftest import wait_for
from tests.ingestion.kafkautil import transactions
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.runtime.embedded import ChildServer, free_port
from vigil.runtime.stack import tansu_server, valkey_server
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent as build_agent

pytestmark = pytest.mark.timeout(600)


@dataclass
class Outage:
    api: Api
    fraud: AgentService
    broker: ChildServer
    valkey: ChildServer
    servers: Path

    def restart_broker(self) -> None:
        self.broker = tansu_server(self.api.settings, self.servers, self.broker.port)
        self.broker.start(timeout=20)
        # the embedded broker keeps nothing across a restart (memory storage): the
        # topics are created again, as `vigil up` does at start (a real Kafka keeps them)
        ensure_topics(self.api.settings)

    def restart_valkey(self) -> None:
        self.valkey = valkey_server(self.api.settings, self.servers, self.valkey.port)
        self.valkey.start(timeout=20)


@pytest.fixture
def outage(
    seed_chunks: list[tuple[str, list[Chunk]]], settings: Settings, tmp_path: Path
) -> Iterator[Outage]:
    servers = tmp_path / "servers"
    broker = tansu_server(settings, servers, free_port())
    valkey = valkey_server(settings, servers, free_port())
    broker.start(timeout=20)
    valkey.start(timeout=20)
    own = settings.model_copy(update={
        "kafka_bootstrap": f"{broker.host}:{broker.port}",
        "redis_url": f"redis://{valkey.host}:{valkey.port}/0",
        "api_ready_timeout_s": 2.0,
    })  # fmt: skip
    ensure_topics(own)
    s = api_settings(own, "vigil:", tmp_path)
    model = ScriptedChatModel(script=["Here is what applies to you."] * 50)
    app, deps = serve_api(s, None, "vigil:", model)
    deps.tools.profiles.apply(seed_customers(20))
    for doc_id, chunks in seed_chunks:
        deps.tools.retriever.replace_document(doc_id, chunks)
    producer = EventProducer(s)
    gateway = ModelGateway([ModelEntry("scripted", ScriptedChatModel(script=[BLOCK] * 5),
                                       structured="json")], backoff_s=0.01)  # fmt: skip
    fraud = build_agent(
        "fraud", s, producer, client=deps.redis, gateway=gateway, embedder=EMBEDDER,
        checkpointer=RedisSaver(deps.redis, prefix=s.checkpoint_prefix),
    ).start()  # fmt: skip
    state = Outage(Api("", s, model, deps, app), fraud, broker, valkey, servers)
    try:
        with Server(app) as server:
            state.api.url = server.url
            yield state
    finally:
        fraud.stop(10)
        producer.close()
        if deps.close:
            deps.close()
        state.broker.stop(timeout=5)
        state.valkey.stop(timeout=5)


class Traffic:
    """Card payments published one after another (each retried until the broker takes it);
    ``lost()`` is every payment the broker took that fraud.decisions never showed decided.
    ``settled()`` pauses until what was taken is decided, so a payment is never left only
    in the embedded broker's memory when it is killed."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.taken: list[str] = []
        self.refused = 0
        self.decided: set[str] = set()
        self._go, self._stop = threading.Event(), threading.Event()
        self._threads = [threading.Thread(target=self._publish, daemon=True)]

    def __enter__(self) -> Traffic:
        self._go.set()
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._go.set()
        for t in self._threads:
            t.join(30)

    def _publish(self) -> None:
        events = iter(transactions(10_000, seed=11))
        with EventProducer(self.settings, max_block_ms=2000, request_timeout_ms=2000,
                           delivery_timeout_ms=4000) as producer:  # fmt: skip
            while not self._stop.is_set():
                self._go.wait()
                event = next(events)
                while not self._stop.is_set():
                    try:
                        producer.publish([event], timeout=5)
                        self.taken.append(event.transaction_id)
                        break
                    except (KafkaError, DeliveryError):
                        self.refused += 1
                        time.sleep(0.2)
                time.sleep(0.1)

    def _read(self) -> None:
        """What fraud.decisions holds now. (Read whole each time: the embedded broker
        restarts its offsets at 0, so a reader's position from before would skip some.)"""
        topic = self.settings.topic(Stream.FRAUD_DECISIONS)
        for r in read_topic(self.settings, topic, idle_s=0.5):
            self.decided.add(json.loads(r.value)["transaction_id"])

    def lost(self) -> list[str]:
        return [t for t in list(self.taken) if t not in self.decided]

    def settled(self, timeout: float = 60) -> None:
        self._go.clear()
        time.sleep(0.5)
        deadline = time.monotonic() + timeout
        self._read()
        while self.lost() and time.monotonic() < deadline:
            time.sleep(0.5)
            self._read()
        lost = self.lost()
        assert not lost, (
            f"{len(lost)} of {len(self.taken)} payments taken never decided: {lost[:5]}"
        )

    def resume(self) -> None:
        self._go.set()


def ready(c: httpx.Client) -> tuple[int, dict[str, Any]]:
    r = c.get("/ready")
    return r.status_code, r.json()["checks"]


def seconds_until(check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    wait_for(check, timeout, what)
    return time.monotonic() - started


def test_a_broker_restart_is_reported_refused_with_503_and_recovered_from(
    outage: Outage,
) -> None:
    api = outage.api
    pending = propose_a_block(api, outage.fraud)
    approval_id, good = pending["approval_id"], pending["proposal_hash"]
    with Traffic(api.settings) as traffic, api.client("analyst") as c:
        wait_for(lambda: len(traffic.taken) >= 5, 30, "payments flowing")
        assert ready(c)[0] == 200
        # the embedded broker loses what it holds when killed: nothing is left only there
        traffic.settled()
        outage.broker.stop(timeout=5)
        traffic.resume()
        took = seconds_until(lambda: ready(c)[0] == 503, 10, "/ready to report the broker")
        assert took <= 5
        checks = ready(c)[1]
        assert not checks["kafka"]["ok"]
        assert "the broker did not answer" in checks["kafka"]["detail"]
        assert checks["redis"]["ok"]
        assert c.get("/health").json()["failing"] == ["kafka"]
        r = c.post(f"/approvals/{approval_id}/reject", json={"proposal_hash": good,
                   "reason": "sent while the broker is down"})  # fmt: skip
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.json()["detail"].startswith("kafka is unavailable")
        # what does not need the broker still works
        assert c.get(f"/approvals/{approval_id}").json()["state"] == "pending"

        wait_for(lambda: traffic.refused > 0, 10, "payments refused while the broker is down")
        taken_before = len(traffic.taken)

        outage.restart_broker()
        took = seconds_until(lambda: ready(c)[0] == 200, 30, "/ready after the broker's return")
        assert took <= 30
        wait_for(lambda: len(traffic.taken) >= taken_before + 5, 30, "payments taken again")

        def approved() -> bool:
            r = c.post(f"/approvals/{approval_id}/approve", json={"proposal_hash": good,
                       "reason": "after the restart"})  # fmt: skip
            assert r.status_code in (202, 503), r.text
            return r.status_code == 202

        assert seconds_until(approved, 30, "an answer the broker takes") <= 30
        # the agent's consumers came back too: the accepted answer is applied, once
        wait_for(lambda: outage.fraud.worker.metrics.blocked == 1, 60, "the block")
        [block] = read_events(api.settings, Stream.BLOCK_ACTIONS, 1, BlockAction)
        assert block.transaction_id == pending["proposal"]["transaction_id"]
        assert c.get(f"/approvals/{approval_id}").json()["state"] == "approve"
        # every payment the broker took, before and after its restart, was decided
        traffic.settled()
    assert outage.fraud.dead == {}


def test_a_redis_restart_is_reported_refused_with_503_and_recovered_from(
    outage: Outage,
) -> None:
    api = outage.api
    with Traffic(api.settings) as traffic, api.client("john") as c:
        wait_for(lambda: len(traffic.taken) >= 5, 30, "payments flowing")
        first = c.post("/chat/t-before", json={"message": "How do refunds work?"})
        assert first.status_code == 200
        first.read()
        assert ready(c)[0] == 200
        outage.valkey.stop(timeout=5)  # SIGTERM: Valkey writes its AOF, as on a restart
        took = seconds_until(lambda: ready(c)[0] == 503, 10, "/ready to report Redis")
        assert took <= 5
        checks = ready(c)[1]
        assert not checks["redis"]["ok"]
        for r in (c.post("/chat/t-during", json={"message": "hello"}),
                  c.get("/threads/t-before"), c.post("/threads/search", json={})):  # fmt: skip
            assert r.status_code == 503, (r.request.url, r.text)
            assert r.headers["retry-after"] == "5"
            assert r.json()["detail"].startswith("redis is unavailable")
        with api.client("analyst") as staff:
            assert staff.get("/approvals").status_code == 503

        outage.restart_valkey()
        took = seconds_until(lambda: ready(c)[0] == 200, 30, "/ready after Redis's return")
        assert took <= 30
        # every pooled connection was broken by the restart: none of them fails a request
        for i in range(12):
            with c.stream("POST", f"/chat/t-after-{i}", json={"message": "hello"}) as r:
                assert r.status_code == 200
                body = r.read().decode()
            assert "event: end" in body, body
            assert "Connection" not in body, body
        # nothing was lost: the thread from before the restart is there, and every payment
        # (the fraud agent waited for Redis, never dead-lettering one) was decided
        assert c.get("/threads/t-before").status_code == 200
        traffic.settled()
    assert outage.fraud.dead == {}
    assert all(r.metrics.dead_lettered == 0 for r in outage.fraud.runners)
