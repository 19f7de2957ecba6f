"""`promptloop users add`, `promptloop chat` (terminal) and `promptloop serve` argument errors."""

from __future__ import annotations

import re
import subprocess
import sys

import soundfile as sf
from srv_support import service_env
from typer.testing import CliRunner

from dbs import database_for
from promptloop.cli.main import app
from promptloop.service.engine import Service, ServiceConfig

runner = CliRunner()


def test_users_add_prints_a_token_that_authenticates(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    if (url := database_for(data)) is not None:
        monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", url)
    result = runner.invoke(app, ["users", "add", "dana", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("pl_") and len(token) > 40
    service = Service(ServiceConfig(data_dir=data, database_url=database_for(data)))
    try:
        assert service.authenticate(token).name == "dana"
    finally:
        service.close()
    again = runner.invoke(app, ["users", "add", "dana", "--data-dir", str(data)])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["users", "add", "../x", "--data-dir", str(data)])
    assert bad.exit_code == 2 and "user names" in bad.output
    listed = runner.invoke(app, ["users", "list", "--data-dir", str(data)])
    assert "\tdana\t" in listed.stdout and token not in listed.stdout


def test_users_add_stdout_is_only_the_token_under_ci(tmp_path) -> None:
    # pyfluidsynth prints where it found libfluidsynth when CI is set; scripts read the token from stdout.
    data = tmp_path / "data"
    out = subprocess.run([sys.executable, "-m", "promptloop.cli.main", "users", "add", "erin"],
                         capture_output=True, text=True, check=True, timeout=120, env=service_env(data, CI="1"))
    assert re.fullmatch(r"pl_[A-Za-z0-9_-]{40,}\n", out.stdout), out.stdout


def test_serve_refuses_an_unknown_or_unavailable_pool(tmp_path) -> None:
    result = runner.invoke(app, ["serve", "--workers", "threads", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "unknown worker pool" in result.output


def test_terminal_chat_saves_segments_and_applies_messages(tmp_path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["chat", "--start", "anxious", "--target", "calm", "--prefer", "piano, drums", "--segments", "3",
         "--segment-seconds", "2", "--out", str(out), "--data-dir", str(tmp_path / "data")],
        input="no drums please\n\n",
    )
    assert result.exit_code == 0, result.output
    assert "Changed: avoiding drums" in result.stdout
    folder = next(out.iterdir())
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["00.wav", "01.wav", "02.wav", "session.wav"]
    info = sf.info(str(folder / "session.wav"))
    assert info.samplerate == 32000 and abs(info.duration - 6.0) < 0.01
    lines = [line for line in result.stdout.splitlines() if "] score " in line]
    assert len(lines) == 3 and "drums" in lines[0] and "drums" not in lines[1] and "drums" not in lines[2]


def test_terminal_chat_keeps_a_tempo_range_and_refuses_a_bad_one(tmp_path) -> None:
    out = tmp_path / "out"
    common = ["--start", "anxious", "--target", "calm", "--segments", "2", "--segment-seconds", "2",
              "--out", str(out), "--data-dir", str(tmp_path / "data")]
    bad = runner.invoke(app, ["chat", *common, "--tempo-range", "90-60"])
    assert bad.exit_code == 2 and "--tempo-range" in bad.output and not out.exists()
    result = runner.invoke(app, ["chat", *common, "--tempo-range", "80-100"], input="\n\n")
    assert result.exit_code == 0, result.output
    tempi = [int(re.search(r"(\d+) bpm", line).group(1)) for line in result.stdout.splitlines() if "] score " in line]
    assert len(tempi) == 2 and all(80 <= t <= 100 for t in tempi) and tempi[-1] == 80  # calm asks for 69


def test_terminal_chat_takes_a_wearables_readings_and_the_next_segment_meets_them(tmp_path, monkeypatch) -> None:
    """A calm listener types a racing heart: the reading is kept with the session and the next segment
    is planned for a more aroused listener (the iso principle), so it is faster than the one before.
    A refused reading says why in one line and is asked for again."""
    out, data = tmp_path / "out", tmp_path / "data"
    if (url := database_for(data)) is not None:
        monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", url)
    result = runner.invoke(
        app,
        ["chat", "--start", "calm", "--target", "calm", "--segments", "2", "--segment-seconds", "2",
         "--out", str(out), "--data-dir", str(data)],
        input="/reading hr=foo\n/reading pulse=80\n/reading hr=118 hrv=18 eda=14\n",
    )
    assert result.exit_code == 0, result.output
    assert "'hr=foo': a reading is name=number" in result.output
    assert "unknown reading field(s): pulse" in result.output
    taken = [line for line in result.stdout.splitlines() if "reading taken" in line]
    assert len(taken) == 1 and "the closed loop reads it before the next segment" in taken[0]  # readings close the loop
    assert float(re.search(r"arousal ([+-][0-9.]+)", taken[0]).group(1)) > 0.0  # calm sits below 0
    made = [line for line in result.stdout.splitlines() if "] score " in line]
    tempi = [int(re.search(r"(\d+) bpm", line).group(1)) for line in made]
    assert len(tempi) == 2 and tempi[1] > tempi[0] + 5
    service = Service(ServiceConfig(data_dir=data, database_url=database_for(data)))
    try:
        from promptloop.service.store import User

        with service.db() as db:
            owner = db.get(User, service.list_users()[0]["id"])
        session_id = service.list_sessions(owner)[0]["id"]
        assert len(service.list_readings(owner, session_id)) == 1
    finally:
        service.close()
