"""Signals of known content for validating the harness's estimators (``eval/mode_reading.py``, tests).

>>> cadence(9, "minor", sample_rate=8000).shape
(48000,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["cadence"]


def cadence(tonic: int, mode: str, *, bass_octave: int = 3, chord_level: float = 0.1, rolloff: float = 2.0,
            sample_rate: int = 32000) -> np.ndarray:
    """I-IV-V-I (i-iv-V-i in minor) in ``tonic`` (pitch class), 1.5 s a bar, additive tones.

    Chord tones around middle C at ``chord_level`` under a bass line in ``bass_octave`` (3: C2-B2) at
    level 1; partials 1-5 fall off as 1/k**``rolloff``. Peak-normalised to 0.3.
    """
    third = 4 if mode == "major" else 3
    t = np.arange(int(1.5 * sample_rate)) / sample_rate

    def note(midi: int, level: float) -> np.ndarray:
        f = 440 * 2 ** ((midi - 69) / 12)
        return level * np.exp(-t) * sum(np.sin(2 * np.pi * f * k * t) / k**rolloff for k in range(1, 6))

    bars = [note(12 * bass_octave + (tonic + c[0]) % 12, 1.0)
            + sum(note(60 + (tonic + p) % 12, chord_level) for p in c)
            for c in ((0, third, 7), (5, 5 + third, 0), (7, 11, 2), (0, third, 7))]
    y = np.concatenate(bars)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)
