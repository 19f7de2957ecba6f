"""The database: accounts, sessions, segments, listener data, jobs and audit records.

SQLAlchemy 2 with SQLite in WAL mode as the embedded default, or PostgreSQL (``postgresql+psycopg://``
URLs; tested against a real server, see docs/server.md).  The schema is managed by Alembic
(:mod:`promptloop.service.migrations`): :func:`make_engine` upgrades the database in place to the newest
revision.  Listener data (readings, chat messages) is stored encrypted (see :mod:`.crypto`); audio
lives in sealed files beside the database, referenced by path.
"""

from __future__ import annotations

import datetime as _dt
import logging
import secrets
import threading
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = [
    "AuditRecord",
    "Base",
    "JobRow",
    "MessageRow",
    "ReadingRow",
    "SegmentRow",
    "SessionRow",
    "TokenRow",
    "UsageRow",
    "User",
    "WalCheckpointer",
    "database_fault",
    "make_engine",
    "new_id",
    "now",
]


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """An unguessable public id, e.g. ``s_3kq...``; ids never reveal counts or owners."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    revoked: Mapped[bool] = mapped_column(default=False)
    expires: Mapped[_dt.datetime | None] = mapped_column(default=None)  # None: until revoked


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    updated: Mapped[_dt.datetime] = mapped_column(default=now)
    spec: Mapped[dict[str, Any]] = mapped_column()  # SessionSpec fields + backend names
    state: Mapped[dict[str, Any]] = mapped_column()  # listener, target, preferences, pending events
    #: encrypted closed-loop state (promptloop.service.biofeedback); None while readings do not pace it
    pacer_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    segments_done: Mapped[int] = mapped_column(Integer, default=0)
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (Index("uq_segments_session_index", "session_id", "index", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column()  # provenance SegmentRecord
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class ReadingRow(Base):
    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted {"readings": ..., "baseline": ...}
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class MessageRow(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # listener | assistant
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted {"text": ..., "changes": [...]}
    created: Mapped[_dt.datetime] = mapped_column(default=now)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=1)
    done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    created: Mapped[_dt.datetime] = mapped_column(default=now)
    updated: Mapped[_dt.datetime] = mapped_column(default=now)
    deadline: Mapped[_dt.datetime] = mapped_column()


class UsageRow(Base):
    """Seconds of audio generated for a user (one row per committed segment; see :mod:`.limits`)."""

    __tablename__ = "usage"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    seconds: Mapped[float] = mapped_column(Float)
    created: Mapped[_dt.datetime] = mapped_column(default=now, index=True)


class AuditRecord(Base):
    """Who read, exported or deleted listener data, and when (never the data itself).

    ``user_id`` is a plain number, not a foreign key, so the record of an erasure outlives the
    account it erased.
    """

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[_dt.datetime] = mapped_column(default=now)


POOL_SIZE, MAX_OVERFLOW = 16, 32
_log = logging.getLogger(__name__)


def make_engine(url: str, *, migrate: bool = True, background_checkpoints: bool = False) -> Engine:
    """An engine for ``url``, its database upgraded to the newest schema; SQLite gets WAL, foreign
    keys and a busy timeout.  ``background_checkpoints``: SQLite never checkpoints inside a commit
    (a :class:`WalCheckpointer` must run)."""
    is_sqlite = url.startswith("sqlite")
    # Up to POOL_SIZE connections stay open between requests, POOL_SIZE + MAX_OVERFLOW at once (more
    # than the server's 40 request threads and its workers): with SQLAlchemy's default of 5 + 10, a
    # burst opened and closed a connection per request beyond the fifth (SQLite: open + 3 PRAGMAs;
    # PostgreSQL: a new server process each time).
    kwargs: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if background_checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

    if migrate:
        from promptloop.service.migrations import upgrade

        upgrade(engine)
    return engine


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database from a thread of its own.

    By default SQLite checkpoints inside whichever commit pushes the log past 1000 pages, and that
    commit then waits for the database file's fsync.  In the server that commit is usually a read's
    audit record, taken in turns (:meth:`ServiceContext.audit_read`), so every reader behind it waited
    too: at 200 requests/s that was a stall every few seconds.  Passive checkpoints here never block
    a reader or a writer; the log is truncated when the service closes.
    """

    def __init__(self, engine: Engine, interval_s: float = 0.5) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.runs = 0  # checkpoints the thread has made
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One checkpoint: (busy, log frames, frames copied), as SQLite reports them."""
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").one()
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.checkpoint()
                self.runs += 1
            except Exception as exc:  # a full or read-only disk: requests report it; try again later
                _log.warning("WAL checkpoint failed: %s", type(exc).__name__)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            self.checkpoint("TRUNCATE")
        except Exception as exc:
            _log.warning("final WAL checkpoint failed: %s", type(exc).__name__)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'promptloop.db'}"


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


# SQLite's messages and PostgreSQL's SQLSTATEs for a database whose storage failed it.
_FULL = ("database or disk is full", "no space left on device", "could not extend file")
_UNAVAILABLE = ("readonly database", "read-only file system", "unable to open database file", "disk i/o error",
                "connection refused", "could not connect", "server closed the connection")
_PG_FULL, _PG_READ_ONLY = {"53100"}, {"25006"}


def database_fault(exc: BaseException) -> tuple[int, str] | None:
    """``(507, why)`` when the database's disk is full, ``(503, why)`` when its storage is read-only or
    the server is out of reach; None for any other database error (a bug: 500)."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    text = str(orig).lower()
    if code in _PG_FULL or any(m in text for m in _FULL):
        return 507, "the database's storage is full; nothing was written (try again once space is freed)"
    if code in _PG_READ_ONLY or any(m in text for m in _UNAVAILABLE):
        return 503, "the database cannot be written just now (read-only or unreachable storage); nothing was written"
    return None
