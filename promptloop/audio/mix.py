"""Stitching segments: equal-power crossfades, loudness normalisation, level glides and a safety limiter."""

from __future__ import annotations

import numpy as np
import pyloudnorm
from pedalboard import Compressor, Pedalboard

__all__ = ["crossfade_append", "integrated_lufs", "level_glide", "normalize_loudness", "safety_limit"]

_SILENCE_LUFS = -70.0


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness; -70 for silence or clips shorter than one block."""
    if audio.size < int(0.4 * sample_rate) or not np.any(audio):
        return _SILENCE_LUFS
    value = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64))
    return float(value) if np.isfinite(value) else _SILENCE_LUFS


def normalize_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Scale ``audio`` to ``target_lufs`` integrated loudness (no change for silence)."""
    current = integrated_lufs(audio, sample_rate)
    if current <= _SILENCE_LUFS:
        return audio
    gain = 10 ** ((target_lufs - current) / 20)
    return (audio * gain).astype(np.float32)


def level_glide(audio: np.ndarray, sample_rate: int, start_db: float, seconds: float) -> np.ndarray:
    """``audio`` starting ``start_db`` away from its own level and easing to it over ``seconds``.

    The gain moves in decibels along a raised cosine (no corner at either end), so a segment that
    is planned 4 dB quieter than the last one begins at the last one's level and gets there over
    the glide, as a diminuendo would, instead of stepping down at the seam.
    """
    n = min(audio.size, int(round(seconds * sample_rate)))
    if n <= 1 or start_db == 0.0:
        return audio.astype(np.float32)
    ease = 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, n)))  # 1 -> 0
    out = audio.astype(np.float32)  # a copy: only the glide's head is scaled
    out[:n] = audio[:n] * 10 ** (start_db * ease / 20)
    return out


def safety_limit(audio: np.ndarray, sample_rate: int, ceiling_db: float = -1.0) -> np.ndarray:
    """Peak limiting at ``ceiling_db`` dBFS so no peak can startle a sensitive listener.

    A fast high-ratio compressor (pedalboard; no make-up gain, unlike its ``Limiter``, which raises
    the level) catches peaks 3 dB early; a final clip at the ceiling is only a safety net.
    """
    board = Pedalboard([Compressor(threshold_db=ceiling_db - 3.0, ratio=20.0, attack_ms=1.0, release_ms=150.0)])
    limited = board(audio.astype(np.float32)[None, :], sample_rate)[0]
    peak_limit = 10 ** (ceiling_db / 20)
    return np.clip(limited, -peak_limit, peak_limit).astype(np.float32)


def crossfade_append(
    previous: np.ndarray, new: np.ndarray, sample_rate: int, fade_seconds: float
) -> np.ndarray:
    """Append ``new`` to ``previous`` overlapping ``fade_seconds`` with an equal-power crossfade.

    Equal-power (sine/cosine) curves keep the summed energy constant through the overlap for
    uncorrelated material, so the seam neither dips nor bulges.
    """
    if previous.size == 0:
        return new.astype(np.float32)
    n = min(int(round(fade_seconds * sample_rate)), previous.size, new.size)
    if n <= 0:
        return np.concatenate([previous, new]).astype(np.float32)
    theta = np.linspace(0.0, np.pi / 2, n, dtype=np.float64)
    overlap = previous[-n:] * np.cos(theta) + new[:n] * np.sin(theta)
    return np.concatenate([previous[:-n], overlap.astype(np.float32), new[n:]]).astype(np.float32)
