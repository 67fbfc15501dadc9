"""The tools as a model uses them, run by LangGraph's ToolNode with a real ToolContext."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from ingestion.contracts import CustomerChange, CustomerProfilePatch, FraudDecision
from ingestion.knowledge.chunking import chunk_document, embed_chunks
from ingestion.producer import EventProducer
from tests.ingestion.test_retrieval_conformance import DOCS, EMBEDDER
from tools.approvals import proposal_hash
from tools.block import block_proposal
from tools.catalog import ALL, CHAT_TOOLS
from tools.context import ToolContext
from vigil.settings import Settings
from vigil.wiring.clients import tool_context

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(settings: Settings, redis_client: tuple[Any, str]) -> Iterator[ToolContext]:
    client, prefix = redis_client
    producer = EventProducer(settings)
    s = settings.model_copy(update={"redis_prefix": prefix.rstrip(":")})
    yield tool_context(s, producer, client=client, embedder=EMBEDDER)
    producer.close()


def run(ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolMessage:
    g = StateGraph(MessagesState, context_schema=ToolContext)
    g.add_node("tools", ToolNode(list(ALL)))
    g.add_edge(START, "tools")
    call = AIMessage("", tool_calls=[{"name": name, "args": args, "id": "call-1"}])
    out = g.compile().invoke({"messages": [call]}, context=ctx)
    msg = out["messages"][-1]
    assert isinstance(msg, ToolMessage)
    return msg


def test_every_tool_is_documented_and_hides_its_runtime() -> None:
    for t in ALL:
        assert len(t.description) > 60, t.name
        assert "runtime" not in t.args, t.name  # the model never sees the plumbing
    assert "block_transaction" not in {t.name for t in CHAT_TOOLS}


def test_velocity_tool_tells_the_founding_story(ctx: ToolContext) -> None:
    base = {"card_id": "card-john-debit", "timestamp": T0.isoformat()}
    first = run(ctx, "velocity_check", {**base, "transaction_id": "tx-1", "channel": "atm",
                                        "lat": 51.5308, "lon": -0.1238})  # fmt: skip
    assert '"comparable": false' in first.text or "'comparable': False" in first.text
    second = run(
        ctx,
        "velocity_check",
        {**base, "transaction_id": "tx-2", "channel": "card_present", "lat": 48.8566,
         "lon": 2.3522, "timestamp": (T0 + timedelta(seconds=40)).isoformat()},
    )  # fmt: skip
    assert "impossible travel" in second.text
    assert "19,328 mph" in second.text


def test_lookup_returns_only_allowed_fields(ctx: ToolContext) -> None:
    ctx.profiles.apply(
        [
            CustomerChange(
                customer_id="cust-john", version=1, op="upsert",
                profile=CustomerProfilePatch(name="John Carter", credit_score=795,
                                             home_city="London", cards=["card-john-debit"]),
            )
        ]
    )  # fmt: skip
    msg = run(ctx, "customer_lookup", {"customer_id": "cust-john"})
    assert "London" in msg.text
    # neither the field nor its value ("795" alone also matched a timestamp's microseconds)
    assert "credit_score" not in msg.text, "the fraud agent does not see the credit score"
    assert not re.search(r"(?<![\d.])795(?![\d])", msg.text), msg.text
    assert "John Carter" not in msg.text
    missing = run(ctx, "customer_lookup", {"customer_id": "cust-nobody"})
    assert missing.status == "error"
    assert "no customer 'cust-nobody'" in missing.text


def test_search_tool_answers_from_the_knowledge_base(ctx: ToolContext) -> None:
    doc = DOCS["financing"]
    ctx.retriever.replace_document(doc.doc_id, embed_chunks(chunk_document(doc), EMBEDDER))
    msg = run(ctx, "search_knowledge", {"question": "Do you offer 0% financing?"})
    assert "0% financing on purchases" in msg.text
    empty = run(ctx, "search_knowledge", {"question": "   "})
    assert empty.status == "error"


def test_block_tool_refuses_without_approval_and_says_what_to_do(ctx: ToolContext) -> None:
    args = {"transaction_id": "tx-2", "card_id": "card-john-debit", "customer_id": "cust-john",
            "reason": "impossible travel", "risk": 0.97}  # fmt: skip
    refused = run(ctx, "block_transaction", args)
    assert refused.status == "error"
    assert "approval" in refused.text
    from ingestion.contracts import ApprovalResponse

    proposal = block_proposal("tx-2", "card-john-debit", "cust-john", "impossible travel", 0.97)
    ctx.blocks.ledger.record(
        ApprovalResponse(approval_id="appr-7", interrupt_id="i-7", decision="approve",
                         proposal_hash=proposal_hash(proposal), analyst="analyst.ana")
    )  # fmt: skip
    done = run(ctx, "block_transaction", {**args, "approval_id": "appr-7"})
    assert done.status != "error"
    assert '"applied_now": true' in done.text or "'applied_now': True" in done.text
    again = run(ctx, "block_transaction", {**args, "approval_id": "appr-7"})
    assert "'applied_now': False" in again.text or '"applied_now": false' in again.text


def test_alert_and_lake_tools(ctx: ToolContext) -> None:
    alert = {
        "alert_id": "fraud-tx-2", "severity": "critical", "audience": "fraud_team",
        "title": "Card blocked", "body": "impossible travel", "subject_id": "cust-john",
    }  # fmt: skip
    msg = run(ctx, "send_alert", alert)
    assert msg.status != "error"
    decision = FraudDecision(
        transaction_id="tx-2", user_id="cust-john", outcome="block",
        card_id="card-john-debit", risk_score=0.97, decided_by="analyst",
    )  # fmt: skip
    rec = run(ctx, "record_decision", {"decision": decision.model_dump(mode="json")})
    assert rec.status != "error"
    assert ctx.lake.decisions().num_rows == 1
