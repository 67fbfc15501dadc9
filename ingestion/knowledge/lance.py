"""The embedded retrieval backend: LanceDB's own API (hybrid FTS + vector, SQL filters).

Persisted under ``<data_dir>/vectors``. Rows appended after the full-text index was built
are still searched (LanceDB scans unindexed rows), so a document is findable the moment
it is written; ``optimize()`` folds new rows into the indexes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.index import FTS

from ingestion.knowledge.types import Chunk, Hit

TABLE = "chunks"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LanceRetriever:
    def __init__(
        self, path: Path, *, dim: int = 384, table: str = TABLE, optimize_every: int = 1000
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # other processes and handles write the same table: always read its latest version
        self.db = lancedb.connect(str(path), read_consistency_interval=timedelta(0))
        self.dim = dim
        self.schema = pa.schema(
            [
                ("chunk_id", pa.string()),
                ("doc_id", pa.string()),
                ("version", pa.int64()),
                ("kb", pa.string()),
                ("title", pa.string()),
                ("text", pa.string()),
                ("position", pa.int32()),
                ("tags", pa.list_(pa.string())),
                ("vector", pa.list_(pa.float32(), dim)),
            ]
        )
        self.table = self.db.create_table(table, schema=self.schema, exist_ok=True)
        self._lock = threading.Lock()
        self._fts = self._has_fts()
        # rows written since the indexes were last brought up to date: searched, but by scan
        self._unindexed = 0
        self.optimize_every = optimize_every

    def _has_fts(self) -> bool:
        return "text_idx" in {i.name for i in self.table.list_indices()}

    def _after_write(self, added: int) -> None:
        if not self._fts and self.table.count_rows() > 0:
            self.table.create_index("text", config=FTS(), replace=True)
            self._fts = True
            self._unindexed = 0
            return
        self._unindexed += added
        if self._unindexed >= self.optimize_every:
            self.table.optimize()  # folds new rows into the full-text index (and compacts)
            self._unindexed = 0

    def _rows(self, chunks: Sequence[Chunk]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {
                "chunk_id": c.chunk_id,
                "doc_id": c.doc_id,
                "version": c.version,
                "kb": c.kb,
                "title": c.title,
                "text": c.text,
                "position": c.position,
                "tags": list(c.tags),
                "vector": list(c.vector),
            }
            for c in chunks
        ]
        if any(len(r["vector"]) != self.dim for r in rows):
            raise ValueError(f"every chunk needs a {self.dim}-dimensional vector")
        return rows

    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        rows = self._rows(chunks)
        with self._lock:
            self.table.delete(f"doc_id = {_quote(doc_id)}")
            if rows:
                self.table.add(rows)
            self._after_write(len(rows))

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Bulk load (no replacement of earlier chunks): for imports and benchmarks."""
        rows = self._rows(chunks)
        with self._lock:
            if rows:
                self.table.add(rows)
            self._after_write(len(rows))

    def delete_document(self, doc_id: str) -> None:
        with self._lock:
            self.table.delete(f"doc_id = {_quote(doc_id)}")

    def search(
        self,
        text: str,
        vector: Sequence[float],
        *,
        k: int = 5,
        kb: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[Hit]:
        if not self._fts:
            # another handle (the ingestion process) may have built the index since we opened
            self._fts = self._has_fts()
            if not self._fts and self.table.count_rows() == 0:
                return []
        filters = []
        if kb is not None:
            filters.append(f"kb = {_quote(kb)}")
        if tags:
            filters.append(f"array_has_any(tags, [{', '.join(_quote(t) for t in tags)}])")
        if self._fts:
            query: Any = self.table.search(query_type="hybrid").vector(list(vector)).text(text)
        else:
            query = self.table.search(list(vector))
        if filters:
            query = query.where(" AND ".join(filters), prefilter=True)
        rows = query.limit(k).to_list()
        return [
            Hit(
                chunk_id=r["chunk_id"],
                doc_id=r["doc_id"],
                version=int(r["version"]),
                kb=r["kb"],
                title=r["title"],
                text=r["text"],
                tags=tuple(r["tags"] or ()),
                score=float(r.get("_relevance_score", 1.0 - r.get("_distance", 0.0))),
            )
            for r in rows
        ]

    def count(self, doc_id: str | None = None) -> int:
        if doc_id is None:
            return int(self.table.count_rows())
        return int(self.table.count_rows(f"doc_id = {_quote(doc_id)}"))

    def optimize(self) -> None:
        with self._lock:
            self.table.optimize()
            self._unindexed = 0
