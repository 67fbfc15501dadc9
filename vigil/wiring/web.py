"""The HTTP API's clients built from settings (``vigil api`` serves them: runtime/server)."""

from __future__ import annotations

import contextlib
import gc
from typing import Any

import redis
from fastapi import FastAPI

from api import ApiDeps, create_app
from graphs.checkpointer import make_checkpointer
from graphs.llm import ModelGateway
from ingestion.kafka import BrokerProbe
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from vigil.runtime.status import agents_check, agents_status
from vigil.settings import Settings, Stream
from vigil.wiring.clients import async_redis_client, redis_client, tool_context
from vigil.wiring.models import build_gateway, local_model, parse_spec


def api_deps(
    settings: Settings,
    *,
    gateway: ModelGateway | None = None,
    embedder: Embedder | None = None,
    producer: EventProducer | None = None,
) -> ApiDeps:
    r = redis_client(settings)
    ar = async_redis_client(settings)
    own_producer = producer is None
    # A request waits at most 5 s for a broker that is down, and a record it could not
    # deliver in 8 s expires in the producer (never sent later, after the caller was told
    # 503); approvals publish with a 10 s timeout, so the expiry is what they see.
    prod = producer or EventProducer(
        settings, max_block_ms=5000, request_timeout_ms=5000, delivery_timeout_ms=8000
    )
    gw = gateway or build_gateway(settings)
    tools = tool_context(settings, prod, client=r, embedder=embedder, audience="chat")

    broker = BrokerProbe(settings, settings.topic(Stream.APPROVAL_RESPONSES),
                         timeout_s=min(2.0, settings.api_ready_timeout_s))  # fmt: skip

    def redis_() -> str:
        r.ping()
        return f"ping ok ({settings.redis_url and settings.redis_url.split('@')[-1]})"

    def retriever() -> str:
        return f"{tools.retriever.count()} chunks searchable"

    def model() -> str:
        if gateway is None and parse_spec(settings.llm).provider == "local":
            local_model(settings)  # loads once per process; a missing or broken file raises
            return "local model loaded"
        return f"{gw.primary.name} configured (not called)"

    def close() -> None:
        broker.close()
        if own_producer:
            prod.close()
        with contextlib.suppress(Exception):
            r.close()

    return ApiDeps(
        redis=r,
        aredis=ar,
        gateway=gw,
        tools=tools,
        checkpointer=make_checkpointer(settings, client=r, aclient=ar),
        publisher=prod,
        checks={
            "kafka": broker.check,
            "redis": redis_,
            "retriever": retriever,
            "model": model,
            "agents": lambda: agents_check(settings, r),
        },
        close=close,
        operations=lambda: operations(settings, r),
    )


def operations(settings: Settings, client: redis.Redis) -> dict[str, Any]:
    """Every agent's status as ``vigil agents status`` reports it (the admins' page)."""
    from agents.registry import select, spec  # the agents and their graphs: loaded when used

    names = select("all")
    return agents_status(settings, client, names, {n: spec(n).stage for n in names})


def app(settings: Settings, **kw: Any) -> FastAPI:
    return create_app(settings, api_deps(settings, **kw))


def warm(deps: ApiDeps) -> None:
    """Load what the first chat would load (the embedder), then move everything alive into
    the collector's permanent generation: a full collection walks every tracked object,
    and with torch, transformers and LangGraph loaded that took 0.5-0.9 s, a stall of
    every stream of the process (``vigil bench sse``)."""
    deps.tools.embedder.embed_query("warm up")
    gc.collect()
    gc.freeze()
