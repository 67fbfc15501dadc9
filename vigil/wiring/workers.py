"""Build the agents from settings (the wiring; the logic lives in ``agents/``).

``AGENTS`` names every agent's binding function; ``agent(name, ...)`` builds its
dependencies inside the calling process (clients and the model are never shipped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from agents.core import AgentDeps, AgentService, AgentWorker, Binding
from agents.fraud import agent as fraud
from agents.maintenance import agent as maintenance
from agents.monitoring import agent as monitoring
from graphs.checkpointer import make_checkpointer
from graphs.llm import ModelGateway
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.once import OnceEmitter
from vigil.errors import VigilError
from vigil.llm import build_gateway
from vigil.settings import Settings
from vigil.wiring import redis_client, tool_context

BindingFactory = Callable[[AgentDeps], Binding[Any]]

AGENTS: dict[str, BindingFactory] = {
    "fraud": fraud.binding,
    "maintenance": maintenance.binding,
    "monitoring": monitoring.binding,
}


def agent_deps(
    settings: Settings,
    producer: EventProducer,
    *,
    client: redis.Redis | None = None,
    gateway: ModelGateway | None = None,
    embedder: Embedder | None = None,
    checkpointer: Any = None,
) -> AgentDeps:
    r = client or redis_client(settings)
    return AgentDeps(
        settings=settings,
        redis=r,
        producer=producer,
        gateway=gateway or build_gateway(settings),
        emitter=OnceEmitter(r, producer, prefix=settings.redis_prefix),
        checkpointer=checkpointer or make_checkpointer(settings),
        tools=tool_context(settings, producer, client=r, embedder=embedder),
    )


def worker(factory: BindingFactory | str, deps: AgentDeps) -> AgentWorker:
    if isinstance(factory, str):
        if factory not in AGENTS:
            raise VigilError(f"no agent {factory!r}; agents: {', '.join(AGENTS)}")
        factory = AGENTS[factory]
    prefix = deps.settings.redis_prefix
    return AgentWorker(
        deps.settings,
        factory(deps),
        pending=PendingApprovals(deps.redis, prefix=prefix),
        ledger=ApprovalLedger(deps.redis, prefix=prefix),
        producer=deps.producer,
    )


def agent(
    factory: BindingFactory | str, settings: Settings, producer: EventProducer, **kw: Any
) -> AgentService:
    return AgentService.create(worker(factory, agent_deps(settings, producer, **kw)), producer)


def fraud_worker(settings: Settings, producer: EventProducer, **kw: Any) -> AgentWorker:
    return worker("fraud", agent_deps(settings, producer, **kw))


def fraud_agent(settings: Settings, producer: EventProducer, **kw: Any) -> AgentService:
    return agent("fraud", settings, producer, **kw)
