"""Build the agents from settings (the wiring; the logic lives in ``agents/``)."""

from __future__ import annotations

from typing import Any

import redis

from agents.fraud.screening import Screener
from agents.fraud.worker import FraudAgent, FraudWorker
from graphs.checkpointer import make_checkpointer
from graphs.fraud.context import FraudContext
from graphs.fraud.graph import build_graph
from graphs.llm import ModelGateway
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.once import OnceEmitter
from vigil.llm import build_gateway
from vigil.settings import Settings
from vigil.wiring import redis_client, tool_context


def fraud_worker(
    settings: Settings,
    producer: EventProducer,
    *,
    client: redis.Redis | None = None,
    gateway: ModelGateway | None = None,
    embedder: Embedder | None = None,
    checkpointer: Any = None,
) -> FraudWorker:
    r = client or redis_client(settings)
    prefix = settings.redis_prefix
    tools = tool_context(settings, producer, client=r, embedder=embedder)
    context = FraudContext(
        tools=tools,
        gateway=gateway or build_gateway(settings),
        emitter=OnceEmitter(r, producer, prefix=prefix),
        block_min_risk=settings.fraud_block_min_risk,
        approval_timeout_s=settings.approval_timeout_s,
        fail_safe=settings.approval_fail_safe,
    )
    return FraudWorker(
        settings,
        screener=Screener(r, settings),
        graph=build_graph(checkpointer or make_checkpointer(settings)),
        context=context,
        pending=PendingApprovals(r, prefix=prefix),
        ledger=ApprovalLedger(r, prefix=prefix),
        producer=producer,
    )


def fraud_agent(settings: Settings, producer: EventProducer, **kw: Any) -> FraudAgent:
    return FraudAgent.create(fraud_worker(settings, producer, **kw), producer)
