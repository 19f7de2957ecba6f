"""A listener's rights over their data: export everything, erase everything."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from promptloop.service.clinical.data import erase_clinical, export_clinical
from promptloop.service.context import ACTIVE, ServiceContext
from promptloop.service.erasure import forget_user
from promptloop.service.files import SessionFiles
from promptloop.service.live import LiveSessions
from promptloop.service.playlists import Playlists
from promptloop.service.sessions import delete_session_rows
from promptloop.service.store import (
    AuditRecord,
    JobRow,
    MessageRow,
    ReadingRow,
    SegmentRow,
    SessionRow,
    TokenRow,
    User,
    now,
)
from promptloop.service.views import job_view, segment_view, session_view

__all__ = ["Privacy"]


class Privacy:
    def __init__(self, ctx: ServiceContext, live: LiveSessions, playlists: Playlists) -> None:
        self.ctx = ctx
        self.live = live
        self.playlists = playlists

    def export(self, user: User) -> dict[str, Any]:
        """Everything stored for ``user``, decrypted, machine readable."""
        vault = self.ctx.vault
        with self.ctx.db() as db:
            sessions = []
            for row in db.scalars(select(SessionRow).where(SessionRow.user_id == user.id).order_by(SessionRow.created)):
                segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
                readings = db.scalars(select(ReadingRow).where(ReadingRow.session_id == row.id).order_by(ReadingRow.id))
                messages = db.scalars(select(MessageRow).where(MessageRow.session_id == row.id).order_by(MessageRow.id))
                sessions.append({
                    "session": session_view(db, row, self.ctx.settings),
                    "segments": [{**segment_view(row.id, s), "record": s.record} for s in segs],
                    "readings": [{"created": r.created, **vault.open(r.sealed)} for r in readings],
                    "messages": [{"role": m.role, "created": m.created, **vault.open(m.sealed)} for m in messages],
                    "closed_loop": None if row.pacer_sealed is None else vault.open(row.pacer_sealed),
                })
            jobs = [job_view(j) for j in db.scalars(select(JobRow).where(JobRow.user_id == user.id))]
            self.ctx.audit(db, user, "export", "account", str(user.id))
            db.commit()
            audit = [{"action": a.action, "object_type": a.object_type, "object_id": a.object_id, "created": a.created}
                     for a in db.scalars(select(AuditRecord).where(AuditRecord.user_id == user.id).order_by(AuditRecord.id))]
            clinical = export_clinical(db, vault, user)
        made = [self.playlists.report(user, j["id"]) for j in jobs if j["kind"] == "playlist"]
        return {"format": "promptloop-export/1", "exported": now(),
                "user": {"id": user.id, "name": user.name, "created": user.created},
                "sessions": sessions, "jobs": jobs, "audit": audit, "clinical": clinical,
                "playlists": [{"job_id": p["job"]["id"], "report": p["report"], "files": p["files"]} for p in made]}

    def erase(self, user: User) -> dict[str, int]:
        """Delete everything of ``user``: rows, audio files, tokens and the account itself."""
        with self.ctx.db() as db:
            ids = list(db.scalars(select(SessionRow.id).where(SessionRow.user_id == user.id)))
            for job_id in db.scalars(select(JobRow.id).where(JobRow.user_id == user.id, JobRow.status.in_(ACTIVE))):
                self.ctx.pool.cancel(job_id, "account erased")
            forget_user(db, user.id, ids)
            erase_clinical(db, user)
            for session_id in ids:
                self.live.forget(session_id)
                delete_session_rows(db, session_id)
            db.execute(delete(JobRow).where(JobRow.user_id == user.id))
            db.execute(delete(TokenRow).where(TokenRow.user_id == user.id))
            db.execute(delete(User).where(User.id == user.id))
            self.ctx.audit(db, user, "erase", "account", str(user.id))
            db.commit()
        shutil.rmtree(SessionFiles(self.ctx.config.data_dir, user.id, "_").user_dir, ignore_errors=True)
        shutil.rmtree(Path(self.ctx.config.data_dir) / "playlists" / str(user.id), ignore_errors=True)
        return {"sessions": len(ids)}
