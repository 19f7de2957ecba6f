"""Sharp attacks: where the level jumps faster than a listener with hyperacusis can bear.

Shared by :mod:`promptloop.audio.analysis` (which counts them) and
:mod:`promptloop.audio.percussion` (which asks which of them are drums).
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.signal

__all__ = ["half_rise_s", "transient_times"]


def _rising_edges(env_db: np.ndarray, lag: int, rise_db: float, floor_db: float) -> np.ndarray:
    """Frame indexes where a rising edge starts (one per edge, not one per frame of it)."""
    rise = env_db[lag:] - env_db[:-lag]
    edges = (rise > rise_db) & (env_db[lag:] > floor_db)
    if not edges.size:
        return np.zeros(0, dtype=int)
    starts = np.flatnonzero(edges[1:] & ~edges[:-1]) + 1
    return (np.concatenate([[0], starts]) if edges[0] else starts) + lag


def transient_times(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Times (s) of sharp attacks — what startles a listener with hyperacusis.

    Two detectors: (a) above 2 kHz (hats, bells, clicks), the 5 ms RMS rising more than 12 dB
    within 5 ms; (b) full band (thumps), the 20 ms RMS rising more than 15 dB within 10 ms.  Both
    only count within 30 dB of the clip's peak level, so soft background detail is ignored.  One
    attack can trip both; :func:`sharp_transients` counts both, as it always has.
    """
    short, hop = int(0.005 * sample_rate), int(0.0025 * sample_rate)
    long = int(0.02 * sample_rate)
    if audio.size < long + 4 * hop:
        return np.zeros(0)
    full = librosa.feature.rms(y=audio, frame_length=long, hop_length=hop, center=False)[0]
    full_db = 20 * np.log10(full + 1e-9)
    floor = full_db.max() - 30
    sos = scipy.signal.butter(4, min(2000.0, 0.4 * sample_rate), btype="highpass", fs=sample_rate, output="sos")
    highs = librosa.feature.rms(y=scipy.signal.sosfilt(sos, audio), frame_length=short, hop_length=hop, center=False)[0]
    frames = np.concatenate([_rising_edges(20 * np.log10(highs + 1e-9), 2, 12.0, floor),
                             _rising_edges(full_db, 4, 15.0, floor)])
    return np.sort(frames) * hop / sample_rate


def half_rise_s(audio: np.ndarray, sample_rate: int, onset_s: float) -> float:
    """Seconds from a note's start (``onset_s``) until its 5 ms RMS first reaches half its peak.

    How soft an attack is: a plucked or struck note gets there in a few milliseconds, a bowed or
    swelled one in tens to hundreds.  ``audio`` holds one note and what follows it.
    """
    win = max(1, int(0.005 * sample_rate))
    start = int(onset_s * sample_rate)
    power = np.convolve(audio[start:].astype(np.float64) ** 2, np.ones(win) / win)[: audio.size - start]
    if not power.size or power.max() <= 0.0:
        return 0.0
    return float(np.argmax(power >= 0.25 * power.max()) / sample_rate)  # half the amplitude: a quarter of the power
