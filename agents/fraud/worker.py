"""The fraud worker: transactions -> screening -> graph; answers -> resume; deadlines -> fail-safe.

Exactly-once, by construction:

* every screened event gets a decision with a stable id (``screen-<tx>``), published
  and acknowledged before the batch's offsets are committed;
* an escalated event's graph runs under thread ``fraud:<tx>`` in the shared
  checkpointer; a re-delivered event finds the thread and continues it (or leaves it
  waiting) instead of starting over;
* every effect of the graph (block, alerts, lake record, final decision) is keyed by
  the transaction id and applied at most once (``tools.once``, the lake's file names);
* a pending approval moves to exactly one answer atomically, and only whoever made
  that move resumes the graph; a re-delivered answer that already made it resumes
  again only if the graph is still waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langgraph.types import Command

from agents.fraud.screening import Screener
from graphs.fraud.context import FraudContext
from ingestion.contracts import ApprovalRequest, ApprovalResponse, Transaction
from ingestion.failpoints import failpoint
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner, Received, Rejection
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.errors import ApprovalMismatchError, ToolError
from vigil.settings import Settings, Stream

log = logging.getLogger(__name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))


@dataclass
class Histogram:
    counts: dict[float, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.n += 1
        self.total += seconds
        for b in BUCKETS:
            if seconds <= b:
                self.counts[b] += 1


@dataclass
class FraudMetrics:
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    screened: int = 0
    escalated: int = 0
    blocked: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    refused_answers: int = 0
    screening_latency: Histogram = field(default_factory=Histogram)
    escalation_latency: Histogram = field(default_factory=Histogram)

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)


class FraudWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        screener: Screener,
        graph: Any,
        context: FraudContext,
        pending: PendingApprovals,
        ledger: ApprovalLedger,
        producer: EventProducer,
    ) -> None:
        self.settings = settings
        self.screener = screener
        self.graph = graph
        self.ctx = context
        self.pending = pending
        self.ledger = ledger
        self.producer = producer
        self.metrics = FraudMetrics()

    # -- transactions -------------------------------------------------------------------------

    def handle_transactions(self, batch: Sequence[Received[Transaction]]) -> None:
        started = time.perf_counter()
        screened = self.screener.screen([r.event for r in batch])
        self.producer.publish([s.decision() for s in screened])
        per_event = (time.perf_counter() - started) / max(1, len(screened))
        with self.metrics.lock:
            for _ in screened:
                self.metrics.screening_latency.observe(per_event)
        self.metrics.add(screened=len(screened))
        for s in screened:
            if s.outcome == "escalate":
                self.metrics.add(escalated=1)
                t0 = time.perf_counter()
                self.escalate(s.tx, s.risk, s.reasons, s.signals)
                with self.metrics.lock:
                    self.metrics.escalation_latency.observe(time.perf_counter() - t0)
        failpoint("before_commit")

    def config(self, transaction_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": f"fraud:{transaction_id}"}}

    def escalate(
        self, tx: Transaction, risk: float, reasons: list[str], signals: dict[str, Any]
    ) -> None:
        config = self.config(tx.transaction_id)
        snap = self.graph.get_state(config)
        if not snap.values:
            start = {
                "transaction": tx.model_dump(mode="json"),
                "screening": {"risk": risk, "reasons": reasons, "signals": signals},
            }
            self.graph.invoke(start, config, context=self.ctx, durability="sync")
        elif snap.next and not snap.interrupts:
            log.info("continuing the interrupted run of %s", tx.transaction_id)
            self.graph.invoke(None, config, context=self.ctx, durability="sync")
        self.record_pending(tx.transaction_id)

    def record_pending(self, transaction_id: str) -> ApprovalRequest | None:
        """If the graph waits for an analyst, make the request durable and publish it."""
        config = self.config(transaction_id)
        snap = self.graph.get_state(config)
        if not snap.interrupts:
            return None
        intr = snap.interrupts[0]
        payload = intr.value
        request = ApprovalRequest(
            event_id=f"request-{payload['approval_id']}",
            approval_id=payload["approval_id"],
            interrupt_id=intr.id,
            thread_id=config["configurable"]["thread_id"],
            kind=payload["kind"],
            subject_id=payload["subject_id"],
            proposal=payload["proposal"],
            proposal_hash=payload["proposal_hash"],
            evidence=payload["evidence"],
            deadline=datetime.fromisoformat(payload["deadline"]),
        )
        self.pending.add(request)
        self.ctx.emitter.emit_once("approval-request", request.approval_id, request)
        return request

    # -- answers ---------------------------------------------------------------------------------

    def handle_responses(self, batch: Sequence[Received[ApprovalResponse]]) -> list[Rejection]:
        rejections = []
        for rec in batch:
            try:
                self.answer(rec.event)
            except (ApprovalMismatchError, ToolError) as exc:
                self.metrics.add(refused_answers=1)
                log.warning("refused approval answer: %s", exc)
                rejections.append(Rejection(rec, str(exc)))
        return rejections

    def answer(self, response: ApprovalResponse) -> str:
        """Apply an analyst's answer: validate, record, claim, resume. Returns the outcome."""
        found = self.pending.get(response.approval_id)
        recorded = self.ledger.get(response.approval_id)
        if found and recorded == response and found[1] == response.decision:
            # our own earlier attempt got this far and died: finish it
            return self.resume(found[0], self._answer_value(response))
        request = self.pending.check(response)
        self.ledger.record(response)
        previous = self.pending.claim(response.approval_id, response.decision, datetime.now(UTC))
        failpoint("after_claim")
        if previous != "pending":
            raise ApprovalMismatchError(
                f"approval {response.approval_id} was already decided ({previous})"
            )
        self.metrics.add(**{"approved" if response.decision == "approve" else "rejected": 1})
        return self.resume(request, self._answer_value(response))

    @staticmethod
    def _answer_value(response: ApprovalResponse) -> dict[str, Any]:
        return {
            "decision": response.decision,
            "approval_id": response.approval_id,
            "analyst": response.analyst,
            "reason": response.reason,
        }

    def resume(self, request: ApprovalRequest, answer: dict[str, Any]) -> str:
        config = {"configurable": {"thread_id": request.thread_id}}
        snap = self.graph.get_state(config)
        if any(i.id == request.interrupt_id for i in snap.interrupts):
            self.graph.invoke(
                Command(resume={request.interrupt_id: answer}),
                config,
                context=self.ctx,
                durability="sync",
            )
            snap = self.graph.get_state(config)
        elif snap.next and not snap.interrupts:
            # answered before, and the run died after the answer: carry it to the end
            self.graph.invoke(None, config, context=self.ctx, durability="sync")
            snap = self.graph.get_state(config)
        outcome = str(snap.values.get("outcome", ""))
        if outcome == "blocked":
            self.metrics.add(blocked=1)
        return outcome

    def sweep(self, now: datetime | None = None) -> list[str]:
        """Pending approvals past their deadline take the configured fail-safe."""
        now = now or datetime.now(UTC)
        done = []
        for approval_id in self.pending.due(now):
            found = self.pending.get(approval_id)
            if found is None:
                continue
            if self.pending.claim(approval_id, "expired", now) != "pending":
                continue
            self.metrics.add(expired=1)
            answer = {"decision": "expired", "approval_id": approval_id}
            done.append(self.resume(found[0], answer))
        return done


@dataclass
class FraudAgent:
    """The worker's consumers and its deadline sweeper, as threads."""

    worker: FraudWorker
    transactions: ConsumerRunner[Transaction]
    approvals: ConsumerRunner[ApprovalResponse]
    sweep_every_s: float = 1.0
    threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, worker: FraudWorker, producer: EventProducer) -> FraudAgent:
        s = worker.settings
        return cls(
            worker,
            ConsumerRunner(
                s,
                topic=s.topic(Stream.TRANSACTIONS),
                model=Transaction,
                handler=worker.handle_transactions,
                group=s.group_id("fraud"),
                producer=producer,
            ),
            ConsumerRunner(
                s,
                topic=s.topic(Stream.APPROVAL_RESPONSES),
                model=ApprovalResponse,
                handler=worker.handle_responses,
                group=s.group_id("fraud-approvals"),
                producer=producer,
            ),
        )

    def _sweeper(self) -> None:
        while not self._stop.wait(self.sweep_every_s):
            try:
                self.worker.sweep()
            except Exception:  # a failed sweep is retried on the next tick
                log.exception("deadline sweep failed; retrying")

    def start(self) -> FraudAgent:
        for target, name in (
            (self.transactions.run, "fraud-transactions"),
            (self.approvals.run, "fraud-approvals"),
            (self._sweeper, "fraud-deadlines"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.transactions.stop()
        self.approvals.stop()
        for t in self.threads:
            t.join(timeout)
        self.transactions.close()
        self.approvals.close()
