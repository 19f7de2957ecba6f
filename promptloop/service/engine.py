"""The engine behind the REST API, the web chat and the terminal chat.

:class:`Service` owns the store, the loaded backends, the worker pool and the live sessions.  Every
method takes the acting :class:`~promptloop.service.store.User` and only ever sees that user's
objects: another user's id is indistinguishable from an id that does not exist (:class:`NotFound`).

A live session is a :class:`~promptloop.session.loop.LoopSession` kept in memory; the database is the
truth.  After each segment the audio files are written atomically and then the segment row and the
session's between-segment state are committed in one transaction.  A
session not in memory (after a restart, or evicted) is rebuilt from its committed segments and
continues from the last one.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DB
from sqlalchemy.orm.exc import StaleDataError

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.errors import Conflict, InputError, JobCancelled, NotFound
from promptloop.representation.preferences import Preferences
from promptloop.service import accounts
from promptloop.service.chat_bridge import interpret_and_apply
from promptloop.service.crypto import Vault, load_or_create_key
from promptloop.service.erasure import forget_sessions, forget_user
from promptloop.service.events import Broker
from promptloop.service.files import SessionFiles
from promptloop.service.limits import LimitConfig, Limits
from promptloop.service.recovery import sweep_audio
from promptloop.service.store import (
    AuditRecord,
    JobRow,
    MessageRow,
    ReadingRow,
    SegmentRow,
    SessionRow,
    TokenRow,
    User,
    make_engine,
    new_id,
    now,
    session_factory,
    sqlite_url,
)
from promptloop.service.workers import InProcessPool, JobContext, WorkerPool
from promptloop.session.chat import MAX_MESSAGE_CHARS
from promptloop.session.loop import LoopSession, SegmentResult, SessionSpec
from promptloop.session.provenance import SegmentRecord
from promptloop.wiring.builders import Backends, build_backends, spec_from_settings
from promptloop.wiring.settings import Settings

__all__ = ["LIMITS", "Service", "ServiceConfig"]

# Bounds the service adds to the loop's own (promptloop.session.loop.LIMITS).
LIMITS = {
    "segments_per_job": 16,
    "readings_per_request": 500,
    "message_chars": MAX_MESSAGE_CHARS,
    "title_chars": 200,
    "sessions_per_user": 500,
    "live_sessions": 64,
}
ACTIVE = ("queued", "running")


@dataclass
class ServiceConfig:
    data_dir: Path
    database_url: str | None = None
    workers: int = 1
    queue_size: int = 8
    job_deadline_s: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        values: dict[str, Any] = {
            "data_dir": settings.data_dir,
            "database_url": settings.database_url,
            "workers": settings.server_workers,
            "queue_size": settings.server_queue_size,
            "job_deadline_s": settings.job_deadline_seconds,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class _Live:
    loop: LoopSession
    lock: threading.Lock = field(default_factory=threading.Lock)


BackendFactory = Callable[[str | None, str | None, str | None], Backends]


class Service:
    """One per process; thread-safe."""

    def __init__(
        self,
        config: ServiceConfig,
        settings: Settings | None = None,
        *,
        pool: WorkerPool | None = None,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or Settings()
        data = Path(config.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(config.database_url or sqlite_url(data))
        self._db = session_factory(self.engine)
        self.vault = Vault(load_or_create_key(data / "secret.key"))
        self.broker = Broker()
        self.pool = pool or InProcessPool(config.workers, config.queue_size, on_abandon=self._job_abandoned)
        if pool is not None and hasattr(pool, "set_abandon_hook"):
            pool.set_abandon_hook(self._job_abandoned)
        if backend_factory is None and hasattr(self.pool, "backend_factory"):  # generators on Ray actors
            backend_factory = self.pool.backend_factory(self.settings)
        self.limits = Limits(LimitConfig.from_settings(self.settings))
        self._backend_factory = backend_factory or (
            lambda g, p, e: build_backends(self.settings, generator=g, planner=p, evaluator=e)
        )
        self._backends: dict[tuple[str, str, str], Backends] = {}
        self._backends_lock = threading.Lock()
        self._live: OrderedDict[str, _Live] = OrderedDict()
        self._live_lock = threading.Lock()
        self.ready = False
        self.ready_detail = "backends not loaded yet"
        self.stats: dict[str, float] = {"segments": 0, "generate_seconds": 0.0}
        self.job_counts: dict[str, int] = {}
        self._recover()

    # -- plumbing --------------------------------------------------------------------------------
    @contextmanager
    def db(self) -> Iterator[DB]:
        session = self._db()
        try:
            yield session
        finally:
            session.close()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.engine.dispose()

    def _recover(self) -> None:
        """After a restart: jobs that were queued or running are marked failed, never lost."""
        with self.db() as db:
            for job in db.scalars(select(JobRow).where(JobRow.status.in_(ACTIVE))):
                job.status, job.error, job.updated = "failed", "interrupted by a server restart", now()
            db.commit()
            sweep_audio(db, self.config.data_dir)  # no partial or uncommitted audio survives a crash

    def backends_for(self, generator: str | None, planner: str | None, evaluator: str | None) -> Backends:
        key = (generator or self.settings.generator, planner or self.settings.planner, evaluator or self.settings.evaluator)
        with self._backends_lock:
            if key not in self._backends:
                backends = self._backend_factory(*key)
                if backends.generator.batches_across_sessions and self.config.workers > 1:
                    # Continuous batching: segments of different sessions that are ready at the
                    # same time share one batched decode (issue 7).
                    from promptloop.synthesis.musicgen.fast import BatchingGenerator

                    backends.generator = BatchingGenerator(backends.generator)
                self._backends[key] = backends
            return self._backends[key]

    def warm_up(self) -> None:
        """Load the default backends and run them once (lazy model loads happen here, not in the
        first listener's session).  ``ready`` turns true when done."""
        try:
            backends = self.backends_for(None, None, None)
            spec = SessionSpec(start=Affect(0.0, 0.0), target=Affect(0.0, 0.0), segments=1,
                               segment_seconds=2.0, candidates=1, max_retries=0, crossfade_seconds=0.0)
            LoopSession(spec, backends.generator, backends.planner, backends.evaluator,
                        fallback_planner=backends.fallback_planner).next_segment()
            self.ready, self.ready_detail = True, "ok"
        except Exception as exc:  # reported by /readyz, not raised: the process stays up
            self.ready, self.ready_detail = False, f"backends failed to load: {type(exc).__name__}: {exc}"

    def audit(self, db: DB, user: User, action: str, object_type: str, object_id: str = "") -> None:
        db.add(AuditRecord(user_id=user.id, action=action, object_type=object_type, object_id=object_id))

    # -- accounts --------------------------------------------------------------------------------
    def create_user(self, name: str) -> tuple[User, str]:
        with self.db() as db:
            return accounts.create_user(db, name)

    def authenticate(self, token: str | None) -> User:
        with self.db() as db:
            return accounts.authenticate(db, token)

    def user_count(self) -> int:
        with self.db() as db:
            return int(db.scalar(select(func.count()).select_from(User)) or 0)

    def list_users(self) -> list[dict[str, Any]]:
        with self.db() as db:
            return [{"id": u.id, "name": u.name, "created": u.created} for u in db.scalars(select(User).order_by(User.id))]

    # -- sessions --------------------------------------------------------------------------------
    def _session_row(self, db: DB, user: User, session_id: str) -> SessionRow:
        row = db.get(SessionRow, session_id) if isinstance(session_id, str) and len(session_id) <= 32 else None
        if row is None or row.user_id != user.id:
            raise NotFound("no such session")
        return row

    def create_session(
        self,
        user: User,
        *,
        start: Affect,
        target: Affect,
        preferences: Preferences,
        title: str = "",
        generator: str | None = None,
        planner: str | None = None,
        evaluator: str | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        spec = spec_from_settings(self.settings, start=start, target=target, preferences=preferences,
                                  **settings)  # validates
        names = {"generator": generator, "planner": planner, "evaluator": evaluator}
        backends = self.backends_for(generator, planner, evaluator)  # unknown names fail here, not later
        with self.db() as db:
            count = db.scalar(select(func.count()).select_from(SessionRow).where(SessionRow.user_id == user.id)) or 0
            if count >= LIMITS["sessions_per_user"]:
                raise Conflict(f"at most {LIMITS['sessions_per_user']} sessions per user; delete some first")
            row = SessionRow(
                id=new_id("s"), user_id=user.id, title=title[: LIMITS["title_chars"]],
                spec={"start": start.to_dict(), **spec.settings(), "seed": spec.seed,
                      **{k: v for k, v in names.items() if v}},
                state={"listener": start.to_dict(), "target": target.to_dict(),
                       "preferences": preferences.to_dict(), "listener_fresh": True, "pending_events": []},
                sample_rate=backends.generator.sample_rate,
            )
            db.add(row)
            db.commit()
            return self._session_view(db, row)

    def list_sessions(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.scalars(select(SessionRow).where(SessionRow.user_id == user.id)
                              .order_by(SessionRow.created.desc(), SessionRow.id).limit(limit).offset(offset))
            return [self._session_view(db, r) for r in rows]

    def get_session(self, user: User, session_id: str) -> dict[str, Any]:
        with self.db() as db:
            return self._session_view(db, self._session_row(db, user, session_id))

    def delete_session(self, user: User, session_id: str) -> None:
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            for job in db.scalars(select(JobRow).where(JobRow.session_id == row.id, JobRow.status.in_(ACTIVE))):
                self.pool.cancel(job.id, "session deleted")
            with self._live_lock:
                self._live.pop(row.id, None)
            forget_sessions(db, [row.id])
            self._delete_session_rows(db, row.id)
            self.audit(db, user, "delete", "session", row.id)
            db.commit()
        SessionFiles(self.config.data_dir, user.id, session_id).remove()

    def _delete_session_rows(self, db: DB, session_id: str) -> None:
        for table in (SegmentRow, ReadingRow, MessageRow, JobRow):
            db.execute(delete(table).where(table.session_id == session_id))
        db.execute(delete(SessionRow).where(SessionRow.id == session_id))

    def _session_view(self, db: DB, row: SessionRow) -> dict[str, Any]:
        spec, state = row.spec, row.state
        job = db.scalar(select(JobRow.id).where(JobRow.session_id == row.id, JobRow.status.in_(ACTIVE)))
        status = "complete" if row.segments_done >= spec["segments"] else "generating" if job else "idle"
        last = db.scalar(select(SegmentRow.record).where(SegmentRow.session_id == row.id)
                         .order_by(SegmentRow.index.desc()).limit(1))
        duration = (last["start_s"] + last["duration_s"]) if last else 0.0
        return {
            "id": row.id, "title": row.title, "created": row.created, "updated": row.updated,
            "status": status, "active_job": job, "segments_done": row.segments_done,
            "segments": spec["segments"], "segment_seconds": spec["segment_seconds"],
            "duration_s": round(duration, 3), "sample_rate": row.sample_rate,
            "start": spec["start"], "listener": state["listener"], "target": state["target"],
            "preferences": state["preferences"],
            "settings": {k: spec[k] for k in ("candidates", "threshold", "max_retries", "max_step",
                                               "crossfade_seconds", "seed")},
            "backends": {k: spec.get(k) or getattr(self.settings, k) for k in ("generator", "planner", "evaluator")},
        }

    # -- live sessions ---------------------------------------------------------------------------
    def _spec(self, row: SessionRow) -> SessionSpec:
        s, st = row.spec, row.state
        return SessionSpec(
            start=Affect(**s["start"]), target=Affect(**st["target"]),
            preferences=Preferences.from_dict(st["preferences"]), segments=s["segments"],
            segment_seconds=s["segment_seconds"], seed=s["seed"], candidates=s["candidates"],
            threshold=s["threshold"], max_retries=s["max_retries"], max_step=s["max_step"],
            crossfade_seconds=s["crossfade_seconds"],
        )

    def _live_session(self, db: DB, row: SessionRow) -> _Live:
        with self._live_lock:
            live = self._live.get(row.id)
            if live is not None:
                self._live.move_to_end(row.id)
                return live
        backends = self.backends_for(row.spec.get("generator"), row.spec.get("planner"), row.spec.get("evaluator"))
        loop = LoopSession(self._spec(row), backends.generator, backends.planner, backends.evaluator,
                           fallback_planner=backends.fallback_planner)
        files = SessionFiles(self.config.data_dir, row.user_id, row.id)
        files.tidy(row.segments_done)
        results = []
        segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
        for seg in segs:
            results.append(SegmentResult(files.load_segment(seg.index, loop.sample_rate),
                                         SegmentRecord.model_validate(seg.record)))
        mix = files.load_mix(len(results) - 1, loop.sample_rate) if results else loop.audio
        loop.resume(results, mix, row.state)
        with self._live_lock:
            live = self._live.setdefault(row.id, _Live(loop))
            while len(self._live) > LIMITS["live_sessions"]:
                oldest = next(iter(self._live))
                if self._live[oldest].lock.locked():
                    break
                self._live.pop(oldest)
            return live

    def _forget(self, session_id: str) -> None:
        with self._live_lock:
            self._live.pop(session_id, None)

    @contextmanager
    def _locked(self, user: User, session_id: str) -> Iterator[tuple[DB, SessionRow, LoopSession]]:
        """The session's row and live loop, under the session's lock; a failure drops the live copy
        so that the next use rebuilds it from what was committed."""
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            live = self._live_session(db, row)
            with live.lock:
                db.refresh(row)
                try:
                    yield db, row, live.loop
                except BaseException:
                    self._forget(session_id)
                    raise

    def _save_state(self, row: SessionRow, loop: LoopSession) -> None:
        row.state = loop.between_segments()
        row.updated = now()

    def update_session(self, user: User, session_id: str, *, target: Affect | None = None,
                       preferences: Preferences | None = None, title: str | None = None) -> dict[str, Any]:
        with self._locked(user, session_id) as (db, row, loop):
            if target is not None:
                loop.update_target(target, source="api")
            if preferences is not None:
                loop.update_preferences(preferences, source="api")
            if title is not None:
                row.title = title[: LIMITS["title_chars"]]
            self._save_state(row, loop)
            db.commit()
            view = self._session_view(db, row)
        self.broker.publish(session_id, {"type": "state", "session": _jsonable(view)})
        return view

    # -- physiological readings ------------------------------------------------------------------
    def add_readings(self, user: User, session_id: str, readings: list[dict[str, float]],
                     baseline: dict[str, float] | None = None) -> dict[str, Any]:
        """Average a batch of readings, estimate the listener's affect from it (relative to the
        session's starting affect) and make the next segment meet that estimate."""
        if not 1 <= len(readings) <= LIMITS["readings_per_request"]:
            raise InputError(f"send between 1 and {LIMITS['readings_per_request']} readings per request")
        parsed = [Readings.from_dict(r) for r in readings]
        base = Baseline(**{**Baseline().__dict__, **Readings.from_dict(baseline).present()}) if baseline else None
        fields: dict[str, list[float]] = {}
        for r in parsed:
            for name, value in r.present().items():
                fields.setdefault(name, []).append(value)
        if not fields:
            raise InputError("the readings hold no values")
        mean = Readings(**{name: sum(v) / len(v) for name, v in fields.items()})
        with self._locked(user, session_id) as (db, row, loop):
            estimate = estimate_affect(mean, base, prior=Affect(**row.spec["start"]))
            loop.update_listener(estimate.affect, source="physiology")
            db.add(ReadingRow(session_id=row.id, sealed=self.vault.seal({"readings": readings, "baseline": baseline})))
            self._save_state(row, loop)
            db.commit()
        result = {"accepted": len(parsed), "listener": estimate.affect.to_dict(),
                  "contributions": estimate.contributions}
        self.broker.publish(session_id, {"type": "listener", "listener": result["listener"], "source": "physiology"})
        return result

    def list_readings(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            rows = db.scalars(select(ReadingRow).where(ReadingRow.session_id == row.id).order_by(ReadingRow.id)).all()
            self.audit(db, user, "read", "readings", row.id)
            db.commit()
            return [{"created": r.created, **self.vault.open(r.sealed)} for r in rows]

    # -- chat ------------------------------------------------------------------------------------
    def post_message(self, user: User, session_id: str, text: str) -> dict[str, Any]:
        """Interpret a listener's message, apply what it asks to the session, record both turns."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the message is empty")
        if len(text) > LIMITS["message_chars"]:
            raise InputError(f"messages are at most {LIMITS['message_chars']} characters")
        with self._locked(user, session_id) as (db, row, loop):
            reply, changes = interpret_and_apply(loop, text)
            db.add(MessageRow(session_id=row.id, role="listener", sealed=self.vault.seal({"text": text})))
            db.add(MessageRow(session_id=row.id, role="assistant",
                              sealed=self.vault.seal({"text": reply, "changes": changes})))
            self._save_state(row, loop)
            db.commit()
            view = self._session_view(db, row)
        result = {"reply": reply, "changes": changes, "session": view}
        self.broker.publish(session_id, {"type": "message", "role": "assistant", "text": reply, "changes": changes})
        self.broker.publish(session_id, {"type": "state", "session": _jsonable(view)})
        return result

    def list_messages(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            rows = db.scalars(select(MessageRow).where(MessageRow.session_id == row.id).order_by(MessageRow.id)).all()
            self.audit(db, user, "read", "messages", row.id)
            db.commit()
            out = []
            for m in rows:
                body = self.vault.open(m.sealed)
                out.append({"role": m.role, "text": body["text"], "changes": body.get("changes", []), "created": m.created})
            return out

    # -- segments, audio, provenance -------------------------------------------------------------
    def list_segments(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
            return [_segment_view(row.id, s) for s in segs]

    def get_segment(self, user: User, session_id: str, index: int) -> dict[str, Any]:
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            seg = db.scalar(select(SegmentRow).where(SegmentRow.session_id == row.id, SegmentRow.index == index))
            if seg is None:
                raise NotFound("no such segment")
            return {**_segment_view(row.id, seg), "record": seg.record}

    def audio_file(self, user: User, session_id: str, index: int | None, fmt: str) -> Path:
        """The committed audio of one segment (``index``) or of the whole session so far."""
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            files = SessionFiles(self.config.data_dir, user.id, row.id)
            if index is None:
                if row.segments_done == 0:
                    raise NotFound("the session has no audio yet")
                wav = files.mix(row.segments_done - 1)
            else:
                if not 0 <= index < row.segments_done:
                    raise NotFound("no such segment")
                wav = files.segment(index)
            return files.as_format(wav, fmt, row.sample_rate)

    def provenance(self, user: User, session_id: str) -> dict[str, Any]:
        with self._locked(user, session_id) as (db, _row, loop):
            self.audit(db, user, "read", "provenance", session_id)
            db.commit()
            return loop.record().model_dump(mode="json")

    # -- jobs ------------------------------------------------------------------------------------
    def generate(self, user: User, session_id: str, segments: int = 1) -> dict[str, Any]:
        """Queue a job that adds ``segments`` segments; 429 (QueueFull) when no slot is free."""
        if not 1 <= segments <= LIMITS["segments_per_job"]:
            raise InputError(f"a job generates between 1 and {LIMITS['segments_per_job']} segments")
        with self.db() as db:
            row = self._session_row(db, user, session_id)
            if db.scalar(select(JobRow.id).where(JobRow.session_id == row.id, JobRow.status.in_(ACTIVE))):
                raise Conflict("the session already has a generation job running")
            left = row.spec["segments"] - row.segments_done
            if left <= 0:
                raise Conflict("the session already has all its segments")
            self.limits.check_generation(db, user.id, min(segments, left) * float(row.spec["segment_seconds"]))
            job = JobRow(id=new_id("j"), user_id=user.id, session_id=row.id, kind="generate",
                         total=min(segments, left), deadline=now() + _dt.timedelta(seconds=self.config.job_deadline_s))
            db.add(job)
            db.commit()
            job_id = job.id
            try:
                self.pool.submit(job_id, lambda ctx: self._run_generation(user, session_id, job_id, ctx),
                                 self.config.job_deadline_s)
            except Exception:
                db.delete(job)
                db.commit()
                raise
            view = _job_view(job)
        self._count_job("queued")
        self.broker.publish(session_id, {"type": "job", "job": _jsonable(view)})
        return view

    def list_jobs(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self.db() as db:
            rows = db.scalars(select(JobRow).where(JobRow.user_id == user.id)
                              .order_by(JobRow.created.desc(), JobRow.id).limit(limit).offset(offset))
            return [_job_view(j) for j in rows]

    def _job_row(self, db: DB, user: User, job_id: str) -> JobRow:
        job = db.get(JobRow, job_id) if isinstance(job_id, str) and len(job_id) <= 32 else None
        if job is None or job.user_id != user.id:
            raise NotFound("no such job")
        return job

    def get_job(self, user: User, job_id: str) -> dict[str, Any]:
        with self.db() as db:
            return _job_view(self._job_row(db, user, job_id))

    def cancel_job(self, user: User, job_id: str) -> dict[str, Any]:
        with self.db() as db:
            job = self._job_row(db, user, job_id)
            if job.status in ACTIVE:
                self.pool.cancel(job.id)
                if job.status == "queued":  # never started: its slot is free now
                    self._finish_job(db, job, "cancelled", "cancelled")
            return _job_view(job)

    def _finish_job(self, db: DB, job: JobRow, status: str, error: str | None = None) -> None:
        job.status, job.error, job.updated = status, error, now()
        try:
            db.commit()
        except StaleDataError:  # the row is gone: its owner erased the account while it ran
            db.rollback()
            return
        self._count_job(status)
        if job.session_id:
            self.broker.publish(job.session_id, {"type": "job", "job": _jsonable(_job_view(job))})

    def _count_job(self, status: str) -> None:
        self.job_counts[status] = self.job_counts.get(status, 0) + 1

    def _job_abandoned(self, job_id: str, reason: str) -> None:
        with self.db() as db:
            job = db.get(JobRow, job_id)
            if job is not None and job.status in ACTIVE:
                if job.session_id:
                    self._forget(job.session_id)
                self._finish_job(db, job, "failed", reason)

    def _run_generation(self, user: User, session_id: str, job_id: str, ctx: JobContext) -> None:
        with self.db() as db:
            job = db.get(JobRow, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.updated = "running", now()
            db.commit()
            self.broker.publish(session_id, {"type": "job", "job": _jsonable(_job_view(job))})
            try:
                for _ in range(job.total):
                    ctx.check()
                    self._one_segment(user, session_id, job, ctx)
                    job.done += 1
                    job.updated = now()
                    db.commit()
                    self.broker.publish(session_id, {"type": "job", "job": _jsonable(_job_view(job))})
                self._finish_job(db, job, "succeeded")
            except JobCancelled as exc:
                if not ctx.abandoned:
                    self._finish_job(db, job, "cancelled" if exc.reason == "cancelled" else "failed", exc.reason)
            except Exception as exc:  # the job fails; the worker keeps serving others
                db.rollback()
                job = db.get(JobRow, job_id) or job
                if not ctx.abandoned:
                    self._finish_job(db, job, "failed", f"{type(exc).__name__}: {exc}"[:500])

    def _one_segment(self, user: User, session_id: str, job: JobRow, ctx: JobContext) -> None:
        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind in ("segment_start", "attempt"):
                ctx.check()  # raising here leaves the session unchanged
                event = {"type": "progress", "job_id": job.id, "stage": kind, "index": payload["index"],
                         "done": job.done, "total": job.total}
                if kind == "attempt":
                    event.update(attempt=payload["attempt"], score=payload["score"])
                self.broker.publish(session_id, event)

        with self._locked(user, session_id) as (db, row, loop):
            if loop.done:
                raise Conflict("the session already has all its segments")
            loop.on_event = on_event
            started = time.perf_counter()
            try:
                result = loop.next_segment()
            finally:
                loop.on_event = lambda kind, payload: None
            if ctx.abandoned:
                raise JobCancelled(ctx.reason)
            files = SessionFiles(self.config.data_dir, user.id, row.id)
            files.write_segment(result.record.index, result.audio, loop.sample_rate, loop.final_audio())
            db.add(SegmentRow(session_id=row.id, index=result.record.index, record=result.record.model_dump(mode="json")))
            self.limits.record(db, user.id, result.record.duration_s)
            row.segments_done = len(loop.results)
            self._save_state(row, loop)
            db.commit()
            files.tidy(row.segments_done)
            seg = db.scalar(select(SegmentRow).where(SegmentRow.session_id == row.id,
                                                     SegmentRow.index == result.record.index))
            view = _segment_view(row.id, seg)  # type: ignore[arg-type]
        self.stats["segments"] += 1
        self.stats["generate_seconds"] += time.perf_counter() - started
        self.broker.publish(session_id, {"type": "segment", "segment": _jsonable(view)})

    # -- the account's data ----------------------------------------------------------------------
    def export(self, user: User) -> dict[str, Any]:
        """Everything stored for ``user``, decrypted, machine readable."""
        with self.db() as db:
            sessions = []
            for row in db.scalars(select(SessionRow).where(SessionRow.user_id == user.id).order_by(SessionRow.created)):
                segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
                readings = db.scalars(select(ReadingRow).where(ReadingRow.session_id == row.id).order_by(ReadingRow.id))
                messages = db.scalars(select(MessageRow).where(MessageRow.session_id == row.id).order_by(MessageRow.id))
                sessions.append({
                    "session": self._session_view(db, row),
                    "segments": [{**_segment_view(row.id, s), "record": s.record} for s in segs],
                    "readings": [{"created": r.created, **self.vault.open(r.sealed)} for r in readings],
                    "messages": [{"role": m.role, "created": m.created, **self.vault.open(m.sealed)} for m in messages],
                })
            jobs = [_job_view(j) for j in db.scalars(select(JobRow).where(JobRow.user_id == user.id))]
            self.audit(db, user, "export", "account", str(user.id))
            db.commit()
            audit = [{"action": a.action, "object_type": a.object_type, "object_id": a.object_id, "created": a.created}
                     for a in db.scalars(select(AuditRecord).where(AuditRecord.user_id == user.id).order_by(AuditRecord.id))]
        from promptloop.service.playlists import playlist_report

        made = [playlist_report(self, user, j["id"]) for j in jobs if j["kind"] == "playlist"]
        return {"format": "promptloop-export/1", "exported": now(),
                "user": {"id": user.id, "name": user.name, "created": user.created},
                "sessions": sessions, "jobs": jobs, "audit": audit,
                "playlists": [{"job_id": p["job"]["id"], "report": p["report"], "files": p["files"]} for p in made]}

    def erase(self, user: User) -> dict[str, int]:
        """Delete everything of ``user``: rows, audio files, tokens and the account itself."""
        with self.db() as db:
            ids = list(db.scalars(select(SessionRow.id).where(SessionRow.user_id == user.id)))
            for job_id in db.scalars(select(JobRow.id).where(JobRow.user_id == user.id, JobRow.status.in_(ACTIVE))):
                self.pool.cancel(job_id, "account erased")
            forget_user(db, user.id, ids)
            for session_id in ids:
                self._forget(session_id)
                self._delete_session_rows(db, session_id)
            db.execute(delete(JobRow).where(JobRow.user_id == user.id))
            db.execute(delete(TokenRow).where(TokenRow.user_id == user.id))
            db.execute(delete(User).where(User.id == user.id))
            self.audit(db, user, "erase", "account", str(user.id))
            db.commit()
        shutil.rmtree(SessionFiles(self.config.data_dir, user.id, "_").user_dir, ignore_errors=True)
        shutil.rmtree(Path(self.config.data_dir) / "playlists" / str(user.id), ignore_errors=True)
        return {"sessions": len(ids)}


def _segment_view(session_id: str, seg: SegmentRow) -> dict[str, Any]:
    r = seg.record
    return {
        "index": seg.index, "created": seg.created, "start_s": r["start_s"], "duration_s": r["duration_s"],
        "waypoint": r["waypoint"], "listener": r["listener"], "estimated": r["estimated"], "score": r["score"],
        "prompt": r["prompt"], "attempts": len(r["attempts"]), "loudness_lufs": r["loudness_lufs"],
        "audio_url": f"/v1/sessions/{session_id}/segments/{seg.index}/audio",
    }


def _job_view(job: JobRow) -> dict[str, Any]:
    return {
        "id": job.id, "session_id": job.session_id, "kind": job.kind, "status": job.status,
        "total": job.total, "done": job.done, "progress": round(job.done / job.total, 4) if job.total else 0.0,
        "error": job.error, "created": job.created, "updated": job.updated,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat() + "Z"
    return value
