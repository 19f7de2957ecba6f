"""What a listener does on the clinical side: accept and manage consent, read who saw their data,
see the programmes prescribed to them and start a step, answer the self-reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DB

from promptloop.errors import Conflict
from promptloop.service.clinical import consent as grants
from promptloop.service.clinical.audit import access_log
from promptloop.service.clinical.locks import Locks
from promptloop.service.clinical.models import (
    ConsentRow,
    ProgrammeRow,
    ProgrammeSessionRow,
)
from promptloop.service.clinical.outcomes import (
    SelfReport,
    add_self_report,
    self_reports,
)
from promptloop.service.clinical.programmes import Questionnaire
from promptloop.service.clinical.store_ops import (
    approved_proposal,
    owned_session,
    programme_of,
    programme_spec,
    step_of,
)
from promptloop.service.store import User

if TYPE_CHECKING:
    from promptloop.service.engine import Service

__all__ = ["Participation"]


class Participation:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.vault = service.vault

    # -- consent ---------------------------------------------------------------------------------
    def accept(self, listener: User, code: str, scopes: list[str]) -> dict[str, Any]:
        with self.service.db() as db:
            row = grants.accept_invitation(db, listener, code, scopes)
            db.commit()
            return grants.consent_view(db, row, listener)

    def consents(self, listener: User) -> list[dict[str, Any]]:
        with self.service.db() as db:
            rows = db.scalars(select(ConsentRow).where(ConsentRow.listener_id == listener.id)
                              .order_by(ConsentRow.created.desc()))
            return [grants.consent_view(db, r, listener) for r in rows]

    def update_consent(self, listener: User, consent_id: str, scopes: list[str]) -> dict[str, Any]:
        with self.service.db() as db:
            row = grants.update_scopes(db, listener, consent_id, scopes)
            db.commit()
            return grants.consent_view(db, row, listener)

    def revoke(self, listener: User, consent_id: str) -> dict[str, Any]:
        with self.service.db() as db:
            row = grants.revoke_consent(db, listener, consent_id)
            db.commit()
            return grants.consent_view(db, row, listener)

    def audit(self, listener: User) -> list[dict[str, Any]]:
        with self.service.db() as db:
            return access_log(db, listener)

    # -- programmes ------------------------------------------------------------------------------
    def _view(self, db: DB, row: ProgrammeRow) -> dict[str, Any]:
        spec = programme_spec(self.vault, row)
        therapist = db.get(User, row.therapist_id) if row.therapist_id is not None else None
        steps = []
        for i, step in enumerate(spec.steps):
            started = db.scalar(select(func.count()).select_from(ProgrammeSessionRow)
                                .where(ProgrammeSessionRow.programme_id == row.id, ProgrammeSessionRow.step == i))
            waiting = step.needs_review() and approved_proposal(db, row.id, i) is None
            steps.append({"index": i, "title": step.title or f"session {i + 1}", "start": step.start,
                          "target": step.target, "segments": step.segments, "segment_seconds": step.segment_seconds,
                          "locks": step.lock_values().explain(), "status": "awaiting review" if waiting else "ready",
                          "sessions": int(started or 0)})
        return {"id": row.id, "title": spec.title, "note": spec.note,
                "therapist": therapist.name if therapist else "(account closed)", "created": row.created,
                "steps": steps}

    def programmes(self, listener: User) -> list[dict[str, Any]]:
        with self.service.db() as db:
            rows = db.scalars(select(ProgrammeRow).where(ProgrammeRow.listener_id == listener.id)
                              .order_by(ProgrammeRow.created))
            return [self._view(db, r) for r in rows]

    def start_step(self, listener: User, programme_id: str, step: int) -> dict[str, Any]:
        """A new session from a programme step, carrying its locks and approved plans."""
        with self.service.db() as db:
            row = programme_of(db, listener.id, programme_id)
            spec = programme_spec(self.vault, row)
            s = step_of(spec, step)
            approved = approved_proposal(db, row.id, step)
            if s.needs_review() and approved is None:
                raise Conflict("this session is waiting for your therapist to review its plan")
            plans = {str(p["index"]): p["plan"] for p in self.vault.open(approved.sealed)["plans"]} if approved else {}
        session = self.service.create_session(
            listener, start=s.start_affect(), target=s.target_affect(), preferences=s.preferences(),
            title=f"{spec.title}: {s.title or f'session {step + 1}'}"[:200], generator=s.generator, planner=s.planner,
            segments=s.segments, segment_seconds=s.segment_seconds, seed=s.seed, pacing=s.pacing,
            crossfade_seconds=min(self.service.settings.crossfade_seconds, s.segment_seconds / 4),
        )
        with self.service.db() as db:
            db.add(ProgrammeSessionRow(session_id=session["id"], programme_id=row.id, step=step,
                                       locks=s.lock_values().to_dict(), plans=plans))
            db.commit()
        return session

    def session_programme(self, listener: User, session_id: str) -> dict[str, Any]:
        """The programme side of one session: locks explained, questionnaires, reports given."""
        with self.service.db() as db:
            owned_session(db, listener.id, session_id)
            link = db.get(ProgrammeSessionRow, session_id)
            questionnaires = [q.model_dump(mode="json") for q in self._questionnaires(db, link)]
            return {"session_id": session_id, "programme_id": link.programme_id if link else None,
                    "step": link.step if link else None,
                    "locks": Locks.from_dict(link.locks).explain() if link else [],
                    "approved_segments": sorted(int(k) for k in link.plans) if link else [],
                    "questionnaires": questionnaires,
                    "reported": [r["phase"] for r in self_reports(db, self.vault, session_id)]}

    def _questionnaires(self, db: DB, link: ProgrammeSessionRow | None) -> list[Questionnaire]:
        if link is None or link.programme_id is None:
            return []
        row = db.get(ProgrammeRow, link.programme_id)
        return list(programme_spec(self.vault, row).questionnaires) if row is not None else []

    # -- self-reports ----------------------------------------------------------------------------
    def add_self_report(self, listener: User, session_id: str, report: SelfReport) -> dict[str, Any]:
        with self.service.db() as db:
            owned_session(db, listener.id, session_id)
            view = add_self_report(db, self.vault, listener.id, session_id, report,
                                   self._questionnaires(db, db.get(ProgrammeSessionRow, session_id)))
            db.commit()
            return view

    def self_reports(self, listener: User, session_id: str) -> list[dict[str, Any]]:
        with self.service.db() as db:
            owned_session(db, listener.id, session_id)
            return self_reports(db, self.vault, session_id)
