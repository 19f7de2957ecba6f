"""Nature and drone textures (rain, ocean, wind, drone, birds), shared by every embedded renderer.

Each is filtered noise or a few sines shaped by slow envelopes, so it sits under the music as a
bed rather than as notes; gentle mode drops the only sharp part (single rain drops).
"""

from __future__ import annotations

import numpy as np
from pedalboard import HighpassFilter, LowpassFilter, Pedalboard

__all__ = ["TEXTURE_NAMES", "render_texture"]

TEXTURE_NAMES: tuple[str, ...] = ("rain", "ocean", "wind", "drone", "birds")
_TWO_PI = np.float32(2 * np.pi)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def _filtered(board: Pedalboard, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    return board(_noise(n, rng)[None, :], sr)[0]


def _smooth_random(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A slowly varying control signal in [0, 1]."""
    points = max(2, int(n / sr * rate_hz) + 2)
    knots = rng.random(points).astype(np.float32)
    return np.interp(np.linspace(0, points - 1, n), np.arange(points), knots).astype(np.float32)


def _swell_in(n: int, sr: int, seconds: float = 0.5) -> np.ndarray:
    env = np.ones(n, dtype=np.float32)
    a = min(n, int(seconds * sr))
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a, dtype=np.float32) / max(1, a))
    return env


def render_texture(
    name: str, n: int, sr: int, rng: np.random.Generator, *, gentle: bool = False, drone_hz: float = 65.4
) -> np.ndarray:
    """``n`` samples of texture ``name`` (levels are relative: the caller mixes them)."""
    t = np.arange(n, dtype=np.float32) / sr
    if name == "rain":
        hiss = _filtered(Pedalboard([HighpassFilter(1800.0), LowpassFilter(6000.0)]), n, sr, rng)
        out = 0.025 * hiss
        if not gentle:  # single drops are sharp: none in gentle mode
            drops = np.zeros(n, dtype=np.float32)
            count, drop_len = int(25 * n / sr), 600
            shape = np.sin(_TWO_PI * 3000 * np.arange(drop_len) / sr) * np.exp(-np.arange(drop_len) / 90.0)
            shape *= np.minimum(1.0, np.arange(drop_len) / 8)
            for pos, amp in zip(rng.integers(0, max(1, n - drop_len), count), rng.uniform(0.2, 1.0, count), strict=True):
                drops[pos : pos + drop_len] += amp * shape.astype(np.float32)
            out = out + 0.003 * drops
    elif name == "ocean":
        rumble = _filtered(Pedalboard([LowpassFilter(700.0)]), n, sr, rng)
        period = 7.0 + 3.0 * rng.random()
        swell = (0.5 + 0.5 * np.sin(_TWO_PI * t / period + rng.uniform(0, 6.28))) ** 2
        out = 0.08 * rumble * (0.15 + swell)
    elif name == "wind":
        air = _filtered(Pedalboard([HighpassFilter(300.0), LowpassFilter(1400.0)]), n, sr, rng)
        out = 0.07 * air * (0.3 + 0.7 * _smooth_random(n, sr, 0.2, rng))
    elif name == "drone":
        tone = np.sin(_TWO_PI * drone_hz * t) + 0.5 * np.sin(_TWO_PI * drone_hz * 1.5 * t + 1.0)
        tone += 0.3 * np.sin(_TWO_PI * drone_hz * 2.003 * t)
        out = 0.05 * tone * _swell_in(n, sr, 1.0) * _swell_in(n, sr, 1.0)[::-1]
    elif name == "birds":
        out = np.zeros(n, dtype=np.float32)
        for _ in range(int(0.6 * n / sr)):
            length = rng.uniform(0.06, 0.14)
            m = int(length * sr)
            tt = np.arange(m, dtype=np.float32) / sr
            f0 = rng.uniform(2500, 4000)
            chirp = np.sin(_TWO_PI * (f0 * tt + 6000 * tt**2)) * np.sin(np.pi * tt / length) ** 2
            start = int(rng.uniform(0, max(1, n - m)))
            out[start : start + m] += 0.03 * chirp[: n - start].astype(np.float32)
    else:
        raise ValueError(f"unknown texture {name!r}")
    return (out * _swell_in(n, sr)).astype(np.float32)
