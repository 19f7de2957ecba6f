"""Signals of known content for validating the harness's estimators (``eval/mode_reading.py``, tests).

>>> cadence(9, "minor", sample_rate=8000).shape
(48000,)
>>> pulses(70.0, sample_rate=8000).shape
(64000,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["CADENCES", "cadence", "pulses"]


#: Chords (root, third, fifth as semitones above the tonic) of each cadence, bar by bar: the major and
#: minor ones of the key validation (minor with the harmonic-minor dominant), and one per church mode
#: that sounds the degrees telling it from its neighbours (Mixolydian's flat seventh in the bVII chord,
#: Dorian's natural sixth in the major IV, Aeolian's flat sixth in iv and flat seventh in v).
CADENCES = {
    "major": ((0, 4, 7), (5, 9, 0), (7, 11, 2), (0, 4, 7)),
    "minor": ((0, 3, 7), (5, 8, 0), (7, 11, 2), (0, 3, 7)),
    "ionian": ((0, 4, 7), (5, 9, 0), (7, 11, 2), (0, 4, 7)),
    "mixolydian": ((0, 4, 7), (10, 2, 5), (5, 9, 0), (0, 4, 7)),
    "dorian": ((0, 3, 7), (5, 9, 0), (7, 10, 2), (0, 3, 7)),
    "aeolian": ((0, 3, 7), (5, 8, 0), (7, 10, 2), (0, 3, 7)),
}


def cadence(tonic: int, mode: str, *, bass_octave: int = 3, chord_level: float = 0.1, rolloff: float = 2.0,
            sample_rate: int = 32000) -> np.ndarray:
    """Four bars of ``CADENCES[mode]`` in ``tonic`` (pitch class), 1.5 s a bar, additive tones.

    "major" is I-IV-V-I, "minor" i-iv-V-i, "mixolydian" I-bVII-IV-I, "dorian" i-IV-v-i, "aeolian"
    i-iv-v-i. Chord tones around middle C at ``chord_level`` under a bass line on the chord roots in
    ``bass_octave`` (3: C2-B2) at level 1; partials 1-5 fall off as 1/k**``rolloff``. Peak-normalised
    to 0.3.
    """
    t = np.arange(int(1.5 * sample_rate)) / sample_rate

    def note(midi: int, level: float) -> np.ndarray:
        f = 440 * 2 ** ((midi - 69) / 12)
        return level * np.exp(-t) * sum(np.sin(2 * np.pi * f * k * t) / k**rolloff for k in range(1, 6))

    bars = [note(12 * bass_octave + (tonic + c[0]) % 12, 1.0)
            + sum(note(60 + (tonic + p) % 12, chord_level) for p in c)
            for c in CADENCES[mode]]
    y = np.concatenate(bars)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def pulses(bpm: float, *, attack_s: float = 0.06, subdivision: int = 1, seconds: float = 8.0, tonic_hz: float = 110.0,
           sample_rate: int = 32000) -> np.ndarray:
    """Notes at ``bpm`` with ``subdivision`` notes a beat, over a quiet drone: a pulse of known tempo.

    Each note rises linearly over ``attack_s`` (0.005: plucked; 0.15: bowed or padded) and decays over
    the beat; beats are louder than the notes between them and each bar's downbeat loudest; the third
    beat of a bar plays the fifth. Peak-normalised to 0.3.
    """
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    beat = 60.0 / bpm
    y = 0.06 * np.sin(np.pi * tonic_hz * t)
    for k in range(int(seconds / beat * subdivision) + 1):
        start = int(k * beat / subdivision * sample_rate)
        length = min(int(beat * sample_rate), n - start)
        if length <= 0:
            break
        on_beat = k % subdivision == 0
        level = 1.3 if k % (4 * subdivision) == 0 else 1.0 if on_beat else 0.4
        f = tonic_hz * (1.5 if (k // subdivision) % 4 == 2 else 1.0) * (1 if on_beat else 2)
        tt = t[:length]
        shape = np.minimum(tt / attack_s, 1.0) * np.exp(-tt / (0.8 * beat))
        y[start : start + length] += level * shape * (np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)
