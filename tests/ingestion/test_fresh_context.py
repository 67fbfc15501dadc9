"""Publish once, react many times: context published to Kafka is queryable within seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestion.contracts import CustomerChange, CustomerProfilePatch, KnowledgeDocument
from ingestion.knowledge.lance import LanceRetriever
from ingestion.producer import EventProducer
from tests.conftest import wait_for
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from tests.tools.test_catalog import run
from tools.context import ToolContext
from vigil.settings import Settings
from vigil.wiring.clients import tool_context
from vigil.wiring.feeds import Ingestion, ingestion


@pytest.fixture
def live(
    settings: Settings, redis_client: tuple[Any, str], tmp_path: Path
) -> Iterator[tuple[Ingestion, ToolContext, EventProducer]]:
    client, prefix = redis_client
    s = settings.model_copy(update={"redis_prefix": prefix.rstrip(":")})
    producer = EventProducer(s)
    store = LanceRetriever(tmp_path / "vectors")
    running = ingestion(s, client=client, embedder=EMBEDDER, retriever=store, producer=producer)
    ctx = tool_context(s, producer, client=client, embedder=EMBEDDER)
    ctx = ToolContext(**{**ctx.__dict__, "retriever": store})
    running.start()
    try:
        yield running, ctx, producer
    finally:
        running.stop()
        producer.close()


def test_a_customer_change_is_visible_through_the_lookup_tool(live: Any) -> None:
    _, ctx, producer = live
    producer.publish(
        [
            CustomerChange(
                customer_id="cust-new", version=1, op="upsert",
                profile=CustomerProfilePatch(name="Ada", home_city="Leeds", segment="mass"),
            )
        ]
    )  # fmt: skip
    wait_for(lambda: ctx.profiles.get("cust-new") is not None, 30, "the profile to land")
    msg = run(ctx, "customer_lookup", {"customer_id": "cust-new"})
    assert "Leeds" in msg.text
    producer.publish(
        [
            CustomerChange(
                customer_id="cust-new", version=2, op="patch",
                profile=CustomerProfilePatch(home_city="York"),
            )
        ]
    )  # fmt: skip
    wait_for(lambda: "York" in run(ctx, "customer_lookup", {"customer_id": "cust-new"}).text,
             30, "the patch to land")  # fmt: skip


def test_a_document_is_retrievable_then_gone_after_its_delete(live: Any) -> None:
    _, ctx, producer = live
    doc = KnowledgeDocument(
        doc_id="faq-pets", version=1, kb="faq", title="Pet insurance",
        body="Our pet insurance covers vet bills for cats and dogs up to 5,000 GBP a year, "
        "with no excess for the first claim.",
    )  # fmt: skip
    producer.publish([doc])

    def found() -> bool:
        msg = run(ctx, "search_knowledge", {"question": "Will you pay my dog's veterinary costs?"})
        return "Pet insurance" in msg.text

    started = time.monotonic()
    wait_for(found, 60, "the document to be searchable")
    assert time.monotonic() - started < 60
    producer.publish([KnowledgeDocument(doc_id="faq-pets", version=2, op="delete")])
    wait_for(lambda: not found(), 30, "the document to disappear")
    assert ctx.retriever.count("faq-pets") == 0
