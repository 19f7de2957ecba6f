"""Last-resort corrections of a segment that breaks a listener's audio-level constraint.

The loop first tries to avoid a violation by choosing among candidates and retrying with a
rewritten prompt; a generator that keeps adding what the listener avoids (a text-to-music model whose
genre defaults bring in drums, say) must still not reach their ears.  These functions remove the
offending content from the audio itself:

* :func:`remove_percussion` keeps the harmonic part of a median-filter harmonic-percussive
  separation (Fitzgerald 2010, ``librosa.effects.harmonic``), raising the separation margin until
  no more drum-like hits than allowed are counted;
* :func:`soften_highs` low-passes the mix (``pedalboard.LowpassFilter``) until the share of energy
  above 4 kHz is under the limit;
* :func:`remove_violations` applies those that the named violations call for.

Each returns the corrected audio and whether it met the limit; the caller re-measures and re-scores
it, so a correction is never assumed to have worked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set

import librosa
import numpy as np
from pedalboard import LowpassFilter, Pedalboard

from promptloop.audio.analysis import highs_share, sharp_transients
from promptloop.audio.percussion import percussive_hits

__all__ = ["remove_percussion", "remove_violations", "soften_attacks", "soften_highs"]

#: Separation margins tried in order (1 is plain HPSS; larger keeps only clearly harmonic energy).
_MARGINS = (1.0, 2.0, 4.0, 8.0)
#: Low-pass cut-offs tried in order (Hz).
_CUTOFFS_HZ = (3500.0, 2500.0, 1800.0, 1200.0)


def _harmonic_until(audio: np.ndarray, met: Callable[[np.ndarray], bool]) -> tuple[np.ndarray, bool]:
    """The harmonic part of ``audio`` at the smallest margin of :data:`_MARGINS` for which ``met``."""
    y = np.asarray(audio, dtype=np.float32)
    out = y
    for margin in _MARGINS:
        out = librosa.effects.harmonic(y, margin=margin).astype(np.float32)
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
        if highs_share(out, sample_rate) <= max_ratio:
            return out, True
    return out, False


def remove_violations(audio: np.ndarray, sample_rate: int, kinds: Set[str],
                      limits: Mapping[str, float]) -> tuple[np.ndarray, list[str]]:
    """``audio`` with what the violation ``kinds`` of
    :func:`promptloop.representation.plan_checks.audio_violations` name removed, under ``limits``
    (its ``AUDIO_LIMITS``); also what was removed (``["level"]`` when only loudness was over: the
    caller's loudness normalisation brings that under the ceiling)."""
    fixed, removed = np.asarray(audio, dtype=np.float32), []
    if "avoided-percussion" in kinds:
        fixed, _ = remove_percussion(fixed, sample_rate, int(limits["percussive_hits"]))
        removed.append("percussion")
    if kinds & {"gentle-transients", "avoided-sudden"}:
        allowed = 0 if "gentle-transients" in kinds else int(limits["sudden_transients"])
        fixed, _ = soften_attacks(fixed, sample_rate, allowed)
        removed.append("sharp attacks")
    if kinds & {"gentle-highs", "avoided-high"}:
        ratio = limits["gentle_high_ratio" if "gentle-highs" in kinds else "high_pitched_ratio"]
        fixed, _ = soften_highs(fixed, sample_rate, ratio)
        removed.append("high frequencies")
    return fixed, removed or ["level"]
