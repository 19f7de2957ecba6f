"""The MiniLM embedder and its store of system-text vectors."""

from __future__ import annotations

import stat

import numpy as np

from promptloop.representation.text_embedding import TextEmbedder, VectorStore, get_embedder

CAPTIONS = ["slow soft music in a major key, sparse and warm, feeling calm, serene",
            "upbeat loud music in a minor key, busy and warm, feeling anxious, stressed"]


def test_persisted_vectors_spare_the_next_process_the_model(tmp_path):
    path = tmp_path / "cache" / "vectors.npz"
    first = TextEmbedder(VectorStore(path))
    fresh = first.embed(CAPTIONS, persist=True)
    assert first.loaded and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the user's own cache

    second = TextEmbedder(VectorStore(path))  # as a new process would
    again = second.embed(CAPTIONS, persist=True)
    assert not second.loaded  # every text was stored: the model never loaded
    np.testing.assert_array_equal(again, fresh)
    assert abs(second.similarity(*CAPTIONS, persist=True) - first.similarity(*CAPTIONS)) < 1e-6


def test_a_listeners_words_never_reach_the_store(tmp_path):
    path = tmp_path / "vectors.npz"
    embedder = TextEmbedder(VectorStore(path))
    embedder.embed(["my late husband's favourite hymn"])  # listener text: memory only
    embedder.embed(CAPTIONS[:1], persist=True)
    assert set(VectorStore(path).vectors) == {CAPTIONS[0]}
    assert embedder.forget({"my late husband's favourite hymn"}) == 1


def test_a_damaged_store_is_an_empty_cache(tmp_path):
    path = tmp_path / "vectors.npz"
    path.write_bytes(b"not a numpy file")
    embedder = TextEmbedder(VectorStore(path))
    assert embedder.store.vectors == {}
    vec = embedder.embed(CAPTIONS[:1], persist=True)
    assert np.isclose(np.linalg.norm(vec[0]), 1.0, atol=1e-4)
    assert set(VectorStore(path).vectors) == {CAPTIONS[0]}


def test_the_process_embedder_keeps_its_store_in_the_cache_folder(tmp_path):
    assert get_embedder().store.path is not None
    assert get_embedder().store.path.name.startswith("text-vectors-")


def test_the_evaluators_warm_up_loads_the_model_a_cache_miss_would_load(monkeypatch):
    # A service warms up on a segment whose captions may all be cached; without this the first
    # uncached caption of a listener's session loaded the model mid-segment (a 20 s stall).
    from promptloop.feedback.evaluators.embedding import EmbeddingEvaluator
    from promptloop.representation import text_embedding

    fresh = TextEmbedder(VectorStore(None))
    monkeypatch.setattr(text_embedding, "get_embedder", lambda: fresh)
    EmbeddingEvaluator(use_embeddings=False).warm_up()
    assert not fresh.loaded  # the word-overlap fallback loads nothing
    EmbeddingEvaluator(use_embeddings=True).warm_up()
    assert fresh.loaded
