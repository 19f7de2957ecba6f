"""Self-reports before and after a session: valence and arousal on 9-point pictorial scales in the
manner of the Self-Assessment Manikin (1 = unhappy / calm, 9 = happy / excited), an optional 0-10
distress rating, and answers to the questionnaires the session's programme attaches.

They measure; they do not steer the session (the loop's input stays apart from the outcome measure).
Stored sealed with the session, exported with it, erased with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.errors import Conflict, InputError
from promptloop.service.clinical.models import SelfReportRow
from promptloop.service.clinical.programmes import Questionnaire
from promptloop.service.crypto import Vault

__all__ = ["SelfReport", "add_self_report", "sam_to_unit", "self_reports"]

Phase = Literal["pre", "post"]


class SelfReport(BaseModel):
    """One self-report as the listener gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: Phase
    valence: int = Field(ge=1, le=9, description="1 unhappy … 9 happy")
    arousal: int = Field(ge=1, le=9, description="1 calm … 9 excited")
    distress: int | None = Field(default=None, ge=0, le=10, description="0 none … 10 the worst")
    answers: dict[str, dict[str, int]] = Field(default={}, max_length=4,
                                               description="{questionnaire id: {item id: value}}")


def sam_to_unit(value: float) -> float:
    """A 1-9 rating on the circumplex's [-1, 1] (5 is neutral)."""
    return (value - 5.0) / 4.0


def _check_answers(report: SelfReport, questionnaires: list[Questionnaire]) -> None:
    known = {q.id: q for q in questionnaires if q.when in (report.phase, "both")}
    for qid, answers in report.answers.items():
        questionnaire = known.get(qid)
        if questionnaire is None:
            raise InputError(f"no questionnaire {qid!r} is attached to this session's {report.phase} report")
        items = {i.id: i for i in questionnaire.items}
        for item_id, value in answers.items():
            item = items.get(item_id)
            if item is None:
                raise InputError(f"questionnaire {qid!r} has no item {item_id!r}")
            if not item.min <= value <= item.max:
                raise InputError(f"{qid}.{item_id} must be within [{item.min}, {item.max}], got {value}")


def add_self_report(db: DB, vault: Vault, user_id: int, session_id: str, report: SelfReport,
                    questionnaires: list[Questionnaire]) -> dict[str, Any]:
    """Store one report; a second report of the same phase is a 409 (reports are not rewritten)."""
    _check_answers(report, questionnaires)
    if db.scalar(select(SelfReportRow.id).where(SelfReportRow.session_id == session_id,
                                                SelfReportRow.phase == report.phase)) is not None:
        raise Conflict(f"the session already has a {report.phase} self-report")
    row = SelfReportRow(session_id=session_id, user_id=user_id, phase=report.phase,
                        sealed=vault.seal(report.model_dump(exclude={"phase"})))
    db.add(row)
    db.flush()
    return _view(vault, row)


def _view(vault: Vault, row: SelfReportRow) -> dict[str, Any]:
    return {"phase": row.phase, "created": row.created, **vault.open(row.sealed)}


def self_reports(db: DB, vault: Vault, session_id: str) -> list[dict[str, Any]]:
    rows = db.scalars(select(SelfReportRow).where(SelfReportRow.session_id == session_id)
                      .order_by(SelfReportRow.phase.desc()))  # pre before post
    return [_view(vault, r) for r in rows]
