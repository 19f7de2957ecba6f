"""Playlists through the API: a playlist spec runs as a job (``kind="playlist"``) in the service's
worker pool, with progress per track, cancel and deadline, and its files under
``<data>/playlists/<user>/<job>/`` (the layout of :mod:`promptloop.playlist.runner`).

The playlist logic is :func:`promptloop.playlist.runner.run_playlist`; this only submits it, follows
its events and serves what it wrote.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptloop.errors import InputError, NotFound
from promptloop.service.store import JobRow, User, new_id, now
from promptloop.service.workers import JobContext

if TYPE_CHECKING:
    from promptloop.service.engine import Service

__all__ = ["MAX_PLAYLIST_TRACKS", "SERVED_SUFFIXES", "create_playlist", "playlist_file", "playlist_folder",
           "playlist_report"]

MAX_PLAYLIST_TRACKS = 48
SERVED_SUFFIXES = {".flac": "audio/flac", ".wav": "audio/wav", ".m3u8": "audio/mpegurl",
                   ".json": "application/json", ".md": "text/markdown", ".png": "image/png"}


def playlist_folder(service: Service, user_id: int, job_id: str) -> Path:
    return Path(service.config.data_dir) / "playlists" / str(user_id) / job_id


def create_playlist(service: Service, user: User, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` as a playlist spec and queue it; 429 (QueueFull) when no slot is free."""
    from promptloop.playlist.spec import parse_spec
    from promptloop.service.engine import _job_view

    spec = parse_spec(data, "(request body)")
    total = spec.tracks * len(spec.listeners)
    if total > MAX_PLAYLIST_TRACKS:
        raise InputError(f"a playlist job makes at most {MAX_PLAYLIST_TRACKS} tracks; this one asks for {total}")
    with service.db() as db:
        service.limits.check_generation(db, user.id, total * spec.track_seconds)
        job = JobRow(id=new_id("j"), user_id=user.id, session_id=None, kind="playlist", total=total,
                     deadline=now() + _dt.timedelta(seconds=service.config.job_deadline_s))
        db.add(job)
        db.commit()
        job_id = job.id
        try:
            service.pool.submit(job_id, lambda ctx: _run(service, user, job_id, spec, ctx), service.config.job_deadline_s)
        except Exception:
            db.delete(job)
            db.commit()
            raise
        service._count_job("queued")
        return _job_view(job)


def _run(service: Service, user: User, job_id: str, spec: Any, ctx: JobContext) -> None:
    from promptloop.playlist.runner import run_playlist

    with service.db() as db:
        job = db.get(JobRow, job_id)
        if job is None or job.status != "queued":
            return
        job.status, job.updated = "running", now()
        db.commit()

        def on_progress(event: dict[str, Any]) -> None:
            if event["kind"] in ("track_done", "track_skipped"):
                job.done = min(job.total, job.done + 1)
                job.updated = now()
                db.commit()

        def cancelled() -> bool:
            return ctx.cancelled.is_set() or time.monotonic() > ctx.deadline

        try:
            result = run_playlist(spec, playlist_folder(service, user.id, job_id), "serial", workers=1,
                                  settings=service.settings, on_progress=on_progress, cancel=cancelled)
        except Exception as exc:  # the job fails; the worker keeps serving others
            db.rollback()
            if not ctx.abandoned:
                service._finish_job(db, db.get(JobRow, job_id) or job, "failed", f"{type(exc).__name__}: {exc}"[:500])
            return
        if ctx.abandoned:
            return
        if result.status == "done":
            service._finish_job(db, job, "succeeded")
        elif ctx.cancelled.is_set() and ctx.reason == "cancelled":
            service._finish_job(db, job, "cancelled", "cancelled")
        else:
            service._finish_job(db, job, "failed", ctx.reason if ctx.cancelled.is_set() else "deadline exceeded")


def _playlist_job(service: Service, db: Any, user: User, job_id: str) -> JobRow:
    job = service._job_row(db, user, job_id)
    if job.kind != "playlist":
        raise NotFound("no such playlist")
    return job


def playlist_report(service: Service, user: User, job_id: str) -> dict[str, Any]:
    """The job and, once written, the playlist's report and the files it made."""
    from promptloop.service.engine import _job_view

    with service.db() as db:
        job = _playlist_job(service, db, user, job_id)
        view = _job_view(job)
    folder = playlist_folder(service, user.id, job_id)
    report_path = folder / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if p.is_file() and p.suffix in SERVED_SUFFIXES and not p.name.startswith("."))
    return {"job": view, "report": report, "files": files}


def playlist_file(service: Service, user: User, job_id: str, relative: str) -> tuple[Path, str]:
    """A file the playlist wrote, by its path inside the playlist folder (nothing outside it)."""
    with service.db() as db:
        _playlist_job(service, db, user, job_id)
    folder = playlist_folder(service, user.id, job_id).resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder) or path.suffix not in SERVED_SUFFIXES or not path.is_file():
        raise NotFound("no such file")
    return path, SERVED_SUFFIXES[path.suffix]


