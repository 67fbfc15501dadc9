"""The founding story end to end on real servers (Tansu, Redis), with a scripted model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.service import AgentService
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import (
    Alert,
    ApprovalResponse,
    BlockAction,
    FraudDecision,
    FraudLabel,
    Transaction,
)
from ingestion.dlq import DeadLetter
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers
from ingestion.simulator import SCENARIOS, Simulator
from tests.agents.helpers import read_events, seed_knowledge
from tests.conftest import wait_for
from tests.ingestion.kafkautil import read_all
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream
from vigil.wiring.models import build_gateway
from vigil.wiring.workers import agent as build_agent

BLOCK = json.dumps(
    {"risk": 0.98, "action": "block", "rationale": "Same card in London and Paris 40 s apart.",
     "evidence": ["19,328 mph"]}
)  # fmt: skip


@dataclass
class World:
    settings: Settings
    agent: AgentService
    model: ScriptedChatModel
    producer: EventProducer

    def topic(self, stream: Stream, expect: int, model: Any) -> list[Any]:
        return read_events(self.settings, stream, expect, model)


@pytest.fixture
def world(
    settings: Settings,
    redis_client: tuple[Any, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    client, prefix = redis_client
    marker = request.node.get_closest_marker("script")
    model = ScriptedChatModel(script=list(marker.args) if marker else [BLOCK])
    s = settings.model_copy(
        update={
            "redis_prefix": prefix.rstrip(":"),
            "checkpoint_prefix": prefix + "cp",
            "data_dir": tmp_path,
            **(marker.kwargs if marker else {}),
        }
    )
    producer = EventProducer(s)
    gateway = ModelGateway([ModelEntry("scripted", model, structured="json")], backoff_s=0.01)
    if request.node.get_closest_marker("real_model"):
        gateway = build_gateway(s.model_copy(update={"llm": "local", "llm_max_tokens": 160}))
    agent = build_agent("fraud", s, producer, client=client, gateway=gateway, embedder=EMBEDDER,
        checkpointer=RedisSaver(client, prefix=prefix + "cp"),
    )  # fmt: skip
    tools = agent.worker.ctx.tools
    tools.profiles.apply(seed_customers(20))
    seed_knowledge(tools.retriever, client, s.redis_prefix, kbs={"policies"})
    agent.sweep_every_s = 0.2
    agent.start()
    try:
        yield World(s, agent, model, producer)
    finally:
        agent.stop()
        producer.close()


def london_paris() -> list[Transaction]:
    sim = Simulator(seed=7, customers=20, start=datetime.now(UTC) - timedelta(minutes=5))
    return [e for e in SCENARIOS["london-paris"](sim) if isinstance(e, Transaction)]


def answer(world: World, decision: str, **changes: Any) -> ApprovalResponse:
    [request] = world.agent.worker.pending.pending()
    response = ApprovalResponse(
        approval_id=request.approval_id, interrupt_id=request.interrupt_id,
        proposal_hash=request.proposal_hash, decision=decision, analyst="analyst.ana",
        reason="checked with the customer",
    ).model_copy(update=changes)  # fmt: skip
    world.producer.publish([response])
    return response


def pending_count(world: World) -> int:
    return len(world.agent.worker.pending.pending())


def test_london_paris_waits_for_one_approval_then_blocks_once(world: World) -> None:
    atm, coffee = london_paris()
    world.producer.publish([atm, coffee])
    wait_for(lambda: pending_count(world) == 1, 60, "one pending approval")
    [request] = world.agent.worker.pending.pending()
    assert request.proposal["transaction_id"] == coffee.transaction_id
    assert any("impossible travel" in e for e in request.evidence)
    # the case the analyst reads: both payments, where and when, the speed against the
    # limit, each reason once and the model's words apart, as its note
    case = request.case
    assert case is not None
    before, now = case["payments"]
    assert (before["transaction_id"], now["transaction_id"]) == (
        atm.transaction_id, coffee.transaction_id)  # fmt: skip
    assert (before["lat"], before["lon"]) == (atm.lat, atm.lon)
    assert (now["lat"], now["lon"], now["city"]) == (coffee.lat, coffee.lon, coffee.city)
    # the previous payment in full, from the card's history, which has both, newest first
    assert (before["merchant"], before["city"], before["amount"]) == (
        atm.merchant, atm.city, str(atm.amount))  # fmt: skip
    assert [p["transaction_id"] for p in case["recent"]] == [
        coffee.transaction_id, atm.transaction_id]  # fmt: skip
    assert case["travel"]["speed_kmh"] > case["travel"]["limit_kmh"]
    assert case["model_note"] == "Same card in London and Paris 40 s apart."
    assert len(request.evidence) == len(set(request.evidence))
    assert not any("London and Paris 40 s" in e for e in request.evidence)
    # every screened event has its decision; only the second one escalated
    screened = world.topic(Stream.FRAUD_DECISIONS, 2, FraudDecision)
    assert {d.transaction_id: d.outcome for d in screened} == {
        atm.transaction_id: "allow",
        coffee.transaction_id: "escalate",
    }
    answer(world, "approve")
    wait_for(lambda: world.agent.worker.metrics.blocked == 1, 60, "the block")
    [block] = world.topic(Stream.BLOCK_ACTIONS, 1, BlockAction)
    assert (block.transaction_id, block.authority, block.approved_by) == (
        coffee.transaction_id, "analyst", "analyst.ana",
    )  # fmt: skip
    alerts = world.topic(Stream.ALERTS, 2, Alert)
    assert sorted(a.audience for a in alerts) == ["customer_service", "fraud_team"]
    lake = world.agent.worker.ctx.tools.lake.decisions().to_pylist()
    assert [(r["transaction_id"], r["outcome"]) for r in lake] == [(coffee.transaction_id, "block")]
    assert pending_count(world) == 0
    assert len(world.model.calls) == 1  # one assessment, for the one escalated event
    # the model's words are its note, never a reason; the analyst's answer is a label
    final = [d for d in world.topic(Stream.FRAUD_DECISIONS, 3, FraudDecision)
             if d.decided_by == "analyst"]  # fmt: skip
    assert [d.model_note for d in final] == ["Same card in London and Paris 40 s apart."]
    assert not any("London and Paris 40 s" in r for r in final[0].reasons), final[0].reasons
    [label] = world.topic(Stream.FRAUD_LABELS, 1, FraudLabel)
    assert (label.transaction_id, label.label, label.source) == (
        coffee.transaction_id, "fraud", "analyst",
    )  # fmt: skip


def test_a_rejected_proposal_blocks_nothing_and_records_a_false_positive(world: World) -> None:
    world.producer.publish(london_paris())
    wait_for(lambda: pending_count(world) == 1, 60, "one pending approval")
    answer(world, "reject")
    wait_for(lambda: world.agent.worker.metrics.rejected == 1, 60, "the rejection")
    wait_for(lambda: world.agent.worker.ctx.tools.lake.decisions().num_rows == 1, 30, "the record")
    [row] = world.agent.worker.ctx.tools.lake.decisions().to_pylist()
    assert row["outcome"] == "release"
    assert any("false positive" in r for r in row["reasons"])
    [label] = world.topic(Stream.FRAUD_LABELS, 1, FraudLabel)
    assert (label.label, label.source) == ("genuine", "analyst")
    assert world.topic(Stream.BLOCK_ACTIONS, 0, BlockAction) == []
    assert world.topic(Stream.ALERTS, 0, Alert) == []


@pytest.mark.script  # no reply scripted: a model call would fail the test
def test_a_clear_transaction_is_allowed_without_the_model(world: World) -> None:
    clear = Transaction(
        transaction_id="tx-coffee", user_id="cust-john", card_id="card-john-debit",
        timestamp=datetime.now(UTC), amount="4.50", currency="GBP", merchant="Bean There",
        merchant_category="coffee", channel="card_present", lat=51.51, lon=-0.13, city="London",
    )  # fmt: skip
    world.producer.publish([clear])
    [decision] = world.topic(Stream.FRAUD_DECISIONS, 1, FraudDecision)
    assert (decision.outcome, decision.decided_by) == ("allow", "screening")
    assert world.model.calls == []


def test_mismatched_and_replayed_answers_are_refused(world: World) -> None:
    world.producer.publish(london_paris())
    wait_for(lambda: pending_count(world) == 1, 60, "one pending approval")
    [request] = world.agent.worker.pending.pending()
    good = ApprovalResponse(
        approval_id=request.approval_id, interrupt_id=request.interrupt_id,
        proposal_hash=request.proposal_hash, decision="approve", analyst="analyst.ana",
    )  # fmt: skip
    worker = world.agent.worker
    from tools.errors import ApprovalMismatchError

    with pytest.raises(ApprovalMismatchError, match="stale approval"):
        worker.answer(good.model_copy(update={"interrupt_id": "an-old-interrupt"}))
    with pytest.raises(ApprovalMismatchError, match="names proposal"):
        worker.answer(good.model_copy(update={"proposal_hash": "sha256:something-else"}))
    assert pending_count(world) == 1, "refused answers change nothing"
    assert worker.answer(good) == "blocked"
    with pytest.raises(ApprovalMismatchError, match="already decided"):
        worker.answer(good.model_copy(update={"decision": "reject", "analyst": "someone.else"}))
    # a refused answer arriving on the topic goes to the DLQ with the reason
    world.producer.publish([good.model_copy(update={"interrupt_id": "an-old-interrupt"})])
    dlq = world.settings.dlq_topic(world.settings.topic(Stream.APPROVAL_RESPONSES))
    [letter] = [
        DeadLetter.from_record(r) for r in read_all(world.settings.kafka_bootstrap or "", dlq, 1)
    ]
    assert letter.kind == "processing"
    assert "stale approval" in letter.reason


@pytest.mark.script(BLOCK, approval_timeout_s=1.0)
def test_an_expired_approval_takes_the_fail_safe(world: World) -> None:
    world.producer.publish(london_paris())
    wait_for(lambda: world.agent.worker.metrics.expired == 1, 60, "the deadline to pass")
    wait_for(lambda: world.agent.worker.ctx.tools.lake.decisions().num_rows == 1, 30, "the record")
    [row] = world.agent.worker.ctx.tools.lake.decisions().to_pylist()
    assert (row["outcome"], row["decided_by"]) == ("hold", "fail_safe")
    [alert] = world.topic(Stream.ALERTS, 1, Alert)
    assert alert.audience == "operations"
    assert world.topic(Stream.BLOCK_ACTIONS, 0, BlockAction) == []


@pytest.mark.script("this is not JSON", "still not JSON")
def test_a_failing_model_leaves_the_decision_to_policy(world: World) -> None:
    world.producer.publish(london_paris())
    wait_for(lambda: pending_count(world) == 1, 60, "one pending approval")
    [request] = world.agent.worker.pending.pending()
    assert any("no model assessment" in e for e in request.evidence), request.evidence
    assert request.case is not None
    assert request.case["model_note"] is None


@pytest.mark.real_model
def test_the_same_story_with_the_local_model(world: World) -> None:
    """SmolLM2 assesses for real: its words are not checked, only the form of the outcome."""
    world.producer.publish(london_paris())
    wait_for(lambda: pending_count(world) == 1, 120, "one pending approval")
    [request] = world.agent.worker.pending.pending()
    assert request.proposal["action"] == "block_transaction"
    assert request.evidence
    answer(world, "approve")
    wait_for(lambda: world.agent.worker.metrics.blocked == 1, 120, "the block")
    [row] = world.agent.worker.ctx.tools.lake.decisions().to_pylist()
    assert row["outcome"] == "block"
    calls = json.loads(row["model_calls"])
    assert calls
    assert calls[0]["model"] == "local"
