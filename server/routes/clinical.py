"""/v1/clients, /v1/invitations, /v1/approvals, /v1/admin: the therapist's side (and roles).

A therapist reaches a client only through the client's current consent: ``client_id`` is the
consent's id.  No current grant (never, revoked, unknown id): 404, exactly as for a made-up id.  A
grant without the scope an endpoint needs: 403 naming the scope.  Every access is in the client's
audit log (``GET /v1/me/audit``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from promptloop.service.clinical import Clinical

from ..clinical_schemas import (
    ClientMessageOut,
    ClientOut,
    ClientSessionOut,
    DecisionIn,
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    PendingOut,
    PhysiologyOut,
    PlaylistIn,
    ProgrammeIn,
    ProgrammeOut,
    ProgressOut,
    ProposalOut,
    RoleIn,
    RoleOut,
    SelfReportOut,
)
from ..deps import CurrentUser
from ..schemas import ErrorOut, JobOut, SessionOut
from .profile import ProfileOut
from .sessions import E401, E404, E409, E422, E429, E503

E403 = {403: {"model": ErrorOut, "description": "not a therapist, or the consent lacks the scope"}}
ClientId = Annotated[str, Path(max_length=32, description="the client's consent id (GET /v1/clients)")]
SessionId = Annotated[str, Path(max_length=32)]
ProgrammeId = Annotated[str, Path(max_length=32)]
ProposalId = Annotated[str, Path(max_length=32)]
Step = Annotated[int, Path(ge=0, lt=24)]
UserName = Annotated[str, Path(max_length=64)]
NO_STORE = {"Cache-Control": "private, no-store"}


async def get_clinical(request: Request) -> Clinical:  # memory only: no request thread (server/deps.py)
    return request.app.state.service.clinical  # type: ignore[no-any-return]


ClinicalDep = Annotated[Clinical, Depends(get_clinical)]
router = APIRouter(prefix="/v1", tags=["therapist"])
ERR = {**E401, **E403, **E404}


@router.put("/admin/users/{user_name}/role", response_model=RoleOut, tags=["admin"], responses={**ERR, **E422})
def set_role(user_name: UserName, body: RoleIn, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """Make a user a listener, therapist or admin (admins only; roles never open anyone's data)."""
    target = clinical.set_role(user, user_name, body.role)
    return {"name": target.name, "role": body.role}


@router.post("/invitations", status_code=201, response_model=InvitationCreated, responses={**E401, **E403, **E422})
def invite(body: InvitationIn, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """A one-time code (and /chat link) a client accepts to grant consent; the code is shown once."""
    return clinical.oversight.invite(user, body.note, body.days)


@router.get("/invitations", response_model=list[InvitationOut], responses={**E401, **E403})
def invitations(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    return clinical.oversight.invitations(user)


@router.delete("/invitations/{invitation_id}", status_code=204, responses=ERR)
def revoke_invitation(invitation_id: Annotated[str, Path(max_length=32)], user: CurrentUser,
                      clinical: ClinicalDep) -> Response:
    clinical.oversight.revoke_invitation(user, invitation_id)
    return Response(status_code=204)


@router.get("/approvals", response_model=list[PendingOut], responses={**E401, **E403})
def approvals(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Proposals waiting for a decision, across clients whose consent includes 'prescribe'."""
    return clinical.oversight.pending(user)


@router.get("/clients", response_model=list[ClientOut], responses={**E401, **E403})
def clients(user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Clients with a current grant to this therapist."""
    return clinical.oversight.clients(user)


@router.get("/clients/{client_id}", response_model=ClientOut, responses=ERR)
def client(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    return clinical.oversight.client(user, client_id)


@router.get("/clients/{client_id}/sessions", response_model=list[SessionOut], responses=ERR)
def client_sessions(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Scope 'sessions'."""
    return clinical.oversight.sessions(user, client_id)


@router.get("/clients/{client_id}/sessions/{session_id}", response_model=ClientSessionOut, responses=ERR)
def client_session(client_id: ClientId, session_id: SessionId, user: CurrentUser,
                   clinical: ClinicalDep) -> dict[str, Any]:
    """Scope 'sessions': the session with its segments and scores."""
    return clinical.oversight.session(user, client_id, session_id)


@router.get("/clients/{client_id}/sessions/{session_id}/self-reports", response_model=list[SelfReportOut],
            responses=ERR)
def client_self_reports(client_id: ClientId, session_id: SessionId, user: CurrentUser,
                        clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Scope 'sessions'."""
    return clinical.oversight.self_reports(user, client_id, session_id)


@router.get("/clients/{client_id}/sessions/{session_id}/messages", response_model=list[ClientMessageOut],
            responses=ERR)
def client_messages(client_id: ClientId, session_id: SessionId, user: CurrentUser,
                    clinical: ClinicalDep) -> list[dict[str, Any]]:
    """Scope 'messages': the chat transcript."""
    return clinical.oversight.messages(user, client_id, session_id)


@router.get("/clients/{client_id}/profile", response_model=ProfileOut, responses=ERR)
def client_profile(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """Scope 'profile': the client's listener profile (sounds they avoid, comfortable ranges, what
    was learned), read-only; the client edits it."""
    return clinical.oversight.profile(user, client_id)


@router.get("/clients/{client_id}/sessions/{session_id}/physiology", response_model=PhysiologyOut, responses=ERR)
def client_physiology(client_id: ClientId, session_id: SessionId, user: CurrentUser,
                      clinical: ClinicalDep) -> dict[str, Any]:
    """Scope 'physiology': a summary of the readings (never the raw readings)."""
    return clinical.oversight.physiology(user, client_id, session_id)


@router.get("/clients/{client_id}/progress", response_model=ProgressOut, responses=ERR)
def progress(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """Scope 'sessions' (physiological change too with 'physiology'): change per session."""
    return clinical.oversight.progress(user, client_id)


# response_class=Response: an HTMLResponse or PlainTextResponse class would document the JSON errors
# under its own media type
@router.get("/clients/{client_id}/report.html", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "the report"}, **ERR})
def report_html(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> HTMLResponse:
    """The progress report as one self-contained HTML file (prints to PDF)."""
    return HTMLResponse(clinical.oversight.report_html(user, client_id), headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="progress-{client_id}.html"'})


@router.get("/clients/{client_id}/report.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "one row per session"}, **ERR})
def report_csv(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> Response:
    """One row per session."""
    return Response(clinical.oversight.report_csv(user, client_id), media_type="text/csv", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="progress-{client_id}.csv"'})


@router.post("/clients/{client_id}/programmes", status_code=201, response_model=ProgrammeOut,
             responses={**ERR, **E422})
def create_programme(client_id: ClientId, body: ProgrammeIn, user: CurrentUser,
                     clinical: ClinicalDep) -> dict[str, Any]:
    """Scope 'prescribe': a series of session specs with locked constraints."""
    return clinical.oversight.create_programme(user, client_id, body)


@router.get("/clients/{client_id}/programmes", response_model=list[ProgrammeOut], responses=ERR)
def programmes(client_id: ClientId, user: CurrentUser, clinical: ClinicalDep) -> list[dict[str, Any]]:
    return clinical.oversight.programmes(user, client_id)


@router.get("/clients/{client_id}/programmes/{programme_id}", response_model=ProgrammeOut, responses=ERR)
def programme(client_id: ClientId, programme_id: ProgrammeId, user: CurrentUser,
              clinical: ClinicalDep) -> dict[str, Any]:
    return clinical.oversight.programme(user, client_id, programme_id)


@router.put("/clients/{client_id}/programmes/{programme_id}", response_model=ProgrammeOut, responses={**ERR, **E422})
def update_programme(client_id: ClientId, programme_id: ProgrammeId, body: ProgrammeIn, user: CurrentUser,
                     clinical: ClinicalDep) -> dict[str, Any]:
    """Replace the programme; its proposals are dropped (sessions started keep their locks)."""
    return clinical.oversight.update_programme(user, client_id, programme_id, body)


@router.delete("/clients/{client_id}/programmes/{programme_id}", status_code=204, responses=ERR)
def delete_programme(client_id: ClientId, programme_id: ProgrammeId, user: CurrentUser,
                     clinical: ClinicalDep) -> Response:
    clinical.oversight.delete_programme(user, client_id, programme_id)
    return Response(status_code=204)


@router.post("/clients/{client_id}/programmes/{programme_id}/steps/{step}/playlist", status_code=202,
             response_model=JobOut, responses={**ERR, **E422, **E429})
def playlist(client_id: ClientId, programme_id: ProgrammeId, step: Step, user: CurrentUser, clinical: ClinicalDep,
             body: PlaylistIn | None = None) -> dict[str, Any]:
    """A playlist of tracks prepared from the step (its arc, sounds and limits); the job and its files
    belong to the client, who finds them among their playlists."""
    return clinical.oversight.playlist(user, client_id, programme_id, step, (body or PlaylistIn()).tracks)


@router.post("/clients/{client_id}/programmes/{programme_id}/steps/{step}/proposal", status_code=201,
             response_model=ProposalOut, responses={**ERR, **E422, **E503})
def propose(client_id: ClientId, programme_id: ProgrammeId, step: Step, user: CurrentUser,
            clinical: ClinicalDep) -> dict[str, Any]:
    """The step's planned path and first prompts from its planner, for review before play."""
    return clinical.oversight.propose(user, client_id, programme_id, step)


@router.get("/clients/{client_id}/programmes/{programme_id}/proposals", response_model=list[ProposalOut],
            responses=ERR)
def proposals(client_id: ClientId, programme_id: ProgrammeId, user: CurrentUser,
              clinical: ClinicalDep) -> list[dict[str, Any]]:
    return clinical.oversight.proposals(user, client_id, programme_id)


@router.post("/clients/{client_id}/programmes/{programme_id}/proposals/{proposal_id}/decision",
             response_model=ProposalOut, responses={**ERR, **E409, **E422})
def decide(client_id: ClientId, programme_id: ProgrammeId, proposal_id: ProposalId, body: DecisionIn,
           user: CurrentUser, clinical: ClinicalDep) -> dict[str, Any]:
    """approve, edit (prompts checked against the step's forbidden sounds) or reject."""
    edits = [e.model_dump(exclude_none=True) for e in body.plans]
    return clinical.oversight.decide(user, client_id, programme_id, proposal_id, body.action, edits, body.note)
