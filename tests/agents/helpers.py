"""What the agent tests set up alike: the knowledge base, and reading an output topic."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import redis

from ingestion.knowledge.ingest import KnowledgeIngestor
from ingestion.knowledge.types import Retriever
from ingestion.seed import seed_documents
from tests.ingestion.kafkautil import read_all
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream


def seed_knowledge(
    retriever: Retriever, client: redis.Redis, prefix: str, kbs: Collection[str] | None = None
) -> None:
    """The seed corpus (or these knowledge bases of it), indexed the way ingestion does."""
    ingestor = KnowledgeIngestor(retriever, EMBEDDER, client, prefix=prefix)
    for doc in seed_documents():
        if kbs is None or doc.kb in kbs:
            ingestor.apply(doc)


def read_events(
    settings: Settings, stream: Stream, expect: int, model: Any, timeout: float = 20.0
) -> list[Any]:
    """The stream's events from the beginning, once ``expect`` are there (or at timeout)."""
    records = read_all(settings.kafka_bootstrap or "", settings.topic(stream), expect, timeout)
    return [model.model_validate_json(r.value) for r in records]
