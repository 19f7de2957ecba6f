"""Writing a finished session: audio, per-segment files, provenance and a picture, all-or-nothing.

Everything is written into a hidden staging folder beside the destination and renamed into place
at the end, so an error or an interrupt never leaves a half-written session behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from promptloop.audio.io import write_audio
from promptloop.errors import InputError, StorageError

if TYPE_CHECKING:
    from promptloop.session.loop import LoopSession

__all__ = ["staged_output", "write_session"]


@contextmanager
def staged_output(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder that becomes ``out`` only if the block finishes."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"output folder {out} is not empty (use --overwrite to replace it)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as exc:
        raise StorageError(f"cannot write to {out.parent}: {exc.strerror or exc}") from exc
    try:
        yield staging
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, trash / "old")
            os.replace(staging, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"cannot write session to {out}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_session(folder: Path, session: LoopSession, plot: bool = True) -> dict[str, Path]:
    """Write ``session.wav``, ``segments/NN.wav``, ``session.json`` (and ``overview.png``), and for
    a composing generator the scores: ``session.mid`` and ``segments/NN.mid``."""
    from promptloop.audio.io import atomic_write_bytes
    from promptloop.synthesis.score import to_midi

    sr = session.sample_rate
    paths = {"audio": folder / "session.wav", "json": folder / "session.json"}
    write_audio(paths["audio"], session.final_audio(), sr)
    for result in session.results:
        write_audio(folder / result.record.file, result.audio, sr)
        if result.score is not None and result.record.midi:
            atomic_write_bytes(folder / result.record.midi, to_midi(result.score))
    midi = session.session_midi()
    if midi is not None:
        paths["midi"] = folder / "session.mid"
        atomic_write_bytes(paths["midi"], midi)
    record = session.record()

    atomic_write_bytes(paths["json"], json.dumps(record.model_dump(mode="json"), indent=2).encode())
    if plot:
        from promptloop.session.overview import plot_session

        paths["plot"] = folder / "overview.png"
        plot_session(record, session.final_audio(), paths["plot"])
    return paths
