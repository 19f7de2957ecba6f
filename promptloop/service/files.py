"""Where a session's audio lives on disk, and the WAV/FLAC files served from it.

``<data>/audio/<user>/<session>/segments/NN.wav`` holds each chosen segment (with its crossfade
lead-in); ``mix/NN.wav`` the stitched session through segment NN.  Every file is written atomically
(temporary file + rename), and the mix of the last *committed* segment is the one that counts, so a
crash between writing audio and committing the row never leaves a session pointing at a partial or
uncommitted file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from promptloop.audio.io import load_audio, write_audio

__all__ = ["SessionFiles"]


class SessionFiles:
    def __init__(self, root: Path, user_id: int, session_id: str) -> None:
        self.user_dir = Path(root) / "audio" / str(user_id)
        self.folder = self.user_dir / session_id

    def segment(self, index: int, fmt: str = "wav") -> Path:
        return self.folder / "segments" / f"{index:02d}.{fmt}"

    def mix(self, last_index: int, fmt: str = "wav") -> Path:
        return self.folder / "mix" / f"{last_index:02d}.{fmt}"

    def write_segment(self, index: int, audio: np.ndarray, sample_rate: int, mix: np.ndarray) -> None:
        write_audio(self.segment(index), audio, sample_rate)
        write_audio(self.mix(index), mix, sample_rate)

    def load_segment(self, index: int, sample_rate: int) -> np.ndarray:
        return load_audio(self.segment(index), sample_rate, max_seconds=3600)

    def load_mix(self, last_index: int, sample_rate: int) -> np.ndarray:
        return load_audio(self.mix(last_index), sample_rate, max_seconds=6 * 3600)

    def as_format(self, wav: Path, fmt: str, sample_rate: int) -> Path:
        """The file to serve: the WAV itself, or a FLAC made from it once and kept beside it."""
        if fmt == "wav":
            return wav
        flac = wav.with_suffix(".flac")
        if not flac.exists():
            write_audio(flac, load_audio(wav, sample_rate, max_seconds=6 * 3600), sample_rate)
        return flac

    def tidy(self, committed: int) -> None:
        """Remove files beyond the committed segment count and superseded mixes.  The mix before the
        last one stays: a request may have been handed its path just before this segment committed,
        and removing it under that request would cut the response short."""
        for sub in ("segments", "mix"):
            folder = self.folder / sub
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                stem = path.name.split(".")[0]
                if path.name.startswith(".") and path.name.endswith(".part"):
                    path.unlink(missing_ok=True)  # a write interrupted by a crash
                elif stem.isdigit():
                    index = int(stem)
                    if index >= committed or (sub == "mix" and index < committed - 2):
                        path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
