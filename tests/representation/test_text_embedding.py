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


class _Model:
    """Stands in for MiniLM: a fixed unit vector per text; ``during`` runs inside the model call."""

    def __init__(self, during=None):  # type: ignore[no-untyped-def]
        self.during = during

    def encode(self, texts, **_):  # type: ignore[no-untyped-def]
        if self.during is not None:
            self.during()
        return np.array([[1.0, 0.0] if "hymn" in t else [0.0, 1.0] for t in texts])


def test_an_erase_that_lands_while_a_listeners_words_are_embedded_leaves_nothing_cached():
    """A segment's evaluator embeds the listener's words while their account is erased: the embedding
    still reaches the evaluator, and the erased words are not put back in the cache afterwards."""
    words = "my late husband's favourite hymn"
    embedder = TextEmbedder(VectorStore(None))
    embedder._model = _Model(during=lambda: embedder.forget({words}))
    vectors = embedder.embed([words, CAPTIONS[0]])
    np.testing.assert_array_equal(vectors, [[1.0, 0.0], [0.0, 1.0]])
    assert embedder.cached() == {CAPTIONS[0]}
    embedder._model = _Model()
    embedder.embed([words])  # nothing is in flight now: later embeddings are cached as before
    assert embedder.cached() == {CAPTIONS[0], words}


def test_the_cache_is_read_and_written_under_one_guard():
    """An erase's forget iterated the cache while a generation thread could add to it ("dictionary
    changed size during iteration" fails the erase), and an embedding could read a text the erase had
    just dropped (a KeyError fails the segment).  Every reader and writer of the cache now waits for
    the guard; held here, none gets through until it is released."""
    import threading

    embedder = TextEmbedder(VectorStore(None))
    embedder._model = _Model()
    embedder.embed(CAPTIONS)
    calls = {"forget": lambda: embedder.forget({CAPTIONS[0]}), "cached": embedder.cached,
             "embed": lambda: embedder.embed(["a new caption"])}
    for name, call in calls.items():
        done: list[object] = []
        with embedder._guard:
            worker = threading.Thread(target=lambda c=call, d=done: d.append(c()), daemon=True)
            worker.start()
            worker.join(0.2)
            assert worker.is_alive() and not done, name  # it waits: the guard is held
        worker.join(10)
        assert done, name
