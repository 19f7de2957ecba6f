"""The service's answers as plain data: what a session, segment or job looks like to its owner.

The server validates these into its response models (``server/schemas.py``); the terminal chat
prints them; export writes them.  Datetimes stay datetimes here, :func:`jsonable` turns them into
ISO strings for the event stream.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import BindParameter, String, bindparam, select
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.representation.plan_checks import tempo_range_note
from promptloop.representation.preferences import Preferences
from promptloop.representation.trajectory import path_pace
from promptloop.service.biofeedback import pacing_mode
from promptloop.service.context import ACTIVE
from promptloop.service.lookahead import lookahead_for
from promptloop.service.store import JobRow, SegmentRow, SessionRow
from promptloop.wiring.settings import Settings

__all__ = ["job_view", "jsonable", "segment_view", "session_view"]


# What a session's view needs beyond its row, in one query built once: the active job, and where the
# last segment ends (read out of its record by the database, not by loading the whole record).
_SID: BindParameter[str] = bindparam("sid", type_=String())
_ACTIVE_JOB = select(JobRow.id).where(JobRow.session_id == _SID, JobRow.status.in_(ACTIVE)).limit(1)
_LAST_END = (select(SegmentRow.record["start_s"].as_float() + SegmentRow.record["duration_s"].as_float())
             .where(SegmentRow.session_id == _SID).order_by(SegmentRow.index.desc()).limit(1))
_VIEW_EXTRAS = select(_ACTIVE_JOB.scalar_subquery(), _LAST_END.scalar_subquery())


def session_view(db: DB, row: SessionRow, settings: Settings) -> dict[str, Any]:
    spec, state = row.spec, row.state
    job, end = db.execute(_VIEW_EXTRAS, {"sid": row.id}).one()
    status = "complete" if row.segments_done >= spec["segments"] else "generating" if job else "idle"
    duration = float(end) if end is not None else 0.0
    return {
        "id": row.id, "title": row.title, "created": row.created, "updated": row.updated,
        "status": status, "active_job": job, "segments_done": row.segments_done,
        "segments": spec["segments"], "segment_seconds": spec["segment_seconds"],
        "duration_s": round(duration, 3), "sample_rate": row.sample_rate,
        "start": spec["start"], "listener": state["listener"], "target": state["target"],
        "preferences": state["preferences"],
        "settings": {k: spec[k] for k in ("candidates", "threshold", "max_retries", "max_step",
                                           "crossfade_seconds", "seed")},
        "backends": {k: spec.get(k) or getattr(settings, k) for k in ("generator", "planner", "evaluator")},
        "live": {"lookahead_s": lookahead_for(spec, settings.live_lookahead_seconds)},
        "pacing": {**path_pace(Affect(**spec["start"]), Affect(**state["target"]), int(spec["segments"]),
                               float(spec["max_step"])).to_dict(),
                   "tempo_note": tempo_range_note(Affect(**state["target"]), Preferences.from_dict(state["preferences"]))},
        "closed_loop": {"mode": pacing_mode(spec), "active": row.pacer_sealed is not None},
    }


def segment_view(session_id: str, seg: SegmentRow) -> dict[str, Any]:
    r = seg.record
    return {
        "index": seg.index, "created": seg.created, "start_s": r["start_s"], "duration_s": r["duration_s"],
        "waypoint": r["waypoint"], "listener": r["listener"], "estimated": r["estimated"], "score": r["score"],
        "prompt": r["prompt"], "attempts": len(r["attempts"]), "loudness_lufs": r["loudness_lufs"],
        "audio_url": f"/v1/sessions/{session_id}/segments/{seg.index}/audio",
    }


def job_view(job: JobRow) -> dict[str, Any]:
    return {
        "id": job.id, "session_id": job.session_id, "kind": job.kind, "status": job.status,
        "total": job.total, "done": job.done, "progress": round(job.done / job.total, 4) if job.total else 0.0,
        "error": job.error, "created": job.created, "updated": job.updated,
    }


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat() + "Z"
    return value
