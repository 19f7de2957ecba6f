"""Last-resort corrections of a segment that breaks a listener's audio-level constraint.

The loop first tries to avoid a violation by choosing among candidates and retrying with a
rewritten prompt; a generator that keeps adding what the listener avoids (a text-to-music model whose
genre defaults bring in drums, say) must still not reach their ears.  These functions remove the
offending content from the audio itself:

* :func:`remove_percussion` keeps the harmonic part of a median-filter harmonic-percussive
  separation (Fitzgerald 2010, ``librosa.effects.harmonic``), raising the separation margin until
  no more drum-like hits than allowed are counted;
* :func:`soften_highs` low-passes the mix (``pedalboard.LowpassFilter``) until the share of energy
  above 4 kHz is under the limit.

Each returns the corrected audio and whether it met the limit; the caller re-measures and re-scores
it, so a correction is never assumed to have worked.
"""

from __future__ import annotations

from collections.abc import Callable

import librosa
import numpy as np
from pedalboard import LowpassFilter, Pedalboard

from promptloop.audio.analysis import high_frequency_ratio, sharp_transients
from promptloop.audio.percussion import percussive_hits

__all__ = ["remove_percussion", "soften_attacks", "soften_highs"]

#: Separation margins tried in order (1 is plain HPSS; larger keeps only clearly harmonic energy).
_MARGINS = (1.0, 2.0, 4.0, 8.0)
#: Low-pass cut-offs tried in order (Hz).
_CUTOFFS_HZ = (3500.0, 2500.0, 1800.0, 1200.0)


def _harmonic_until(audio: np.ndarray, met: Callable[[np.ndarray], bool]) -> tuple[np.ndarray, bool]:
    """The harmonic part of ``audio`` at the smallest margin of :data:`_MARGINS` for which ``met``."""
    out = np.asarray(audio, dtype=np.float32)
    for margin in _MARGINS:
        out = librosa.effects.harmonic(np.asarray(audio, dtype=np.float32), margin=margin).astype(np.float32)
        if met(out):
            return out, True
    return out, False


def remove_percussion(audio: np.ndarray, sample_rate: int, max_hits: int) -> tuple[np.ndarray, bool]:
    """The harmonic part of ``audio`` with at most ``max_hits`` drum-like hits, if a margin gets there."""
    return _harmonic_until(audio, lambda y: percussive_hits(y, sample_rate) <= max_hits)


def soften_attacks(audio: np.ndarray, sample_rate: int, max_transients: int) -> tuple[np.ndarray, bool]:
    """``audio`` with its sharp attacks separated out, if a margin brings them to ``max_transients``."""
    return _harmonic_until(audio, lambda y: sharp_transients(y, sample_rate) <= max_transients)


def soften_highs(audio: np.ndarray, sample_rate: int, max_ratio: float) -> tuple[np.ndarray, bool]:
    """``audio`` low-passed until at most ``max_ratio`` of its energy lies above 4 kHz."""
    y = np.asarray(audio, dtype=np.float32)
    out = y
    for cutoff in _CUTOFFS_HZ:
        out = Pedalboard([LowpassFilter(cutoff_frequency_hz=cutoff)])(y, sample_rate).astype(np.float32)
        power = (np.abs(librosa.stft(out, n_fft=2048, hop_length=512)) ** 2).sum(axis=1)
        if high_frequency_ratio(power, sample_rate) <= max_ratio:
            return out, True
    return out, False
