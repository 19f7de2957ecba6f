"""Invitations and consent grants, and the one check every therapist read or change goes through.

A therapist invites a listener with a one-time code; the listener accepts it with the scopes they
choose and may narrow, widen or revoke the grant at any time.  :func:`client_access` re-reads the
grant on every request, so a revocation takes effect with the next request.  Without a current grant
the answer is the same 404 as for an id that never existed; with a grant that lacks the scope the
answer is 403 naming the scope (the therapist already knows the client) and the denial is logged.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.errors import Conflict, Forbidden, InputError, NotFound
from promptloop.service.clinical.audit import record_access
from promptloop.service.clinical.models import ConsentRow, InvitationRow
from promptloop.service.clinical.roles import require_role, role_of
from promptloop.service.store import User, new_id, now

__all__ = [
    "INVITE_PREFIX",
    "SCOPES",
    "Scope",
    "accept_invitation",
    "client_access",
    "consent_view",
    "create_invitation",
    "invitation_view",
    "listener_consent",
    "revoke_consent",
    "revoke_invitation",
    "update_scopes",
]

Scope = Literal["sessions", "physiology", "messages", "prescribe", "profile"]
SCOPES: tuple[str, ...] = get_args(Scope)
INVITE_PREFIX = "inv_"
MAX_INVITATION_DAYS = 30
NO_CLIENT = "no such client"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InputError(f"unknown consent scopes {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    return [s for s in SCOPES if s in scopes]  # canonical order, no duplicates


def create_invitation(db: DB, therapist: User, note: str = "", days: float = 7.0) -> tuple[InvitationRow, str]:
    """A new invitation and its code (shown once; only the digest is kept)."""
    require_role(db, therapist, "therapist")
    if not 0 < days <= MAX_INVITATION_DAYS:
        raise InputError(f"an invitation lasts between a minute and {MAX_INVITATION_DAYS} days")
    code = INVITE_PREFIX + secrets.token_urlsafe(24)
    row = InvitationRow(id=new_id("i"), therapist_id=therapist.id, digest=_digest(code), note=note[:200],
                        expires=now() + _dt.timedelta(days=days))
    db.add(row)
    return row, code


def invitation_view(row: InvitationRow) -> dict[str, Any]:
    status = ("revoked" if row.revoked else "used" if row.used_at else
              "expired" if row.expires <= now() else "open")
    return {"id": row.id, "note": row.note, "created": row.created, "expires": row.expires, "status": status}


def revoke_invitation(db: DB, therapist: User, invitation_id: str) -> None:
    row = db.get(InvitationRow, invitation_id) if len(invitation_id) <= 32 else None
    if row is None or row.therapist_id != therapist.id:
        raise NotFound("no such invitation")
    row.revoked = True


def accept_invitation(db: DB, listener: User, code: str, scopes: list[str]) -> ConsentRow:
    """The listener's grant to the inviting therapist, with the scopes the listener chose."""
    row = db.scalar(select(InvitationRow).where(InvitationRow.digest == _digest(code))) if code else None
    if row is None or row.revoked or row.used_at is not None or row.expires <= now():
        raise NotFound("no such invitation (it may have expired or been used)")
    if row.therapist_id == listener.id:
        raise Conflict("an invitation is for someone else to accept")
    existing = db.scalar(select(ConsentRow).where(ConsentRow.listener_id == listener.id,
                                                  ConsentRow.therapist_id == row.therapist_id,
                                                  ConsentRow.revoked.is_(None)))
    if existing is not None:
        raise Conflict("you already have a grant for this therapist; change its scopes instead")
    therapist = db.get(User, row.therapist_id)
    assert therapist is not None  # the invitation row would have cascaded with the account
    consent = ConsentRow(id=new_id("c"), listener_id=listener.id, therapist_id=row.therapist_id,
                         scopes=_scopes(scopes))
    row.used_by, row.used_at = listener.id, now()
    db.add(consent)
    record_access(db, listener.id, listener, "self", "grant", "consent", consent.id, ",".join(consent.scopes))
    return consent


def listener_consent(db: DB, listener: User, consent_id: str) -> ConsentRow:
    row = db.get(ConsentRow, consent_id) if isinstance(consent_id, str) and len(consent_id) <= 32 else None
    if row is None or row.listener_id != listener.id:
        raise NotFound("no such consent")
    return row


def update_scopes(db: DB, listener: User, consent_id: str, scopes: list[str]) -> ConsentRow:
    row = listener_consent(db, listener, consent_id)
    if row.revoked is not None:
        raise Conflict("this grant was revoked; accept a new invitation to grant again")
    row.scopes, row.updated = _scopes(scopes), now()
    record_access(db, listener.id, listener, "self", "update", "consent", row.id, ",".join(row.scopes))
    return row


def revoke_consent(db: DB, listener: User, consent_id: str) -> ConsentRow:
    row = listener_consent(db, listener, consent_id)
    if row.revoked is None:
        row.revoked = row.updated = now()
        record_access(db, listener.id, listener, "self", "revoke", "consent", row.id)
    return row


def consent_view(db: DB, row: ConsentRow, viewer: User) -> dict[str, Any]:
    """A grant as its listener or its therapist sees it (each sees the other's name)."""
    other = db.get(User, row.therapist_id if viewer.id == row.listener_id else row.listener_id)
    return {"id": row.id, "scopes": list(row.scopes), "created": row.created, "updated": row.updated,
            "revoked": row.revoked, "active": row.revoked is None,
            "therapist" if viewer.id == row.listener_id else "client": other.name if other else "(erased)"}


def client_access(db: DB, therapist: User, client_id: str, scope: str, action: str, object_type: str,
                  object_id: str = "") -> tuple[ConsentRow, User]:
    """The current grant behind ``client_id`` and its listener, when it covers ``scope``.

    Writes the access record (or the denial) into ``db``; the caller commits it with its answer.
    """
    role = require_role(db, therapist, "therapist")
    row = db.get(ConsentRow, client_id) if isinstance(client_id, str) and len(client_id) <= 32 else None
    if row is None or row.therapist_id != therapist.id or row.revoked is not None:
        raise NotFound(NO_CLIENT)
    listener = db.get(User, row.listener_id)
    if listener is None:
        raise NotFound(NO_CLIENT)
    if scope not in row.scopes:
        record_access(db, listener.id, therapist, role, "denied", object_type, object_id, scope)
        db.commit()
        raise Forbidden(f"the client's consent does not include the {scope!r} scope")
    record_access(db, listener.id, therapist, role, action, object_type, object_id, scope)
    return row, listener


def active_clients(db: DB, therapist: User) -> list[ConsentRow]:
    require_role(db, therapist, "therapist")
    return list(db.scalars(select(ConsentRow).where(ConsentRow.therapist_id == therapist.id,
                                                    ConsentRow.revoked.is_(None)).order_by(ConsentRow.created)))


def is_therapist(db: DB, user: User) -> bool:
    return role_of(db, user) == "therapist"
