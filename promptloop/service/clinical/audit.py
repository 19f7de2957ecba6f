"""The access log: every read or change of a listener's data by someone other than the listener.

The listener reads it (``GET /v1/me/audit``) next to the record of their own exports and deletions.
Records name the actor as they were at the time, so they stay readable after that account is gone;
they never hold the data that was read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.service.clinical.models import AccessRecord
from promptloop.service.store import AuditRecord, User

__all__ = ["access_log", "record_access"]


def record_access(db: DB, subject_id: int, actor: User, actor_role: str, action: str, object_type: str,
                  object_id: str = "", scope: str = "") -> None:
    """Add one record (committed with the caller's transaction, so a read is logged or not served)."""
    db.add(AccessRecord(subject_id=subject_id, actor_id=actor.id, actor_name=actor.name, actor_role=actor_role,
                        action=action, object_type=object_type, object_id=object_id, scope=scope))


def access_log(db: DB, user: User, limit: int = 500) -> list[dict[str, Any]]:
    """What others did with ``user``'s data, then what ``user`` did themselves, newest first."""
    others = db.scalars(select(AccessRecord).where(AccessRecord.subject_id == user.id)
                        .order_by(AccessRecord.id.desc()).limit(limit))
    out: list[dict[str, Any]] = [
        {"created": r.created, "actor": r.actor_name, "actor_role": r.actor_role, "action": r.action,
         "object_type": r.object_type, "object_id": r.object_id, "scope": r.scope or None} for r in others]
    own = db.scalars(select(AuditRecord).where(AuditRecord.user_id == user.id)
                     .order_by(AuditRecord.id.desc()).limit(limit))
    out += [{"created": r.created, "actor": user.name, "actor_role": "self", "action": r.action,
             "object_type": r.object_type, "object_id": r.object_id, "scope": None} for r in own]
    out.sort(key=_created, reverse=True)
    return out[:limit]


def _created(record: dict[str, Any]) -> Any:
    return record["created"]
