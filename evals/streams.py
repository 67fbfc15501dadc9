"""Golden streams: a recorded slice of topics replayed through the real agents, scored.

A stream file (``evals/streams/<name>.jsonl``) has a header line, then one record per
line as it stood on its topic: the stream, the key, and the value (a contract event, or
``raw`` text for a record that was malformed), with an optional ``label``: the decision
the fraud policy expects of a transaction. Replaying publishes every record to fresh
topics of the broker, runs profile ingestion and the three agents as ``vigil agents run``
does (consumer groups, DLQs, commits), lets an analyst answer each proposal as the label
says, reads every output topic back, and scores all of it: every transaction decided
exactly once, the decisions against their labels, every malformed record in its DLQ,
blocks applied once and only where approved, alerts and work orders as expected.

``build_golden`` makes the committed stream from the seeded simulator and its scenarios;
``record_topics`` records a slice of live topics into the same format.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from agents.core import AgentService
from evals.cases import EvalCaseError
from evals.env import EvalEnv
from evals.events import agent_worker
from evals.metrics import SuiteSummary
from evals.scorers import accuracy, confusion, precision_recall
from ingestion.contracts import (
    CONTRACTS,
    Alert,
    ApprovalResponse,
    BlockAction,
    CustomerChange,
    Event,
    FraudDecision,
    MonitoringSignal,
    WorkOrder,
    encode,
)
from ingestion.kafka import drop_topics, ensure_topics, read_topic
from ingestion.producer import EventProducer
from ingestion.profiles import ProfileIngestor, RedisProfileStore
from ingestion.runner import ConsumerRunner
from ingestion.simulator import SCENARIOS, Simulator
from ingestion.waiting import wait_until
from tools.approvals import PendingApprovals
from vigil.settings import Settings, Stream

FORMAT = 1
START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
#: what the agents publish, read back after a replay
OUTPUTS = (Stream.FRAUD_DECISIONS, Stream.BLOCK_ACTIONS, Stream.ALERTS, Stream.WORK_ORDERS)


@dataclass
class StreamRecord:
    stream: Stream
    key: str | None
    value: dict[str, Any] | None = None
    raw: str | None = None
    label: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        out: dict[str, Any] = {"topic": self.stream.value, "key": self.key}
        if self.raw is not None:
            out["raw"] = self.raw
        else:
            out["value"] = self.value
        if self.label:
            out["label"] = self.label
        return json.dumps(out, sort_keys=True)

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        return json.dumps(self.value).encode()


@dataclass
class GoldenStream:
    name: str
    records: list[StreamRecord]
    #: stream-level expectations: {"alerts": {signal id: [recipients]}, "work_orders": [...]}
    expect: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def of(self, stream: Stream) -> list[StreamRecord]:
        return [r for r in self.records if r.stream == stream]


def _streams_dir() -> Path:
    return Path(str(resources.files("evals") / "streams"))


def write_stream(stream: GoldenStream, path: Path) -> None:
    header = {
        "golden_stream": FORMAT,
        "name": stream.name,
        "description": stream.description,
        "expect": stream.expect,
    }
    lines = [json.dumps(header, sort_keys=True), *(r.as_json() for r in stream.records)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_stream(name_or_path: str | Path) -> GoldenStream:
    path = Path(name_or_path)
    if not path.suffix:
        path = _streams_dir() / f"{name_or_path}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
    except (OSError, IndexError, json.JSONDecodeError) as exc:
        raise EvalCaseError(f"{path.name}: not a golden stream: {exc}") from exc
    if header.get("golden_stream") != FORMAT:
        raise EvalCaseError(f"{path.name}: golden_stream format {FORMAT} expected in the header")
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            data = json.loads(line)
            records.append(
                StreamRecord(
                    Stream(data["topic"]),
                    data.get("key"),
                    data.get("value"),
                    data.get("raw"),
                    data.get("label") or {},
                )
            )
        except (KeyError, ValueError) as exc:
            raise EvalCaseError(f"{path.name}:{n}: {exc}") from exc
    return GoldenStream(
        header["name"], records, header.get("expect") or {}, header.get("description", "")
    )


def record_topics(
    settings: Settings, streams: Iterable[Stream], name: str, *, timeout: float = 30.0
) -> GoldenStream:
    """A slice of live topics as a stream file's records (labels are added by hand)."""
    records: list[StreamRecord] = []
    for stream in streams:
        for rec in read_topic(settings, settings.topic(stream), timeout=timeout):
            key = rec.key.decode() if rec.key else None
            try:
                records.append(StreamRecord(stream, key, json.loads(rec.value)))
            except (ValueError, TypeError):
                records.append(StreamRecord(stream, key, raw=rec.value.decode(errors="replace")))
    return GoldenStream(name, records, description=f"recorded {datetime.now(UTC):%Y-%m-%d}")


# -- the committed stream -------------------------------------------------------------------


def _event(stream: Stream, event: Event, label: dict[str, Any] | None = None) -> StreamRecord:
    return StreamRecord(stream, event.key, json.loads(encode(event)), label=label or {})


MALFORMED = (
    ("not JSON", '{"transaction_id": '),
    (
        "a card number in card_id",
        '{"transaction_id": "bad-pan", "user_id": "cust-00003", '
        '"card_id": "4111 1111 1111 1111", "timestamp": "2026-11-03T08:05:00Z", "amount": "9.99", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    (
        "card-present without a place",
        '{"transaction_id": "bad-place", "user_id": "cust-00004", '
        '"card_id": "card-x", "timestamp": "2026-11-03T08:06:00Z", "amount": "12.00", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_present"}',
    ),
    (
        "a negative amount",
        '{"transaction_id": "bad-amount", "user_id": "cust-00005", '
        '"card_id": "card-y", "timestamp": "2026-11-03T08:07:00Z", "amount": "-3", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    (
        "a schema this code cannot read",
        '{"schema_version": 9, "transaction_id": "bad-v9", '
        '"user_id": "cust-00006", "card_id": "card-z", "timestamp": "2026-11-03T08:08:00Z", '
        '"amount": "5.00", "currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    ("a JSON array", "[1, 2, 3]"),
)


def build_golden(seed: int = 11, customers: int = 40, background: int = 300) -> GoldenStream:
    """Seeded traffic with the fraud scenarios mixed in, every transaction labelled by
    what the card fraud policy expects (not by what the code does)."""
    sim = Simulator(seed=seed, customers=customers, start=START, rate=2.0)
    records = [_event(Stream.CUSTOMER_CHANGES, c) for c in sim.profile_upserts()]
    readings, _ = sim.asset_run(hours=1, degrading=None)
    records += [_event(Stream.SENSOR_READINGS, r) for r in readings]
    # the genuine traffic first, then the scenarios, in time order: a scenario spliced into
    # the middle would make the victim's next genuine payment impossible travel
    txs = [
        _event(Stream.TRANSACTIONS, sim.transaction(), {"decision": "allow"})
        for _ in range(background)
    ]
    story = SCENARIOS["london-paris"](sim)
    txs += [
        _event(Stream.TRANSACTIONS, story[0], {"decision": "allow"}),
        _event(Stream.TRANSACTIONS, story[1], {"decision": "block"}),
    ]
    # the policy: the fifth small online payment within 120 s and every one after it
    txs += [
        _event(Stream.TRANSACTIONS, t, {"decision": "block" if i >= 4 else "allow"})
        for i, t in enumerate(SCENARIOS["card-testing"](sim))
    ]
    txs += [
        _event(Stream.TRANSACTIONS, t, {"decision": "hold"}) for t in SCENARIOS["amount-spike"](sim)
    ]
    for i, (why, raw) in enumerate(MALFORMED):
        txs.insert(
            50 + 60 * i, StreamRecord(Stream.TRANSACTIONS, None, raw=raw, label={"dlq": why})
        )
    records += txs
    minor = sim.monitoring_signal().model_copy(update={"severity": "minor"})
    storm, repeat = SCENARIOS["storm"](sim)
    assert isinstance(storm, MonitoringSignal)
    records += [_event(Stream.MONITORING_SIGNALS, s) for s in (minor, storm, repeat)]
    londoners = sorted(p.customer_id for p in sim.customers if p.home.name == "London")
    expect = {"alerts": {storm.signal_id: [*londoners, "operations"]}, "work_orders": []}
    return GoldenStream(
        "golden",
        records,
        expect,
        f"seed {seed}: {customers} customers, {background} background transactions, "
        "london-paris, card testing, an amount spike, malformed records, a repeated storm",
    )


# -- replay -----------------------------------------------------------------------------------


@dataclass
class StreamResult:
    name: str
    model: str
    figures: dict[str, float]
    confusion: dict[str, dict[str, int]]
    counts: dict[str, int]
    problems: list[str]
    latency_s: float


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
        self.pending = PendingApprovals(env.redis, prefix=s.redis_prefix)
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


def _read(s: Settings, stream: Stream) -> list[Any]:
    model = CONTRACTS[stream]
    return [model.model_validate_json(r.value) for r in read_topic(s, s.topic(stream))]


def score_replay(stream: GoldenStream, s: Settings, model: str, elapsed: float) -> StreamResult:
    decisions: list[FraudDecision] = _read(s, Stream.FRAUD_DECISIONS)
    blocks: list[BlockAction] = _read(s, Stream.BLOCK_ACTIONS)
    alerts: list[Alert] = _read(s, Stream.ALERTS)
    orders: list[WorkOrder] = _read(s, Stream.WORK_ORDERS)
    dlq = read_topic(s, s.dlq_topic(s.topic(Stream.TRANSACTIONS)))
    labels = {
        r.value["transaction_id"]: r.label["decision"]
        for r in stream.of(Stream.TRANSACTIONS)
        if r.value is not None and "decision" in r.label
    }
    malformed = [r for r in stream.of(Stream.TRANSACTIONS) if r.raw is not None]
    problems: list[str] = []
    screened = Counter(
        d.transaction_id
        for d in {d.event_id: d for d in decisions}.values()
        if d.decided_by == "screening"
    )
    finals = {d.transaction_id: d for d in decisions if d.event_id.startswith("final-")}
    missing = sorted(set(labels) - set(screened))
    twice = sorted(t for t, n in screened.items() if n > 1)
    if missing:
        problems.append(f"{len(missing)} transactions without a decision, e.g. {missing[:3]}")
    if twice:
        problems.append(f"{len(twice)} transactions decided twice, e.g. {twice[:3]}")
    escalated = {
        d.transaction_id
        for d in decisions
        if d.decided_by == "screening" and d.outcome == "escalate"
    }
    predicted = {}
    for tx in labels:
        final = finals.get(tx)
        if final is None:
            predicted[tx] = "allow" if tx not in escalated else "unsettled"
        else:  # a release is a block proposal the analyst turned down
            predicted[tx] = "block" if final.outcome in ("block", "release") else final.outcome
    pairs = [(labels[t], predicted[t]) for t in sorted(labels)]
    block_pr = precision_recall(pairs, "block")
    flagged = [(w != "allow", t in escalated) for t, w in labels.items()]
    need = [got for want, got in flagged if want]
    distinct_blocks = Counter(b.transaction_id for b in {b.event_id: b for b in blocks}.values())
    approved = {t for t, w in labels.items() if w == "block"} & escalated
    once = not twice and not missing and set(distinct_blocks) == approved
    once = once and all(n == 1 for n in distinct_blocks.values())
    if set(distinct_blocks) != approved:
        problems.append(f"blocked {sorted(distinct_blocks)}, approved {sorted(approved)}")
    dlq_ok = len(dlq) == len(malformed)
    if not dlq_ok:
        problems.append(f"{len(dlq)} records in the DLQ for {len(malformed)} malformed")
    want_alerts: dict[str, list[str]] = stream.expect.get("alerts", {})
    got_alerts: dict[str, set[str]] = {}
    for a in {a.event_id: a for a in alerts if a.source == "monitoring-agent"}.values():
        who = a.subject_id if a.audience == "customer" else a.audience
        got_alerts.setdefault(a.refs.get("signal_id", ""), set()).add(who)
    alerts_ok = {k: sorted(v) for k, v in got_alerts.items()} == {
        k: sorted(v) for k, v in want_alerts.items()
    }
    if not alerts_ok:
        problems.append(f"monitoring alerts {got_alerts}, expected {want_alerts}")
    orders_ok = sorted({o.asset_id for o in orders}) == sorted(stream.expect.get("work_orders", []))
    figures = {
        "decision_accuracy": accuracy(pairs),
        "block_precision": block_pr.precision,
        "block_recall": block_pr.recall,
        "escalation_recall": sum(need) / len(need) if need else 1.0,
        "exactly_once": float(once),
        "dead_lettered": len(dlq) / len(malformed) if malformed else 1.0,
        "alerts": float(alerts_ok),
        "work_orders": float(orders_ok),
        "events_per_s": (len(stream.records) / elapsed) if elapsed else 0.0,
        "latency_s": elapsed,
    }
    counts = {
        "records": len(stream.records),
        "transactions": len(labels),
        "malformed": len(malformed),
        "decisions": len(decisions),
        "escalated": len(escalated),
        "blocks": sum(distinct_blocks.values()),
        "alerts": len(alerts),
        "dlq": len(dlq),
    }
    return StreamResult(stream.name, model, figures, confusion(pairs), counts, problems, elapsed)


def summarize_stream(result: StreamResult) -> SuiteSummary:
    s = SuiteSummary("streams", result.model, result.counts["transactions"])
    s.metrics = dict(result.figures)
    s.metrics["pass_rate"] = float(not result.problems and result.figures["decision_accuracy"] == 1)
    s.confusion = result.confusion
    s.latencies = [result.latency_s]
    return s
