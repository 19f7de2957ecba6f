"""SIGKILL in the middle of the work, repeatedly.

The server: a real ``promptloop serve`` process is killed while generation jobs run and readings and
messages arrive, then restarted on the same data folder, several times.  After each kill the SQLite
file passes ``PRAGMA integrity_check``; after each restart every recorded segment has its audio file,
no partial or uncommitted file remains, every acknowledged job, reading and message is still there,
interrupted jobs are marked failed (never silently lost) and the sessions continue from their last
committed segment to the end.

Playlist jobs (``promptloop playlist``): killed at random moments, repeatedly; after each kill only
whole tracks that match their manifest hash remain, and the last run finishes the playlist.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import soundfile as sf
import yaml
from rel_support import Api, soak, start_server, stop_server

from dbs import integrity_problems, query
from promptloop.service.files import data_vault

KILLS = soak(2, 8)
ENV = {"PROMPTLOOP_CANDIDATES": "1", "PROMPTLOOP_MAX_RETRIES": "0"}
SEGMENTS = 6


def _integrity(data: Path) -> None:
    """The database as the kill left it passes its server's integrity check (tests/dbs.py)."""
    assert integrity_problems(data) == []


def _check_files(data: Path) -> dict[str, int]:
    """Every committed segment has its audio and the session its mix; nothing else is on disk."""
    sessions = {sid: (uid, done) for sid, uid, done in query(data, "SELECT id, user_id, segments_done FROM sessions")}
    segments = query(data, 'SELECT session_id, "index" FROM segments')
    expected: set[Path] = set()
    for sid, index in segments:
        uid, done = sessions[sid]
        assert index < done, (sid, index, done)
        expected.add(data / "audio" / str(uid) / sid / "segments" / f"{index:02d}.wav")
    for sid, (uid, done) in sessions.items():
        assert sum(1 for s, _ in segments if s == sid) == done, sid  # rows and count agree
        if done:
            expected.add(data / "audio" / str(uid) / sid / "mix" / f"{done - 1:02d}.wav")
    on_disk = {p for p in (data / "audio").rglob("*") if p.is_file()} if (data / "audio").exists() else set()
    for sid, (uid, done) in sessions.items():  # the mix before the last may stay (see SessionFiles.tidy)
        if done >= 2:
            on_disk.discard(data / "audio" / str(uid) / sid / "mix" / f"{done - 2:02d}.wav")
            on_disk.discard(data / "audio" / str(uid) / sid / "mix" / f"{done - 2:02d}.flac")
            on_disk.discard(data / "audio" / str(uid) / sid / "mix" / f"{done - 2:02d}.mid")
    assert not [p for p in on_disk if p.name.endswith(".part")], "partial files survived the restart"
    assert expected <= on_disk, sorted(str(p) for p in expected - on_disk)
    # A composing generator (the SoundFont default) commits the session's score with its mix.
    scores = {p.with_suffix(".mid") for p in expected if p.parent.name == "mix"}
    allowed = expected | {p.with_suffix(".flac") for p in expected} | scores
    assert on_disk <= allowed, sorted(str(p) for p in on_disk - allowed)
    for path in expected:  # sealed at rest: whole, and decodes with the data folder's key
        assert sf.info(io.BytesIO(data_vault(data).read_file(path))).frames > 0
    return {"segments": len(segments), "files": len(on_disk)}


class Workload:
    """Keeps the server busy from a thread: generation jobs, readings and messages on every session,
    remembering everything the server acknowledged."""

    def __init__(self, api: Api, sessions: list[str]) -> None:
        self.api, self.sessions = api, sessions
        self.jobs: dict[str, str] = {}  # job id -> session id
        self.readings: dict[str, int] = {s: 0 for s in sessions}
        self.messages: dict[str, int] = {s: 0 for s in sessions}
        self.stop = threading.Event()
        self.running = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        while not self.stop.is_set():
            sid = rng.choice(self.sessions)
            try:
                r = self.api.post(f"/v1/sessions/{sid}/generate", json={"segments": 2})
                if r.status_code == 202:
                    self.jobs[r.json()["id"]] = sid
                    self.running.set()
                r = self.api.post(f"/v1/sessions/{sid}/readings", json={"readings": [{"heart_rate": rng.uniform(55, 110)}]})
                if r.status_code == 200:
                    self.readings[sid] += 1
                r = self.api.post(f"/v1/sessions/{sid}/messages", json={"text": rng.choice(["softer", "slower please"])})
                if r.status_code == 200:
                    self.messages[sid] += 1
            except httpx.HTTPError:
                return  # the server was killed
            time.sleep(0.02)


def test_sigkill_of_the_server_mid_session_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data, extra_env=ENV)
    token = server.token
    assert token
    http = httpx.Client(base_url=server.base, timeout=30)
    api = Api(http, token)
    sessions = [api.new_session(segments=SEGMENTS, segment_seconds=2.5, candidates=1, max_retries=0)["id"] for _ in range(3)]
    acknowledged = Workload(api, sessions)
    rng = random.Random(11)
    figures: list[dict[str, Any]] = []
    try:
        for cycle in range(KILLS):
            work = Workload(api, sessions)
            thread = threading.Thread(target=work.run, daemon=True)
            thread.start()
            assert work.running.wait(60), "no generation job started"
            # kill at a random moment once this cycle has committed a segment: mostly mid-segment
            done_before = sum(api.get(f"/v1/sessions/{sid}").json()["segments_done"] for sid in sessions)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and done_before == sum(
                    api.get(f"/v1/sessions/{sid}").json()["segments_done"] for sid in sessions):
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 1.5))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=30)
            server.process.stdout.close()  # type: ignore[union-attr]
            work.stop.set()
            thread.join(timeout=30)
            http.close()
            for mine, theirs in ((acknowledged.readings, work.readings), (acknowledged.messages, work.messages)):
                for sid, n in theirs.items():
                    mine[sid] += n
            acknowledged.jobs.update(work.jobs)
            partial = len(list((data / "audio").rglob(".*.part"))) if (data / "audio").exists() else 0
            _integrity(data)  # the file as the kill left it

            server = start_server(data, extra_env=ENV)
            http = httpx.Client(base_url=server.base, timeout=30)
            api = Api(http, token)
            figures.append({"cycle": cycle, "partial_files_left_by_kill": partial, **_check_files(data)})
            for job_id, sid in acknowledged.jobs.items():  # every accepted job is accounted for
                job = api.get(f"/v1/jobs/{job_id}").json()
                assert job["session_id"] == sid and job["status"] in ("succeeded", "failed", "cancelled"), job
                if job["status"] == "failed":
                    assert job["error"] == "interrupted by a server restart", job
            for sid in sessions:
                assert len(api.get(f"/v1/sessions/{sid}/readings").json()) >= acknowledged.readings[sid]
                assert len(api.get(f"/v1/sessions/{sid}/messages").json()) >= 2 * acknowledged.messages[sid]
        # the sessions continue from their last committed segment to the end
        for sid in sessions:
            state = api.get(f"/v1/sessions/{sid}").json()
            if state["segments_done"] < SEGMENTS:
                api.generate(sid, segments=SEGMENTS - state["segments_done"])
            segs = api.get(f"/v1/sessions/{sid}/segments").json()
            assert [s["index"] for s in segs] == list(range(SEGMENTS))
            whole = api.get(f"/v1/sessions/{sid}/audio")
            assert whole.status_code == 200
            info = sf.info(io.BytesIO(whole.content))
            assert abs(info.frames / info.samplerate - SEGMENTS * 2.5) < 0.1
        _check_files(data)
    finally:
        http.close()
        if server.process.poll() is None:
            stop_server(server)
        server.process.stdout.close()  # type: ignore[union-attr]
    _integrity(data)
    print("\nserver kill cycles:", json.dumps(figures))


# -- playlist jobs --------------------------------------------------------------------------------
SPEC = {"name": "kill test", "seed": 3, "tracks": 4, "track_seconds": 5, "segments_per_track": 2,
        "start": "anxious", "target": "calm", "listeners": [{"id": "ana", "preferences": {"avoid": ["drums"]}}]}


def _tracks(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["tracks"])
    except (OSError, ValueError, KeyError):
        return 0


def _check_playlist(out: Path, *, killed: bool = False) -> int:
    """Only whole tracks: every manifest entry matches its file's hash.  Right after a kill the write
    it cut short may have left its hidden temporary file (``.NAME.xxxx.part``, never a track; the
    next run removes it); at any other time there is none."""
    files = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    temporary = [p for p in files if p.name.endswith(".part")]
    if killed:
        assert len(temporary) <= 1 and all(p.name.startswith(".") for p in temporary), [str(p) for p in files]
    else:
        assert not temporary, [str(p) for p in files]
    manifest = out / "manifest.json"
    if not manifest.exists():
        return 0
    tracks = json.loads(manifest.read_text())["tracks"]
    for entry in tracks.values():
        body = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["file"]
        assert sf.info(str(out / entry["file"])).frames > 0
    return len(tracks)


def _kill(job: subprocess.Popen[bytes]) -> int:
    """SIGKILL the job's process group and reap it; its exit status.  A kill that finds the process
    gone (it finished first) is not an error: the status then says how the run itself ended."""
    try:
        os.killpg(job.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already exited and reaped by poll(): a finished run
    return job.wait(timeout=60)


def test_sigkill_of_playlist_jobs_leaves_only_whole_tracks(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "promptloop.cli.main", "playlist", str(spec), "--out", str(out), "--engine", "serial"]
    rng = random.Random(5)
    outcomes: list[tuple[str, int]] = []
    for cycle in range(soak(2, 6)):
        log = tmp_path / f"run{cycle}.log"
        with log.open("wb") as stderr:
            job = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        before = _check_playlist(out, killed=True)  # the last kill's temporary file may not be swept yet
        deadline = time.monotonic() + 300
        # kill once this run has made progress (a new track, or a random moment while it renders)
        while job.poll() is None and time.monotonic() < deadline and _tracks(out) <= before:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))  # then a random moment: mostly in the middle of a track
        status = _kill(job)
        tracks = _check_playlist(out, killed=status == -signal.SIGKILL)
        assert tracks >= before  # a kill never loses a finished track
        if status == -signal.SIGKILL:
            outcomes.append(("killed", tracks))
        else:  # the run ended before the kill reached it: then it must have finished the playlist
            assert status == 0, (status, log.read_text())
            assert tracks == SPEC["tracks"] and (out / "ana" / "playlist.m3u8").exists(), tracks
            outcomes.append(("finished", tracks))
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _check_playlist(out) == SPEC["tracks"]
    assert (out / "ana" / "playlist.m3u8").exists()
    print("\nplaylist runs (how each ended, whole tracks after it):", outcomes)


def test_restart_sweeps_what_a_kill_can_leave_behind(make_service, tmp_path: Path) -> None:
    """The states a kill can leave (seen above only when the kill lands mid-write), made on purpose:
    a temporary file, audio of a segment whose row never committed, the folder of a session whose
    deletion was cut short.  A restart removes them and keeps every committed file."""
    from promptloop.acquisition.affect import Affect
    from promptloop.representation.preferences import Preferences
    from promptloop.service.files import SessionFiles

    data = tmp_path / "sweep"
    service = make_service(data_dir=data)
    user, _token = service.create_user("alice")
    sid = service.create_session(user, start=Affect(-0.5, 0.5), target=Affect(0.5, -0.5), preferences=Preferences(),
                                 segments=3, segment_seconds=2.5, candidates=1, max_retries=0)["id"]
    job = service.generate(user, sid, 1)
    deadline = time.monotonic() + 120
    while service.get_job(user, job["id"])["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    files = SessionFiles(data, user.id, sid)
    kept = {files.segment(0), files.mix(0)}
    planted = [files.segment(0).parent / ".01.wav.abc123.part", files.segment(1), files.mix(1),
               data / "audio" / str(user.id) / "s_deleted" / "segments" / "00.wav"]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    service.close()
    make_service(data_dir=data)  # the restart
    assert all(p.exists() for p in kept)
    assert not any(p.exists() for p in planted)
    assert not (data / "audio" / str(user.id) / "s_deleted").exists()
    _check_files(data)
