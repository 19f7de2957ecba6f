"""What every part of the service shares: configuration, settings, the database, the vault, the
event broker, the worker pool, the limits and the audit log.

:class:`~promptloop.service.engine.Service` builds one :class:`ServiceContext` and hands it to each
of its parts (sessions, live loops, conversation, media, jobs, privacy), so that no part reaches into
another's private state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session as DB

from promptloop.service.crypto import Vault
from promptloop.service.events import Broker
from promptloop.service.files import data_vault, private_folder
from promptloop.service.limits import LimitConfig, Limits
from promptloop.service.store import (
    AuditRecord,
    User,
    WalCheckpointer,
    make_engine,
    session_factory,
    sqlite_url,
)
from promptloop.service.workers import WorkerPool
from promptloop.session.chat import MAX_MESSAGE_CHARS
from promptloop.wiring.settings import Settings

__all__ = ["ACTIVE", "LIMITS", "ServiceConfig", "ServiceContext"]

# Bounds the service adds to the loop's own (promptloop.session.defaults.LIMITS).
LIMITS = {
    "segments_per_job": 16,
    "readings_per_request": 500,
    "message_chars": MAX_MESSAGE_CHARS,
    "title_chars": 200,
    "sessions_per_user": 500,
    "live_sessions": 64,
}
ACTIVE = ("queued", "running")


@dataclass
class ServiceConfig:
    data_dir: Path
    database_url: str | None = None
    workers: int = 1
    queue_size: int = 8
    job_deadline_s: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        values: dict[str, Any] = {
            "data_dir": settings.data_dir,
            "database_url": settings.database_url,
            "workers": settings.server_workers,
            "queue_size": settings.server_queue_size,
            "job_deadline_s": settings.job_deadline_seconds,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class ServiceContext:
    """The shared plumbing of one service process."""

    def __init__(self, config: ServiceConfig, settings: Settings, pool: WorkerPool) -> None:
        self.config = config
        self.settings = settings
        data = private_folder(Path(config.data_dir))  # listener data: owner-only
        url = config.database_url or sqlite_url(data)
        sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, background_checkpoints=sqlite)
        self.checkpointer = WalCheckpointer(self.engine) if sqlite else None
        self._db = session_factory(self.engine)
        self._audit_writes: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()
        data_vault(data)  # the key file exists (or is made) before the first request
        self.broker = Broker()
        self.pool = pool
        self.limits = Limits(LimitConfig.from_settings(settings))
        self.stats: dict[str, float] = {"segments": 0, "generate_seconds": 0.0}
        self.job_counts: dict[str, int] = {}

    @property
    def vault(self) -> Vault:
        """The data folder's vault: every key of its key file, read again after a rotation."""
        return data_vault(self.config.data_dir)

    @contextmanager
    def db(self) -> Iterator[DB]:
        session = self._db()
        try:
            yield session
        finally:
            session.close()

    def audit(self, db: DB, user: User, action: str, object_type: str, object_id: str = "") -> None:
        db.add(AuditRecord(user_id=user.id, action=action, object_type=object_type, object_id=object_id))

    def audit_read(self, db: DB, user: User, object_type: str, object_id: str = "") -> None:
        """Record that ``user`` read ``object_type`` and commit it, before the data is served (a read
        is logged or not served).  On SQLite the commits of such records take turns on a lock of this
        process: dozens of readers at once otherwise each wait for SQLite's write lock in its busy
        handler, which sleeps up to 100 ms between tries, and stalled the server for a second or more
        (docs/benchmarks.md, server load)."""
        with self._audit_writes:
            self.audit(db, user, "read", object_type, object_id)
            db.commit()

    def count_job(self, status: str) -> None:
        self.job_counts[status] = self.job_counts.get(status, 0) + 1
