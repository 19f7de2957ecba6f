"""How different two tracks sound: a distance in [0, 1] between measured profiles.

Each track is summarised by three measured profiles:

* **timbre**: the mean log-mel spectrum (40 bands, in dB, centred), compared by cosine;
* **harmony**: the mean chroma vector (12 pitch classes), compared by cosine;
* **motion**: the frame-to-frame course of loudness and brightness over the track (onset
  strength and spectral centroid, resampled to 64 points), compared by correlation.

The distance is the mean of the three component distances, each in [0, 1]; a track compared with
itself measures 0.  Tracks of one playlist closer than ``variety.min_distance``
(:data:`promptloop.playlist.spec.DEFAULT_MIN_DISTANCE`, 0.08 by default) count as near-duplicates
and the later one is regenerated with a new seed.  docs/playlists.md records the distances measured
between synth tracks that fixed the default.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distance", "profile"]

_BANDS = 40
_POINTS = 64


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denom == 0.0:
        return 0.0 if not (np.any(a) or np.any(b)) else 1.0
    return float(np.clip((1.0 - float(np.dot(a, b)) / denom) / 2.0, 0.0, 1.0))


def _course(values: np.ndarray) -> np.ndarray:
    if values.size < 2:
        return np.zeros(_POINTS)
    x = np.interp(np.linspace(0, values.size - 1, _POINTS), np.arange(values.size), values)
    return x - x.mean()


def profile(audio: np.ndarray, sample_rate: int) -> dict[str, list[float]]:
    """The measured profiles of one track (JSON-friendly, stored in the manifest)."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=1024)) ** 2
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=_BANDS), top_db=80)
    timbre = mel.mean(axis=1)
    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate).mean(axis=1)
    onset = librosa.onset.onset_strength(S=mel, sr=sample_rate)
    centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=sample_rate)[0]
    return {
        "timbre": [round(float(v), 4) for v in timbre - timbre.mean()],
        "harmony": [round(float(v), 5) for v in chroma],
        "loudness_course": [round(float(v), 4) for v in _course(onset)],
        "brightness_course": [round(float(v), 2) for v in _course(centroid)],
    }


def distance(a: dict[str, list[float]], b: dict[str, list[float]]) -> float:
    """Distance in [0, 1] between two profiles from :func:`profile` (0: the same track)."""
    timbre = _cosine_distance(np.array(a["timbre"]), np.array(b["timbre"]))
    harmony = 2.0 * _cosine_distance(np.array(a["harmony"]), np.array(b["harmony"]))  # non-negative: 1 - cos
    motion = np.mean([
        _cosine_distance(np.array(a[k]), np.array(b[k])) for k in ("loudness_course", "brightness_course")
    ])
    return round(float((timbre + harmony + motion) / 3.0), 4)
