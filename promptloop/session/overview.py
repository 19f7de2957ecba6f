"""Pictures of a session: a spectrogram with segment boundaries, and the planned waypoints against
the evaluator's estimates on the circumplex."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from promptloop.audio.io import atomic_write_bytes
from promptloop.session.provenance import SessionRecord

__all__ = ["plot_session"]


def plot_session(record: SessionRecord, audio: np.ndarray, path: Path) -> None:
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = record.sample_rate
    fig, (ax_spec, ax_path) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_mels=96, hop_length=1024)
    librosa.display.specshow(librosa.power_to_db(mel, ref=np.max), sr=sr, hop_length=1024,
                             x_axis="time", y_axis="mel", ax=ax_spec, cmap="magma")
    for seg in record.segments[1:]:
        ax_spec.axvline(seg.start_s, color="white", lw=1, ls="--")
    for seg in record.segments:
        ax_spec.text(seg.start_s + 0.2, sr / 2 * 0.55, f"{seg.index:02d}", color="white", fontsize=8)
    ax_spec.set_title("session spectrogram (dashed: segment seams)")

    wv = np.array([[s.waypoint.valence, s.waypoint.arousal] for s in record.segments])
    ev = np.array([[s.estimated.valence, s.estimated.arousal] for s in record.segments])
    ax_path.axhline(0, color="grey", lw=0.5)
    ax_path.axvline(0, color="grey", lw=0.5)
    ax_path.plot(wv[:, 0], wv[:, 1], "o-", label="planned (waypoints)")
    ax_path.plot(ev[:, 0], ev[:, 1], "s--", label="estimated from audio")
    ax_path.scatter([record.target.valence], [record.target.arousal], marker="*", s=160, color="green", label="target", zorder=5)
    ax_path.set_xlim(-1, 1)
    ax_path.set_ylim(-1, 1)
    ax_path.set_xlabel("valence")
    ax_path.set_ylabel("arousal")
    ax_path.set_title("affect path")
    ax_path.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
