"""Runner handler for ``knowledge.documents``: chunk, embed, upsert or delete, by version.

Versions live in Redis so a late, older version of a document never replaces a newer
one, and a re-delivered event is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from ingestion.contracts import KnowledgeDocument
from ingestion.knowledge.chunking import chunk_document, embed_chunks
from ingestion.knowledge.types import Embedder, Retriever
from ingestion.runner import Received

_CLAIM = r"""
local cur = tonumber(redis.call("HGET", KEYS[1], ARGV[1]) or "0")
if tonumber(ARGV[2]) <= cur then return 0 end
return 1
"""


class KnowledgeIngestor:
    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        client: redis.Redis,
        *,
        prefix: str = "vigil",
    ) -> None:
        self.retriever = retriever
        self.embedder = embedder
        self.client = client
        self.versions_key = f"{prefix}:kb:versions"
        self._newer = client.register_script(_CLAIM)

    def apply(self, doc: KnowledgeDocument) -> bool:
        """True if the document changed the knowledge base."""
        if not self._newer(keys=[self.versions_key], args=[doc.doc_id, doc.version]):
            return False
        if doc.op == "delete":
            self.retriever.delete_document(doc.doc_id)
        else:
            self.retriever.replace_document(
                doc.doc_id, embed_chunks(chunk_document(doc), self.embedder)
            )
        # recorded after the store holds it: a crash in between re-applies, which is harmless
        self.client.hset(self.versions_key, doc.doc_id, doc.version)
        return True

    def __call__(self, batch: Sequence[Received[KnowledgeDocument]]) -> None:
        for rec in batch:
            self.apply(rec.event)
