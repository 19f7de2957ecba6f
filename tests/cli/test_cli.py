"""The ``promptloop`` command, run as a user would run it (in a subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from promptloop.audio.mix import integrated_lufs


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "promptloop.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_session_writes_audio_segments_and_provenance(tmp_path):
    out = tmp_path / "s"
    res = _cli("session", "--start", "anxious", "--target", "calm", "--prefer", "piano, soft pads, rain",
               "--avoid", "drums", "--segments", "3", "--segment-seconds", "4", "--seed", "7", "--out", str(out))
    assert res.returncode == 0, res.stderr
    audio, rate = sf.read(out / "session.wav")
    assert rate == 32000 and audio.shape[0] == pytest.approx(12 * 32000, abs=2)
    record = json.loads((out / "session.json").read_text())
    wavs = ["00.wav", "01.wav", "02.wav"]
    if record["backends"]["generator"]["name"] == "soundfont":  # the default where a SoundFont is installed
        assert record["midi"] == "session.mid" and (out / "session.mid").stat().st_size > 100
        wavs += ["00.mid", "01.mid", "02.mid"]
    assert sorted(p.name for p in (out / "segments").iterdir()) == sorted(wavs)
    assert record["schema_version"] == "1.0" and len(record["segments"]) == 3
    assert all("drum" not in s["prompt"] for s in record["segments"])
    assert (out / "overview.png").stat().st_size > 10_000
    assert integrated_lufs(audio.astype(np.float32), rate) <= -14.0
    assert "score" in res.stdout  # the summary table


def test_prior_audio_in_another_format_and_rate(tmp_path):
    t = np.arange(44100 * 3) / 44100
    stereo = np.stack([0.2 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    prior = tmp_path / "mine.flac"
    sf.write(prior, stereo, 44100)
    out = tmp_path / "s"
    res = _cli("session", "--segments", "1", "--segment-seconds", "3", "--prior", str(prior), "--out", str(out), "--no-plot")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "session.json").read_text())["prior"]["seconds"] == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("args, message", [
    (["--start", "grumpyish"], "unknown affect"),
    (["--target", "v=3,a=0"], "valence"),
    (["--prefer", "drums", "--avoid", "drums"], "conflicting"),
    (["--segments", "0"], "segments"),
    (["--prior", "missing.wav"], "not found"),
    (["--generator", "nope"], "unknown generator"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, args, message):
    out = tmp_path / "s"
    res = _cli("session", "--segments", "1", "--segment-seconds", "3", "--out", str(out), *args, cwd=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".s.")]


def test_unreadable_and_empty_prior_audio(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF1234WAVEjunk")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1)), 32000)
    for path in (bad, empty):
        res = _cli("session", "--segments", "1", "--prior", str(path), "--out", str(tmp_path / "o"))
        assert res.returncode == 2 and "error:" in res.stderr


def test_non_writable_output_folder(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    res = _cli("session", "--segments", "1", "--out", str(blocker / "s"))
    assert res.returncode == 2 and "cannot write" in res.stderr


def test_doctor_lists_backends():
    res = _cli("doctor")
    assert res.returncode == 0
    for name in ("synth", "rule", "embedding"):
        assert name in res.stdout


def test_schema_doc_matches_models():
    from promptloop.session.provenance import SessionRecord

    committed = json.loads((Path(__file__).parents[2] / "docs" / "session.schema.json").read_text())
    assert committed == SessionRecord.model_json_schema()
