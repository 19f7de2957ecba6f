"""The beat grid a continuation plays on: the previous segment's tempo glides to the plan's.

Shared by the embedded generators (:mod:`promptloop.synthesis.synth` and the SoundFont composer),
so that both reach a new tempo the same way: within one bar, and within the first fifth of the
segment.  Over a fixed number of beats a short, slow segment spent nearly all its length between
the old and the new tempo and measured as the way there, not as its plan — a calming session's
last segment then still sounded like the one before it (issue 13).

>>> times = beat_times(6.0, 60.0, 90.0)
>>> round(float(times[-1] - times[-2]), 3)  # long after the glide: the plan's 60 BPM
1.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["GLIDE_BEATS", "GLIDE_SHARE", "beat_times", "glide_beats"]

GLIDE_BEATS = 4.0  # at most one bar of 4/4
GLIDE_SHARE = 0.2  # and at most this share of the segment


def glide_beats(seconds: float, tempo: float, start_tempo: float) -> float:
    """How many beats the glide from ``start_tempo`` to ``tempo`` lasts (at least one)."""
    mean_tempo = 0.5 * (tempo + start_tempo)
    return float(np.clip(GLIDE_SHARE * seconds * mean_tempo / 60.0, 1.0, GLIDE_BEATS))


def beat_times(seconds: float, tempo: float, start_tempo: float, extra_beats: int = 12,
               glide: float | None = None) -> np.ndarray:
    """Onset times (s) of enough beats to cover ``seconds`` plus ``extra_beats``, starting at 0;
    the glide lasts ``glide`` beats (default :func:`glide_beats`)."""
    count = int(seconds * max(tempo, start_tempo) / 60.0) + extra_beats
    glide = glide_beats(seconds, tempo, start_tempo) if glide is None else max(glide, 1.0)
    ramp = np.clip(np.arange(count) / glide, 0.0, 1.0)
    tempos = start_tempo + (tempo - start_tempo) * ramp
    return np.concatenate([[0.0], np.cumsum(60.0 / tempos)])
