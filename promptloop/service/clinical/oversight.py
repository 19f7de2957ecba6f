"""What a therapist does: invite, list clients, read what the client's consent covers, write
programmes, review proposals, download the progress report.

Every method that touches a client's data goes through :func:`.consent.client_access` first, which
checks the current grant and scope and writes the access record; the record is committed before the
data is read, so nothing is served unlogged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DB

from promptloop.errors import Conflict, NotFound
from promptloop.service.clinical import consent as grants
from promptloop.service.clinical.models import ConsentRow, ProgrammeRow, ProposalRow
from promptloop.service.clinical.outcomes import self_reports
from promptloop.service.clinical.programmes import ProgrammeSpec, playlist_spec
from promptloop.service.clinical.progress import (
    _physiology,
    client_progress,
    progress_csv,
)
from promptloop.service.clinical.proposals import edit_plans, propose
from promptloop.service.clinical.report import report_html
from promptloop.service.clinical.roles import require_role
from promptloop.service.clinical.store_ops import (
    owned_session,
    programme_of,
    programme_spec,
    proposal_view,
    step_of,
)
from promptloop.service.store import MessageRow, SessionRow, User, new_id, now

if TYPE_CHECKING:
    from promptloop.service.engine import Service

__all__ = ["Oversight"]


class Oversight:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.vault = service.vault

    def _access(self, db: DB, therapist: User, client_id: str, scope: str, action: str, object_type: str,
                object_id: str = "") -> tuple[ConsentRow, User]:
        grant, listener = grants.client_access(db, therapist, client_id, scope, action, object_type, object_id)
        db.commit()  # the access record first, then the data
        return grant, listener

    # -- invitations and clients -----------------------------------------------------------------
    def invite(self, therapist: User, note: str, days: float) -> dict[str, Any]:
        with self.service.db() as db:
            row, code = grants.create_invitation(db, therapist, note, days)
            db.commit()
            return {**grants.invitation_view(row), "code": code, "link": f"/chat#invite={code}"}

    def invitations(self, therapist: User) -> list[dict[str, Any]]:
        from promptloop.service.clinical.models import InvitationRow

        with self.service.db() as db:
            require_role(db, therapist, "therapist")
            rows = db.scalars(select(InvitationRow).where(InvitationRow.therapist_id == therapist.id)
                              .order_by(InvitationRow.created.desc()).limit(200))
            return [grants.invitation_view(r) for r in rows]

    def revoke_invitation(self, therapist: User, invitation_id: str) -> None:
        with self.service.db() as db:
            require_role(db, therapist, "therapist")
            grants.revoke_invitation(db, therapist, invitation_id)
            db.commit()

    def clients(self, therapist: User) -> list[dict[str, Any]]:
        with self.service.db() as db:
            return [self._client_view(db, row) for row in grants.active_clients(db, therapist)]

    def _client_view(self, db: DB, row: ConsentRow) -> dict[str, Any]:
        listener = db.get(User, row.listener_id)
        sessions = None
        if "sessions" in row.scopes:
            sessions = int(db.scalar(select(func.count()).select_from(SessionRow)
                                     .where(SessionRow.user_id == row.listener_id)) or 0)
        return {"client_id": row.id, "name": listener.name if listener else "(erased)", "scopes": list(row.scopes),
                "since": row.created, "sessions": sessions}

    def client(self, therapist: User, client_id: str) -> dict[str, Any]:
        with self.service.db() as db:
            role = require_role(db, therapist, "therapist")
            row = db.get(ConsentRow, client_id) if len(client_id) <= 32 else None
            if row is None or row.therapist_id != therapist.id or row.revoked is not None:
                raise NotFound(grants.NO_CLIENT)
            grants.record_access(db, row.listener_id, therapist, role, "read", "client", row.id)
            db.commit()
            return self._client_view(db, row)

    # -- the client's data, as the consent allows ------------------------------------------------
    def sessions(self, therapist: User, client_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "sessions", "read", "sessions")
        return self.service.list_sessions(listener, limit=100)

    def session(self, therapist: User, client_id: str, session_id: str) -> dict[str, Any]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "sessions", "read", "session", session_id)
            owned_session(db, listener.id, session_id)
        return {"session": self.service.get_session(listener, session_id),
                "segments": self.service.list_segments(listener, session_id)}

    def self_reports(self, therapist: User, client_id: str, session_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "sessions", "read", "self_reports", session_id)
            owned_session(db, listener.id, session_id)
            return self_reports(db, self.vault, session_id)

    def messages(self, therapist: User, client_id: str, session_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "messages", "read", "messages", session_id)
            owned_session(db, listener.id, session_id)
            rows = db.scalars(select(MessageRow).where(MessageRow.session_id == session_id).order_by(MessageRow.id))
            return [{"role": m.role, "created": m.created, "changes": [], **self.vault.open(m.sealed)} for m in rows]

    def profile(self, therapist: User, client_id: str) -> dict[str, Any]:
        """The client's listener profile (what was learned, what they set), as they see it themselves."""
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "profile", "read", "profile")
            return self.service.profiles.load(db, listener).model_dump(mode="json")

    def physiology(self, therapist: User, client_id: str, session_id: str) -> dict[str, Any]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "physiology", "read", "physiology", session_id)
            owned_session(db, listener.id, session_id)
            return {"session_id": session_id, "summary": _physiology(db, self.vault, session_id)}

    def progress(self, therapist: User, client_id: str, what: str = "progress") -> dict[str, Any]:
        with self.service.db() as db:
            grant, listener = self._access(db, therapist, client_id, "sessions", "read", what)
            physiology = "physiology" in grant.scopes
            if physiology:
                grants.record_access(db, listener.id, therapist, "therapist", "read", what, "", "physiology")
                db.commit()
            return {**client_progress(db, self.vault, listener.id, physiology), "client": listener.name}

    def report_csv(self, therapist: User, client_id: str) -> str:
        return progress_csv(self.progress(therapist, client_id, "report.csv"))

    def report_html(self, therapist: User, client_id: str) -> str:
        progress = self.progress(therapist, client_id, "report.html")
        return report_html(progress["client"], therapist.name, progress)

    # -- programmes and proposals ----------------------------------------------------------------
    def _programme_view(self, row: ProgrammeRow, db: DB) -> dict[str, Any]:
        from promptloop.service.clinical.store_ops import approved_proposal

        spec = programme_spec(self.vault, row)
        steps = [{"index": i, "spec": s.model_dump(mode="json"), "needs_review": s.needs_review(),
                  "approved": approved_proposal(db, row.id, i) is not None,
                  "locks": s.lock_values().explain()} for i, s in enumerate(spec.steps)]
        return {"id": row.id, "title": spec.title, "note": spec.note, "created": row.created, "updated": row.updated,
                "steps": steps, "questionnaires": [q.model_dump(mode="json") for q in spec.questionnaires]}

    def create_programme(self, therapist: User, client_id: str, spec: ProgrammeSpec) -> dict[str, Any]:
        with self.service.db() as db:
            _grant, listener = grants.client_access(db, therapist, client_id, "prescribe", "create", "programme")
            row = ProgrammeRow(id=new_id("p"), listener_id=listener.id, therapist_id=therapist.id,
                               sealed=self.vault.seal(spec.model_dump(mode="json")))
            db.add(row)
            db.commit()
            return self._programme_view(row, db)

    def programmes(self, therapist: User, client_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "prescribe", "read", "programmes")
            rows = db.scalars(select(ProgrammeRow).where(ProgrammeRow.listener_id == listener.id)
                              .order_by(ProgrammeRow.created))
            return [self._programme_view(r, db) for r in rows]

    def programme(self, therapist: User, client_id: str, programme_id: str) -> dict[str, Any]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "prescribe", "read", "programme", programme_id)
            return self._programme_view(programme_of(db, listener.id, programme_id), db)

    def update_programme(self, therapist: User, client_id: str, programme_id: str,
                         spec: ProgrammeSpec) -> dict[str, Any]:
        """Replace the programme; every proposal goes (the steps it reviewed may have changed).
        Sessions already started keep the locks they were started with."""
        with self.service.db() as db:
            _grant, listener = grants.client_access(db, therapist, client_id, "prescribe", "update", "programme",
                                                    programme_id)
            row = programme_of(db, listener.id, programme_id)
            row.sealed, row.updated = self.vault.seal(spec.model_dump(mode="json")), now()
            db.execute(delete(ProposalRow).where(ProposalRow.programme_id == row.id))
            db.commit()
            return self._programme_view(row, db)

    def delete_programme(self, therapist: User, client_id: str, programme_id: str) -> None:
        with self.service.db() as db:
            _grant, listener = grants.client_access(db, therapist, client_id, "prescribe", "delete", "programme",
                                                    programme_id)
            row = programme_of(db, listener.id, programme_id)
            db.execute(delete(ProposalRow).where(ProposalRow.programme_id == row.id))
            db.delete(row)
            db.commit()

    def propose(self, therapist: User, client_id: str, programme_id: str, step: int) -> dict[str, Any]:
        """Ask the step's planner for the planned path and first prompts (not played yet)."""
        with self.service.db() as db:
            _grant, listener = grants.client_access(db, therapist, client_id, "prescribe", "create", "proposal",
                                                    programme_id)
            row = programme_of(db, listener.id, programme_id)
            spec = step_of(programme_spec(self.vault, row), step)
            backends = self.service.backends_for(spec.generator, spec.planner, None)
            body = {**propose(spec, backends, self.service.settings.max_step), "note": ""}
            proposal = ProposalRow(id=new_id("r"), programme_id=row.id, step=step, sealed=self.vault.seal(body))
            db.add(proposal)
            db.commit()
            return proposal_view(self.vault, proposal)

    def proposals(self, therapist: User, client_id: str, programme_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "prescribe", "read", "proposals", programme_id)
            row = programme_of(db, listener.id, programme_id)
            rows = db.scalars(select(ProposalRow).where(ProposalRow.programme_id == row.id)
                              .order_by(ProposalRow.created))
            return [proposal_view(self.vault, r) for r in rows]

    def decide(self, therapist: User, client_id: str, programme_id: str, proposal_id: str, action: str,
               edits: list[dict[str, Any]], note: str) -> dict[str, Any]:
        """approve, edit (prompts checked against the step's forbidden sounds) or reject."""
        with self.service.db() as db:
            _grant, listener = grants.client_access(db, therapist, client_id, "prescribe", "decide", "proposal",
                                                    proposal_id)
            row = programme_of(db, listener.id, programme_id)
            proposal = db.get(ProposalRow, proposal_id) if len(proposal_id) <= 32 else None
            if proposal is None or proposal.programme_id != row.id:
                raise NotFound("no such proposal")
            if proposal.status != "pending":
                raise Conflict(f"the proposal was already {proposal.status}; ask for a new one")
            body = self.vault.open(proposal.sealed)
            if action == "edit":
                body = edit_plans(body, edits, step_of(programme_spec(self.vault, row), proposal.step))
            proposal.status = {"approve": "approved", "edit": "edited", "reject": "rejected"}[action]
            proposal.sealed, proposal.decided = self.vault.seal({**body, "note": note}), now()
            db.commit()
            return proposal_view(self.vault, proposal)

    def playlist(self, therapist: User, client_id: str, programme_id: str, step: int, tracks: int) -> dict[str, Any]:
        """A playlist job made from a programme step, owned by the client (their jobs, export, erase)."""
        with self.service.db() as db:
            _grant, listener = self._access(db, therapist, client_id, "prescribe", "create", "playlist", programme_id)
            spec = programme_spec(self.vault, programme_of(db, listener.id, programme_id))
            step_of(spec, step)
        return self.service.playlists.create(listener, playlist_spec(spec, step, tracks))

    def pending(self, therapist: User) -> list[dict[str, Any]]:
        """Proposals awaiting this therapist's decision, across clients whose consent allows it."""
        with self.service.db() as db:
            out = []
            for grant in grants.active_clients(db, therapist):
                if "prescribe" not in grant.scopes:
                    continue
                listener = db.get(User, grant.listener_id)
                found = db.scalars(select(ProposalRow).join(ProgrammeRow, ProgrammeRow.id == ProposalRow.programme_id)
                                  .where(ProgrammeRow.listener_id == grant.listener_id,
                                         ProposalRow.status == "pending").order_by(ProposalRow.created))
                rows = list(found)
                if rows:
                    grants.record_access(db, grant.listener_id, therapist, "therapist", "read", "proposals", "",
                                         "prescribe")
                out += [{"client_id": grant.id, "client": listener.name if listener else "", "proposal_id": r.id,
                         "programme_id": r.programme_id, "step": r.step, "created": r.created} for r in rows]
            db.commit()
            return out
