"""The room and the bed: the instruments get a tone filter and a reverb sized by arousal, then the
textures go under them at fixed levels relative to the instruments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pedalboard import HighpassFilter, LowpassFilter, Pedalboard, Reverb

from promptloop.synthesis.textures import render_texture

__all__ = ["GENTLE_CUTOFF_HZ", "mixdown"]

GENTLE_CUTOFF_HZ = 3500.0
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
    board = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=35.0),
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
    return out.astype(np.float32)
