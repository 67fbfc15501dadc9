"""The parts of ``vigil bench fraud`` that run the whole fraud agent: its screening
consumer and, in a process of its own as ``vigil agents run`` runs it, its escalation
stage, with a model that takes ``model_s`` a call.

Screening's throughput is measured twice on the same traffic in the same run: with the
escalation threshold out of reach (nothing escalates) and with a share of the events made
to escalate (an amount far above any usual one); then its latency at half the measured
rate while events keep escalating.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis

from agents.service import AgentService
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import Transaction
from ingestion.kafka import ensure_topics
from ingestion.producer import EventProducer
from ingestion.runner import Received
from ingestion.simulator import Simulator
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent as fraud_agent

HOLD = json.dumps({"risk": 0.7, "action": "hold", "rationale": "unusual amount"})
#: an amount no customer's usual one comes near: the amount rule escalates it
SPIKE = Decimal("250000")


def traffic(n: int, customers: int, escalate_every: int = 0) -> list[Transaction]:
    """Simulated payments; every ``escalate_every``-th one (0: none) made to escalate."""
    # 0.02 payments a second over 500 customers: about 3.5 a day each, as people pay (a
    # faster simulated clock squeezes a fortnight into seconds and every card then looks
    # like a burst to the behaviour features)
    sim = Simulator(seed=11, customers=customers, rate=0.02)
    out = []
    for i in range(n):
        t = sim.transaction()
        if escalate_every and i % escalate_every == escalate_every - 1:
            t = t.model_copy(update={"amount": SPIKE, "currency": "GBP"})
        out.append(t)
    return out


def renamed(data: Sequence[Transaction], run: str) -> list[Transaction]:
    """The same payments under transaction and card ids of their own for one run:
    screening keeps each payment's answers by its id (a re-delivery gets the same answer),
    so a second run over the same ids would measure those cached answers, not new
    payments; and a card's history would hold every earlier run's copies of them."""
    return [
        t.model_copy(
            update={"transaction_id": f"{t.transaction_id}-{run}", "card_id": f"{t.card_id}-{run}"}
        )
        for t in data
    ]


def slow_gateway(model_s: float) -> ModelGateway:
    """A model that answers after ``model_s`` (blocking its own call's loop, as a remote
    model's wait would), whatever the order the stage's threads call it in."""

    def answer(_messages: Any) -> str:
        time.sleep(model_s)
        return HOLD

    model = ScriptedChatModel(script=[answer] * 1_000_000, usage=False)
    return ModelGateway([ModelEntry("slow", model, structured="json")], timeout_s=model_s + 30)


@dataclass
class LoadResult:
    events_per_s: float
    escalated: int
    screened: int
    stage_done: int
    #: (a record's broker timestamp, its latency), in seconds
    latencies: list[tuple[float, float]]


def _isolated(s: Settings, tag: str, **update: Any) -> Settings:
    """Screening on an input topic and a group of its own for one run; its escalations go
    to the bench's one stage (``s`` names its topic)."""
    update = {"topic_transactions": f"bench.load.{tag}", "kafka_group_prefix": f"bench.{tag}",
              **update}  # fmt: skip
    s = s.model_copy(update=update)
    ensure_topics(s, [s.topic(Stream.TRANSACTIONS), s.dlq_topic(s.topic(Stream.TRANSACTIONS))])
    return s


def _timed(
    handle: Callable[[Sequence[Received[Any]]], None],
    latencies: list[tuple[float, float]] | None,
) -> Callable[[Sequence[Received[Any]]], None]:
    def timed(batch: Sequence[Received[Any]]) -> None:
        handle(batch)
        if latencies is not None:
            now_ms = time.time() * 1000
            latencies.extend(
                (r.timestamp_ms / 1000, (now_ms - r.timestamp_ms) / 1000) for r in batch
            )

    return timed


def _stage_main(s: Settings, model_s: float, ready: Any, stop: Any, done: Any) -> None:
    """The agent's escalations in a process of their own, as ``vigil agents run`` runs
    them: the graphs' CPU then never holds screening's interpreter lock."""
    client = redis.Redis.from_url(s.redis_url or "")
    with EventProducer.for_agents(s) as producer:
        service = fraud_agent("fraud", s, producer, "escalations", client=client,
                              gateway=slow_gateway(model_s)).start()  # fmt: skip
        stage = service.stage_runner
        assert stage is not None
        while not stop.wait(0.05):
            done.value = stage.metrics.processed
            if stage.assignment():
                ready.set()
        service.stop(timeout=5)
    client.close()


class StageProcess:
    """The fraud agent's escalation stage for the whole bench, in a process of its own
    (started once: a process's start-up, its imports and group join, would otherwise
    cost every run seconds). It works through the escalations of every run in turn, as
    a running agent's stage would; each run counts the graphs it finished meanwhile."""

    def __init__(self, s: Settings, model_s: float, tag: str) -> None:
        self.settings = s.model_copy(
            update={"topic_fraud_escalations": f"bench.load.esc.{tag}",
                    "kafka_group_prefix": f"bench.stage.{tag}"}
        )  # fmt: skip
        topic = self.settings.topic(Stream.FRAUD_ESCALATIONS)
        ensure_topics(self.settings, [topic, self.settings.dlq_topic(topic)])
        ctx = multiprocessing.get_context("spawn")
        self._ready, self._stop, self._done = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
        self._proc = ctx.Process(
            target=_stage_main, args=(self.settings, model_s, self._ready, self._stop, self._done)
        )

    def __enter__(self) -> StageProcess:
        self._proc.start()
        if not self._ready.wait(120):  # before any clock starts
            self.__exit__()
            raise RuntimeError("the escalation stage's process did not join its group in 120 s")
        return self

    @property
    def done(self) -> int:
        return int(self._done.value)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(10)


def _start(
    s: Settings, client: redis.Redis, producer: EventProducer,
    latencies: list[tuple[float, float]] | None = None,
) -> AgentService:  # fmt: skip
    """Screening, the agent's events part, in this process."""
    service = fraud_agent("fraud", s, producer, "events", client=client)
    service.runners[0].handler = _timed(service.worker.handle, latencies)
    return service.start()


def _finish(service: AgentService, stage: StageProcess, n: int, timeout: float) -> LoadResult:
    screening = service.runners[0].metrics
    before = stage.done
    deadline = time.monotonic() + timeout
    while screening.finished < n and time.monotonic() < deadline:
        time.sleep(0.05)
    done = stage.done - before
    service.stop(timeout=5)
    if screening.first_records_at is None or screening.last_commit_at is None:
        raise RuntimeError("screening processed nothing")
    if screening.processed < n:
        raise RuntimeError(f"screening processed {screening.processed} of {n}")
    m = service.worker.metrics
    rate = screening.processed / max(screening.last_commit_at - screening.first_records_at, 1e-9)
    return LoadResult(rate, m.escalated, m.screened, done, [])


def drain_rate(
    stage: StageProcess, client: redis.Redis, data: Sequence[Transaction], *, escalate: bool
) -> LoadResult:
    """The fraud agent (screening and stage) working off ``data`` produced beforehand;
    without ``escalate`` nothing reaches the escalation threshold."""
    tag = uuid.uuid4().hex[:8]
    s = _isolated(stage.settings, tag, **({} if escalate else {"fraud_escalate_min_risk": 1.0}))
    with EventProducer.for_agents(s) as producer:
        for t in renamed(data, tag):
            producer.send(t)
        producer.flush()
        return _finish(_start(s, client, producer), stage, len(data), timeout=600)


def _feed(s: Settings, n: int, rate: float, escalate_every: int, run: str) -> None:
    """Produce at ``rate`` from a process of its own, like a real upstream."""
    feed = renamed(traffic(n, 500, escalate_every), run)
    producer = EventProducer(s)
    producer.partitions_for(s.topic(Stream.TRANSACTIONS))  # its metadata before the clock
    t0 = time.perf_counter()
    for i, t in enumerate(feed):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.send(t)
    producer.flush()
    producer.close()


def paced(
    stage: StageProcess, client: redis.Redis, n: int, rate: float, *, escalate_every: int
) -> LoadResult:
    """The agent joins first; then another process produces at ``rate``. Latency: from a
    record's broker timestamp to its decision (and hand-off) acknowledged."""
    tag = uuid.uuid4().hex[:8]
    s = _isolated(stage.settings, tag)
    latencies: list[tuple[float, float]] = []
    with EventProducer.for_agents(s) as producer:
        service = _start(s, client, producer, latencies)
        deadline = time.monotonic() + 60
        while not service.runners[0].assignment() and time.monotonic() < deadline:
            time.sleep(0.05)
        feeder = multiprocessing.get_context("spawn").Process(
            target=_feed, args=(s, n, rate, escalate_every, tag)
        )
        feeder.start()
        watcher = threading.Thread(target=feeder.join)
        watcher.start()
        result = _finish(service, stage, n, timeout=600)
        watcher.join()
    if feeder.exitcode != 0:
        raise RuntimeError(f"the feeder process failed (exit {feeder.exitcode})")
    result.latencies = latencies
    return result
