"""Who may touch which object: every lookup by id goes through here.

Another user's id is indistinguishable from an id that does not exist (:class:`NotFound`), so an
id never tells a caller that someone else's object exists.
"""

from __future__ import annotations

from sqlalchemy.orm import Session as DB

from promptloop.errors import NotFound
from promptloop.service.store import JobRow, SessionRow, User

__all__ = ["owned_job", "owned_session"]

MAX_ID_CHARS = 32


def owned_session(db: DB, user: User, session_id: str) -> SessionRow:
    row = db.get(SessionRow, session_id) if isinstance(session_id, str) and len(session_id) <= MAX_ID_CHARS else None
    if row is None or row.user_id != user.id:
        raise NotFound("no such session")
    return row


def owned_job(db: DB, user: User, job_id: str) -> JobRow:
    job = db.get(JobRow, job_id) if isinstance(job_id, str) and len(job_id) <= MAX_ID_CHARS else None
    if job is None or job.user_id != user.id:
        raise NotFound("no such job")
    return job
