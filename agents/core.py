"""One way to run an agent: a declared binding, and the machinery every agent shares.

An agent is a :class:`Binding`: the stream it watches and its contract, a deterministic
``screen`` over each batch (cheap, no model) that says what to publish for every event and
which events escalate, the compiled graph an escalation runs under its own thread, the
graph's runtime context, and any side inputs (context streams the agent keeps in Redis).
:class:`AgentWorker` and ``agents.service.AgentService`` do the rest for every agent alike:

* consumer runners with the DLQ and commit-after-durable (``ingestion.runner``);
* screening outputs published and acknowledged before the batch's offsets are committed;
* an escalation runs under thread ``<agent>:<subject>`` in the shared checkpointer; a
  re-delivered event finds the thread and continues it (or leaves it waiting) instead of
  starting over, so the graph's effects, keyed by subject, happen once;
* a graph that pauses at ``interrupt()`` becomes a durable approval request; answers
  arrive on ``approvals.responses`` (checked against the interrupt and the proposal hash,
  claimed atomically, applied once) and past-deadline requests take the graph's fail-safe;
* metrics per agent: events screened, escalated, outcomes, answers; latency histograms.

Adding an agent is writing a ``binding(deps)`` function and naming it in
``agents/registry.py`` (see the README's recipe).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from redis import Redis

from agents.metrics import AgentMetrics
from agents.stage import Stage, StageRunner
from graphs.approval import ApprovalAnswer, ApprovalAsk
from graphs.llm import ModelGateway
from graphs.protocols import C, S
from ingestion import tracing
from ingestion.contracts import ApprovalRequest, ApprovalResponse, E, Event
from ingestion.failpoints import failpoint
from ingestion.producer import EventProducer
from ingestion.runner import Received, Rejection
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.context import ToolContext
from tools.errors import ApprovalMismatchError, ToolError
from tools.once import OnceEmitter
from vigil.settings import Settings, Stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Escalation(Generic[S]):
    """An event the screen hands to the graph: its thread and the graph's input."""

    subject: str
    start: S


@dataclass
class Screening(Generic[S]):
    """What a screen says about a batch, or about a part of one: events to publish
    (acknowledged before the commit) and the escalations, in order."""

    publish: list[Event] = field(default_factory=list)
    escalate: list[Escalation[S]] = field(default_factory=list)
    #: (rule, why) -> events of the batch a rule could not be applied to
    not_applied: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class SideInput(Generic[E]):
    """A context stream the agent keeps (e.g. maintenance history): applied before commit."""

    stream: Stream
    model: type[E]
    #: may hand back the events it can never apply (they go to the stream's DLQ)
    handler: Callable[[Sequence[Received[E]]], Iterable[Rejection] | None]


@dataclass(frozen=True)
class Binding(Generic[E, S, C]):
    """Everything that makes one agent what it is: events of type ``E`` escalate to a graph
    whose state is ``S``, run with context ``C``."""

    name: str
    input: Stream
    model: type[E]
    #: a batch's screening, whole or part by part (each part's events are sent as it
    #: comes, all acknowledged before the commit)
    screen: Callable[[Sequence[E]], Screening[S] | Iterable[Screening[S]]]
    graph: CompiledStateGraph[S, C, Any, Any]
    context: C
    #: approval ids this agent issues start with this (how answers find their agent)
    approval_prefix: str | None = None
    #: this agent dead-letters answers to approvals no agent knows (one agent should)
    claims_unknown_approvals: bool = False
    side_inputs: tuple[SideInput[Any], ...] = ()
    #: the streams its graph writes to, for documentation and topic creation
    outputs: tuple[Stream, ...] = ()
    #: where escalations wait for the graph; None runs them inside the screening batch
    stage: Stage[S] | None = None
    #: loads what the graph needs (an embedding model) before the consumers start, so
    #: the first escalation does not take the CPU from screening mid-stream
    warm: Callable[[], object] | None = None
    #: loads what screening needs (a promoted risk model) before the consumers start,
    #: in every process that screens (``warm`` is for the graphs)
    ready: Callable[[], object] | None = None


@dataclass(frozen=True)
class AgentDeps:
    """What a binding is built from: created inside the process that runs the agent."""

    settings: Settings
    redis: Redis
    producer: EventProducer
    gateway: ModelGateway
    emitter: OnceEmitter
    checkpointer: BaseCheckpointSaver[Any]
    tools: ToolContext


class AgentWorker(Generic[S, C]):
    def __init__(
        self,
        settings: Settings,
        binding: Binding[Any, S, C],
        *,
        pending: PendingApprovals,
        ledger: ApprovalLedger,
        producer: EventProducer,
        known_prefixes: frozenset[str] = frozenset(),
    ) -> None:
        """``known_prefixes``: the approval-id prefixes of every agent (the registry's), so
        that an agent claiming unknown ids never takes another agent's."""
        self.settings = settings
        self.binding = binding
        self.graph = binding.graph
        self.ctx = binding.context
        self.pending = pending
        self.ledger = ledger
        self.producer = producer
        self.known_prefixes = known_prefixes
        self.metrics = AgentMetrics()
        stage = binding.stage
        self.stage = (
            None
            if stage is None
            else StageRunner(
                stage, self._escalate_timed, settings.escalation_concurrency, binding.name
            )
        )

    @property
    def name(self) -> str:
        return self.binding.name

    # -- the input stream ------------------------------------------------------------------

    def handle(self, batch: Sequence[Received[Any]]) -> None:
        """Screen a batch; its decisions (and, with a stage, its escalations' records) are
        acknowledged before the runner commits. Without a stage the graphs run here."""
        with tracing.span(f"vigil.screen {self.name}", **{
            "vigil.agent": self.name, "messaging.batch.message_count": len(batch)}):  # fmt: skip
            self._screen(batch)

    def _screen(self, batch: Sequence[Received[Any]]) -> None:
        started = time.perf_counter()
        screened = self.binding.screen([r.event for r in batch])
        stage = self.binding.stage
        sent: list[Any] = []  # each part's records go out as it comes (Redis computes on)
        escalate: list[Escalation[S]] = []
        not_applied: Counter[tuple[str, str]] = Counter()
        try:
            for part in [screened] if isinstance(screened, Screening) else screened:
                sent += [self.producer.send(e) for e in part.publish]
                if stage is not None:  # each record to its stream's topic
                    sent += [self.producer.send(stage.record(e)) for e in part.escalate]
                escalate += part.escalate
                not_applied.update(part.not_applied)
        finally:  # a part failed, or sending did: the parts' Redis connection goes now
            close = getattr(screened, "close", None)
            if close is not None:
                close()
        if sent:
            self.producer.wait(sent)
        took = time.perf_counter() - started
        with self.metrics.lock:
            self.metrics.screening_latency.observe(took / max(1, len(batch)), len(batch))
            self.metrics.batch_latency.observe(took)
            self.metrics.not_applied.update(not_applied)
        self.metrics.add(screened=len(batch), escalated=len(escalate))
        if stage is None:
            for esc in escalate:
                self._escalate_timed(esc)
        failpoint("before_commit")

    def handle_escalations(self, batch: Sequence[Received[Any]]) -> None:
        """The stage's handler: the batch's graphs, a bounded number at once."""
        if self.stage is None:
            raise RuntimeError(f"agent {self.name} has no escalation stage")
        self.stage.handle(batch)

    def _escalate_timed(self, esc: Escalation[S]) -> str | None:
        t0 = time.perf_counter()
        try:
            return self.escalate(esc)
        finally:
            with self.metrics.lock:
                self.metrics.escalation_latency.observe(time.perf_counter() - t0)

    def config(self, subject: str) -> RunnableConfig:
        """A run's config: its thread, and the name, tags and metadata LangSmith labels its
        trace with (when LANGSMITH_TRACING is set, LangChain sends the runs there)."""
        thread = f"{self.name}:{subject}"
        return {"configurable": {"thread_id": thread}, "run_name": f"vigil.{self.name}",
                "tags": ["vigil", f"agent:{self.name}"],
                "metadata": {"vigil_agent": self.name, "vigil_subject": subject}}  # fmt: skip

    def escalate(self, esc: Escalation[S]) -> str | None:
        """Run (or continue) the subject's graph; returns its outcome once it has one."""
        config = self.config(esc.subject)
        with tracing.span(f"vigil.graph {self.name}", **{
            "vigil.agent": self.name, "vigil.subject": esc.subject,
            "vigil.thread_id": config["configurable"]["thread_id"]}) as span:  # fmt: skip
            outcome = self._run(esc, config)
            if span is not None:
                span.set_attribute("vigil.outcome", outcome or "waiting")
            return outcome

    def _run(self, esc: Escalation[S], config: RunnableConfig) -> str | None:
        snap = self.graph.get_state(config)
        if not snap.values:
            self.graph.invoke(esc.start, config, context=self.ctx, durability="sync")
            return self._settled(config)
        if snap.next and not snap.interrupts:
            log.info("%s: continuing the interrupted run of %s", self.name, esc.subject)
            self.graph.invoke(None, config, context=self.ctx, durability="sync")
            return self._settled(config)
        self.record_pending(config)  # waiting (maybe our request died before it was recorded)
        return None

    def _settled(self, config: RunnableConfig) -> str | None:
        snap = self.graph.get_state(config)
        if snap.interrupts:
            self.record_pending(config)
            return None
        outcome = snap.values.get("outcome")
        if outcome:
            self.metrics.outcome(str(outcome))
        return None if outcome is None else str(outcome)

    def record_pending(self, config: RunnableConfig) -> ApprovalRequest | None:
        """If the graph waits for a person, make the request durable and publish it."""
        snap = self.graph.get_state(config)
        if not snap.interrupts:
            return None
        intr = snap.interrupts[0]
        payload: ApprovalAsk = intr.value
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
            case=payload.get("case"),
        )
        self.pending.add(request)
        self.ctx.emitter.emit_once("approval-request", request.approval_id, request)
        return request

    # -- answers -----------------------------------------------------------------------------

    def owns(self, approval_id: str) -> bool:
        """Is this answer for this agent? By the pending request's thread, else by id."""
        found = self.pending.get(approval_id)
        if found is not None:
            return found[0].thread_id.startswith(f"{self.name}:")
        prefix = self.binding.approval_prefix
        if prefix is not None and approval_id.startswith(prefix):
            return True
        # an id no agent issues: dead-lettered by the one agent that claims unknown ids
        return self.binding.claims_unknown_approvals and not any(
            approval_id.startswith(p) for p in self.known_prefixes
        )

    def handle_responses(self, batch: Sequence[Received[ApprovalResponse]]) -> list[Rejection]:
        rejections = []
        for rec in batch:
            if not self.owns(rec.event.approval_id):
                continue  # another agent's approval: its own consumer group answers it
            try:
                self.answer(rec.event)
            except (ApprovalMismatchError, ToolError) as exc:
                self.metrics.add(refused_answers=1)
                log.warning("%s: refused approval answer: %s", self.name, exc)
                rejections.append(Rejection(rec, str(exc)))
        return rejections

    def answer(self, response: ApprovalResponse) -> str:
        """Apply a person's answer: validate, record, claim, resume. Returns the outcome."""
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
    def _answer_value(response: ApprovalResponse) -> ApprovalAnswer:
        return {
            "decision": response.decision,
            "approval_id": response.approval_id,
            "analyst": response.analyst,
            "reason": response.reason,
        }

    def resume(self, request: ApprovalRequest, answer: ApprovalAnswer) -> str:
        with tracing.span(f"vigil.graph {self.name}", **{
            "vigil.agent": self.name, "vigil.thread_id": request.thread_id,
            "vigil.approval_id": request.approval_id,
            "vigil.decision": answer["decision"]}):  # fmt: skip
            return self._resume(request, answer)

    def _resume(self, request: ApprovalRequest, answer: ApprovalAnswer) -> str:
        config: RunnableConfig = {**self.config(request.thread_id.partition(":")[2]),
                                  "configurable": {"thread_id": request.thread_id}}  # fmt: skip
        snap = self.graph.get_state(config)
        if any(i.id == request.interrupt_id for i in snap.interrupts):
            self.graph.invoke(
                Command(resume={request.interrupt_id: answer}),
                config,
                context=self.ctx,
                durability="sync",
            )
        elif snap.next and not snap.interrupts:
            # answered before, and the run died after the answer: carry it to the end
            self.graph.invoke(None, config, context=self.ctx, durability="sync")
        else:
            return str(snap.values.get("outcome", ""))
        return self._settled(config) or ""

    def sweep(self, now: datetime | None = None) -> list[str]:
        """Pending approvals of this agent past their deadline take the graph's fail-safe."""
        now = now or datetime.now(UTC)
        done = []
        for approval_id in self.pending.due(now):
            found = self.pending.get(approval_id)
            if found is None or not found[0].thread_id.startswith(f"{self.name}:"):
                continue
            if self.pending.claim(approval_id, "expired", now) != "pending":
                continue
            self.metrics.add(expired=1)
            answer: ApprovalAnswer = {"decision": "expired", "approval_id": approval_id}
            done.append(self.resume(found[0], answer))
        return done
