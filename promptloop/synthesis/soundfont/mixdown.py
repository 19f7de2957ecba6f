"""The room and the bed: the instruments get a tone filter and a reverb sized by arousal, then the
textures go under them at fixed levels relative to the instruments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pedalboard import Compressor, HighpassFilter, HighShelfFilter, LowpassFilter, Pedalboard, Reverb

from promptloop.audio.mix import normalize_loudness
from promptloop.synthesis.textures import render_texture

__all__ = ["GENTLE_CUTOFF_HZ", "PEAK_TO_LOUDNESS_DB", "mixdown"]

GENTLE_CUTOFF_HZ = 3500.0
# Brightness above the middle lifts the presence band: a high shelf from 1.5 kHz reaching this gain
# at brightness 1 (below the middle the voices' filters and the low-pass darken instead).  Without it
# the upper half of the scale changed the spectral centroid by under 5 % on every instrument set.
BRIGHT_SHELF_HZ = 1500.0
BRIGHT_SHELF_DB = 9.0
# Sampled attacks (piano, plucks, drums) peak far above the loudness: at the loudest marking
# (-15 LUFS) they reached the loop's limiter, which then reshaped the audio again on every
# re-limiting (a resumed server session's mix changed in the past).  Peaks are held this far above
# the integrated loudness here, so the loop's limiter stays idle for this generator.
PEAK_TO_LOUDNESS_DB = 10.5  # at -15 LUFS: peaks at -4.5 dBFS, under the loop limiter's -4
_REFERENCE_LUFS = -24.0
# Texture level under the instruments (dB relative to the instruments' RMS).
_TEXTURE_DB = {"rain": -13.0, "ocean": -10.0, "wind": -14.0, "drone": -15.0, "birds": -20.0}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def mixdown(
    instruments: np.ndarray,
    sample_rate: int,
    textures: Sequence[str],
    *,
    brightness: float,
    density: float,
    gentle: bool,
    drone_hz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    cutoff = 2500.0 + 9000.0 * brightness
    if gentle:
        cutoff = min(cutoff, GENTLE_CUTOFF_HZ)
    shelf_db = 0.0 if gentle else 2.0 * max(0.0, brightness - 0.5) * BRIGHT_SHELF_DB
    board = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=35.0),
        *([HighShelfFilter(cutoff_frequency_hz=BRIGHT_SHELF_HZ, gain_db=shelf_db)] if shelf_db > 0 else []),
        LowpassFilter(cutoff_frequency_hz=min(cutoff, 0.45 * sample_rate)),
        Reverb(room_size=0.35 + 0.45 * (1.0 - density), damping=0.55, wet_level=0.28 - 0.12 * density,
               dry_level=0.8, width=1.0),
    ])
    out = board(instruments[None, :].astype(np.float32), sample_rate)[0]
    level = _rms(out)
    if level <= 0:
        level = 0.05  # a silent score still carries its textures at a sensible level
    for name in textures:
        bed = render_texture(name, out.size, sample_rate, rng, gentle=gentle, drone_hz=drone_hz)
        bed_rms = _rms(bed)
        if bed_rms > 0:
            out = out + bed * (level * 10 ** (_TEXTURE_DB.get(name, -14.0) / 20) / bed_rms)
    return _hold_peaks(out.astype(np.float32), sample_rate)


def _hold_peaks(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Keep peaks within :data:`PEAK_TO_LOUDNESS_DB` of the loudness (a fast compressor, then a
    clip 1 dB higher as the safety net), at a reference level the loop rescales."""
    audio = normalize_loudness(audio, sample_rate, _REFERENCE_LUFS)
    threshold = _REFERENCE_LUFS + PEAK_TO_LOUDNESS_DB - 1.0
    board = Pedalboard([Compressor(threshold_db=threshold, ratio=20.0, attack_ms=0.5, release_ms=120.0)])
    held = board(audio[None, :], sample_rate)[0]
    ceiling = 10 ** ((_REFERENCE_LUFS + PEAK_TO_LOUDNESS_DB) / 20)
    return np.clip(held, -ceiling, ceiling).astype(np.float32)
