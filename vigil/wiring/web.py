"""The HTTP API's clients built from settings (``vigil api`` serves them: runtime/server)."""

from __future__ import annotations

import contextlib
import gc
from typing import Any

import redis.asyncio as aredis
from fastapi import FastAPI

from api import ApiDeps, create_app
from graphs.checkpointer import make_checkpointer
from graphs.llm import ModelGateway
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from vigil.settings import Settings, Stream
from vigil.wiring.clients import redis_client, tool_context
from vigil.wiring.models import build_gateway, local_model, parse_spec


def api_deps(
    settings: Settings,
    *,
    gateway: ModelGateway | None = None,
    embedder: Embedder | None = None,
    producer: EventProducer | None = None,
) -> ApiDeps:
    r = redis_client(settings)
    ar = aredis.Redis.from_url(str(settings.redis_url), max_connections=2000)
    own_producer = producer is None
    prod = producer or EventProducer(settings)
    gw = gateway or build_gateway(settings)
    tools = tool_context(settings, prod, client=r, embedder=embedder, audience="chat")

    def kafka() -> str:
        topic = settings.topic(Stream.APPROVAL_RESPONSES)
        return f"{len(prod.partitions_for(topic))} partitions of {topic}"

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
        checks={"kafka": kafka, "redis": redis_, "retriever": retriever, "model": model},
        close=close,
    )


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
