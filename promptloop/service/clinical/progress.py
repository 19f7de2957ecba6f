"""A client's progress across sessions: self-reported change, physiological change where readings
exist, time to target, and what the listener liked or avoided; as data and as CSV.

Physiology enters only when the caller may see it (the ``physiology`` scope): summaries per session
(mean of the first and of the last batch of readings, and their difference), never raw readings.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.service.clinical.models import ProgrammeSessionRow
from promptloop.service.clinical.outcomes import sam_to_unit, self_reports
from promptloop.service.crypto import Vault
from promptloop.service.store import ReadingRow, SegmentRow, SessionRow

__all__ = ["CSV_COLUMNS", "PHYSIOLOGY_FIELDS", "TARGET_RADIUS", "client_progress", "progress_csv"]

#: A segment whose estimated affect lies this close to the target counts as having reached it.
TARGET_RADIUS = 0.3
PHYSIOLOGY_FIELDS = ("heart_rate", "hrv_rmssd", "skin_conductance")
MAX_SESSIONS = 500


def _batch_mean(batch: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for name in PHYSIOLOGY_FIELDS:
        values = [r[name] for r in batch if r.get(name) is not None]
        if values:
            out[name] = round(sum(values) / len(values), 3)
    return out


def _physiology(db: DB, vault: Vault, session_id: str) -> dict[str, Any] | None:
    batches = [vault.open(r.sealed)["readings"] for r in
               db.scalars(select(ReadingRow).where(ReadingRow.session_id == session_id).order_by(ReadingRow.id))]
    if not batches:
        return None
    first, last = _batch_mean(batches[0]), _batch_mean(batches[-1])
    change = {k: round(last[k] - first[k], 3) for k in first if k in last}
    return {"batches": len(batches), "first": first, "last": last, "change": change}


def _report(reports: list[dict[str, Any]], phase: str) -> dict[str, Any] | None:
    found = next((r for r in reports if r["phase"] == phase), None)
    if found is None:
        return None
    return {"valence": found["valence"], "arousal": found["arousal"], "distress": found.get("distress"),
            "answers": found.get("answers", {})}


def _session(db: DB, vault: Vault, row: SessionRow, physiology: bool) -> dict[str, Any]:
    segments = [s.record for s in db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id)
                                             .order_by(SegmentRow.index))]
    target = Affect(**row.state["target"])
    time_to_target = None
    for rec in segments:
        if Affect(**rec["estimated"]).distance(target) <= TARGET_RADIUS:
            time_to_target = round(rec["start_s"] + rec["duration_s"], 3)
            break
    reports = self_reports(db, vault, row.id)
    pre, post = _report(reports, "pre"), _report(reports, "post")
    change = None
    if pre and post:
        change = {"valence": post["valence"] - pre["valence"], "arousal": post["arousal"] - pre["arousal"],
                  "distress": (post["distress"] - pre["distress"])
                  if pre["distress"] is not None and post["distress"] is not None else None}
    link = db.get(ProgrammeSessionRow, row.id)
    prefs = row.state["preferences"]
    out: dict[str, Any] = {
        "session_id": row.id, "title": row.title, "created": row.created,
        "programme_id": link.programme_id if link else None, "step": link.step if link else None,
        "segments_done": row.segments_done, "segments": row.spec["segments"],
        "mean_score": round(sum(r["score"] for r in segments) / len(segments), 4) if segments else None,
        "target": target.to_dict(),
        "final_estimate": segments[-1]["estimated"] if segments else None,
        "final_distance": round(Affect(**segments[-1]["estimated"]).distance(target), 4) if segments else None,
        "time_to_target_s": time_to_target,
        "pre": pre, "post": post, "change": change,
        "pre_unit": {"valence": sam_to_unit(pre["valence"]), "arousal": sam_to_unit(pre["arousal"])} if pre else None,
        "post_unit": {"valence": sam_to_unit(post["valence"]), "arousal": sam_to_unit(post["arousal"])}
        if post else None,
        "liked": [*prefs.get("instruments", []), *prefs.get("genres", []), *prefs.get("extra", [])],
        "avoided": list(prefs.get("avoid", [])),
    }
    if physiology:
        out["physiology"] = _physiology(db, vault, row.id)
    return out


def client_progress(db: DB, vault: Vault, listener_id: int, physiology: bool) -> dict[str, Any]:
    """Every session of the listener, oldest first, and a summary across them."""
    rows = db.scalars(select(SessionRow).where(SessionRow.user_id == listener_id)
                      .order_by(SessionRow.created, SessionRow.id).limit(MAX_SESSIONS))
    sessions = [_session(db, vault, r, physiology) for r in rows]
    changes = [s["change"] for s in sessions if s["change"]]

    def mean(key: str) -> float | None:
        values = [c[key] for c in changes if c[key] is not None]
        return round(sum(values) / len(values), 3) if values else None

    reached = [s["time_to_target_s"] for s in sessions if s["time_to_target_s"] is not None]
    summary = {"sessions": len(sessions), "with_both_reports": len(changes),
               "mean_valence_change": mean("valence"), "mean_arousal_change": mean("arousal"),
               "mean_distress_change": mean("distress"), "sessions_reaching_target": len(reached),
               "mean_time_to_target_s": round(sum(reached) / len(reached), 3) if reached else None}
    return {"sessions": sessions, "summary": summary, "includes_physiology": physiology}


CSV_COLUMNS = ["session_id", "created", "title", "programme_id", "step", "segments_done", "segments", "mean_score",
               "pre_valence", "pre_arousal", "pre_distress", "post_valence", "post_arousal", "post_distress",
               "change_valence", "change_arousal", "change_distress", "time_to_target_s", "final_distance",
               "liked", "avoided"]


def progress_csv(progress: dict[str, Any]) -> str:
    """One row per session; physiology columns when the progress has them."""
    columns = list(CSV_COLUMNS)
    if progress["includes_physiology"]:
        columns += [f"{k}_{f}" for f in PHYSIOLOGY_FIELDS for k in ("first", "last", "change")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for s in progress["sessions"]:
        row: dict[str, Any] = {k: s.get(k) for k in ("session_id", "title", "programme_id", "step", "segments_done",
                                                      "segments", "mean_score", "time_to_target_s",
                                                      "final_distance")}
        row["created"] = s["created"].isoformat() + "Z"
        for phase in ("pre", "post", "change"):
            for key in ("valence", "arousal", "distress"):
                row[f"{phase}_{key}"] = (s[phase] or {}).get(key)
        row["liked"], row["avoided"] = "; ".join(s["liked"]), "; ".join(s["avoided"])
        phys = s.get("physiology") or {}
        for f in PHYSIOLOGY_FIELDS if progress["includes_physiology"] else ():
            for k in ("first", "last", "change"):
                row[f"{k}_{f}"] = (phys.get(k) or {}).get(f)
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return out.getvalue()


def _csv_safe(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula get a leading quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
