"""One conformance suite for every Retriever backend.

LanceDB (embedded) always runs. Weaviate runs against a live server when
VIGIL_WEAVIATE_URL is set (e.g. http://127.0.0.1:8080, gRPC on 50051) and is reported as
skipped otherwise: no Weaviate server can run on the development machines.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestion.contracts import KnowledgeDocument
from ingestion.knowledge.chunking import chunk_document, embed_chunks
from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.lance import LanceRetriever
from ingestion.knowledge.types import Retriever

EMBEDDER = MiniLMEmbedder()

DOCS = {
    "financing": KnowledgeDocument(
        doc_id="offer-financing", version=1, kb="offers", tags=["financing", "loans"],
        title="0% financing on purchases",
        body="Customers with a credit score of 700 or more and at least two years with the bank "
        "can spread purchases over 500 GBP across 12 months at 0% interest. There is no fee.",
    ),
    "fraud": KnowledgeDocument(
        doc_id="policy-card-fraud", version=1, kb="policies", tags=["fraud", "cards"],
        title="Card fraud policy",
        body="When a card is used in two places too far apart for the time between them, the "
        "transaction is held and an analyst must approve any block before it is applied.",
    ),
    "refunds": KnowledgeDocument(
        doc_id="policy-refunds", version=1, kb="policies", tags=["disputes"],
        title="Disputes and refunds",
        body="A disputed card payment is refunded provisionally within five working days while "
        "the merchant is asked for evidence.",
    ),
}  # fmt: skip


def weaviate_url() -> str | None:
    return os.environ.get("VIGIL_WEAVIATE_URL")


@pytest.fixture(params=["lancedb", "weaviate"])
def retriever(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Retriever]:
    if request.param == "lancedb":
        yield LanceRetriever(tmp_path / "vectors")
        return
    url = weaviate_url()
    if not url:
        pytest.skip("VIGIL_WEAVIATE_URL is not set: no Weaviate server to test against")
    from ingestion.knowledge.weaviate_store import WeaviateRetriever, connect

    client = connect(url)
    prefix = f"VigilTest{uuid.uuid4().hex[:8]}"
    try:
        yield WeaviateRetriever(client, prefix=prefix)
    finally:
        for name in client.collections.list_all(simple=True):
            if name.startswith(prefix):
                client.collections.delete(name)
        client.close()


def load(r: Retriever, *names: str) -> None:
    for name in names or tuple(DOCS):
        doc = DOCS[name]
        r.replace_document(doc.doc_id, embed_chunks(chunk_document(doc), EMBEDDER))


def ask(r: Retriever, question: str, **kw: Any) -> list[str]:
    return [h.doc_id for h in r.search(question, EMBEDDER.embed_query(question), **kw)]


def test_a_paraphrased_question_finds_the_document(retriever: Retriever) -> None:
    load(retriever)
    assert ask(retriever, "Can I pay for something in instalments without interest?")[0] == (
        "offer-financing"
    )
    assert ask(retriever, "what happens if my card is used in London and Paris at once")[0] == (
        "policy-card-fraud"
    )


def test_filters_by_knowledge_base_and_tags(retriever: Retriever) -> None:
    load(retriever)
    hits = retriever.search("card", EMBEDDER.embed_query("card"), k=10, kb="policies")
    assert hits
    assert {h.kb for h in hits} == {"policies"}
    tagged = ask(retriever, "money back", k=10, tags=["disputes"])
    assert set(tagged) == {"policy-refunds"}


def test_hits_carry_their_document(retriever: Retriever) -> None:
    load(retriever, "fraud")
    [hit] = retriever.search("fraud", EMBEDDER.embed_query("fraud"), k=1)
    assert (hit.doc_id, hit.version, hit.kb, hit.title) == (
        "policy-card-fraud",
        1,
        "policies",
        "Card fraud policy",
    )
    assert "analyst" in hit.text
    assert set(hit.tags) == {"fraud", "cards"}


def test_replacing_a_document_drops_its_old_chunks(retriever: Retriever) -> None:
    load(retriever, "financing")
    newer = DOCS["financing"].model_copy(
        update={"version": 2, "body": "0% financing now needs a credit score of 750."}
    )
    retriever.replace_document(newer.doc_id, embed_chunks(chunk_document(newer), EMBEDDER))
    hits = retriever.search("financing", EMBEDDER.embed_query("financing"), k=10)
    assert {h.version for h in hits if h.doc_id == "offer-financing"} == {2}
    assert retriever.count("offer-financing") == 1


def test_deleting_a_document(retriever: Retriever) -> None:
    load(retriever)
    before = retriever.count()
    retriever.delete_document("policy-refunds")
    assert retriever.count("policy-refunds") == 0
    assert retriever.count() == before - 1
    assert "policy-refunds" not in ask(retriever, "refund of a disputed payment", k=10)


def test_an_empty_store_answers_nothing(retriever: Retriever) -> None:
    assert retriever.search("anything", EMBEDDER.embed_query("anything")) == []
    assert retriever.count() == 0


def test_the_weaviate_backend_names_a_collection_per_knowledge_base() -> None:
    from ingestion.knowledge.weaviate_store import WeaviateRetriever

    r = WeaviateRetriever(client=None, prefix="Vigil")  # type: ignore[arg-type]
    assert r.collection_name("faq") == "Vigil_faq"
    assert r.collection_name("card-policies v2") == "Vigil_card_policies_v2"


def test_an_embedder_from_settings_reports_its_dimension() -> None:
    from ingestion.knowledge.embeddings import minilm_path

    other = MiniLMEmbedder(minilm_path())  # a configured folder: dimension read from the model
    assert other.dim == 384
    assert len(other.embed_query("hello")) == 384
