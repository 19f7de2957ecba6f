"""From measured descriptors to an affect estimate and a caption, and from affect to the
descriptors one would expect.  Documented in docs/affect.md; both directions use the same scales,
so the evaluator's estimate and the planner's intent are comparable.
"""

from __future__ import annotations

import numpy as np

from promptloop.acquisition.affect import Affect, describe_affect
from promptloop.audio.analysis import Descriptors

__all__ = ["caption_for", "estimate_from_descriptors", "expected_caption"]

# Scale centres and half-ranges: a descriptor at centre ± half-range maps to ±1.
TEMPO_CENTRE, TEMPO_RANGE = 88.0, 40.0
LOUDNESS_CENTRE, LOUDNESS_RANGE = -22.0, 8.0
ONSET_CENTRE, ONSET_RANGE = 3.0, 3.0
CENTROID_CENTRE, CENTROID_RANGE = 1500.0, 1200.0
MODE_GAIN = 5.0


def _z(value: float, centre: float, half_range: float) -> float:
    return float(np.clip((value - centre) / half_range, -1.0, 1.0))


def estimate_from_descriptors(d: Descriptors) -> Affect:
    """Arousal from tempo, loudness, onset density and brightness; valence mainly from mode.

    arousal = 0.45·z(tempo) + 0.25·z(loudness) + 0.15·z(onset rate) + 0.15·z(centroid)
    valence = 0.70·z(mode strength) + 0.15·z(tempo) + 0.15·z(centroid)
    """
    tempo = _z(d.tempo_bpm, TEMPO_CENTRE, TEMPO_RANGE)
    loud = _z(d.loudness_lufs, LOUDNESS_CENTRE, LOUDNESS_RANGE)
    dens = _z(d.onset_rate, ONSET_CENTRE, ONSET_RANGE)
    bright = _z(d.centroid_hz, CENTROID_CENTRE, CENTROID_RANGE)
    mode = float(np.clip(d.mode_strength * MODE_GAIN, -1.0, 1.0))
    arousal = 0.45 * tempo + 0.25 * loud + 0.15 * dens + 0.15 * bright
    valence = 0.70 * mode + 0.15 * tempo + 0.15 * bright
    return Affect.clipped(valence, arousal)


def _tempo_word(bpm: float) -> str:
    if bpm < 66:
        return "very slow"
    if bpm < 80:
        return "slow"
    if bpm < 100:
        return "moderate"
    if bpm < 118:
        return "upbeat"
    return "fast"


def _loudness_word(lufs: float) -> str:
    if lufs < -27:
        return "very soft"
    if lufs < -23:
        return "soft"
    if lufs < -19:
        return "medium"
    return "loud"


def _density_word(rate: float) -> str:
    return "sparse" if rate < 2.5 else "flowing" if rate < 5 else "busy"


def _brightness_word(centroid: float) -> str:
    return "dark" if centroid < 900 else "warm" if centroid < 1700 else "bright"


def caption_for(d: Descriptors, estimated: Affect) -> str:
    """A short description of what the audio measures as."""
    return (
        f"{_tempo_word(d.tempo_bpm)} {_loudness_word(d.loudness_lufs)} music in a {d.mode} key, "
        f"{_density_word(d.onset_rate)} and {_brightness_word(d.centroid_hz)}, "
        f"feeling {describe_affect(estimated)}"
    )


def expected_caption(target: Affect) -> str:
    """The caption music sitting exactly at ``target`` would get (inverse of the estimate)."""
    tempo = TEMPO_CENTRE + TEMPO_RANGE * target.arousal
    loud = LOUDNESS_CENTRE + LOUDNESS_RANGE * target.arousal
    rate = ONSET_CENTRE + ONSET_RANGE * target.arousal
    centroid = CENTROID_CENTRE + CENTROID_RANGE * (0.5 * target.arousal + 0.5 * target.valence)
    mode = "major" if target.valence >= 0 else "minor"
    return (
        f"{_tempo_word(tempo)} {_loudness_word(loud)} music in a {mode} key, "
        f"{_density_word(rate)} and {_brightness_word(centroid)}, feeling {describe_affect(target)}"
    )
