"""Agents built from settings: their clients made in the calling process (clients and the
model are never shipped), then assembled by the registry (``agents/registry.py``)."""

from __future__ import annotations

from typing import Any

import redis

from agents.core import AgentWorker
from agents.registry import AgentSpec, build_worker
from agents.service import AgentService, Part
from graphs.checkpointer import make_checkpointer
from graphs.llm import ModelGateway
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from vigil.settings import Settings
from vigil.wiring.clients import redis_client, tool_context
from vigil.wiring.models import build_gateway


def worker(
    agent: str | AgentSpec,
    settings: Settings,
    producer: EventProducer,
    *,
    client: redis.Redis | None = None,
    gateway: ModelGateway | None = None,
    embedder: Embedder | None = None,
    checkpointer: Any = None,
) -> AgentWorker:
    """The agent's worker on the configured servers (or the clients given)."""
    r = client or redis_client(settings)
    return build_worker(
        settings,
        agent,
        redis=r,
        producer=producer,
        gateway=gateway or build_gateway(settings),
        checkpointer=checkpointer or make_checkpointer(settings),
        tools=tool_context(settings, producer, client=r, embedder=embedder),
    )


def agent(
    agent: str | AgentSpec, settings: Settings, producer: EventProducer, part: Part = "all",
    **kw: Any,
) -> AgentService:  # fmt: skip
    """The agent's worker with the consumers of ``part`` (``agents.service.Part``)."""
    return AgentService.create(worker(agent, settings, producer, **kw), producer, part)
