"""Small shared reads: a listener's own session, a programme's body, a step's approved proposal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.errors import InputError, NotFound
from promptloop.service.clinical.models import ProgrammeRow, ProposalRow
from promptloop.service.clinical.programmes import (
    ProgrammeSpec,
    StepSpec,
    parse_programme,
)
from promptloop.service.crypto import Vault
from promptloop.service.store import SessionRow

__all__ = ["APPROVED", "approved_proposal", "owned_session", "programme_of", "programme_spec", "step_of"]

APPROVED = ("approved", "edited")


def owned_session(db: DB, user_id: int, session_id: str) -> SessionRow:
    """The session when ``user_id`` owns it; the same 404 as a made-up id otherwise."""
    row = db.get(SessionRow, session_id) if isinstance(session_id, str) and len(session_id) <= 32 else None
    if row is None or row.user_id != user_id:
        raise NotFound("no such session")
    return row


def programme_of(db: DB, listener_id: int, programme_id: str) -> ProgrammeRow:
    row = db.get(ProgrammeRow, programme_id) if isinstance(programme_id, str) and len(programme_id) <= 32 else None
    if row is None or row.listener_id != listener_id:
        raise NotFound("no such programme")
    return row


def programme_spec(vault: Vault, row: ProgrammeRow) -> ProgrammeSpec:
    return parse_programme(vault.open(row.sealed))


def step_of(spec: ProgrammeSpec, step: int) -> StepSpec:
    if not 0 <= step < len(spec.steps):
        raise InputError(f"the programme has steps 0-{len(spec.steps) - 1}; got {step}")
    return spec.steps[step]


def approved_proposal(db: DB, programme_id: str, step: int) -> ProposalRow | None:
    """The step's latest proposal when it was approved or edited (a later rejection withdraws it)."""
    latest = db.scalar(select(ProposalRow).where(ProposalRow.programme_id == programme_id, ProposalRow.step == step,
                                                 ProposalRow.status != "pending")
                       .order_by(ProposalRow.decided.desc(), ProposalRow.created.desc()).limit(1))
    return latest if latest is not None and latest.status in APPROVED else None


def proposal_view(vault: Vault, row: ProposalRow) -> dict[str, Any]:
    body = vault.open(row.sealed)
    return {"id": row.id, "programme_id": row.programme_id, "step": row.step, "status": row.status,
            "created": row.created, "decided": row.decided, "note": body.get("note", ""),
            "waypoints": body["waypoints"], "plans": body["plans"]}
