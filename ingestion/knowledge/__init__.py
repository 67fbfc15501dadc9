"""The knowledge base: documents from Kafka, chunked, embedded, searchable by meaning and words."""

from ingestion.knowledge.types import Chunk, Embedder, Hit, Retriever

__all__ = ["Chunk", "Embedder", "Hit", "Retriever"]
