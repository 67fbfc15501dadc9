"""Run the context consumers: customer profiles and the knowledge base, fed from Kafka."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis

from ingestion.contracts import CustomerChange, KnowledgeDocument
from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.ingest import KnowledgeIngestor
from ingestion.knowledge.types import Embedder, Retriever
from ingestion.producer import EventProducer
from ingestion.profiles import ProfileIngestor, RedisProfileStore
from ingestion.runner import ConsumerRunner
from ingestion.threads import start_guarded
from vigil.settings import Settings, Stream
from vigil.wiring.clients import redis_client
from vigil.wiring.clients import retriever as make_retriever


@dataclass
class Ingestion:
    """Two consumer-group members in threads; ``stop()`` finishes their batches and commits."""

    profiles: ConsumerRunner[CustomerChange]
    knowledge: ConsumerRunner[KnowledgeDocument]
    threads: list[threading.Thread] = field(default_factory=list)
    #: consumers that died (thread name: why)
    dead: dict[str, str] = field(default_factory=dict)

    def start(self) -> Ingestion:
        for runner in (self.profiles, self.knowledge):
            self.threads.append(start_guarded(runner.run, f"ingest-{runner.topic}", self.dead))
        return self

    def retrying(self) -> dict[str, str]:
        """Consumers re-reading a batch that failed outside the handler (topic: why)."""
        return {r.topic: r.crashed for r in (self.profiles, self.knowledge) if r.crashed}

    def stop(self, timeout: float = 30.0) -> None:
        for runner in (self.profiles, self.knowledge):
            runner.stop()
        for t in self.threads:
            t.join(timeout)
        for runner in (self.profiles, self.knowledge):
            runner.close()


def ingestion(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    embedder: Embedder | None = None,
    retriever: Retriever | None = None,
    producer: EventProducer | None = None,
) -> Ingestion:
    r = client or redis_client(settings)
    emb = embedder or MiniLMEmbedder(settings.embedder_path)
    prod = producer or EventProducer(settings)
    return Ingestion(
        profiles=ConsumerRunner(
            settings,
            topic=settings.topic(Stream.CUSTOMER_CHANGES),
            model=CustomerChange,
            handler=ProfileIngestor(RedisProfileStore(r, prefix=settings.redis_prefix)),
            group=settings.group_id("profiles"),
            producer=prod,
        ),
        knowledge=ConsumerRunner(
            settings,
            topic=settings.topic(Stream.KNOWLEDGE_DOCUMENTS),
            model=KnowledgeDocument,
            handler=KnowledgeIngestor(
                retriever or make_retriever(settings, emb.dim), emb, r, prefix=settings.redis_prefix
            ),
            group=settings.group_id("knowledge"),
            producer=prod,
        ),
    )
