"""What every retrieval backend and embedder provides (one conformance suite checks it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document, with its own vector (vectors are always ours, not the store's)."""

    chunk_id: str
    doc_id: str
    version: int
    kb: str
    title: str
    text: str
    position: int
    tags: tuple[str, ...] = ()
    vector: tuple[float, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: str
    doc_id: str
    version: int
    kb: str
    title: str
    text: str
    tags: tuple[str, ...]
    score: float


class Retriever(Protocol):
    """Hybrid (keyword + vector) search over chunks, with metadata filters."""

    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        """Make ``chunks`` the document's only chunks (old ones go)."""
        ...

    def delete_document(self, doc_id: str) -> None: ...

    def search(
        self,
        text: str,
        vector: Sequence[float],
        *,
        k: int = 5,
        kb: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[Hit]: ...

    def count(self, doc_id: str | None = None) -> int: ...


class Embedder(Protocol):
    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...
