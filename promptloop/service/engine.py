"""The engine behind the REST API, the web chat and the terminal chat.

:class:`Service` puts the service's parts together and is what the edges hold: every method takes
the acting :class:`~promptloop.service.store.User` and only ever sees that user's objects (another
user's id is indistinguishable from an id that does not exist, :class:`~promptloop.errors.NotFound`).

Its parts, one job each: :class:`~.context.ServiceContext` (database, vault, events, pool, limits,
audit), :class:`~.backends.BackendCache` (loaded backends), :class:`~.live.LiveSessions` (loops in
memory, rebuilt from the database), :class:`~.sessions.Sessions` (CRUD),
:class:`~.conversation.Conversation` (readings and chat), :class:`~.media.Media` (segments, audio,
provenance), :class:`~.jobs.Jobs` (generation), :class:`~.playlists.Playlists` and
:class:`~.privacy.Privacy` (export and erase).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.representation.preferences import Preferences
from promptloop.representation.profile import ListenerProfile
from promptloop.service import accounts
from promptloop.service.backends import BackendCache, BackendFactory
from promptloop.service.clinical import Clinical
from promptloop.service.clinical.guard import ClinicalGuard
from promptloop.service.context import LIMITS, ServiceConfig, ServiceContext
from promptloop.service.conversation import Conversation
from promptloop.service.jobs import Jobs
from promptloop.service.live import LiveSessions
from promptloop.service.media import Media
from promptloop.service.playlists import Playlists, seal_playlist_files
from promptloop.service.privacy import Privacy
from promptloop.service.profiles import Profiles
from promptloop.service.recovery import sweep_audio
from promptloop.service.sessions import Sessions
from promptloop.service.store import JobRow, User, now
from promptloop.service.workers import InProcessPool, WorkerPool
from promptloop.wiring.builders import Backends
from promptloop.wiring.settings import Settings

__all__ = ["LIMITS", "Service", "ServiceConfig"]


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
        settings = settings or Settings()
        if pool is None:
            pool = InProcessPool(config.workers, config.queue_size)
        self.ctx = ctx = ServiceContext(config, settings, pool)
        if backend_factory is None and hasattr(pool, "backend_factory"):  # generators on Ray actors
            backend_factory = pool.backend_factory(settings)
        self.backends = BackendCache(ctx, backend_factory)
        self.live = LiveSessions(ctx, self.backends)
        self.sessions = Sessions(ctx, self.backends, self.live)
        self.conversation = Conversation(ctx, self.live)
        self.media = Media(ctx, self.live)
        self.jobs = Jobs(ctx, self.live)
        self.playlists = Playlists(ctx, self.jobs)
        self.privacy = Privacy(ctx, self.live, self.playlists)
        self.clinical = Clinical(self)  # roles, consent, programmes, outcomes (docs/clinical.md)
        self.live.guard = ClinicalGuard()
        self.profiles = Profiles(ctx)
        if isinstance(pool, InProcessPool):  # the Ray pool is one too
            pool.set_abandon_hook(self.jobs.abandoned)
        self._recover()

    # -- plumbing (the shared context, as the edges and tests know it) ------------------------------
    @property
    def config(self) -> ServiceConfig:
        return self.ctx.config

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    @property
    def vault(self) -> Any:
        return self.ctx.vault

    @property
    def broker(self) -> Any:
        return self.ctx.broker

    @property
    def pool(self) -> WorkerPool:
        return self.ctx.pool

    @property
    def limits(self) -> Any:
        return self.ctx.limits

    @property
    def stats(self) -> dict[str, float]:
        return self.ctx.stats

    @property
    def job_counts(self) -> dict[str, int]:
        return self.ctx.job_counts

    @property
    def ready(self) -> bool:
        return self.backends.ready

    @property
    def ready_detail(self) -> str:
        return self.backends.ready_detail

    @property
    def _backend_factory(self) -> BackendFactory:
        return self.backends.factory

    def db(self) -> AbstractContextManager[DB]:
        return self.ctx.db()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if self.ctx.checkpointer is not None:
            self.ctx.checkpointer.close()
        self.engine.dispose()

    def _recover(self) -> None:
        """After a restart: jobs that were queued or running are marked failed, never lost."""
        with self.db() as db:
            for job in db.scalars(select(JobRow).where(JobRow.status.in_(("queued", "running")))):
                job.status, job.error, job.updated = "failed", "interrupted by a server restart", now()
            db.commit()
            sweep_audio(db, self.config.data_dir)  # no partial or uncommitted audio survives a crash
        # a playlist job killed mid-run left its records (and perhaps a track) plain: seal them
        seal_playlist_files(self.vault, Path(self.config.data_dir) / "playlists")

    def backends_for(self, generator: str | None, planner: str | None, evaluator: str | None) -> Backends:
        return self.backends.get(generator, planner, evaluator)

    def warm_up(self) -> None:
        self.backends.warm_up()

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

    # -- sessions, readings, chat, media, jobs, the account's data: delegated -----------------------
    def create_session(self, user: User, *, start: Affect, target: Affect, preferences: Preferences,
                       **fields: Any) -> dict[str, Any]:
        preferences = self.profiles.prior(user, preferences, start, target)  # the listener profile as a prior
        return self.sessions.create(user, start=start, target=target, preferences=preferences, **fields)

    def list_sessions(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self.sessions.list(user, limit, offset)

    def get_session(self, user: User, session_id: str) -> dict[str, Any]:
        return self.sessions.get(user, session_id)

    def delete_session(self, user: User, session_id: str) -> None:
        self.sessions.delete(user, session_id)

    def update_session(self, user: User, session_id: str, **changes: Any) -> dict[str, Any]:
        return self.sessions.update(user, session_id, **changes)

    def add_readings(self, user: User, session_id: str, readings: list[dict[str, float]],
                     baseline: dict[str, float] | None = None) -> dict[str, Any]:
        return self.conversation.add_readings(user, session_id, readings, baseline)

    def list_readings(self, user: User, session_id: str) -> list[dict[str, Any]]:
        return self.conversation.list_readings(user, session_id)

    def post_message(self, user: User, session_id: str, text: str) -> dict[str, Any]:
        return self.conversation.post_message(user, session_id, text)

    def list_messages(self, user: User, session_id: str) -> list[dict[str, Any]]:
        return self.conversation.list_messages(user, session_id)

    def list_segments(self, user: User, session_id: str) -> list[dict[str, Any]]:
        return self.media.list_segments(user, session_id)

    def get_segment(self, user: User, session_id: str, index: int) -> dict[str, Any]:
        return self.media.get_segment(user, session_id, index)

    def audio_file(self, user: User, session_id: str, index: int | None, fmt: str) -> Path:
        return self.media.audio_file(user, session_id, index, fmt)

    def provenance(self, user: User, session_id: str) -> dict[str, Any]:
        return self.media.provenance(user, session_id)

    def midi_file(self, user: User, session_id: str) -> Path:
        return self.media.midi_file(user, session_id)

    def generate(self, user: User, session_id: str, segments: int = 1) -> dict[str, Any]:
        return self.jobs.generate(user, session_id, segments)

    def list_jobs(self, user: User, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self.jobs.list(user, limit, offset)

    def get_job(self, user: User, job_id: str) -> dict[str, Any]:
        return self.jobs.get(user, job_id)

    def cancel_job(self, user: User, job_id: str) -> dict[str, Any]:
        return self.jobs.cancel(user, job_id)

    def export(self, user: User) -> dict[str, Any]:
        data = self.privacy.export(user)
        with self.ctx.db() as db:
            data["profile"] = self.profiles.export(db, user)
        return data

    def erase(self, user: User) -> dict[str, int]:
        with self.ctx.db() as db:
            self.profiles.erase(db, user)
            db.commit()
        return self.privacy.erase(user)

    # -- the listener profile ------------------------------------------------------------------------
    def get_profile(self, user: User) -> ListenerProfile:
        return self.profiles.get(user)

    def put_profile(self, user: User, profile: ListenerProfile) -> ListenerProfile:
        return self.profiles.put(user, profile)


