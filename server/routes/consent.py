"""The listener's clinical side: consent grants, the audit log, prescribed programmes, self-reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ..clinical_schemas import (
    AccessOut,
    ConsentIn,
    ConsentOut,
    ConsentPatch,
    MyProgrammeOut,
    RoleOut,
    SelfReportIn,
    SelfReportOut,
    SessionProgrammeOut,
    StartStepIn,
)
from ..deps import CurrentUser
from ..schemas import SessionOut
from .clinical import ClinicalDep
from .sessions import E401, E404, E409, E422, E503

router = APIRouter(prefix="/v1", tags=["consent and outcomes"])
ConsentId = Annotated[str, Path(max_length=32, description="a grant id from GET /v1/consents")]
SessionId = Annotated[str, Path(max_length=32, description="a session id from POST /v1/sessions")]
ProgrammeId = Annotated[str, Path(max_length=32)]


@router.get("/me/role", response_model=RoleOut, responses={**E401})
def my_role(user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    return {"name": user.name, "role": clinical.role(user)}


@router.post("/consents", status_code=201, response_model=ConsentOut, responses={**E401, **E404, **E409, **E422})
def grant(body: ConsentIn, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """Accept a therapist's invitation with the scopes you choose."""
    return clinical.participation.accept(user, body.code, list(body.scopes))


@router.get("/consents", response_model=list[ConsentOut], responses={**E401})
def consents(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Your grants, current and revoked."""
    return clinical.participation.consents(user)


@router.patch("/consents/{consent_id}", response_model=ConsentOut, responses={**E401, **E404, **E409, **E422})
def change_scopes(consent_id: ConsentId, body: ConsentPatch, user: CurrentUser,
                  clinical: ClinicalDep) -> dict[str, Any]:
    """Narrow or widen a grant; effective with the therapist's next request."""
    return clinical.participation.update_consent(user, consent_id, list(body.scopes))


@router.delete("/consents/{consent_id}", response_model=ConsentOut, responses={**E401, **E404})
def revoke(consent_id: ConsentId, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """Revoke a grant at once: the therapist's next request gets 404."""
    return clinical.participation.revoke(user, consent_id)


@router.get("/me/audit", response_model=list[AccessOut], responses={**E401})
def audit(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Who read or changed your data, and what you exported or deleted, newest first."""
    return clinical.participation.audit(user)


@router.get("/me/programmes", response_model=list[MyProgrammeOut], responses={**E401})
def my_programmes(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Programmes your therapist prescribed, with each step's locks and whether it is ready."""
    return clinical.participation.programmes(user)


@router.post("/me/programmes/{programme_id}/sessions", status_code=201, response_model=SessionOut,
             responses={**E401, **E404, **E409, **E422, **E503})
def start_step(programme_id: ProgrammeId, body: StartStepIn, user: CurrentUser,
               clinical: ClinicalDep) -> dict[str, Any]:
    """Start a session from a programme step (409 while its plan awaits your therapist's review)."""
    return clinical.participation.start_step(user, programme_id, body.step)


@router.get("/sessions/{session_id}/programme", response_model=SessionProgrammeOut, responses={**E401, **E404})
def session_programme(session_id: SessionId, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """The session's programme step: its locks (and why), questionnaires, reports given."""
    return clinical.participation.session_programme(user, session_id)


@router.post("/sessions/{session_id}/self-reports", status_code=201, response_model=SelfReportOut,
             responses={**E401, **E404, **E409, **E422})
def add_self_report(session_id: SessionId, body: SelfReportIn, user: CurrentUser,
                    clinical: ClinicalDep) -> dict[str, Any]:
    """How you feel before or after the session (9-point valence and arousal, optional distress)."""
    return clinical.participation.add_self_report(user, session_id, body)


@router.get("/sessions/{session_id}/self-reports", response_model=list[SelfReportOut], responses={**E401, **E404})
def self_reports(session_id: SessionId, user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    return clinical.participation.self_reports(user, session_id)
