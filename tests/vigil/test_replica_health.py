"""A consumer thread that dies is never silent: its replica ends (to be restarted), and
its last heartbeat, ``vigil agents status`` and the API's /ready name it and say why."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import redis

from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.producer import EventProducer
from tests.agents.test_escalation_stage import scrape
from tests.conftest import wait_for
from tests.ingestion.kafkautil import transactions
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.runtime.replicas import Replica
from vigil.runtime.status import agents_check, agents_status, heartbeats
from vigil.settings import Settings
from vigil.wiring.web import api_deps


def test_a_dead_consumer_ends_its_replica_and_status_and_ready_name_it(
    settings: Settings, redis_client: tuple[redis.Redis, str]
) -> None:
    """A record that killed the fraud consumer thread left the process up, /ready at 200
    and nothing restarting it. Here the broker refuses every commit with an error that is
    not an outage: the consumer gives up after its tries, and the replica says so."""
    client, prefix = redis_client
    s = settings.model_copy(
        update={
            "redis_prefix": prefix.rstrip(":"),
            "checkpoint_prefix": prefix + "cp",
            "runner_max_crashes": 2,
            "runner_retry_backoff_s": 0.01,
        }
    )
    assert agents_check(s, client).startswith("no agent replica reports")
    replica = Replica(s, ["fraud"], "r-dies", ingest=False, beat_s=0.2)
    try:
        wait_for(lambda: heartbeats(s, client), 20, "the first heartbeat")
        assert agents_check(s, client) == "1 replicas alive (fraud)"
        # the replica serves its own Prometheus metrics, where its heartbeat says
        [first] = heartbeats(s, client)
        metrics = scrape(first["metrics_url"])
        assert metrics['vigil_agent_escalation_backlog{agent="fraud"}'] == 0
        assert metrics['vigil_agent_events_total{agent="fraud"}'] == 0
        health = first["metrics_url"].replace("/metrics", "/health")
        assert liveness(health) == (200, {"alive": True, "replica": "r-dies", "dead": {}})
        runner = replica.services[0].runners[0]

        def refuse(*args: Any, **kw: Any) -> Any:
            raise ValueError("offsets cannot be encoded")

        runner._member.consumer.commit_async = refuse
        with EventProducer(s) as producer:
            producer.publish(transactions(3))
        wait_for(replica.failed.is_set, 60, "the replica to see its dead consumer")
        [beat] = heartbeats(s, client)
        [(thread, why)] = beat["agents"]["fraud"]["dead"].items()
        assert thread == f"fraud-{runner.topic}"
        assert why == "ValueError: offsets cannot be encoded"
        assert beat["dead"] == {thread: why}
        # the container's health check sees it too
        assert liveness(health) == (503, {"alive": False, "replica": "r-dies",
                                          "dead": {thread: why}})  # fmt: skip
        with pytest.raises(RuntimeError) as failed:
            agents_check(s, client)
        assert str(failed.value) == f"fraud on r-dies: consumer {thread} died: {why}"
        # /ready runs this very check: the API's dependencies name the dead consumer
        deps = api_deps(s, gateway=ModelGateway([ModelEntry("scripted", ScriptedChatModel(
            script=["-"]))]), embedder=EMBEDDER)  # fmt: skip
        try:
            with pytest.raises(RuntimeError, match=f"consumer {thread} died"):
                deps.checks["agents"]()
        finally:
            if deps.close:
                deps.close()
        status = agents_status(s, client, ["fraud"])["fraud"]
        assert status["failing"] == [f"fraud on r-dies: consumer {thread} died: {why}"]
        assert status["replicas"][0]["dead"] == {thread: why}
    finally:
        replica.drain(10)
    assert heartbeats(s, client) == []  # a drained replica leaves no heartbeat behind


def liveness(url: str) -> tuple[int, dict[str, Any]]:
    """A replica's /health: its status and what it says."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - 127.0.0.1
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())
