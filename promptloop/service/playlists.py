"""Playlists through the API: a playlist spec runs as a job (``kind="playlist"``) in the service's
worker pool, with progress per track, cancel and deadline, and its files under
``<data>/playlists/<user>/<job>/`` (the layout of :mod:`promptloop.playlist.runner`).

The playlist logic is :func:`promptloop.playlist.runner.run_playlist`; this only submits it, follows
its events, seals what it wrote and serves it.

Playlist files are listener data like a session's audio, so they are sealed at rest with the data
folder's key (:mod:`.crypto`, owner-only files): each track as soon as the runner reports it done,
everything else (per-track records, manifest, M3U8, report, plot) when the run ends however it ends,
and whatever a killed run left plain at the next start (:func:`seal_playlist_files`).  The runner
itself writes plain files (the ``promptloop playlist`` command gives its user plain files) and reads
the per-track records back at the end, which is why only the tracks are sealed while it runs.  The
API serves sealed files plain to their owner (ranges honoured); a file not yet sealed is not listed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session as DB

from promptloop.errors import InputError, NotFound
from promptloop.service.access import owned_job
from promptloop.service.context import ServiceContext
from promptloop.service.crypto import Vault, sealed_key_id
from promptloop.service.files import private_folder
from promptloop.service.jobs import Jobs
from promptloop.service.store import JobRow, User, now
from promptloop.service.views import job_view
from promptloop.service.workers import JobContext

__all__ = ["MAX_PLAYLIST_TRACKS", "SERVED_SUFFIXES", "Playlists", "seal_playlist_files"]

MAX_PLAYLIST_TRACKS = 48
SERVED_SUFFIXES = {".flac": "audio/flac", ".wav": "audio/wav", ".m3u8": "audio/mpegurl",
                   ".json": "application/json", ".md": "text/markdown", ".png": "image/png"}
TRACK_SUFFIXES = (".flac", ".wav")


def seal_playlist_files(vault: Vault, folder: Path, suffixes: tuple[str, ...] | None = None) -> int:
    """Seal, in place, every plain file under ``folder`` (only those ending in ``suffixes`` when
    given) and make its folders owner-only; a killed write's ``.*.part`` file is removed.  How many
    files were sealed."""
    sealed = 0
    try:
        paths = sorted(folder.rglob("*")) if folder.is_dir() else []
    except FileNotFoundError:  # erased meanwhile (DELETE /v1/me during the job)
        return 0
    for path in paths:
        try:
            if path.is_dir():
                path.chmod(0o700)  # the runner's folders (one per listener) are made with the umask's mode
            elif path.name.startswith(".") and path.name.endswith(".part"):
                path.unlink(missing_ok=True)
            elif path.is_file() and (suffixes is None or path.suffix in suffixes) and sealed_key_id(path) is None:
                vault.write_file(path, path.read_bytes())  # temporary file + rename: never half-sealed
                sealed += 1
        except FileNotFoundError:
            continue  # gone since the listing: nothing left to seal
    return sealed


class Playlists:
    def __init__(self, ctx: ServiceContext, jobs: Jobs) -> None:
        self.ctx = ctx
        self.jobs = jobs

    def folder(self, user_id: int, job_id: str) -> Path:
        return Path(self.ctx.config.data_dir) / "playlists" / str(user_id) / job_id

    def create(self, user: User, data: dict[str, Any]) -> dict[str, Any]:
        """Validate ``data`` as a playlist spec and queue it; 429 (QueueFull) when no slot is free."""
        from promptloop.playlist.spec import parse_spec

        spec = parse_spec(data, "(request body)")
        total = spec.tracks * len(spec.listeners)
        if total > MAX_PLAYLIST_TRACKS:
            raise InputError(f"a playlist job makes at most {MAX_PLAYLIST_TRACKS} tracks; this one asks for {total}")
        with self.ctx.db() as db:
            self.ctx.limits.check_generation(db, user.id, total * spec.track_seconds)
            job = self.jobs.new_row(user, "playlist", total)
            job_id = job.id
            self.jobs.submit(db, job, lambda ctx: self._run(user, job_id, spec, ctx))
            return job_view(job)

    def _run(self, user: User, job_id: str, spec: Any, ctx: JobContext) -> None:
        from promptloop.playlist.runner import run_playlist

        with self.ctx.db() as db:
            job = db.get(JobRow, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.updated = "running", now()
            db.commit()

            folder = private_folder(self.folder(user.id, job_id))  # owner-only, like the audio folder

            def on_progress(event: dict[str, Any]) -> None:
                if event["kind"] in ("track_done", "track_skipped"):
                    seal_playlist_files(self.ctx.vault, folder, TRACK_SUFFIXES)  # the track just written
                    job.done = min(job.total, job.done + 1)
                    job.updated = now()
                    db.commit()

            def cancelled() -> bool:
                return ctx.cancelled.is_set() or time.monotonic() > ctx.deadline

            try:
                try:
                    result = run_playlist(spec, folder, "serial", workers=1,
                                          settings=self.ctx.settings, on_progress=on_progress, cancel=cancelled)
                finally:
                    seal_playlist_files(self.ctx.vault, folder)  # records, manifest, M3U8, report, plot
            except Exception as exc:  # the job fails; the worker keeps serving others
                db.rollback()
                if not ctx.abandoned:
                    self.jobs.finish(db, db.get(JobRow, job_id) or job, "failed", f"{type(exc).__name__}: {exc}"[:500])
                return
            if ctx.abandoned:
                return
            if result.status == "done":
                self.jobs.finish(db, job, "succeeded")
            elif ctx.cancelled.is_set() and ctx.reason == "cancelled":
                self.jobs.finish(db, job, "cancelled", "cancelled")
            else:
                self.jobs.finish(db, job, "failed", ctx.reason if ctx.cancelled.is_set() else "deadline exceeded")

    def _job(self, db: DB, user: User, job_id: str) -> JobRow:
        job = owned_job(db, user, job_id)
        if job.kind != "playlist":
            raise NotFound("no such playlist")
        return job

    def report(self, user: User, job_id: str) -> dict[str, Any]:
        """The job and, once written, the playlist's report and the files it made."""
        with self.ctx.db() as db:
            view = job_view(self._job(db, user, job_id))
        folder = self.folder(user.id, job_id)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if self._served(p))
        report = json.loads(self.ctx.vault.read_file(folder / "report.json")) if "report.json" in files else None
        return {"job": view, "report": report, "files": files}

    @staticmethod
    def _served(path: Path) -> bool:
        """A finished file of the playlist: sealed (a file still being written is plain)."""
        try:
            return (path.is_file() and path.suffix in SERVED_SUFFIXES and not path.name.startswith(".")
                    and sealed_key_id(path) is not None)
        except FileNotFoundError:  # removed since it was listed
            return False

    def file(self, user: User, job_id: str, relative: str) -> tuple[Path, str]:
        """A sealed file the playlist wrote, by its path inside the playlist folder (nothing outside
        it), and its media type; open it with the vault (the server streams it plain)."""
        with self.ctx.db() as db:
            self._job(db, user, job_id)
        folder = self.folder(user.id, job_id).resolve()
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder) or not self._served(path):
            raise NotFound("no such file")
        return path, SERVED_SUFFIXES[path.suffix]
