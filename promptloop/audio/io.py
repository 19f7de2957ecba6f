"""Reading listener audio in any common format and writing output atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from promptloop.errors import InputError, StorageError

__all__ = ["MAX_INPUT_SECONDS", "atomic_write_bytes", "load_audio", "resample", "write_audio"]

MAX_INPUT_SECONDS = 600.0
_MIN_RATE, _MAX_RATE = 4000, 384000


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling of a mono signal (soxr)."""
    if rate_in == rate_out:
        return audio.astype(np.float32, copy=False)
    return soxr.resample(audio.astype(np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def load_audio(path: str | os.PathLike[str], sample_rate: int, max_seconds: float = MAX_INPUT_SECONDS) -> np.ndarray:
    """Load ``path`` as mono float32 at ``sample_rate``.

    Accepts what libsndfile reads (WAV, FLAC, OGG, MP3...).  Refuses, with :class:`InputError`,
    files that are missing, unreadable, empty, silent-by-corruption (NaN/inf), of absurd sample
    rate, or longer than ``max_seconds`` (checked before decoding, so memory stays bounded).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file not found: {path}")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises its own error types
        raise InputError(f"cannot read audio file {path.name}: not a supported audio format") from exc
    if not _MIN_RATE <= info.samplerate <= _MAX_RATE:
        raise InputError(f"audio file {path.name} has an unsupported sample rate {info.samplerate} Hz")
    if info.frames <= 0:
        raise InputError(f"audio file {path.name} is empty")
    if info.frames / info.samplerate > max_seconds:
        raise InputError(
            f"audio file {path.name} is {info.frames / info.samplerate:.0f} s long; "
            f"the limit is {max_seconds:.0f} s"
        )
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise InputError(f"cannot decode audio file {path.name}: {exc}") from exc
    if data.size == 0:
        raise InputError(f"audio file {path.name} is empty")
    if not np.all(np.isfinite(data)):
        raise InputError(f"audio file {path.name} contains NaN or infinite samples")
    mono = data.mean(axis=1)
    peak = float(np.max(np.abs(mono)))
    if peak > 1.0:
        mono = mono / peak
    return resample(mono, int(rate), sample_rate)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise StorageError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> None:
    """Write mono float audio as 16-bit WAV or FLAC (by suffix), atomically."""
    import io

    path = Path(path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"unsupported output format {path.suffix!r}; use .wav or .flac")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format=fmt, subtype="PCM_16")
    atomic_write_bytes(path, buffer.getvalue())
