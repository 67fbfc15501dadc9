"""Documents into chunks: paragraph-aware splits with overlap, titled for context."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingestion.contracts import KnowledgeDocument
from ingestion.knowledge.types import Chunk, Embedder


def chunk_document(doc: KnowledgeDocument, *, size: int = 800, overlap: int = 120) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    parts = splitter.split_text(doc.body) or [doc.body]
    return [
        Chunk(
            chunk_id=f"{doc.doc_id}#{i}",
            doc_id=doc.doc_id,
            version=doc.version,
            kb=doc.kb,
            title=doc.title,
            text=part,
            position=i,
            tags=tuple(doc.tags),
        )
        for i, part in enumerate(parts)
    ]


def embed_chunks(chunks: list[Chunk], embedder: Embedder) -> list[Chunk]:
    """The title goes into what is embedded: a chunk means more with its heading."""
    vectors = embedder.embed([f"{c.title}\n{c.text}" for c in chunks])
    return [
        Chunk(c.chunk_id, c.doc_id, c.version, c.kb, c.title, c.text, c.position, c.tags, tuple(v))
        for c, v in zip(chunks, vectors, strict=True)
    ]
