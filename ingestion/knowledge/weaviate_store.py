"""The production retrieval backend: Weaviate (weaviate-client v4), a collection per knowledge base.

Vectors are self-provided (Vigil embeds), search is Weaviate's hybrid BM25 + vector with
property filters, and chunk objects get deterministic UUIDs from their chunk id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.util import generate_uuid5

from ingestion.knowledge.types import Chunk, Hit

PROPERTIES = (
    Property(name="chunk_id", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="doc_id", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="version", data_type=DataType.INT),
    Property(name="kb", data_type=DataType.TEXT, skip_vectorization=True),
    Property(name="title", data_type=DataType.TEXT),
    Property(name="text", data_type=DataType.TEXT),
    Property(name="position", data_type=DataType.INT),
    Property(name="tags", data_type=DataType.TEXT_ARRAY),
)


def connect(url: str, grpc_port: int = 50051) -> weaviate.WeaviateClient:
    """``http(s)://host:port``; gRPC on the same host at ``grpc_port``."""
    u = urlparse(url)
    secure = u.scheme == "https"
    host = u.hostname or "127.0.0.1"
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=u.port or (443 if secure else 8080),
        http_secure=secure,
        grpc_host=host,
        grpc_port=grpc_port,
        grpc_secure=secure,
    )


class WeaviateRetriever:
    def __init__(self, client: weaviate.WeaviateClient, *, prefix: str = "Vigil") -> None:
        self.client = client
        self.prefix = prefix
        self._known: set[str] = set()

    def collection_name(self, kb: str) -> str:
        safe = "".join(ch if ch.isalnum() else "_" for ch in kb)
        return f"{self.prefix}_{safe}"

    def _collection(self, kb: str) -> Any:
        name = self.collection_name(kb)
        if name not in self._known:
            if not self.client.collections.exists(name):
                self.client.collections.create(
                    name,
                    properties=list(PROPERTIES),
                    vector_config=Configure.Vectors.self_provided(),
                )
            self._known.add(name)
        return self.client.collections.get(name)

    def _all(self) -> list[Any]:
        names = [
            n
            for n in self.client.collections.list_all(simple=True)
            if n.startswith(f"{self.prefix}_")
        ]
        return [self.client.collections.get(n) for n in names]

    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        self.delete_document(doc_id)
        by_kb: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_kb.setdefault(c.kb, []).append(c)
        for kb, items in by_kb.items():
            result = self._collection(kb).data.insert_many(
                [
                    DataObject(
                        properties={
                            "chunk_id": c.chunk_id,
                            "doc_id": c.doc_id,
                            "version": c.version,
                            "kb": c.kb,
                            "title": c.title,
                            "text": c.text,
                            "position": c.position,
                            "tags": list(c.tags),
                        },
                        uuid=generate_uuid5(c.chunk_id),
                        vector=list(c.vector),
                    )
                    for c in items
                ]
            )
            if result.has_errors:
                raise RuntimeError(f"Weaviate refused chunks of {doc_id}: {result.errors}")

    def delete_document(self, doc_id: str) -> None:
        for coll in self._all():
            coll.data.delete_many(where=Filter.by_property("doc_id").equal(doc_id))

    def search(
        self,
        text: str,
        vector: Sequence[float],
        *,
        k: int = 5,
        kb: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[Hit]:
        collections = [self._collection(kb)] if kb is not None else self._all()
        filters = Filter.by_property("tags").contains_any(list(tags)) if tags else None
        hits: list[Hit] = []
        for coll in collections:
            res = coll.query.hybrid(
                query=text,
                vector=list(vector),
                alpha=0.5,
                limit=k,
                filters=filters,
                return_metadata=MetadataQuery(score=True),
            )
            for o in res.objects:
                p = o.properties
                hits.append(
                    Hit(
                        chunk_id=str(p["chunk_id"]),
                        doc_id=str(p["doc_id"]),
                        version=int(p["version"]),
                        kb=str(p["kb"]),
                        title=str(p["title"]),
                        text=str(p["text"]),
                        tags=tuple(p.get("tags") or ()),
                        score=float(o.metadata.score or 0.0),
                    )
                )
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def count(self, doc_id: str | None = None) -> int:
        total = 0
        for coll in self._all():
            where = Filter.by_property("doc_id").equal(doc_id) if doc_id else None
            total += int(coll.aggregate.over_all(filters=where, total_count=True).total_count or 0)
        return total
