"""Faults in backends and storage: a generator or planner that raises, hangs past its deadline or
returns garbage fails its job (or falls back) cleanly, the worker keeps serving others and /readyz
tells the truth; a full disk, a read-only folder or a file where a folder should be gives a clear
error and corrupts nothing.  The misbehaving backends are registered by name (see fakes.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import RELEASE
from rel_support import Api, until

from promptloop.service.engine import Service


def _api(make_client, **kwargs) -> tuple[Service, Api]:
    service, client = make_client(**kwargs)
    return service, Api(client, service.create_user("alice")[1])


def _start(api: Api, sid: str, segments: int = 1) -> dict:
    r = api.post(f"/v1/sessions/{sid}/generate", json={"segments": segments})
    assert r.status_code == 202, r.text
    return r.json()


def _audio_files(service: Service) -> list[Path]:
    root = Path(service.config.data_dir) / "audio"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(("generator", "error"), [
    ("rel-raise", "RuntimeError: synthetic generator failure"),
    ("rel-garbage-nan", "unusable audio"),
    ("rel-garbage-inf", "unusable audio"),
    ("rel-garbage-empty", "unusable audio"),
    ("rel-garbage-stereo", "unusable audio"),
    ("rel-garbage-count", "returned 0 clips for 1 requests"),
    ("rel-garbage-text", "ValueError"),
])
def test_a_broken_generator_fails_its_job_and_the_worker_serves_the_next(make_client, generator: str, error: str) -> None:
    service, alice = _api(make_client)
    bad = alice.new_session(generator=generator)["id"]
    job = alice.wait_job(_start(alice, bad)["id"])
    assert job["status"] == "failed" and error in job["error"], job
    state = alice.get(f"/v1/sessions/{bad}").json()
    assert state["segments_done"] == 0 and state["status"] == "idle" and state["active_job"] is None
    assert alice.get(f"/v1/sessions/{bad}/segments").json() == [] and _audio_files(service) == []
    good = alice.new_session()["id"]
    alice.generate(good)  # the same single worker goes on serving
    assert alice.client.get("/readyz").json()["ready"] is True  # the default backends are fine


@pytest.mark.parametrize(("planner", "reason"), [
    ("rel-plan-raise", "planner error: synthetic planner outage"),
    ("rel-plan-notaplan", "returned dict, not a plan"),
    ("rel-plan-forbidden", "constraint: prompt names avoided sound(s): drums"),
])
def test_a_broken_planner_falls_back_to_the_rule_planner(make_client, planner: str, reason: str) -> None:
    _service, alice = _api(make_client)
    sid = alice.new_session(planner=planner, preferences={"avoid": ["drums"]})["id"]
    alice.generate(sid)
    attempt = alice.get(f"/v1/sessions/{sid}/segments/0").json()["record"]["attempts"][0]
    assert attempt["planner"] == "rule (fallback)" and reason in attempt["fallback"], attempt
    assert "drums" not in attempt["prompt"]


def test_a_planner_bug_fails_the_job_not_the_worker(make_client) -> None:
    _service, alice = _api(make_client)
    job = alice.wait_job(_start(alice, alice.new_session(planner="rel-plan-crash")["id"])["id"])
    assert job["status"] == "failed" and "ZeroDivisionError" in job["error"]
    alice.generate(alice.new_session()["id"])


@pytest.fixture
def release_hung() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()  # the abandoned thread returns and retires


def test_a_hanging_generator_is_abandoned_at_its_deadline_and_readyz_tells(make_client, release_hung) -> None:
    service, alice = _api(make_client, workers=1, queue_size=1, job_deadline_s=3.0)
    hung_sid = alice.new_session(generator="rel-hang")["id"]
    hung = _start(alice, hung_sid)
    until(lambda: service.pool.running == 1, what="the hanging job running")
    waiting = _start(alice, alice.new_session()["id"])
    ready = alice.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["detail"] == "queue saturated" and ready.json()["running"] == 1
    assert alice.post(f"/v1/sessions/{alice.new_session()['id']}/generate").status_code == 429

    job = alice.wait_job(hung["id"], timeout=60)  # deadline 3 s + grace 5 s, then abandoned
    assert job["status"] == "failed" and "deadline exceeded" in job["error"]
    # the job queued behind it waited past its own deadline: it fails cleanly too, and says why
    late = alice.wait_job(waiting["id"], timeout=60)
    assert late["status"] == "failed" and "deadline" in late["error"]
    until(lambda: alice.client.get("/readyz").status_code == 200, what="ready again")
    assert alice.get(f"/v1/sessions/{hung_sid}").json()["segments_done"] == 0
    alice.generate(alice.new_session()["id"])  # a replacement worker serves new work
    assert service.pool.wait_idle(60)  # its worker lets go of the job just after the row says succeeded


def test_readyz_reports_backends_that_fail_to_load(make_client) -> None:
    service, client = make_client(settings={"generator": "rel-raise"})
    ready = client.get("/readyz")
    assert ready.status_code == 503 and not service.ready
    assert "synthetic generator failure" in ready.json()["detail"]
    assert client.get("/healthz").status_code == 200  # alive, but honest about not being ready


# -- storage ------------------------------------------------------------------------------------
def _db_consistent(alice: Api, sid: str, service: Service, segments: int) -> None:
    s = alice.get(f"/v1/sessions/{sid}").json()
    assert s["segments_done"] == segments and s["status"] == "idle"
    assert len(alice.get(f"/v1/sessions/{sid}/segments").json()) == segments
    assert not [p for p in _audio_files(service) if p.name.endswith(".part")]


def test_a_file_where_the_audio_folder_should_be(make_client) -> None:
    service, alice = _api(make_client)
    sid = alice.new_session()["id"]
    user_dir = Path(service.config.data_dir) / "audio" / str(alice.get("/v1/me").json()["id"])
    user_dir.parent.mkdir(parents=True, exist_ok=True)
    user_dir.write_text("in the way")
    job = alice.wait_job(_start(alice, sid)["id"])
    assert job["status"] == "failed" and "StorageError: cannot write to" in job["error"], job
    _db_consistent(alice, sid, service, 0)
    user_dir.unlink()
    alice.generate(sid)  # once the disk is fixed, the session continues
    _db_consistent(alice, sid, service, 1)


def _mount_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs as the audio folder: a real full disk (ENOSPC), remountable read-only (EROFS)."""
    mount = tmp_path / "data" / "audio"
    mount.mkdir(parents=True)
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the file-in-the-way test covers the error path")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path, "1m")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path, "8m")


def test_a_full_disk_fails_the_segment_cleanly_and_keeps_committed_audio(make_client, tiny_disk: Path) -> None:
    service, alice = _api(make_client, data_dir=tiny_disk.parent)
    sid = alice.new_session(segments=8, segment_seconds=2.0, crossfade_seconds=0.0)["id"]
    statuses = []
    for _ in range(8):  # segment n writes 128 kB and a mix of n x 128 kB: 1 MB fills at the 4th
        job = alice.wait_job(_start(alice, sid)["id"])
        statuses.append(job["status"])
        if job["status"] == "failed":
            assert "StorageError" in job["error"] and "No space left on device" in job["error"], job
            break
    done = len(statuses) - 1
    assert statuses[-1] == "failed" and statuses[:-1] == ["succeeded"] * done and done >= 2, statuses
    _db_consistent(alice, sid, service, done)
    for i in range(done):  # every committed segment is still whole and served
        r = alice.get(f"/v1/sessions/{sid}/segments/{i}/audio")
        assert r.status_code == 200 and len(r.content) > 60_000


def test_a_read_only_folder_fails_with_a_clear_error(make_client, small_disk: Path) -> None:
    service, alice = _api(make_client, data_dir=small_disk.parent)
    sid = alice.new_session()["id"]
    alice.generate(sid)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    job = alice.wait_job(_start(alice, sid)["id"])
    assert job["status"] == "failed" and "Read-only file system" in job["error"], job
    _db_consistent(alice, sid, service, 1)
    assert alice.get(f"/v1/sessions/{sid}/audio").status_code == 200
