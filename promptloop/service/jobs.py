"""Generation jobs: queued in the worker pool, one segment at a time, with progress, cancel and
deadline.  Playlists (:mod:`promptloop.service.playlists`) are jobs too and finish through here.

After each segment the audio files are written atomically and then the segment row and the
session's between-segment state are committed in one transaction.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DB
from sqlalchemy.orm.exc import StaleDataError

from promptloop.errors import Conflict, InputError, JobCancelled
from promptloop.service.access import owned_job, owned_session
from promptloop.service.context import ACTIVE, LIMITS, ServiceContext
from promptloop.service.files import SessionFiles
from promptloop.service.live import LiveSessions
from promptloop.service.store import JobRow, SegmentRow, User, new_id, now
from promptloop.service.views import job_view, jsonable, segment_view
from promptloop.service.workers import JobContext

__all__ = ["Jobs"]


class Jobs:
    def __init__(self, ctx: ServiceContext, live: LiveSessions) -> None:
        self.ctx = ctx
        self.live = live

    # -- the table -------------------------------------------------------------------------------
    def list(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.db() as db:
            rows = db.scalars(select(JobRow).where(JobRow.user_id == user.id)
                              .order_by(JobRow.created.desc(), JobRow.id).limit(limit).offset(offset))
            return [job_view(j) for j in rows]

    def get(self, user: User, job_id: str) -> dict[str, Any]:
        with self.ctx.db() as db:
            return job_view(owned_job(db, user, job_id))

    def cancel(self, user: User, job_id: str) -> dict[str, Any]:
        with self.ctx.db() as db:
            job = owned_job(db, user, job_id)
            if job.status in ACTIVE:
                self.ctx.pool.cancel(job.id)
                if job.status == "queued":  # never started: its slot is free now
                    self.finish(db, job, "cancelled", "cancelled")
            return job_view(job)

    def submit(self, db: DB, job: JobRow, run: Callable[[JobContext], None]) -> None:
        """Commit ``job`` and queue ``run``; a full queue (429) leaves no row behind."""
        db.add(job)
        db.commit()
        try:
            self.ctx.pool.submit(job.id, run, self.ctx.config.job_deadline_s)
        except Exception:
            db.delete(job)
            db.commit()
            raise
        self.ctx.count_job("queued")

    def new_row(self, user: User, kind: str, total: int, session_id: str | None = None) -> JobRow:
        return JobRow(id=new_id("j"), user_id=user.id, session_id=session_id, kind=kind, total=total,
                      deadline=now() + _dt.timedelta(seconds=self.ctx.config.job_deadline_s))

    def finish(self, db: DB, job: JobRow, status: str, error: str | None = None) -> None:
        job.status, job.error, job.updated = status, error, now()
        try:
            db.commit()
        except StaleDataError:  # the row is gone: its owner erased the account while it ran
            db.rollback()
            return
        self.ctx.count_job(status)
        if job.session_id:
            self.ctx.broker.publish(job.session_id, {"type": "job", "job": jsonable(job_view(job))})

    def abandoned(self, job_id: str, reason: str) -> None:
        """The pool gave up on a job (its worker hung past the deadline): mark it failed."""
        with self.ctx.db() as db:
            job = db.get(JobRow, job_id)
            if job is not None and job.status in ACTIVE:
                if job.session_id:
                    self.live.forget(job.session_id)
                self.finish(db, job, "failed", reason)

    # -- generating segments ---------------------------------------------------------------------
    def generate(self, user: User, session_id: str, segments: int = 1) -> dict[str, Any]:
        """Queue a job that adds ``segments`` segments; 429 (QueueFull) when no slot is free."""
        if not 1 <= segments <= LIMITS["segments_per_job"]:
            raise InputError(f"a job generates between 1 and {LIMITS['segments_per_job']} segments")
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            if db.scalar(select(JobRow.id).where(JobRow.session_id == row.id, JobRow.status.in_(ACTIVE))):
                raise Conflict("the session already has a generation job running")
            left = row.spec["segments"] - row.segments_done
            if left <= 0:
                raise Conflict("the session already has all its segments")
            self.ctx.limits.check_generation(db, user.id, min(segments, left) * float(row.spec["segment_seconds"]))
            job = self.new_row(user, "generate", min(segments, left), row.id)
            job_id = job.id
            self.submit(db, job, lambda ctx: self._run_generation(user, session_id, job_id, ctx))
            view = job_view(job)
        self.ctx.broker.publish(session_id, {"type": "job", "job": jsonable(view)})
        return view

    def _run_generation(self, user: User, session_id: str, job_id: str, ctx: JobContext) -> None:
        broker = self.ctx.broker
        with self.ctx.db() as db:
            job = db.get(JobRow, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.updated = "running", now()
            db.commit()
            broker.publish(session_id, {"type": "job", "job": jsonable(job_view(job))})
            try:
                for _ in range(job.total):
                    ctx.check()
                    self._one_segment(user, session_id, job, ctx)
                    job.done += 1
                    job.updated = now()
                    db.commit()
                    broker.publish(session_id, {"type": "job", "job": jsonable(job_view(job))})
                self.finish(db, job, "succeeded")
            except JobCancelled as exc:
                if not ctx.abandoned:
                    self.finish(db, job, "cancelled" if exc.reason == "cancelled" else "failed", exc.reason)
            except Exception as exc:  # the job fails; the worker keeps serving others
                db.rollback()
                job = db.get(JobRow, job_id) or job
                if not ctx.abandoned:
                    self.finish(db, job, "failed", f"{type(exc).__name__}: {exc}"[:500])

    def _one_segment(self, user: User, session_id: str, job: JobRow, ctx: JobContext) -> None:
        broker = self.ctx.broker

        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind in ("segment_start", "attempt"):
                ctx.check()  # raising here leaves the session unchanged
                event = {"type": "progress", "job_id": job.id, "stage": kind, "index": payload["index"],
                         "done": job.done, "total": job.total}
                if kind == "attempt":
                    event.update(attempt=payload["attempt"], score=payload["score"])
                broker.publish(session_id, event)

        with self.live.locked(user, session_id) as (db, row, loop):
            if loop.done:
                raise Conflict("the session already has all its segments")
            started = time.perf_counter()
            if self.live.biofeedback.before_segment(db, user, row, loop):  # the closed loop reads what waited
                self.live.guard.enforce(db, row.id, loop)
            loop.on_event = on_event
            try:
                result = loop.next_segment()
            finally:
                loop.on_event = lambda kind, payload: None
            if ctx.abandoned:
                raise JobCancelled(ctx.reason)
            files = SessionFiles(self.ctx.config.data_dir, user.id, row.id)
            files.write_segment(result.record.index, result.audio, loop.sample_rate, loop.final_audio())
            if (midi := loop.session_midi()) is not None:  # composing generators: the score so far
                files.write_midi(result.record.index, midi)
            db.add(SegmentRow(session_id=row.id, index=result.record.index, record=result.record.model_dump(mode="json")))
            self.ctx.limits.record(db, user.id, result.record.duration_s)
            row.segments_done = len(loop.results)
            self.live.biofeedback.after_segment(db, user, row, loop)
            self.live.save_state(row, loop)
            db.commit()
            files.tidy(row.segments_done)
            seg = db.scalar(select(SegmentRow).where(SegmentRow.session_id == row.id,
                                                     SegmentRow.index == result.record.index))
            view = segment_view(row.id, seg)  # type: ignore[arg-type]
        self.ctx.stats["segments"] += 1
        self.ctx.stats["generate_seconds"] += time.perf_counter() - started
        broker.publish(session_id, {"type": "segment", "segment": jsonable(view)})
