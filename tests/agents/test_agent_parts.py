"""An agent split in its two parts, as ``vigil agents run`` runs them in processes of their
own: its events (screening) and its escalations (the stage, approval answers, deadlines).
Each part here has a worker of its own, as each process would; together they tell the
founding story as the whole agent does."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import pytest

from agents.errors import AgentError
from agents.service import AgentService, Part
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import ApprovalResponse, BlockAction, FraudDecision
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers
from tests.agents.helpers import read_events, seed_knowledge
from tests.agents.test_fraud_e2e import BLOCK, london_paris
from tests.conftest import wait_for
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent as build_agent


def test_the_two_parts_tell_the_founding_story_between_them(
    settings: Settings, redis_client: tuple[Any, str]
) -> None:
    client, prefix = redis_client
    s = settings.model_copy(
        update={"redis_prefix": prefix.rstrip(":"), "checkpoint_prefix": prefix + "cp"}
    )
    model = ScriptedChatModel(script=[BLOCK])
    with EventProducer(s) as producer:

        def part(name: Part, gateway: ModelGateway | None = None) -> Any:
            saver = RedisSaver(client, prefix=prefix + "cp")
            return build_agent("fraud", s, producer, name, client=client, embedder=EMBEDDER,
                               gateway=gateway, checkpointer=saver)  # fmt: skip

        events = part("events")
        scripted = ModelGateway([ModelEntry("scripted", model, structured="json")])
        escalations = part("escalations", scripted)
        topics = {n: {r.topic for r in p.runners} for n, p in [("e", events), ("x", escalations)]}
        # the input (its labels are a side input only with the features on)
        assert topics["e"] == {s.topic(Stream.TRANSACTIONS)}
        answers = s.topic(Stream.APPROVAL_RESPONSES)
        assert topics["x"] == {s.topic(Stream.FRAUD_ESCALATIONS), answers}
        assert (events.graphs, escalations.graphs) == (False, True)
        assert events.stage_runner is None
        assert escalations.input_runner is None
        tools = escalations.worker.ctx.tools
        tools.profiles.apply(seed_customers(20))
        seed_knowledge(tools.retriever, client, s.redis_prefix, kbs={"policies"})
        escalations.sweep_every_s = 0.2
        events.start()
        escalations.start()
        try:
            atm, coffee = london_paris()
            producer.publish([atm, coffee])
            pending = escalations.worker.pending
            wait_for(lambda: len(pending.pending()) == 1, 60, "the stage's approval request")
            decisions = read_events(s, Stream.FRAUD_DECISIONS, 2, FraudDecision)
            assert {d.transaction_id: d.outcome for d in decisions} == {
                atm.transaction_id: "allow", coffee.transaction_id: "escalate"}  # fmt: skip
            # screening's part ran no graph, the stage's screened nothing
            assert (events.worker.metrics.escalated, events.worker.metrics.approved) == (1, 0)
            assert escalations.worker.metrics.screened == 0
            [request] = pending.pending()
            producer.publish([ApprovalResponse(
                approval_id=request.approval_id, interrupt_id=request.interrupt_id,
                proposal_hash=request.proposal_hash, decision="approve", analyst="analyst.ana",
                reason="checked with the customer")])  # fmt: skip
            wait_for(lambda: escalations.worker.metrics.blocked == 1, 60, "the block")
            [block] = read_events(s, Stream.BLOCK_ACTIONS, 1, BlockAction)
            assert block.transaction_id == coffee.transaction_id
            assert len(model.calls) == 1
            assert escalations.escalations()["done"] == 1  # what status and /metrics read
        finally:
            events.stop()
            escalations.stop()


def test_an_agent_without_a_stage_has_no_escalations_part(
    settings: Settings, redis_client: tuple[Any, str]
) -> None:
    client, prefix = redis_client
    s = settings.model_copy(update={"redis_prefix": prefix.rstrip(":")})
    with EventProducer(s) as producer:
        with pytest.raises(AgentError, match="no escalation stage"):
            build_agent("monitoring", s, producer, "escalations", client=client)
        # its graphs run inline on its input: "events" is all of it
        whole = build_agent("maintenance", s, producer, "events", client=client)
        try:
            assert whole.graphs
            assert s.topic(Stream.APPROVAL_RESPONSES) in {r.topic for r in whole.runners}
        finally:
            whole.stop()


def test_the_part_that_screens_is_ready_before_its_consumers_start(
    settings: Settings, redis_client: tuple[Any, str]
) -> None:
    """A risk model is loaded when an agent starts, not by its first batch (which would
    wait for it); by the part that screens only (the escalations part has no use for it)."""
    client, prefix = redis_client
    s = settings.model_copy(update={"redis_prefix": prefix.rstrip(":"), "fraud_features": True})
    readied: list[str] = []
    with EventProducer(s) as producer:
        events = build_agent("fraud", s, producer, "events", client=client, embedder=EMBEDDER)
        worker = events.worker
        assert worker.binding.ready is not None  # the screener's load
        escalations = AgentService.create(worker, producer, "escalations")  # same worker
        try:
            for name, part in (("events", events), ("escalations", escalations)):
                spy = partial(readied.append, name)
                # (the graphs' warm-up, an embedding model's load, is not what is tested)
                worker.binding = dataclasses.replace(worker.binding, ready=spy, warm=None)
                quiet = dataclasses.replace(part, runners=[])  # the start, without consuming
                quiet.start()
                quiet.stop()
        finally:
            events.stop()
            escalations.stop()
    assert readied == ["events"]
