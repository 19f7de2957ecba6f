"""The ``promptloop warm-up`` job: pay, once at setup, what a machine's first session would pay.

A first session on a freshly installed machine compiles librosa's numba kernels, builds
matplotlib's font list, pages in the SoundFont and embeds the evaluator's captions with MiniLM
(sentence-transformers alone takes 3-4 s to import on 2 cores).  All of that is cached on disk by
the libraries or by the evaluator's vector store; this job fills those caches with a short session
rendered into a temporary folder, so the README's demo starts warm.  Nothing of the listener's is
involved: the session is a fixed neutral → calm one, and the captions are the system's own words.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from promptloop.acquisition.affect import Affect
from promptloop.representation.preferences import Preferences

__all__ = ["run_warm_up"]


def run_warm_up() -> str:
    """Cache the evaluator's own texts, then render a 2 × 2 s session with the default backends into
    a temporary folder.  Returns a one-line summary."""
    from promptloop.session.loop import run_session
    from promptloop.session.output import write_session
    from promptloop.wiring.builders import build_backends, spec_from_settings
    from promptloop.wiring.settings import Settings

    began = time.perf_counter()
    settings = Settings()
    backends = build_backends(settings)
    # Captions first: the session then finds them stored instead of embedding a few per segment.
    covered, new = backends.evaluator.cache_system_texts()
    texts = f"{covered} caption vectors stored ({new} new) in {time.perf_counter() - began:.1f} s; " if covered else ""
    rendering = time.perf_counter()
    spec = spec_from_settings(settings, start=Affect(0.0, 0.0), target=Affect(0.4, -0.6),
                              preferences=Preferences.build("", ""), segments=2, segment_seconds=2.0,
                              seed=0, crossfade_seconds=0.25)
    session = run_session(spec, backends.generator, backends.planner, backends.evaluator,
                          fallback_planner=backends.fallback_planner)
    with tempfile.TemporaryDirectory(prefix="promptloop-warm-up-") as tmp:
        write_session(Path(tmp), session, plot=True)
    return (f"warm-up: {texts}{backends.generator.name} session rendered and written in "
            f"{time.perf_counter() - rendering:.1f} s; {time.perf_counter() - began:.1f} s in all")
