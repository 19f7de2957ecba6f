"""All-or-nothing session output, and the physiological readings file."""

import json
from pathlib import Path

import numpy as np
import pytest

from promptloop.acquisition.affect import parse_affect
from promptloop.audio.io import load_audio, write_audio
from promptloop.cli.session import load_readings
from promptloop.errors import InputError
from promptloop.session.output import staged_output


def test_staged_output_leaves_nothing_when_the_block_fails(tmp_path):
    out = tmp_path / "s"
    with pytest.raises(RuntimeError), staged_output(out) as staging:
        (staging / "session.wav").write_bytes(b"partial")
        raise RuntimeError("generator died")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_staged_output_replaces_only_with_overwrite(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(InputError, match="not empty"), staged_output(out):
        pass
    with staged_output(out, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_write_audio_is_atomic_and_roundtrips(tmp_path):
    t = np.arange(32000) / 32000
    audio = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "a.flac"
    write_audio(path, audio, 32000)
    back = load_audio(path, 32000)
    assert np.max(np.abs(back - audio)) < 1e-3
    assert [p.name for p in tmp_path.iterdir()] == ["a.flac"]
    with pytest.raises(InputError, match="unsupported output format"):
        write_audio(tmp_path / "a.mp3", audio, 32000)


def test_load_audio_resamples_and_downmixes(tmp_path):
    import soundfile as sf

    t = np.arange(22050 * 2) / 22050
    sf.write(tmp_path / "x.wav", np.stack([np.sin(2 * np.pi * 300 * t)] * 2, axis=1) * 0.3, 22050)
    audio = load_audio(tmp_path / "x.wav", 32000)
    assert audio.ndim == 1 and audio.size == pytest.approx(64000, abs=2)


def test_readings_file_moves_the_start_state(tmp_path):
    from promptloop.acquisition.physio import estimate_affect

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"readings": {"heart_rate": 96, "skin_conductance": 9},
                                "baseline": {"heart_rate": 64, "skin_conductance": 4}}))
    readings, baseline = load_readings(path)
    est = estimate_affect(readings, baseline, prior=parse_affect("neutral")).affect
    assert est.arousal > 0.5


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"readings": {"heart_rate": -3}}',
                                     '{"readings": {"pulse": 60}}'])
def test_bad_readings_files_are_refused(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(InputError):
        load_readings(path)
    with pytest.raises(InputError, match="not found"):
        load_readings(Path(tmp_path / "missing.json"))
