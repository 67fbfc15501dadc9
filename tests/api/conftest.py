"""The API served by uvicorn on 127.0.0.1, on the test's Kafka and Redis, with a scripted model.

``@pytest.mark.script(...)`` sets the model's replies and settings overrides, as in the
agent tests; without it the model answers every turn with ``answer_citing``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from httpx_sse import EventSource, ServerSentEvent
from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from agents.service import AgentService
from api import ApiDeps, create_app
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.knowledge.chunking import chunk_document, embed_chunks
from ingestion.knowledge.types import Chunk
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers, seed_documents
from tests.agents.test_fraud_e2e import BLOCK
from tests.conftest import wait_for
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.runtime.embedded import free_port
from vigil.settings import Settings
from vigil.wiring.web import api_deps
from vigil.wiring.workers import agent as build_agent

KEYS = {
    "john": ("key-john", "customer:cust-john"),
    "mary": ("key-mary", "customer:cust-00001"),
    "analyst": ("key-ana", "analyst:analyst.ana"),
    "admin": ("key-admin", "admin:ops"),
}
SECRET = "test-token-secret-0123456789abcdef0123"


def answer_citing(messages: list[BaseMessage]) -> str:
    """A scripted answer that cites the first passage it was given, by number."""
    system = str(messages[0].content)
    found = re.search(r"^\[(\d+)\] (.+)$", system, re.MULTILINE)
    cite = f" as [{found.group(1)}] {found.group(2)} explains" if found else ""
    return f"Thank you for asking. Here is what applies to you{cite}. Anything else?"


def events_of(source: EventSource) -> Iterator[ServerSentEvent]:
    """The events of a stream. httpx-sse turns a keep-alive comment into an empty event that
    repeats the last id; every event of Vigil's carries data, so those are skipped."""
    for ev in source.iter_sse():
        if ev.data:
            yield ev


class Server:
    """uvicorn in a thread with its own event loop; stopped at the end of the test."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                lifespan="on", timeout_graceful_shutdown=2)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()),
                                       daemon=True)  # fmt: skip

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for(lambda: self.server.started, 20, "uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Api:
    url: str
    settings: Settings
    model: ScriptedChatModel
    deps: ApiDeps
    app: FastAPI

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[who][0]}"}

    def client(self, who: str | None = None, **kw: Any) -> httpx.Client:
        headers = self.auth(who) if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)


def api_settings(settings: Settings, prefix: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_prefix": prefix.rstrip(":"),
        "checkpoint_prefix": prefix + "cp",
        "data_dir": tmp_path,
        "api_keys": dict(KEYS.values()),
        "api_token_secret": SecretStr(SECRET),
        "api_reconnect_grace_s": 2.0,
        "api_approvals_poll_s": 0.2,
        "api_ping_s": 5,
        # these tests script the model and say "hi": whether a question is near enough the
        # corpus to ask the model at all is the graph's (tests/graphs, and one test here)
        "api_chat_min_relevance": 0.0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


def serve_api(
    settings: Settings, client: Any, prefix: str, model: ScriptedChatModel, embedder: Any = None
) -> tuple[FastAPI, ApiDeps]:
    gateway = ModelGateway([ModelEntry("scripted", model, structured="json")], backoff_s=0.01)
    deps = api_deps(settings, gateway=gateway, embedder=embedder or EMBEDDER)
    return create_app(settings, deps), deps


@pytest.fixture(scope="session")
def seed_chunks() -> list[tuple[str, list[Chunk]]]:
    """The seed corpus chunked and embedded once: each test's store takes the vectors."""
    return [(d.doc_id, embed_chunks(chunk_document(d), EMBEDDER)) for d in seed_documents()]


@pytest.fixture
def api(
    seed_chunks: list[tuple[str, list[Chunk]]],
    settings: Settings,
    redis_client: tuple[Any, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Api]:
    client, prefix = redis_client
    marker = request.node.get_closest_marker("script")
    script = list(marker.args) if marker and marker.args else [answer_citing] * 200
    s = api_settings(settings, prefix, tmp_path, **(marker.kwargs if marker else {}))
    model = ScriptedChatModel(script=script)
    app, deps = serve_api(s, client, prefix, model)
    deps.tools.profiles.apply(seed_customers(20))
    for doc_id, chunks in seed_chunks:
        deps.tools.retriever.replace_document(doc_id, chunks)
    with Server(app) as server:
        yield Api(server.url, s, model, deps, app)
    if deps.close:
        deps.close()


@pytest.fixture
def fraud(api: Api) -> Iterator[AgentService]:
    """The fraud agent on the API's Kafka, Redis and knowledge base."""
    s = api.settings
    producer = EventProducer(s)
    gateway = ModelGateway([ModelEntry("scripted", ScriptedChatModel(script=[BLOCK] * 5),
                                       structured="json")], backoff_s=0.01)  # fmt: skip
    agent = build_agent(
        "fraud", s, producer, client=api.deps.redis, gateway=gateway, embedder=EMBEDDER,
        checkpointer=RedisSaver(api.deps.redis, prefix=s.checkpoint_prefix),
    )  # fmt: skip
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
        producer.close()
