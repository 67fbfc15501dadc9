"""Replay: a golden stream published to fresh topics and run through the real agents.

Profile ingestion and the three agents run as ``vigil agents run`` runs them (consumer
groups, DLQs, commits); an analyst answers each proposal as the transaction's label says;
when every input is screened and every escalation has ended, the outputs are scored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from agents.service import AgentService
from evals.env import EvalEnv
from evals.streams.format import GoldenStream, StreamRecord
from evals.streams.score import StreamResult, score_replay
from evals.workers import agent_worker
from ingestion.contracts import ApprovalResponse, CustomerChange
from ingestion.kafka import drop_topics, ensure_topics
from ingestion.producer import EventProducer
from ingestion.profiles import ProfileIngestor, RedisProfileStore
from ingestion.runner import ConsumerRunner
from ingestion.waiting import wait_until
from tools.approvals import PendingApprovals
from vigil.settings import Settings, Stream


def _replay_settings(env: EvalEnv, tag: str) -> Settings:
    base = env.case_settings(tag)
    topics = {f"topic_{s.name.lower()}": f"{env.settings.topic(s)}.{tag}" for s in Stream}
    return base.model_copy(
        update={**topics, "kafka_group_prefix": f"{env.settings.kafka_group_prefix}.{tag}"}
    )


def replay_stream(
    env: EvalEnv, stream: GoldenStream, model: str, *, timeout: float = 300.0
) -> StreamResult:
    tag = f"{stream.name}-{model.replace(':', '-').replace('/', '-')[:24]}-{int(time.time())}"
    s = _replay_settings(env, tag)
    ensure_topics(s)
    producer = EventProducer(s)
    labels = {
        r.value["transaction_id"]: r.label
        for r in stream.of(Stream.TRANSACTIONS)
        if r.value is not None
    }
    profiles = ConsumerRunner(
        s,
        topic=s.topic(Stream.CUSTOMER_CHANGES),
        model=CustomerChange,
        handler=ProfileIngestor(RedisProfileStore(env.redis, prefix=s.redis_prefix)),
        group=s.group_id("profiles"),
        producer=producer,
    )
    subjects: dict[str, set[str]] = {}
    services = []
    for name in ("fraud", "maintenance", "monitoring"):
        seen = subjects.setdefault(name, set())
        worker = agent_worker(
            env,
            name,
            s,
            producer,
            env.tools(s, producer, "fraud_agent"),
            env.gateways[model],
            seen.add,
        )
        services.append(AgentService.create(worker, producer))
    started = time.perf_counter()
    analyst = _Analyst(s, env, producer, labels)
    threads = [threading.Thread(target=profiles.run, daemon=True)]
    try:
        threads[0].start()
        for service in services:
            service.sweep_every_s = 0.5
            service.start()
        analyst.start()
        # context before the events that read it: two topics have no order between them,
        # and a replay must not depend on which consumer group happens to join first
        maintenance = next(x for x in services if x.name == "maintenance").worker.metrics
        people, readings = stream.of(Stream.CUSTOMER_CHANGES), stream.of(Stream.SENSOR_READINGS)
        _publish(producer, s, people)
        wait_until(
            lambda: profiles.metrics.processed >= len(people), "the profiles", timeout=timeout
        )
        _publish(producer, s, readings)
        wait_until(lambda: maintenance.screened >= len(readings), "the readings", timeout=timeout)
        _publish(producer, s, [r for r in stream.records if r.stream not in CONTEXT])
        _settle(stream, services, subjects, timeout)
        elapsed = time.perf_counter() - started
    finally:
        analyst.stop()
        profiles.stop()
        for service in services:
            service.stop()
        for t in threads:
            t.join(10)
        profiles.close()
    result = score_replay(stream, s, model, elapsed)
    producer.close()
    env.clean(s)
    drop_topics(s, s.all_topics())
    return result


class _Analyst:
    """Answers each pending proposal as its transaction's label says, through the topic."""

    def __init__(
        self, s: Settings, env: EvalEnv, producer: EventProducer, labels: dict[str, Any]
    ) -> None:
        self.pending = PendingApprovals.of(s, env.redis)
        self.producer = producer
        self.labels = labels
        self.answered: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for request in self.pending.pending():
                if request.approval_id in self.answered:
                    continue
                subject = str(request.proposal.get("transaction_id", ""))
                fraud = self.labels.get(subject, {}).get("decision") == "block"
                self.producer.publish(
                    [
                        ApprovalResponse(
                            approval_id=request.approval_id,
                            interrupt_id=request.interrupt_id,
                            proposal_hash=request.proposal_hash,
                            decision="approve" if fraud else "reject",
                            analyst="eval.analyst",
                            reason="the label says fraud" if fraud else "the label says genuine",
                        )
                    ]
                )
                self.answered.add(request.approval_id)


#: streams a replay applies first, in this order (what the agents read as context)
CONTEXT = (Stream.CUSTOMER_CHANGES, Stream.SENSOR_READINGS)


def _publish(producer: EventProducer, s: Settings, records: Sequence[StreamRecord]) -> None:
    for r in records:
        producer.send_raw(s.topic(r.stream), r.payload(), key=r.key.encode() if r.key else None)
    producer.flush()


def _settle(
    stream: GoldenStream,
    services: Sequence[AgentService],
    subjects: dict[str, set[str]],
    timeout: float,
) -> None:
    """Until every input is screened and every escalation has come to an end."""
    inputs = {
        "fraud": sum(1 for r in stream.of(Stream.TRANSACTIONS) if r.raw is None),
        "maintenance": len(stream.of(Stream.SENSOR_READINGS)),
        "monitoring": len(stream.of(Stream.MONITORING_SIGNALS)),
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(
            _settled(service, inputs[service.name], subjects[service.name]) for service in services
        ):
            time.sleep(1.0)  # the last resume's outputs reach the broker
            return
        time.sleep(0.2)
    raise TimeoutError(f"the replay did not settle within {timeout:.0f} s")


def _settled(service: AgentService, inputs: int, subjects: set[str]) -> bool:
    worker = service.worker
    if worker.metrics.screened < inputs or worker.pending.pending():
        return False
    for subject in list(subjects):
        if "outcome" not in worker.graph.get_state(worker.config(subject)).values:
            return False
    return True
