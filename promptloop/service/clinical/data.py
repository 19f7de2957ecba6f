"""The clinical part of an account's export and erasure.

Export holds, decrypted: the role, grants (as listener and as therapist), invitations, the access
log about the account, the programmes prescribed to it with their proposals, the programme links of
its sessions, and its self-reports.  Erasure removes the same rows; access records that name an
erased therapist as the actor stay with the listener they concern.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, delete, or_, select, update
from sqlalchemy.orm import Session as DB

from promptloop.service.clinical.audit import access_log
from promptloop.service.clinical.models import (
    AccessRecord,
    ConsentRow,
    InvitationRow,
    ProgrammeRow,
    ProgrammeSessionRow,
    ProposalRow,
    RoleRow,
    SelfReportRow,
)
from promptloop.service.clinical.roles import role_of
from promptloop.service.clinical.store_ops import proposal_view
from promptloop.service.crypto import Vault
from promptloop.service.store import SessionRow, User

__all__ = ["erase_clinical", "export_clinical"]


def export_clinical(db: DB, vault: Vault, user: User) -> dict[str, Any]:
    mine = or_(ConsentRow.listener_id == user.id, ConsentRow.therapist_id == user.id)
    consents = db.scalars(select(ConsentRow).where(mine).order_by(ConsentRow.created))
    programmes = []
    for row in db.scalars(select(ProgrammeRow).where(ProgrammeRow.listener_id == user.id)
                          .order_by(ProgrammeRow.created)):
        proposals = db.scalars(select(ProposalRow).where(ProposalRow.programme_id == row.id)
                               .order_by(ProposalRow.created))
        programmes.append({"id": row.id, "created": row.created, "updated": row.updated, **vault.open(row.sealed),
                           "proposals": [proposal_view(vault, p) for p in proposals]})
    written = list(db.scalars(select(ProgrammeRow.id).where(ProgrammeRow.therapist_id == user.id,
                                                            ProgrammeRow.listener_id != user.id)))
    session_ids = select(SessionRow.id).where(SessionRow.user_id == user.id)
    links = db.scalars(select(ProgrammeSessionRow).where(ProgrammeSessionRow.session_id.in_(session_ids)))
    reports = db.scalars(select(SelfReportRow).where(SelfReportRow.user_id == user.id).order_by(SelfReportRow.id))
    invitations = db.scalars(select(InvitationRow).where(InvitationRow.therapist_id == user.id))
    return {
        "role": role_of(db, user),
        "consents": [{"id": c.id, "as": "listener" if c.listener_id == user.id else "therapist",
                      "scopes": list(c.scopes), "created": c.created, "updated": c.updated, "revoked": c.revoked}
                     for c in consents],
        "invitations": [{"id": i.id, "note": i.note, "created": i.created, "expires": i.expires,
                         "used": i.used_at is not None, "revoked": i.revoked} for i in invitations],
        "access_log": access_log(db, user, limit=100_000),
        "programmes": programmes,
        "programmes_written_for_others": written,
        "programme_sessions": [{"session_id": link.session_id, "programme_id": link.programme_id, "step": link.step,
                                "locks": link.locks, "approved_plans": link.plans} for link in links],
        "self_reports": [{"session_id": r.session_id, "phase": r.phase, "created": r.created, **vault.open(r.sealed)}
                         for r in reports],
    }


def erase_clinical(db: DB, user: User) -> dict[str, int]:
    """Delete the account's clinical rows (before its sessions and user row go); how many of each."""
    session_ids = select(SessionRow.id).where(SessionRow.user_id == user.id)
    own_programmes = select(ProgrammeRow.id).where(ProgrammeRow.listener_id == user.id)
    counts = {
        "self_reports": _gone(db, delete(SelfReportRow).where(SelfReportRow.user_id == user.id)),
        "programme_sessions": _gone(db, delete(ProgrammeSessionRow)
                                    .where(ProgrammeSessionRow.session_id.in_(session_ids))),
        "proposals": _gone(db, delete(ProposalRow).where(ProposalRow.programme_id.in_(own_programmes))),
        "programmes": _gone(db, delete(ProgrammeRow).where(ProgrammeRow.listener_id == user.id)),
        "consents": _gone(db, delete(ConsentRow).where(or_(ConsentRow.listener_id == user.id,
                                                           ConsentRow.therapist_id == user.id))),
        "invitations": _gone(db, delete(InvitationRow).where(InvitationRow.therapist_id == user.id)),
        "access_records": _gone(db, delete(AccessRecord).where(AccessRecord.subject_id == user.id)),
    }
    # programmes this account wrote for others stay with their client, without an author
    db.execute(update(ProgrammeRow).where(ProgrammeRow.therapist_id == user.id).values(therapist_id=None))
    db.execute(update(InvitationRow).where(InvitationRow.used_by == user.id).values(used_by=None))
    db.execute(delete(RoleRow).where(RoleRow.user_id == user.id))
    return counts


def _gone(db: DB, statement: Delete) -> int:
    """Run a DELETE; how many rows it removed."""
    return int(getattr(db.execute(statement), "rowcount", 0) or 0)
