"""Stitching helpers measured on signals of known level."""

from __future__ import annotations

import numpy as np

from promptloop.audio.analysis import detect_clicks
from promptloop.audio.mix import level_glide

SR = 32000


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2)))


def test_a_level_glide_starts_at_the_offset_and_eases_to_the_signal_without_a_click() -> None:
    t = np.arange(6 * SR) / SR
    tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for start_db in (-8.0, 6.0):
        out = level_glide(tone, SR, start_db, 3.0)
        window = int(0.1 * SR)
        assert abs(_db(out[:window]) - _db(tone[:window]) - start_db) < 0.2  # begins at the offset
        assert np.allclose(out[3 * SR:], tone[3 * SR:])  # untouched after the glide
        levels = [_db(out[i:i + window]) - _db(tone[i:i + window]) for i in range(0, 3 * SR, window)]
        assert all(abs(b) <= abs(a) + 1e-6 for a, b in zip(levels, levels[1:], strict=False))  # only ever closer
        assert detect_clicks(out, SR).size == 0
    assert np.array_equal(level_glide(tone, SR, 0.0, 3.0), tone)
