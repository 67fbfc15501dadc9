"""``vigil bench scale``: screening throughput with 1 and 2 replicas, as local worker
processes and as Ray actors, printed as ratios against 1 replica of the same kind.

Each configuration gets its own consumer group, Redis prefix and copy of the same
pre-produced simulated transactions (genuine traffic: screening and one decision per
event, no model). Throughput is measured from the moment every replica owns partitions
(the group is stable) to the last event screened, from the replicas' heartbeats; what
the first replica screened while the second was joining is left out of both sides.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from ingestion.kafka import ensure_topics
from ingestion.producer import EventProducer
from ingestion.profiles import RedisProfileStore
from ingestion.redis_keys import delete_prefixed
from ingestion.simulator import Simulator
from vigil.replicas import ReplicaSet, heartbeats, start_ray
from vigil.settings import Settings, Stream
from vigil.stack import Stack


@dataclass
class Run:
    backend: str
    replicas: int
    events: int
    seconds: float
    during_join: int

    @property
    def rate(self) -> float:
        return (self.events - self.during_join) / self.seconds if self.seconds else 0.0


def _screened(beats: list[dict[str, Any]]) -> int:
    return sum(int(b["agents"]["fraud"]["screened"]) for b in beats)


def _one(base: Settings, backend: str, n: int, events: int, timeout: float) -> Run:
    tag = uuid.uuid4().hex[:6]
    s = base.model_copy(
        update={
            "redis_prefix": f"bench-scale-{tag}",
            "checkpoint_prefix": f"bench-scale-{tag}:cp",
            "kafka_group_prefix": f"bench-scale-{tag}",
        }
    )
    client = redis.Redis.from_url(s.redis_url or "")
    sim = Simulator(seed=5, customers=200)
    RedisProfileStore(client, prefix=s.redis_prefix).apply(sim.profile_upserts())
    replicas = ReplicaSet(s, ["fraud"], backend=backend, ingest=False, beat_s=0.1)
    try:
        replicas.scale(n)
        deadline = time.monotonic() + timeout
        while True:  # the group is stable when every replica owns partitions
            beats = heartbeats(s, client)
            owners = [b for b in beats if b["agents"]["fraud"]["partitions"]]
            if len(owners) == n:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} {backend} replicas did not all join within {timeout} s")
            time.sleep(0.05)
        started, during_join = time.monotonic(), _screened(beats)
        while (done := _screened(heartbeats(s, client))) < events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"screened {done} of {events} within {timeout} s")
            time.sleep(0.05)
        return Run(backend, n, events, time.monotonic() - started, during_join)
    finally:
        replicas.stop()
        delete_prefixed(client, s.redis_prefix)
        client.close()


def run_scale_bench(
    settings: Settings,
    console: Console,
    *,
    events: int,
    ray: bool = True,
    rounds: int = 3,
    partitions: int = 6,
    timeout: float = 600.0,
) -> list[Run]:
    with tempfile.TemporaryDirectory() as tmp:
        topic = f"{settings.topic(Stream.TRANSACTIONS)}.scale"
        stack = Stack(
            settings.model_copy(
                update={
                    "data_dir": Path(tmp),
                    "topic_transactions": topic,
                    "kafka_topic_partitions": {topic: partitions},
                    "kafka_session_timeout_ms": 6000,
                    "kafka_heartbeat_interval_ms": 500,
                }
            )
        )
        with stack as eff:
            ensure_topics(eff)
            sim = Simulator(seed=5, customers=200)
            with EventProducer(eff) as producer:
                for i in range(0, events, 2000):
                    producer.publish([sim.transaction() for _ in range(min(2000, events - i))])
            console.print(f"{events:,} transactions on {partitions} partitions of {topic}")
            runs: list[Run] = []
            kinds = ["process", "ray"] if ray else ["process"]
            if ray:
                start_ray("local")
            for r in range(rounds):  # interleaved, so drift on a noisy machine hits all alike
                for backend in kinds:
                    for n in (1, 2):
                        run = _one(eff, backend, n, events, timeout)
                        console.print(
                            f"round {r + 1}: {backend} x{n}: {run.rate:,.0f} events/s "
                            f"({run.during_join:,} screened while the group formed)"
                        )
                        runs.append(run)
    table = Table("replicas", "kind", "events/s (median)", "ratio to 1 replica", "rounds",
                  title="screening throughput (one decision published per event)")  # fmt: skip
    medians = {
        (b, n): statistics.median(x.rate for x in runs if (x.backend, x.replicas) == (b, n))
        for b, n in dict.fromkeys((x.backend, x.replicas) for x in runs)
    }
    for (backend, n), rate in medians.items():
        one = medians[(backend, 1)]
        per_round = ", ".join(
            f"{x.rate:,.0f}" for x in runs if (x.backend, x.replicas) == (backend, n)
        )
        table.add_row(str(n), backend, f"{rate:,.0f}", f"{rate / one:.2f}" if one else "n/a",
                      per_round)  # fmt: skip
    console.print(table)
    return runs
