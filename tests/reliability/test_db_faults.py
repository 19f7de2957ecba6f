"""Faults under the database itself: its disk fills up, or turns read-only.  Every refused write is a
507 (full) or 503 (read-only, with ``Retry-After``) with a JSON body; the transaction is rolled back,
so the database keeps exactly the writes that were acknowledged and passes its integrity check; once
space returns (or the disk is writable again) the same service writes again, without a restart.

The data folder lives on a small tmpfs (a real ENOSPC / EROFS from the kernel); that needs root, and
SQLite (the database is a file in the data folder).  PostgreSQL's own disk belongs to its server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_support import Api

from dbs import BACKEND, integrity_problems, query

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the database's disk is the PostgreSQL server's here")
READINGS = {"readings": [{"heart_rate": 60.0 + i % 40, "hrv_rmssd": 40.0 + i % 30} for i in range(500)]}


@pytest.fixture
def db_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the disk of ``folder`` to the last byte with one ballast file (unbuffered writes)."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue  # this size no longer fits: try a smaller one
    finally:
        os.close(fd)
    return ballast


def test_a_full_database_disk_answers_507_keeps_what_was_acknowledged_and_recovers(make_client, db_disk: Path) -> None:
    data = db_disk / "data"
    service, client = make_client(data_dir=data, settings={"rate_limit_per_minute": 1_000_000})
    alice = Api(client, service.create_user("alice")[1])
    sid = alice.new_session()["id"]
    alice.generate(sid)
    ballast = _fill(db_disk)
    accepted, refused = 0, None
    for _ in range(400):  # the WAL may still hold free pages: write until the disk says no
        r = alice.post(f"/v1/sessions/{sid}/readings", json=READINGS)
        if r.status_code != 200:
            refused = r
            break
        accepted += 1
    assert refused is not None and refused.status_code == 507, (accepted, refused and refused.text)
    assert refused.headers["content-type"] == "application/json" and "full" in refused.json()["detail"]
    # A small write may still fit where the service's background checkpoint let the log start over
    # (no new disk blocks needed); either way it is answered whole: acknowledged and kept, or refused.
    small = alice.post(f"/v1/sessions/{sid}/messages", json={"text": "softer"})
    assert small.status_code in (200, 507), small.text
    flac = alice.get(f"/v1/sessions/{sid}/segments/0/audio", params={"format": "flac"})  # a file to write
    assert flac.status_code == 507 and flac.json()["detail"], flac.text
    assert alice.get(f"/v1/sessions/{sid}").status_code == 200  # reads still work

    ballast.unlink()  # space returns: the same process writes again
    assert alice.post(f"/v1/sessions/{sid}/readings", json=READINGS).status_code == 200
    assert alice.post(f"/v1/sessions/{sid}/messages", json={"text": "softer"}).status_code == 200
    assert len(alice.get(f"/v1/sessions/{sid}/readings").json()) == accepted + 1  # nothing half-written
    assert integrity_problems(data) == []
    turns = 2 if small.status_code == 200 else 1
    assert query(data, "SELECT count(*) FROM messages")[0][0] == 2 * turns  # each turn and its reply, once


def test_a_read_only_database_disk_answers_503_and_recovers(make_client, db_disk: Path) -> None:
    data = db_disk / "data"
    service, client = make_client(data_dir=data)
    alice = Api(client, service.create_user("alice")[1])
    sid = alice.new_session()["id"]
    assert alice.post(f"/v1/sessions/{sid}/readings", json=READINGS).status_code == 200
    service.ctx.engine.dispose()  # a remount refuses files open for writing; the pool reopens them
    subprocess.run(["mount", "-o", "remount,ro", str(db_disk)], check=True)
    try:
        r = alice.post(f"/v1/sessions/{sid}/readings", json=READINGS)
        assert r.status_code == 503 and r.headers["retry-after"] and "read-only" in r.json()["detail"], r.text
        assert alice.post("/v1/sessions", json={"start": "sad", "target": "calm"}).status_code == 503
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(db_disk)], check=True)
    assert alice.post(f"/v1/sessions/{sid}/readings", json=READINGS).status_code == 200
    assert len(alice.get(f"/v1/sessions/{sid}/readings").json()) == 2
    assert len(alice.get("/v1/sessions").json()) == 1
    assert integrity_problems(data) == []
