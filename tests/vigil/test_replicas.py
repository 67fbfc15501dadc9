"""The fraud agent in replicas: two Ray actors on a local Ray (127.0.0.1) and worker
processes, against the Tansu broker and Redis; one replica dies mid-stream and the books
still balance: every transaction decided once, every approved block applied once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from ingestion.producer import EventProducer
from ingestion.seed import seed_customers, seed_documents
from tests.conftest import NO_MODEL, wait_for
from vigil.bench.reliability import Books, _analyst, _feed, audit, settle
from vigil.runtime.replicas import ReplicaSet, start_ray
from vigil.runtime.status import agents_status, group_members, heartbeats
from vigil.settings import Settings, Stream

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def s(settings: Settings, redis_client: tuple[Any, str]) -> Settings:
    """The test's settings with Redis keys of its own (deleted afterwards), and no model:
    its server does not answer (a refused connection) and the rules decide every
    escalation. What is proven, one decision per transaction and one block per approval,
    does not depend on a model's words; the local model made the escalations, one
    llama.cpp call at a time on a machine the rest of the suite loads, outlast the
    300 s drain (the stage and the model are tested in tests/agents)."""
    _, prefix = redis_client
    return settings.model_copy(
        update={
            "redis_prefix": prefix.rstrip(":"),
            "checkpoint_prefix": prefix + "cp",
            **NO_MODEL,
        }
    )


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    start_ray("local")  # before importing ray: it sets up the token authentication
    import ray

    try:
        yield
    finally:
        ray.shutdown()


def books_after_a_kill(s: Settings, backend: str, kill: Any) -> tuple[Books, Any, ReplicaSet]:
    """Two replicas, traffic with the founding story in it, one replica killed mid-stream."""
    with EventProducer(s) as producer:
        producer.publish(seed_customers(50))
        producer.publish(seed_documents())
    client = redis.Redis.from_url(s.redis_url or "")
    replicas = ReplicaSet(s, ["fraud"], backend=backend)
    books = Books()
    traffic, answering = threading.Event(), threading.Event()
    feeder = threading.Thread(target=_feed, args=(s, books, traffic, 40.0, 3), daemon=True)
    analyst = threading.Thread(target=_analyst, args=(s, books, answering), daemon=True)
    try:
        replicas.scale(2)
        wait_for(lambda: owners(s, client) == 2, 180, "two replicas owning partitions")
        feeder.start()
        analyst.start()
        wait_for(lambda: len(books.produced) > 150, 60, "traffic")
        before = beating(s, client)
        kill(replicas)
        wait_for(lambda: len(books.produced) > 450, 60, "more traffic after the kill")
        traffic.set()
        feeder.join(30)

        settle(s, client, replicas, books, 300)
        outcome = audit(s, client, books)
        # the books balanced without it: the replica killed may still be starting again
        wait_for(lambda: len(beating(s, client)) == 2, 120, "the killed replica beating again")
        after = beating(s, client)
        assert set(after) == set(before)  # the same two replicas ...
        assert after != before  # ... one of them in a new process
        return books, outcome, replicas
    finally:
        traffic.set()
        answering.set()
        replicas.stop()
        client.close()


def beating(s: Settings, client: redis.Redis) -> dict[str, int]:
    """The process id of each replica with a heartbeat."""
    return {b["replica"]: b["pid"] for b in heartbeats(s, client)}


def owners(s: Settings, client: redis.Redis) -> int:
    """Replicas that own partitions of the fraud agent's topic."""
    return sum(1 for b in heartbeats(s, client) if b["agents"]["fraud"]["partitions"])


def test_two_ray_actors_lose_one_mid_stream_and_decide_everything_once(
    s: Settings, local_ray: None
) -> None:
    books, outcome, replicas = books_after_a_kill(
        s,
        "ray",
        lambda rs: rs.replicas[0].kill(),  # Ray restarts the actor
    )
    assert outcome.problems == []
    c = outcome.counts
    assert c["with exactly one decision"] == c["transactions produced"] > 450
    assert books.fraud, "the founding story was in the traffic"
    assert c["blocks applied"] == len(books.approved) >= 1
    assert c["blocks applied twice"] == 0
    assert replicas.restarts == 0  # Ray restarted it, not our supervisor


def test_worker_processes_restart_a_killed_replica_and_decide_everything_once(
    s: Settings,
) -> None:
    books, outcome, replicas = books_after_a_kill(
        s,
        "process",
        lambda rs: rs.replicas[0].kill(),  # SIGKILL, then our supervisor
    )
    assert outcome.problems == []
    assert outcome.counts["with exactly one decision"] == outcome.counts["transactions produced"]
    assert outcome.counts["blocks applied"] == len(books.approved)
    assert replicas.restarts == 1


def test_status_names_members_partitions_lag_and_pending(s: Settings) -> None:
    settings = s
    client = redis.Redis.from_url(settings.redis_url or "")
    replicas = ReplicaSet(settings, ["fraud"], backend="process", ingest=False)
    try:
        replicas.scale(2)
        wait_for(lambda: owners(settings, client) == 2, 180, "two members")
        report = agents_status(settings, client, ["fraud"])["fraud"]
        assert report["group"] == settings.group_id("fraud")
        assert len(report["replicas"]) == 2
        owned = sorted(p for r in report["replicas"] for p in r["partitions"])
        assert owned == list(range(settings.partitions(settings.topic_transactions)))
        assert len(report["members"]) == 2  # as Kafka sees the group
        assert report["pending_approvals"] == 0
        assert set(report["lag"]) == {str(p) for p in owned}
        assert report["events_per_s"] == 0  # no traffic yet
        # under traffic, each replica's heartbeat measures its events/s
        books, traffic = Books(), threading.Event()
        feeder = threading.Thread(target=_feed, args=(s, books, traffic, 40.0, 5), daemon=True)
        feeder.start()

        def busy() -> dict[str, Any]:
            report: dict[str, Any] = agents_status(settings, client, ["fraud"])["fraud"]
            return report

        try:
            wait_for(lambda: busy()["events_per_s"] > 5, 60, "events/s under traffic")
            # both replicas share the traffic, each reports its own rate
            wait_for(lambda: all(r["screened"] > 0 for r in busy()["replicas"]), 60, "both busy")
        finally:
            traffic.set()
            feeder.join(30)
        # and drops back to zero once the traffic stops and the lag is worked off
        wait_for(
            lambda: busy()["events_per_s"] == 0 and not any(busy()["lag"].values()),
            60,
            "idle again",
        )
        # scale down: the drained replica leaves the group and its heartbeat goes
        replicas.scale(1)
        wait_for(lambda: len(heartbeats(settings, client)) == 1, 60, "one replica left")
    finally:
        replicas.stop()
        client.close()


def test_member_assignments_are_read_as_apache_kafka_reports_them() -> None:
    from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment

    wire = ConsumerProtocolAssignment(
        version=0, assigned_partitions=[("transactions", [0, 2])], user_data=b""
    ).encode()
    member = {"member_id": "m-1", "client_id": "vigil", "client_host": "/10.0.0.7",
              "member_assignment": ConsumerProtocolAssignment.decode(wire).to_dict()}  # fmt: skip
    got = group_members({"group_state": "Stable", "members": [member]})
    assert got["state"] == "Stable"
    assert got["members"] == [
        {"member": "m-1", "client": "vigil", "host": "/10.0.0.7", "partitions": [0, 2]}
    ]
    # Tansu's answer: members without assignments
    empty = group_members({"group_state": "Stable", "members": [{"member_id": "m-2",
                           "member_assignment": ""}]})  # fmt: skip
    assert empty["members"][0]["partitions"] == []


def cli_env(s: Settings, tmp_path: Any) -> dict[str, str]:
    from tests.conftest import clean_env

    return clean_env() | {
        "VIGIL_KAFKA_BOOTSTRAP": s.kafka_bootstrap or "",
        "VIGIL_REDIS_URL": s.redis_url or "",
        "VIGIL_REDIS_PREFIX": s.redis_prefix,
        "VIGIL_CHECKPOINT_PREFIX": s.checkpoint_prefix,
        "VIGIL_KAFKA_GROUP_PREFIX": s.kafka_group_prefix,
        "VIGIL_TOPIC_TRANSACTIONS": s.topic_transactions,
        "VIGIL_TOPIC_FRAUD_ESCALATIONS": s.topic(Stream.FRAUD_ESCALATIONS),
        "VIGIL_DATA_DIR": str(tmp_path),
    }


@contextlib.contextmanager
def agents_cli(
    s: Settings, env: dict[str, str], *args: str
) -> Iterator[tuple[subprocess.Popen[str], redis.Redis]]:
    """``vigil agents run --agent fraud <args>`` in a process of its own, and a Redis
    client to read its heartbeats; killed if the test ends before it does."""
    from tests.conftest import ROOT

    run = subprocess.Popen(
        [sys.executable, "-m", "vigil", "agents", "run", "--agent", "fraud", *args],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    client = redis.Redis.from_url(s.redis_url or "")
    try:
        yield run, client
    finally:
        if run.poll() is None:
            run.kill()
        client.close()


def drained(run: subprocess.Popen[str]) -> str:
    """SIGTERM (the replicas and workers drain), then everything it printed."""
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=120)
    return out


def test_one_replica_screens_and_its_escalations_run_in_a_worker_of_their_own(
    s: Settings, tmp_path: Any
) -> None:
    with agents_cli(s, cli_env(s, tmp_path), "--timeout", "180") as (run, client):
        wait_for(lambda: {b["part"] for b in heartbeats(s, client)} == {"events", "escalations"},
                 120, "the replica and its escalation worker")  # fmt: skip
        beats = {b["part"]: b for b in heartbeats(s, client)}
        assert beats["events"]["pid"] == run.pid  # screening in the command's own process
        assert beats["escalations"]["pid"] != run.pid
        assert beats["escalations"]["agents"]["fraud"]["escalations"]["topic"] == s.topic(
            Stream.FRAUD_ESCALATIONS
        )
        assert beats["events"]["agents"]["fraud"]["escalations"] is None
        out = drained(run)  # drains both
    assert run.returncode == 0, out
    assert "escalations of fraud: 1 worker processes" in out
    assert "process-escalations-0: fraud escalations done 0" in out


def test_the_cli_runs_replicas_and_reports_their_status(s: Settings, tmp_path: Any) -> None:
    import json

    from tests.conftest import run_vigil

    env = cli_env(s, tmp_path)
    with agents_cli(s, env, "--replicas", "2", "--timeout", "90") as (run, client):
        wait_for(lambda: owners(s, client) == 2, 120, "two replicas of the CLI")
        status = run_vigil("agents", "status", "--agent", "fraud", "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        # two screening replicas and, in a process of its own, the escalation stage
        wait_for(lambda: any(b["part"] == "escalations" for b in heartbeats(s, client)), 120,
                 "the escalation worker's heartbeat")  # fmt: skip
        status = run_vigil("agents", "status", "--agent", "fraud", "--json", env=env)
        report = json.loads(status.stdout)["fraud"]
        parts = {r["replica"]: r["part"] for r in report["replicas"]}
        assert parts == {"process-0": "events", "process-1": "events",
                         "process-escalations-0": "escalations"}  # fmt: skip
        assert len(report["members"]) == 2  # the group of screening
        assert report["escalations"]["backlog"] == 0  # the stage's, from the broker
        assert report["escalations"]["topic"] == s.topic(Stream.FRAUD_ESCALATIONS)
        table = run_vigil("agents", "status", "--agent", "fraud", env=env)
        assert "pending approvals" in table.stdout
        assert f"escalations ({s.topic(Stream.FRAUD_ESCALATIONS)}): backlog 0" in table.stdout
        out = drained(run)
    assert run.returncode == 0, out
    assert "draining the replicas" in out
    assert "process-0: fraud screened" in out
    assert "process-escalations-0: fraud escalations done 0" in out
    assert heartbeats(s, redis.Redis.from_url(s.redis_url or "")) == []  # both left


def test_a_local_ray_listens_on_the_loopback_interface_only(local_ray: None) -> None:
    import psutil
    import ray

    @ray.remote
    def ping() -> int:
        return 1

    assert ray.get(ping.remote()) == 1  # workers up too
    ray_processes = psutil.Process().children(recursive=True)
    listening = [
        (p.name(), c.laddr.ip)
        for p in ray_processes
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 4  # the GCS, the raylet, the workers
    assert {ip for _, ip in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening
    assert os.environ["RAY_AUTH_MODE"] == "token"
