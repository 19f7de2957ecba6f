"""Live sessions: the :class:`~promptloop.session.loop.LoopSession` of each session in use, kept in
memory (least recently used first out); the database stays the truth.

A session not in memory (after a restart, or evicted) is rebuilt from its committed segments and
continues from the last one.  :meth:`LiveSessions.locked` gives a session's row and loop under the
session's lock; a failure inside drops the live copy so that the next use rebuilds it from what was
committed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.feedback.base import Planner
from promptloop.representation.preferences import Preferences
from promptloop.service.access import owned_session
from promptloop.service.backends import BackendCache
from promptloop.service.biofeedback import Biofeedback
from promptloop.service.context import LIMITS, ServiceContext
from promptloop.service.files import SessionFiles
from promptloop.service.profiles import Profiles
from promptloop.service.store import SegmentRow, SessionRow, User, now
from promptloop.session.loop import LoopSession, SegmentResult, SessionSpec
from promptloop.session.provenance import SegmentRecord

__all__ = ["LiveSessions", "SessionGuard", "spec_of"]


@dataclass
class _Live:
    loop: LoopSession
    lock: threading.Lock = field(default_factory=threading.Lock)


def spec_of(row: SessionRow) -> SessionSpec:
    """The session's spec as committed, with its current target and preferences."""
    s, st = row.spec, row.state
    return SessionSpec(
        start=Affect(**s["start"]), target=Affect(**st["target"]),
        preferences=Preferences.from_dict(st["preferences"]), segments=s["segments"],
        segment_seconds=s["segment_seconds"], seed=s["seed"], candidates=s["candidates"],
        threshold=s["threshold"], max_retries=s["max_retries"], max_step=s["max_step"],
        crossfade_seconds=s["crossfade_seconds"],
    )


class SessionGuard:
    """Rules a session must keep whatever the listener changes (the clinical part's locks and
    approved plans, :mod:`promptloop.service.clinical.guard`); this default keeps none."""

    def check_update(self, db: DB, session_id: str, preferences: Preferences | None, target: Affect | None) -> None:
        """Refuse (409) an explicit change that breaks a rule; called before a PATCH applies."""

    def enforce(self, db: DB, session_id: str, loop: LoopSession) -> list[str]:
        """Undo what a chat message or readings update broke; one line per thing undone."""
        return []

    def planner_for(self, db: DB, session_id: str, planner: Planner) -> Planner:
        """The planner the session's loop uses."""
        return planner


class LiveSessions:
    def __init__(self, ctx: ServiceContext, backends: BackendCache) -> None:
        self.ctx = ctx
        self.backends = backends
        self.guard = SessionGuard()
        self.biofeedback = Biofeedback(ctx.vault, Profiles(ctx))
        self._live: OrderedDict[str, _Live] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, db: DB, row: SessionRow) -> _Live:
        with self._lock:
            live = self._live.get(row.id)
            if live is not None:
                self._live.move_to_end(row.id)
                return live
        backends = self.backends.get(row.spec.get("generator"), row.spec.get("planner"), row.spec.get("evaluator"))
        planner = self.guard.planner_for(db, row.id, backends.planner)
        loop = LoopSession(spec_of(row), backends.generator, planner, backends.evaluator,
                           fallback_planner=backends.fallback_planner, pacer=self.biofeedback.pacer_for(row))
        files = SessionFiles(self.ctx.config.data_dir, row.user_id, row.id)
        files.tidy(row.segments_done)
        results = []
        segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
        for seg in segs:
            results.append(SegmentResult(files.load_segment(seg.index, loop.sample_rate),
                                         SegmentRecord.model_validate(seg.record)))
        mix = files.load_mix(len(results) - 1, loop.sample_rate) if results else loop.audio
        loop.resume(results, mix, row.state)
        with self._lock:
            live = self._live.setdefault(row.id, _Live(loop))
            while len(self._live) > LIMITS["live_sessions"]:
                oldest = next(iter(self._live))
                if self._live[oldest].lock.locked():
                    break
                self._live.pop(oldest)
            return live

    def listener_changed(self, db: DB, user: User, before: Preferences, loop: LoopSession) -> None:
        """A listener-side change to the session's preferences teaches their profile what they reject."""
        self.biofeedback.profiles.heard_in(db, user, before, loop.preferences)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._live.pop(session_id, None)

    @contextmanager
    def locked(self, user: User, session_id: str) -> Iterator[tuple[DB, SessionRow, LoopSession]]:
        """The session's row and live loop, under the session's lock."""
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            live = self._get(db, row)
            with live.lock:
                db.refresh(row)
                try:
                    yield db, row, live.loop
                except BaseException:
                    self.forget(session_id)
                    raise

    @staticmethod
    def save_state(row: SessionRow, loop: LoopSession) -> None:
        """Keep the loop's between-segment state (listener, target, preferences, pending events)."""
        row.state = loop.between_segments()
        row.updated = now()
