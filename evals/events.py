"""Event cases: a short sequence of events through a real agent, scored.

Each case builds the agent the way ``vigil agents run`` does (its binding, the shared
worker machinery, the Redis checkpointer), on a Redis prefix of its own, with the tools
recording their calls. The events go through the contract decoder (a malformed one is
dead-lettered with its reason, as the consumer runner does) and the worker's ``handle``
in batches; the analyst answers any proposal as the case says; then the decision, the
trajectory and the outputs are compared with what the case expects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from agents.core import AgentWorker
from agents.maintenance.features import FeatureStore
from evals.cases import EPOCH, EventCase, EventItem, load_customers
from evals.env import EvalEnv
from evals.results import CaseResult
from evals.scorers import Score, excludes, trajectory_match
from evals.trajectory import RecordingPublisher, Trajectory, recording
from evals.workers import agent_worker
from ingestion.contracts import (
    Alert,
    ApprovalResponse,
    Event,
    FraudDecision,
    MaintenanceLog,
    MonitoringSignal,
    SensorReading,
    Transaction,
    WorkOrder,
    decode,
)
from ingestion.errors import ContractError
from ingestion.runner import Received
from ingestion.simulator import Simulator

INPUT: dict[str, type[Event]] = {
    "fraud": Transaction,
    "maintenance": SensorReading,
    "monitoring": MonitoringSignal,
}
#: how severe each decision is: a case's decision is the most severe of its events'
SEVERITY = {
    "allow": 0,
    "none": 0,
    "dlq": 1,
    "hold": 2,
    "work_order": 2,
    "alert": 2,
    "block": 3,
    "stop_asset": 3,
}
PRIORITY = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


@dataclass
class Subject:
    """One escalation: the graph thread it ran under and where it ended."""

    subject: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    """One case's agent, its recorders and what it did."""

    worker: AgentWorker
    trajectory: Trajectory
    publisher: RecordingPublisher
    escalations: list[str] = field(default_factory=list)
    dead_letters: list[tuple[str, str]] = field(default_factory=list)

    def subjects(self) -> list[Subject]:
        out = []
        for subject in dict.fromkeys(self.escalations):
            snap = self.worker.graph.get_state(self.worker.config(subject))
            out.append(Subject(subject, dict(snap.values)))
        return out


def build_world(env: EvalEnv, case: EventCase, gateway: Any) -> World:
    s = env.case_settings(case.id, case.settings)
    env.profiles(s).apply([c.change() for c in load_customers()])
    trajectory = Trajectory()
    publisher = RecordingPublisher(env.publisher)
    tools = recording(env.tools(s, publisher, "fraud_agent"), trajectory)
    escalations: list[str] = []
    worker = agent_worker(env, case.agent, s, publisher, tools, gateway, escalations.append,
                          inline=True)  # fmt: skip
    return World(worker, trajectory, publisher, escalations)


def expand(item: EventItem) -> list[Any]:
    """A case item as events (an asset run is many readings), or a raw value."""
    if item.tx is not None:
        return [item.tx.event()]
    if item.signal is not None:
        return [item.signal.event()]
    if item.log is not None:
        return [item.maintenance_log()]
    if item.raw is not None:
        return [item.raw]
    run = item.asset_run
    assert run is not None
    sim = Simulator(seed=run.seed, customers=1, start=EPOCH)
    logs = sim.maintenance_history() if run.history else []
    readings, _failure = sim.asset_run(hours=run.hours, degrading=run.degrading)
    keep = set(run.assets)
    events: list[Any] = [*logs, *readings]
    return [e for e in events if not keep or e.asset_id in keep]


def feed(world: World, events: Sequence[Any], model: type[Event], batch_size: int) -> None:
    """Through the decoder and the worker, in batches, the way the runners do it."""
    worker = world.worker
    side = {s.model: s for s in worker.binding.side_inputs}
    pending: list[Received[Any]] = []

    def flush() -> None:
        if pending:
            worker.handle(list(pending))
            pending.clear()

    for offset, event in enumerate(events):
        if isinstance(event, MaintenanceLog) and MaintenanceLog in side:
            flush()
            side[MaintenanceLog].handler([_received(event, offset)])
            continue
        if isinstance(event, SensorReading) and model is not SensorReading:
            # what the maintenance agent would have learnt: which assets stand at which site
            FeatureStore(worker.ctx.emitter.client, worker.settings).judge([event])
            continue
        if not isinstance(event, Event):  # raw bytes off the topic
            flush()
            try:
                decoded = decode(model, event.value.encode())
            except ContractError as exc:
                world.dead_letters.append((event.id, str(exc)))
                continue
            event = decoded
        pending.append(_received(event, offset))
        if len(pending) >= batch_size:
            flush()
    flush()


def _received(event: Event, offset: int) -> Received[Any]:
    return Received(event, "eval", 0, offset, event.key.encode(), int(time.time() * 1000))


def answer_approvals(world: World, analyst: str) -> None:
    """The analyst answers every pending proposal of this agent as the case says."""
    worker = world.worker
    for _ in range(10):  # an answer can lead to another proposal; bounded
        requests = worker.pending.pending()
        if not requests:
            return
        for request in requests:
            if analyst == "never":
                worker.sweep(now=request.deadline + timedelta(seconds=1))
                continue
            worker.answer(
                ApprovalResponse(
                    event_id=f"answer-{request.approval_id}",
                    approval_id=request.approval_id,
                    interrupt_id=request.interrupt_id,
                    proposal_hash=request.proposal_hash,
                    decision="approve" if analyst == "approve" else "reject",
                    analyst="eval.analyst",
                    reason="eval case",
                )
            )


def decide(case: EventCase, world: World, subjects: list[Subject]) -> tuple[str, str | None]:
    """(the case's decision, the outcome word of the subject that decided it)."""
    decisions: list[tuple[str, str | None]] = []
    if world.dead_letters:
        decisions.append(("dlq", None))
    if case.agent == "fraud":
        decisions += [
            (str(s.values.get("action", "allow")), s.values.get("outcome")) for s in subjects
        ]
        decisions.append(("allow", None))
    elif case.agent == "maintenance":
        for s in subjects:
            order = s.values.get("order") or {}
            kind = "stop_asset" if order.get("stops_asset") else "work_order"
            decisions.append((kind, s.values.get("outcome")))
        decisions.append(("none", None))
    else:
        alerted = world.publisher.of(Alert)
        outcome = next((s.values.get("outcome") for s in subjects), None)
        decisions.append(("alert" if alerted else "none", outcome))
    return max(decisions, key=lambda d: SEVERITY[d[0]])


def fraud_trajectory(world: World) -> list[str]:
    """Screening's velocity comparisons, then the tools the graph called."""
    compared = [
        "velocity_check"
        for d in world.publisher.of(FraudDecision)
        if d.decided_by == "screening" and "distance_km" in d.signals
    ]
    return [*compared, *world.trajectory.names]


def run_event_case(env: EvalEnv, case: EventCase, model: str) -> CaseResult:
    result = CaseResult("events", case.id, case.category, model)
    world = build_world(env, case, env.gateways[model])
    s = world.worker.settings
    started = time.perf_counter()
    try:
        events = [e for item in case.events for e in expand(item)]
        feed(world, events, INPUT[case.agent], s.runner_batch_size)
        answer_approvals(world, case.analyst)
        result.latency_s = time.perf_counter() - started
        score(case, world, result)
    except Exception as exc:  # noqa: BLE001 - a case that crashes is a failed case, reported
        result.latency_s = time.perf_counter() - started
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        env.clean(s)
    return result


def score(case: EventCase, world: World, result: CaseResult) -> None:
    expect = case.expect
    subjects = world.subjects()
    decision, outcome = decide(case, world, subjects)
    result.decision = (expect.decision, decision)
    result.check(
        "decision",
        Score(
            float(decision == expect.decision), decision == expect.decision, f"decided {decision}"
        ),
    )
    for s in subjects:
        result.add_model_calls(list(s.values.get("model_calls", [])))
    if expect.outcome is not None:
        ok = outcome == expect.outcome
        result.check("outcome", Score(float(ok), ok, f"outcome {outcome!r}"))
    screened = {
        d.transaction_id: d.outcome
        for d in world.publisher.of(FraudDecision)
        if d.decided_by == "screening"
    }
    if expect.screening:
        wrong = {k: screened.get(k) for k, v in expect.screening.items() if screened.get(k) != v}
        result.check(
            "screening", Score(float(not wrong), not wrong, f"got {wrong}" if wrong else "")
        )
    if expect.escalated is not None:
        n = len(dict.fromkeys(world.escalations))
        ok = n == expect.escalated
        result.check("escalated", Score(float(ok), ok, f"{n} escalated"))
    trajectory = fraud_trajectory(world) if case.agent == "fraud" else world.trajectory.names
    result.trajectory = trajectory
    if expect.tools is not None:
        t = expect.tools
        result.check("trajectory", trajectory_match(trajectory, t.calls, t.match, t.forbidden))
    orders = world.publisher.of(WorkOrder)
    if expect.asset is not None:
        assets = sorted({o.asset_id for o in orders})
        ok = assets == [expect.asset]
        result.check("asset", Score(float(ok), ok, f"work orders for {assets}"))
    if expect.priority_at_least is not None:
        least = PRIORITY[expect.priority_at_least]
        got = [o.priority for o in orders]
        ok = bool(got) and all(PRIORITY[p] >= least for p in got)
        result.check("priority", Score(float(ok), ok, f"priorities {got}"))
    alerts = world.publisher.of(Alert)
    if expect.recipients is not None:
        got_r = sorted({a.subject_id if a.audience == "customer" else a.audience for a in alerts})
        ok = got_r == sorted(expect.recipients) and len(alerts) == len(got_r)
        result.check("recipients", Score(float(ok), ok, f"alerted {got_r} ({len(alerts)} alerts)"))
    counts = _count_outputs(world.publisher.events)
    if expect.outputs:
        wrong_n = {k: counts.get(k, 0) for k, v in expect.outputs.items() if counts.get(k, 0) != v}
        ok = not wrong_n
        result.check("outputs", Score(float(ok), ok, f"published {wrong_n}" if wrong_n else ""))
    if expect.dead_letters is not None:
        n_dlq = len(world.dead_letters)
        ok = n_dlq == expect.dead_letters
        result.check("dead_letters", Score(float(ok), ok, f"{n_dlq} dead-lettered"))
    if expect.outputs_exclude:
        text = " ".join(f"{a.title} {a.body}" for a in alerts)
        text += " ".join(f"{o.action} {o.rationale}" for o in orders)
        result.check("answer_excludes", excludes(text, expect.outputs_exclude))
    result.details = {
        "outcome": outcome,
        "screening": screened,
        "escalated": list(dict.fromkeys(world.escalations)),
        "dead_letters": [{"id": i, "reason": r} for i, r in world.dead_letters],
        "outputs": counts,
    }


def _count_outputs(events: Sequence[Event]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[type(e).__name__] = out.get(type(e).__name__, 0) + 1
    return out
