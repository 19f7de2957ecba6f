"""The evaluator's caption space and ``promptloop warm-up``: after setup, a session's captions are all
stored, so no session on the machine imports sentence-transformers for them."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from promptloop.acquisition.affect import Affect
from promptloop.audio.analysis import Descriptors
from promptloop.feedback import descriptors_affect
from promptloop.feedback.descriptors_affect import (
    caption_for,
    caption_space,
    estimate_from_descriptors,
    expected_caption,
)
from promptloop.feedback.evaluators import embedding
from promptloop.representation import text_embedding
from promptloop.representation.text_embedding import TextEmbedder, VectorStore


def _descriptors(rng: np.random.Generator) -> Descriptors:
    strength = float(rng.uniform(-0.3, 0.3))
    return Descriptors(duration_s=10.0, loudness_lufs=float(rng.uniform(-40, -10)), peak_dbfs=-3.0,
                       tempo_bpm=float(rng.uniform(40, 180)), onset_rate=float(rng.uniform(0, 10)),
                       centroid_hz=float(rng.uniform(200, 5000)), high_freq_ratio=0.01, key="D",
                       mode="major" if strength >= 0 else "minor", mode_strength=strength,
                       sharp_transients=0, clicks=0)


def test_the_caption_space_holds_what_the_evaluator_writes():
    space = set(caption_space())
    assert 3000 < len(space) < 27_360  # far fewer than the word grid's product: the scales correlate
    rng = np.random.default_rng(12345)  # not the space's own seed
    written = [caption_for(d, estimate_from_descriptors(d)) for d in (_descriptors(rng) for _ in range(20_000))]
    covered = np.mean([c in space for c in written])
    assert covered >= 0.999, f"{covered:.4f} of measured captions are in the space"
    targets = [Affect(float(v), float(a)) for v, a in rng.uniform(-1, 1, (3000, 2))]
    assert all(expected_caption(t) in space for t in targets)


def test_the_caption_space_is_seeded():
    assert caption_space(500, 3) == caption_space(500, 3)
    assert caption_space(500, 3) != caption_space(500, 4)  # sampled: a different seed meets others


class _HashModel:
    """Stands in for MiniLM: a unit vector per text, derived from its hash."""

    def encode(self, texts, **_):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=8)
                for t in texts]
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


class _Embedder(TextEmbedder):
    def __init__(self, store: VectorStore, *, allow_load: bool) -> None:
        super().__init__(store)
        self.allow_load = allow_load

    def load(self):
        if not self.allow_load:
            raise AssertionError("the text model was loaded although every caption was stored")
        self._model = self._model or _HashModel()
        return self._model


def test_after_caching_the_system_texts_a_session_never_loads_the_model(tmp_path, monkeypatch):
    path = tmp_path / "vectors.npz"
    filler = _Embedder(VectorStore(path), allow_load=True)
    monkeypatch.setattr(text_embedding, "get_embedder", lambda: filler)
    evaluator = embedding.EmbeddingEvaluator()
    covered, new = evaluator.cache_system_texts()
    assert covered == new == len(caption_space()) and filler.loaded
    assert evaluator.cache_system_texts() == (covered, 0)  # nothing left to compute

    later = _Embedder(VectorStore(path), allow_load=False)  # a new process, as the demo would be
    monkeypatch.setattr(text_embedding, "get_embedder", lambda: later)
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):  # measured descriptors of every kind, scored against every kind of target
        d, target = _descriptors(rng), Affect(*map(float, rng.uniform(-1, 1, 2)))
        caption = caption_for(d, estimate_from_descriptors(d))
        if caption in later.store.vectors:
            hits += 1
            evaluator._text_similarity(caption, expected_caption(target))
    assert hits >= 195 and not later.loaded


def test_the_word_overlap_evaluator_caches_nothing():
    assert embedding.EmbeddingEvaluator(use_embeddings=False).cache_system_texts() == (0, 0)


@pytest.mark.parametrize("value,word", [(65.9, "very slow"), (66.0, "slow"), (117.9, "upbeat"), (118.0, "fast")])
def test_tempo_words_keep_their_bounds(value, word):
    assert descriptors_affect._tempo_word(value) == word


def test_warm_up_renders_a_session_and_stores_the_captions(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from promptloop.cli.main import app

    store = VectorStore(tmp_path / "vectors.npz")
    fake = _Embedder(store, allow_load=True)
    monkeypatch.setattr(text_embedding, "get_embedder", lambda: fake)
    few = caption_space(20, 0)[:30]
    monkeypatch.setattr(embedding, "caption_space", lambda: few)
    result = CliRunner().invoke(app, ["warm-up"])
    assert result.exit_code == 0, result.output
    assert "session rendered and written" in result.output
    assert f"{len(few)} caption vectors stored" in result.output
    assert set(few) <= set(VectorStore(store.path).vectors)
