"""Request and response bodies of the clinical routes (roles, consent, programmes, outcomes).

Requests refuse unknown fields; responses are their own classes.  The programme body is the domain's
own strict model (:class:`promptloop.service.clinical.ProgrammeSpec`), so what the API accepts and
what the service validates are one definition.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from promptloop.service.clinical.consent import SCOPES, Scope
from promptloop.service.clinical.outcomes import SelfReport
from promptloop.service.clinical.programmes import (
    ProgrammeSpec,
    Questionnaire,
    StepSpec,
)
from promptloop.service.clinical.roles import Role

from .schemas import AffectOut, Time, _In, _Out

__all__ = [
    "AccessOut", "ClientOut", "ConsentIn", "ConsentOut", "ConsentPatch", "DecisionIn", "InvitationCreated",
    "InvitationIn", "InvitationOut", "MyProgrammeOut", "PendingOut", "PhysiologyOut", "PlaylistIn", "ProgrammeIn",
    "ProgrammeOut",
    "ProgressOut", "ProposalOut", "RoleIn", "RoleOut", "SelfReportIn", "SelfReportOut", "SessionProgrammeOut",
    "StartStepIn", "ClientSessionOut", "ClientMessageOut",
]

ProgrammeIn = ProgrammeSpec
SelfReportIn = SelfReport


# -- roles ---------------------------------------------------------------------------------------
class RoleIn(_In):
    role: Role


class RoleOut(_Out):
    name: str
    role: Role


# -- consent -------------------------------------------------------------------------------------
class InvitationIn(_In):
    note: str = Field(default="", max_length=200, description="for the therapist's own list")
    days: float = Field(default=7.0, gt=0, le=30, allow_inf_nan=False, description="how long the code works")


class InvitationOut(_Out):
    id: str
    note: str
    created: Time
    expires: Time
    status: Literal["open", "used", "expired", "revoked"]


class InvitationCreated(InvitationOut):
    code: str = Field(description="shown once; the client enters it or opens the link")
    link: str


class ConsentIn(_In):
    code: str = Field(min_length=1, max_length=100, description="the therapist's invitation code")
    scopes: list[Scope] = Field(max_length=len(SCOPES), description="what the therapist may see or do")


class ConsentPatch(_In):
    scopes: list[Scope] = Field(max_length=len(SCOPES))


class ConsentOut(_Out):
    id: str
    scopes: list[Scope]
    created: Time
    updated: Time
    revoked: Time | None
    active: bool
    therapist: str | None = None
    client: str | None = None


class AccessOut(_Out):
    created: Time
    actor: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    scope: str | None


class ClientOut(_Out):
    client_id: str
    name: str
    scopes: list[Scope]
    since: Time
    sessions: int | None = Field(description="null unless the consent includes 'sessions'")


# -- the client's data ---------------------------------------------------------------------------
class ClientSessionOut(_Out):
    session: dict[str, Any] = Field(description="as GET /v1/sessions/{id} answers the client")
    segments: list[dict[str, Any]]


class ClientMessageOut(_Out):
    role: Literal["listener", "assistant"]
    text: str
    changes: list[str]
    created: Time


class PhysiologyOut(_Out):
    session_id: str
    summary: dict[str, Any] | None = Field(description="batches, mean of the first and last batch, change")


class ProgressOut(_Out):
    client: str
    sessions: list[dict[str, Any]]
    summary: dict[str, Any]
    includes_physiology: bool


# -- programmes ----------------------------------------------------------------------------------
class StepOut(_Out):
    index: int
    spec: StepSpec
    needs_review: bool
    approved: bool
    locks: list[str]


class ProgrammeOut(_Out):
    id: str
    title: str
    note: str
    created: Time
    updated: Time
    steps: list[StepOut]
    questionnaires: list[Questionnaire]


class PlanOut(_Out):
    index: int
    planner: str
    fallback: str | None
    prompt: str
    plan: dict[str, Any]


class ProposalOut(_Out):
    id: str
    programme_id: str
    step: int
    status: Literal["pending", "approved", "edited", "rejected"]
    created: Time
    decided: Time | None
    note: str
    waypoints: list[AffectOut]
    plans: list[PlanOut]


class PlanEdit(_In):
    index: int = Field(ge=0, le=63)
    prompt: str | None = Field(default=None, min_length=1, max_length=500)
    tempo_bpm: float | None = Field(default=None, ge=40, le=180, allow_inf_nan=False)
    instruments: list[str] | None = Field(default=None, max_length=8)
    textures: list[str] | None = Field(default=None, max_length=8)


class DecisionIn(_In):
    action: Literal["approve", "edit", "reject"]
    plans: list[PlanEdit] = Field(default=[], max_length=4, description="with 'edit': the changed plans")
    note: str = Field(default="", max_length=500)


class PendingOut(_Out):
    client_id: str
    client: str
    proposal_id: str
    programme_id: str
    step: int
    created: Time


class MyStepOut(_Out):
    index: int
    title: str
    start: str
    target: str
    segments: int
    segment_seconds: float
    locks: list[str]
    status: Literal["ready", "awaiting review"]
    sessions: int


class MyProgrammeOut(_Out):
    id: str
    title: str
    note: str
    therapist: str
    created: Time
    steps: list[MyStepOut]


class PlaylistIn(_In):
    tracks: int = Field(default=3, ge=1, le=12, description="tracks along the step's arc")


class StartStepIn(_In):
    step: int = Field(ge=0, lt=24)


class SessionProgrammeOut(_Out):
    session_id: str
    programme_id: str | None
    step: int | None
    locks: list[str]
    approved_segments: list[int]
    questionnaires: list[Questionnaire]
    reported: list[Literal["pre", "post"]]


class SelfReportOut(_Out):
    phase: Literal["pre", "post"]
    created: Time
    valence: int
    arousal: int
    distress: int | None
    answers: dict[str, dict[str, int]]
