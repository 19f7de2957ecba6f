"""The clinical side's hooks into the session code: locks on every listener-side change, and the
approved plans of a programme session.

The service calls these around each change it makes for the listener: :meth:`check_update` before a
preference or target PATCH (409 when it would loosen a lock), :meth:`enforce` after a chat message or
a readings update (undoes what a lock forbids and says so), :meth:`planner_for` when it builds the
session's loop.  Sessions that no programme started have no locks and pass through unchanged.
"""

from __future__ import annotations

from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.feedback.base import Planner
from promptloop.representation.preferences import Preferences
from promptloop.service.clinical.locks import Locks, check, enforce
from promptloop.service.clinical.models import ProgrammeSessionRow
from promptloop.service.clinical.proposals import pinned
from promptloop.service.live import SessionGuard
from promptloop.session.loop import LoopSession

__all__ = ["ClinicalGuard"]


class ClinicalGuard(SessionGuard):
    """Locks and approved plans of sessions a programme started; other sessions pass unchanged."""

    def locks(self, db: DB, session_id: str) -> Locks | None:
        link = db.get(ProgrammeSessionRow, session_id)
        return Locks.from_dict(link.locks) if link is not None else None

    def check_update(self, db: DB, session_id: str, preferences: Preferences | None, target: Affect | None) -> None:
        locks = self.locks(db, session_id)
        if locks is not None:
            check(locks, preferences, target)

    def enforce(self, db: DB, session_id: str, loop: LoopSession) -> list[str]:
        """Bring the live session back inside its locks; one line per thing undone."""
        locks = self.locks(db, session_id)
        if locks is None or not locks.any():
            return []
        preferences, target, notes = enforce(locks, loop.preferences, loop.target)
        if preferences != loop.preferences:
            loop.update_preferences(preferences, source="lock")
        if target != loop.target:
            loop.update_target(target, source="lock")
        return notes

    def planner_for(self, db: DB, session_id: str, planner: Planner) -> Planner:
        link = db.get(ProgrammeSessionRow, session_id)
        return pinned(planner, link.plans) if link is not None else planner
