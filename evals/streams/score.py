"""Scoring a replay: every output topic read back and held against the stream's labels.

Every transaction decided exactly once, the decisions against their labels, every
malformed record in its DLQ, blocks applied once and only where approved, alerts and work
orders as the stream expects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from evals.metrics import SuiteSummary
from evals.scorers import accuracy, confusion, precision_recall
from evals.streams.format import GoldenStream
from ingestion.contracts import CONTRACTS, Alert, BlockAction, FraudDecision, WorkOrder
from ingestion.kafka import read_topic
from vigil.settings import Settings, Stream


@dataclass
class StreamResult:
    name: str
    model: str
    figures: dict[str, float]
    confusion: dict[str, dict[str, int]]
    counts: dict[str, int]
    problems: list[str]
    latency_s: float


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
