"""Where a session's audio lives on disk, sealed, and the WAV/FLAC files served from it.

``<data>/audio/<user>/<session>/segments/NN.wav`` holds each chosen segment (with its crossfade
lead-in); ``mix/NN.wav`` the stitched session through segment NN.  Every file is a listener's health
data, so each is sealed with the data folder's key (:mod:`.crypto`; the name keeps the format of the
plain content), written atomically (temporary file + rename) with owner-only permissions in
owner-only folders.  The mix of the last *committed* segment is the one that counts, so a crash
between writing audio and committing the row never leaves a session pointing at a partial or
uncommitted file.

:func:`data_vault` gives the vault of a data folder to anything else that keeps listener files
(MIDI, reports): ``data_vault(root).write_file(path, data)`` and ``.read_file(path)``.
"""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from promptloop.audio.io import resample
from promptloop.errors import StorageError
from promptloop.service.crypto import Vault, load_or_create_keyring

__all__ = ["KEY_FILE", "SessionFiles", "data_vault", "private_folder"]

KEY_FILE = "secret.key"
_FORMATS = {"wav": "WAV", "flac": "FLAC"}
_vaults: dict[Path, tuple[tuple[int, int], Vault]] = {}
_vaults_lock = threading.Lock()


def data_vault(root: Path) -> Vault:
    """The vault of the data folder ``root`` (its ``secret.key``), read again once the key file
    changes (after a rotation)."""
    path = (Path(root) / KEY_FILE).resolve()
    with _vaults_lock:
        try:
            stamp = (path.stat().st_mtime_ns, path.stat().st_ino)
        except FileNotFoundError:
            stamp = (0, 0)
        cached = _vaults.get(path)
        if cached is None or cached[0] != stamp:
            vault = Vault(load_or_create_keyring(path))
            stamp = (path.stat().st_mtime_ns, path.stat().st_ino)
            _vaults[path] = cached = (stamp, vault)
        return cached[1]


def private_folder(folder: Path) -> Path:
    """``folder`` and any missing parents, readable by the owner only (mkdir gives ``mode`` to the
    last folder alone, so each missing one is made in turn)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        for path in missing:
            path.mkdir(mode=0o700, exist_ok=True)
        if folder not in missing:
            folder.chmod(0o700)
    except OSError as exc:
        raise StorageError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return folder


def encode(audio: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format=_FORMATS[fmt], subtype="PCM_16")
    return buffer.getvalue()


def decode(data: bytes, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate`` from the plain bytes of a file this module wrote."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's own error types
        raise StorageError(f"a stored audio file cannot be decoded: {exc}") from exc
    return resample(audio.mean(axis=1), int(rate), sample_rate)


class SessionFiles:
    def __init__(self, root: Path, user_id: int, session_id: str) -> None:
        self.root = Path(root)
        self.user_dir = self.root / "audio" / str(user_id)
        self.folder = self.user_dir / session_id

    @property
    def vault(self) -> Vault:
        return data_vault(self.root)

    def segment(self, index: int, fmt: str = "wav") -> Path:
        return self.folder / "segments" / f"{index:02d}.{fmt}"

    def mix(self, last_index: int, fmt: str = "wav") -> Path:
        return self.folder / "mix" / f"{last_index:02d}.{fmt}"

    def midi(self, last_index: int) -> Path:
        """The session's score up to segment ``last_index``, as a standard MIDI file."""
        return self.folder / "mix" / f"{last_index:02d}.mid"

    def write_midi(self, last_index: int, data: bytes) -> None:
        path = self.midi(last_index)
        if not path.parent.is_dir():
            private_folder(path.parent)
        self.vault.write_file(path, data)

    def write(self, path: Path, audio: np.ndarray, sample_rate: int) -> None:
        """Seal ``audio`` into ``path`` (format by suffix), atomically, owner-only."""
        if not path.parent.is_dir():
            private_folder(path.parent)
        self.vault.write_file(path, encode(audio, sample_rate, path.suffix.lstrip(".")))

    def write_segment(self, index: int, audio: np.ndarray, sample_rate: int, mix: np.ndarray) -> None:
        self.write(self.segment(index), audio, sample_rate)
        self.write(self.mix(index), mix, sample_rate)

    def load(self, path: Path, sample_rate: int) -> np.ndarray:
        return decode(self.vault.read_file(path), sample_rate)

    def load_segment(self, index: int, sample_rate: int) -> np.ndarray:
        return self.load(self.segment(index), sample_rate)

    def load_mix(self, last_index: int, sample_rate: int) -> np.ndarray:
        return self.load(self.mix(last_index), sample_rate)

    def as_format(self, wav: Path, fmt: str, sample_rate: int) -> Path:
        """The (sealed) file to serve: the WAV itself, or a FLAC made from it once and kept beside it."""
        if fmt == "wav":
            return wav
        flac = wav.with_suffix(".flac")
        if not flac.exists():
            self.write(flac, self.load(wav, sample_rate), sample_rate)
        return flac

    def export(self, path: Path, dest: Path) -> None:
        """Write the plain content of the sealed file ``path`` to ``dest`` (for its owner)."""
        from promptloop.audio.io import atomic_write_bytes

        atomic_write_bytes(dest, self.vault.read_file(path))

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

