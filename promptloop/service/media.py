"""What a session made: its segments, their audio (or the mix so far) and its provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from promptloop.errors import NotFound
from promptloop.service.access import owned_session
from promptloop.service.context import ServiceContext
from promptloop.service.files import SessionFiles
from promptloop.service.live import LiveSessions
from promptloop.service.store import SegmentRow, User
from promptloop.service.views import segment_view

__all__ = ["Media"]


class Media:
    def __init__(self, ctx: ServiceContext, live: LiveSessions) -> None:
        self.ctx = ctx
        self.live = live

    def list_segments(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            segs = db.scalars(select(SegmentRow).where(SegmentRow.session_id == row.id).order_by(SegmentRow.index))
            return [segment_view(row.id, s) for s in segs]

    def get_segment(self, user: User, session_id: str, index: int) -> dict[str, Any]:
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            seg = db.scalar(select(SegmentRow).where(SegmentRow.session_id == row.id, SegmentRow.index == index))
            if seg is None:
                raise NotFound("no such segment")
            return {**segment_view(row.id, seg), "record": seg.record}

    def audio_file(self, user: User, session_id: str, index: int | None, fmt: str) -> Path:
        """The committed audio of one segment (``index``) or of the whole session so far."""
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            files = SessionFiles(self.ctx.config.data_dir, user.id, row.id)
            if index is None:
                if row.segments_done == 0:
                    raise NotFound("the session has no audio yet")
                wav = files.mix(row.segments_done - 1)
            else:
                if not 0 <= index < row.segments_done:
                    raise NotFound("no such segment")
                wav = files.segment(index)
            return files.as_format(wav, fmt, row.sample_rate)

    def midi_file(self, user: User, session_id: str) -> Path:
        """The session's score so far as MIDI (sealed); only composing generators write one."""
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            path = SessionFiles(self.ctx.config.data_dir, user.id, row.id).midi(row.segments_done - 1)
        if row.segments_done == 0 or not path.exists():
            raise NotFound("the session has no score (its generator plays no MIDI, or no segment is done yet)")
        return path

    def provenance(self, user: User, session_id: str) -> dict[str, Any]:
        with self.live.locked(user, session_id) as (db, _row, loop):
            self.ctx.audit_read(db, user, "provenance", session_id)
            return loop.record().model_dump(mode="json")
