"""Sessions of one listener: create, list, read, change and delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.errors import Conflict, InputError
from promptloop.representation.preferences import Preferences
from promptloop.service.access import owned_session
from promptloop.service.backends import BackendCache
from promptloop.service.biofeedback import PACING_MODES
from promptloop.service.context import ACTIVE, LIMITS, ServiceContext
from promptloop.service.erasure import forget_sessions
from promptloop.service.files import SessionFiles
from promptloop.service.live import LiveSessions
from promptloop.service.lookahead import Lookahead
from promptloop.service.store import (
    JobRow,
    MessageRow,
    ReadingRow,
    SegmentRow,
    SessionRow,
    User,
    new_id,
)
from promptloop.service.views import jsonable, session_view
from promptloop.wiring.builders import spec_from_settings

__all__ = ["Sessions", "delete_session_rows"]


def delete_session_rows(db: DB, session_id: str) -> None:
    for table in (SegmentRow, ReadingRow, MessageRow, JobRow):
        db.execute(delete(table).where(table.session_id == session_id))
    db.execute(delete(SessionRow).where(SessionRow.id == session_id))


class Sessions:
    def __init__(self, ctx: ServiceContext, backends: BackendCache, live: LiveSessions) -> None:
        self.ctx = ctx
        self.backends = backends
        self.live = live

    def view(self, db: DB, row: SessionRow) -> dict[str, Any]:
        return session_view(db, row, self.ctx.settings)

    def create(
        self,
        user: User,
        *,
        start: Affect,
        target: Affect,
        preferences: Preferences,
        title: str = "",
        generator: str | None = None,
        planner: str | None = None,
        evaluator: str | None = None,
        lookahead_seconds: float | None = None,
        pacing: str = "closed",
        **settings: Any,
    ) -> dict[str, Any]:
        if pacing not in PACING_MODES:
            raise InputError(f"pacing must be one of {', '.join(PACING_MODES)}, got {pacing!r}")
        live = {} if lookahead_seconds is None else {"lookahead_seconds": Lookahead(lookahead_seconds).seconds}
        spec = spec_from_settings(self.ctx.settings, start=start, target=target, preferences=preferences,
                                  **settings)  # validates
        names = {"generator": generator, "planner": planner, "evaluator": evaluator}
        backends = self.backends.get(generator, planner, evaluator)  # unknown names fail here, not later
        with self.ctx.db() as db:
            count = db.scalar(select(func.count()).select_from(SessionRow).where(SessionRow.user_id == user.id)) or 0
            if count >= LIMITS["sessions_per_user"]:
                raise Conflict(f"at most {LIMITS['sessions_per_user']} sessions per user; delete some first")
            row = SessionRow(
                id=new_id("s"), user_id=user.id, title=title[: LIMITS["title_chars"]],
                spec={"start": start.to_dict(), **spec.settings(), "seed": spec.seed,
                      **{k: v for k, v in names.items() if v}, **live, "pacing": pacing},
                state={"listener": start.to_dict(), "target": target.to_dict(),
                       "preferences": preferences.to_dict(), "listener_fresh": True, "pending_events": []},
                sample_rate=backends.generator.sample_rate,
            )
            db.add(row)
            db.commit()
            return self.view(db, row)

    def list(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.db() as db:
            rows = db.scalars(select(SessionRow).where(SessionRow.user_id == user.id)
                              .order_by(SessionRow.created.desc(), SessionRow.id).limit(limit).offset(offset))
            return [self.view(db, r) for r in rows]

    def get(self, user: User, session_id: str) -> dict[str, Any]:
        with self.ctx.db() as db:
            return self.view(db, owned_session(db, user, session_id))

    def delete(self, user: User, session_id: str) -> None:
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            for job in db.scalars(select(JobRow).where(JobRow.session_id == row.id, JobRow.status.in_(ACTIVE))):
                self.ctx.pool.cancel(job.id, "session deleted")
            self.live.forget(row.id)
            forget_sessions(db, [row.id])
            delete_session_rows(db, row.id)
            self.ctx.audit(db, user, "delete", "session", row.id)
            db.commit()
        SessionFiles(self.ctx.config.data_dir, user.id, session_id).remove()

    def update(self, user: User, session_id: str, *, target: Affect | None = None,
               preferences: Preferences | None = None, title: str | None = None) -> dict[str, Any]:
        with self.live.locked(user, session_id) as (db, row, loop):
            self.live.guard.check_update(db, row.id, preferences, target)
            if target is not None:
                loop.update_target(target, source="api")
            if preferences is not None:
                before = loop.preferences
                loop.update_preferences(preferences, source="api")
                self.live.listener_changed(db, user, before, loop)
            if title is not None:
                row.title = title[: LIMITS["title_chars"]]
            self.live.save_state(row, loop)
            db.commit()
            view = self.view(db, row)
        self.ctx.broker.publish(session_id, {"type": "state", "session": jsonable(view)})
        return view
