"""SQLite's write-ahead log is checkpointed by the service's own thread, never inside a request's
commit (where the database file's fsync stalled every reader queued behind it), and it is truncated
when the service closes.  SQLite only: PostgreSQL has no such log to manage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dbs import BACKEND
from promptloop.service.engine import Service, ServiceConfig
from promptloop.service.store import AuditRecord, User, WalCheckpointer, make_engine, sqlite_url

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the write-ahead log is SQLite's")


def _write(engine, rows: int) -> None:  # noqa: ANN001
    with Session(engine) as db:
        user = User(name=f"u{time.perf_counter_ns()}")
        db.add(user)
        db.commit()
        for i in range(rows):  # one commit each, as the server's read audits are
            db.add(AuditRecord(user_id=user.id, action="read", object_type="session", object_id=str(i)))
            db.commit()


def test_commits_never_checkpoint_and_the_thread_does(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path), background_checkpoints=True)
    wal = tmp_path / "promptloop.db-wal"
    try:
        with engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _write(engine, 1500)  # past SQLite's default 1000-page threshold
        assert wal.stat().st_size > 1000 * 4096  # no commit checkpointed: the log kept every frame
        checkpointer = WalCheckpointer(engine, interval_s=0.05)
        try:
            deadline = time.monotonic() + 60
            while checkpointer.runs == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert checkpointer.runs > 0, "the checkpoint thread never ran"
            busy, frames, copied = checkpointer.checkpoint()
            assert busy == 0 and frames == copied  # everything is in the database file
        finally:
            checkpointer.close()
        assert wal.stat().st_size == 0  # truncated on close
    finally:
        engine.dispose()


def test_a_plain_engine_keeps_sqlites_own_checkpoints(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))  # the CLI's: no thread of its own
    try:
        with engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        engine.dispose()


def test_the_service_runs_its_checkpoints_in_the_background(tmp_path: Path) -> None:
    service = Service(ServiceConfig(data_dir=tmp_path / "data"))
    try:
        checkpointer = service.ctx.checkpointer
        assert checkpointer is not None and checkpointer.engine is service.engine
        with service.engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    finally:
        service.close()
    assert not checkpointer._thread.is_alive()  # closing the service stops it
