"""From measured descriptors to an affect estimate and a caption, and from affect to the
descriptors one would expect.  Documented in docs/affect.md; both directions use the same scales,
so the evaluator's estimate and the planner's intent are comparable.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

import numpy as np

from promptloop.acquisition.affect import AFFECT_WORDS, Affect, describe_affect
from promptloop.audio.analysis import Descriptors

__all__ = ["caption_for", "caption_space", "estimate_from_descriptors", "expected_caption", "expected_centroid"]

# Scale centres and half-ranges: a descriptor at centre ± half-range maps to ±1.
TEMPO_CENTRE, TEMPO_RANGE = 88.0, 40.0
LOUDNESS_CENTRE, LOUDNESS_RANGE = -22.0, 8.0
ONSET_CENTRE, ONSET_RANGE = 3.0, 3.0
CENTROID_CENTRE, CENTROID_RANGE = 1500.0, 1200.0
MODE_GAIN = 5.0


def _axes(tempo_bpm: Any, loudness_lufs: Any, onset_rate: Any, centroid_hz: Any, mode_strength: Any) -> tuple[Any, Any]:
    """(valence, arousal) before clipping; takes floats or equal-shaped arrays."""
    tempo = np.clip((tempo_bpm - TEMPO_CENTRE) / TEMPO_RANGE, -1.0, 1.0)
    loud = np.clip((loudness_lufs - LOUDNESS_CENTRE) / LOUDNESS_RANGE, -1.0, 1.0)
    dens = np.clip((onset_rate - ONSET_CENTRE) / ONSET_RANGE, -1.0, 1.0)
    bright = np.clip((centroid_hz - CENTROID_CENTRE) / CENTROID_RANGE, -1.0, 1.0)
    mode = np.clip(mode_strength * MODE_GAIN, -1.0, 1.0)
    return 0.70 * mode + 0.15 * tempo + 0.15 * bright, 0.45 * tempo + 0.25 * loud + 0.15 * dens + 0.15 * bright


def estimate_from_descriptors(d: Descriptors) -> Affect:
    """Arousal from tempo, loudness, onset density and brightness; valence mainly from mode.

    arousal = 0.45·z(tempo) + 0.25·z(loudness) + 0.15·z(onset rate) + 0.15·z(centroid)
    valence = 0.70·z(mode strength) + 0.15·z(tempo) + 0.15·z(centroid)
    """
    valence, arousal = _axes(d.tempo_bpm, d.loudness_lufs, d.onset_rate, d.centroid_hz, d.mode_strength)
    return Affect.clipped(float(valence), float(arousal))


# Caption words: each scale's word is the first whose upper bound the value is under.
_TEMPO_WORDS = ((66.0, "very slow"), (80.0, "slow"), (100.0, "moderate"), (118.0, "upbeat"), (np.inf, "fast"))
_LOUDNESS_WORDS = ((-27.0, "very soft"), (-23.0, "soft"), (-19.0, "medium"), (np.inf, "loud"))
_DENSITY_WORDS = ((2.5, "sparse"), (5.0, "flowing"), (np.inf, "busy"))
_BRIGHTNESS_WORDS = ((900.0, "dark"), (1700.0, "warm"), (np.inf, "bright"))


def _word(table: tuple[tuple[float, str], ...], value: float) -> str:
    return next(word for bound, word in table if value < bound)


def _tempo_word(bpm: float) -> str:
    return _word(_TEMPO_WORDS, bpm)


def _loudness_word(lufs: float) -> str:
    return _word(_LOUDNESS_WORDS, lufs)


def _density_word(rate: float) -> str:
    return _word(_DENSITY_WORDS, rate)


def _brightness_word(centroid: float) -> str:
    return _word(_BRIGHTNESS_WORDS, centroid)


def caption_for(d: Descriptors, estimated: Affect) -> str:
    """A short description of what the audio measures as."""
    return (
        f"{_tempo_word(d.tempo_bpm)} {_loudness_word(d.loudness_lufs)} music in a {d.mode} key, "
        f"{_density_word(d.onset_rate)} and {_brightness_word(d.centroid_hz)}, "
        f"feeling {describe_affect(estimated)}"
    )


def expected_centroid(target: Affect) -> float:
    """The spectral centroid (Hz) of music sitting exactly at ``target`` (inverse of the estimate)."""
    return CENTROID_CENTRE + CENTROID_RANGE * (0.5 * target.arousal + 0.5 * target.valence)


def expected_caption(target: Affect) -> str:
    """The caption music sitting exactly at ``target`` would get (inverse of the estimate)."""
    tempo = TEMPO_CENTRE + TEMPO_RANGE * target.arousal
    loud = LOUDNESS_CENTRE + LOUDNESS_RANGE * target.arousal
    rate = ONSET_CENTRE + ONSET_RANGE * target.arousal
    centroid = expected_centroid(target)
    mode = "major" if target.valence >= 0 else "minor"
    return (
        f"{_tempo_word(tempo)} {_loudness_word(loud)} music in a {mode} key, "
        f"{_density_word(rate)} and {_brightness_word(centroid)}, feeling {describe_affect(target)}"
    )


def _draw(rng: np.random.Generator, table: tuple[tuple[float, str], ...], index: int, centre: float, half: float,
          n: int) -> np.ndarray:
    """``n`` values with word ``index``: drawn over its interval, cut to the scale's unclipped span
    (beyond centre ± half-range the estimate no longer changes).  An open-ended word also covers
    every value past the clip point, which all estimate alike: a quarter of its draws sit exactly
    there, as real audio often does (a 150 BPM render reads as tempo z = 1, like one at 128)."""
    lo = table[index - 1][0] if index else -np.inf
    hi = table[index][0]
    a = lo if np.isfinite(lo) else min(hi - 1e-3, centre - half)
    b = hi if np.isfinite(hi) else max(lo + 1e-3, centre + half)
    values = rng.uniform(a, b, n)
    for edge, open_end in ((centre - half, not np.isfinite(lo)), (centre + half, not np.isfinite(hi))):
        if open_end and a <= edge <= b:
            values[rng.random(n) < 0.25] = edge
    return values


def _two_nearest(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """Indices into AFFECT_WORDS of the two nearest words, in :func:`describe_affect`'s order."""
    table = np.array([[w.valence, w.arousal] for w in AFFECT_WORDS.values()])
    dist = np.hypot(valence[:, None] - table[None, :, 0], arousal[:, None] - table[None, :, 1])
    return np.argsort(dist, axis=1, kind="stable")[:, :2]


@lru_cache(maxsize=2)
def caption_space(samples_per_cell: int = 4000, seed: int = 0) -> tuple[str, ...]:
    """The captions :func:`caption_for` and :func:`expected_caption` can write, found by sampling.

    Descriptors are drawn uniformly within every cell of the caption's word grid (tempo ×
    loudness × density × brightness × mode: 360 cells), and targets uniformly over the affect
    square; each distinct caption met is kept (a caption is a function of the words and the two
    nearest affect words, so one representative per key is exact).  Captions that only thin slivers
    of a cell produce can be missed: those are embedded when first met, as any uncached text is.
    Seeded, so the same tree gives the same tuple.
    """
    rng = np.random.default_rng(seed)
    scales = ((_TEMPO_WORDS, TEMPO_CENTRE, TEMPO_RANGE), (_LOUDNESS_WORDS, LOUDNESS_CENTRE, LOUDNESS_RANGE),
              (_DENSITY_WORDS, ONSET_CENTRE, ONSET_RANGE), (_BRIGHTNESS_WORDS, CENTROID_CENTRE, CENTROID_RANGE))
    captions: dict[str, None] = {}
    n = samples_per_cell
    for cell in itertools.product(*(range(len(table)) for table, _, _ in scales), (1, -1)):
        values = [_draw(rng, table, i, centre, half, n) for (table, centre, half), i in zip(scales, cell[:4], strict=True)]
        strength = rng.uniform(0.0, 1.0 / MODE_GAIN, n) if cell[4] > 0 else -rng.uniform(1e-9, 1.0 / MODE_GAIN, n)
        strength[rng.random(n) < 0.25] = cell[4] / MODE_GAIN  # clipped: strong modes all read as ±1
        valence, arousal = (np.clip(axis, -1.0, 1.0) for axis in _axes(values[0], values[1], values[2], values[3], strength))
        _, first = np.unique(_two_nearest(valence, arousal), axis=0, return_index=True)
        for i in sorted(first):
            d = Descriptors(duration_s=1.0, loudness_lufs=float(values[1][i]), peak_dbfs=-6.0,
                            tempo_bpm=float(values[0][i]), onset_rate=float(values[2][i]),
                            centroid_hz=float(values[3][i]), high_freq_ratio=0.0, key="C",
                            mode="major" if strength[i] >= 0 else "minor", mode_strength=float(strength[i]),
                            sharp_transients=0, clicks=0)
            captions.setdefault(caption_for(d, estimate_from_descriptors(d)))
    targets = rng.uniform(-1.0, 1.0, (n * 10, 2))
    for v, a in targets:
        captions.setdefault(expected_caption(Affect(float(v), float(a))))
    return tuple(captions)
