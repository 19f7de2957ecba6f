"""``promptloop session --profile FILE``: the profile is a prior, and the session updates it."""

import json
import subprocess
import sys
from pathlib import Path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "promptloop.cli.main", *args], capture_output=True, text=True,
                          timeout=600)


def test_the_profile_steers_the_session_and_learns_from_it(tmp_path: Path) -> None:
    profile = tmp_path / "me.json"
    profile.write_text(json.dumps({"triggers": ["piano"], "comfortable_loudness_lufs": [-40, -26]}))
    out = tmp_path / "s"
    res = _cli("session", "--start", "anxious", "--target", "calm", "--avoid", "bells", "--segments", "2",
               "--segment-seconds", "3", "--out", str(out), "--profile", str(profile), "--no-plot")
    assert res.returncode == 0, res.stderr
    record = json.loads((out / "session.json").read_text())
    assert "piano" in record["preferences"]["avoid"]
    assert record["preferences"]["loudness_ceiling_lufs"] == -26.0
    assert all("piano" not in s["prompt"] for s in record["segments"])
    learned = json.loads(profile.read_text())
    assert learned["sessions"] == 1 and learned["rejected"] == ["bells"] and learned["triggers"] == ["piano"]


def test_a_bad_profile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    profile = tmp_path / "me.json"
    profile.write_text(json.dumps({"comfortable_tempo_bpm": [120, 60]}))
    res = _cli("session", "--segments", "1", "--segment-seconds", "3", "--out", str(tmp_path / "s"),
               "--profile", str(profile))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "comfortable_tempo_bpm" in res.stderr


def test_a_tempo_range_limits_the_session_is_said_and_kept_in_the_profile(tmp_path: Path) -> None:
    profile, out = tmp_path / "me.json", tmp_path / "s"
    res = _cli("session", "--start", "anxious", "--target", "calm", "--segments", "2", "--segment-seconds", "3",
               "--tempo-range", "80-100", "--out", str(out), "--profile", str(profile), "--no-plot")
    assert res.returncode == 0, res.stderr
    record = json.loads((out / "session.json").read_text())
    tempi = [s["attempts"][s["chosen_attempt"]]["plan"]["tempo_bpm"] for s in record["segments"]]
    assert all(80 <= t <= 100 for t in tempi) and tempi[-1] == 80  # calm asks for 69 BPM
    assert "80 bpm" in record["segments"][-1]["prompt"]
    assert "comfortable tempo range" in record["pacing"]["tempo_note"] and "comfortable tempo range" in res.stderr
    assert json.loads(profile.read_text())["comfortable_tempo_bpm"] == [80.0, 100.0]


def test_a_bad_tempo_range_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for bad in ("100-80", "fast", "20-60"):
        res = _cli("session", "--segments", "1", "--segment-seconds", "3", "--out", str(tmp_path / "s"),
                   "--tempo-range", bad)
        assert res.returncode == 2, (bad, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and "tempo-range" in res.stderr
        assert not (tmp_path / "s").exists()
