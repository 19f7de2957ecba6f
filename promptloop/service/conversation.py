"""What the listener tells a running session: physiological readings and chat messages.

Both are health data: stored sealed by the vault, never logged, read back only by their owner
(and each read is audited).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.errors import InputError
from promptloop.service.access import owned_session
from promptloop.service.chat_bridge import interpret_and_apply
from promptloop.service.context import LIMITS, ServiceContext
from promptloop.service.live import LiveSessions
from promptloop.service.store import MessageRow, ReadingRow, User
from promptloop.service.views import jsonable, session_view

__all__ = ["Conversation"]


class Conversation:
    def __init__(self, ctx: ServiceContext, live: LiveSessions) -> None:
        self.ctx = ctx
        self.live = live

    def add_readings(self, user: User, session_id: str, readings: list[dict[str, float]],
                     baseline: dict[str, float] | None = None) -> dict[str, Any]:
        """Average a batch of readings and estimate the listener's affect from it (relative to the
        session's starting affect).  In a closed-loop session the readings wait for the next segment,
        when the pacer reads them (:mod:`promptloop.service.biofeedback`); in an open one the next
        segment meets the estimate."""
        if not 1 <= len(readings) <= LIMITS["readings_per_request"]:
            raise InputError(f"send between 1 and {LIMITS['readings_per_request']} readings per request")
        parsed = [Readings.from_dict(r) for r in readings]
        base = Baseline.partial(baseline) if baseline else None
        mean = Readings.mean(parsed)
        if not mean.present():
            raise InputError("the readings hold no values")
        with self.live.locked(user, session_id) as (db, row, loop):
            estimate = estimate_affect(mean, base, prior=Affect(**row.spec["start"]))
            waiting = self.live.biofeedback.add(row, loop, readings, baseline)
            if waiting is None:  # open loop: the next segment meets the estimate (a closed loop's pacer reads them)
                loop.update_listener(estimate.affect, source="physiology")
            self.live.guard.enforce(db, row.id, loop)
            db.add(ReadingRow(session_id=row.id, sealed=self.ctx.vault.seal({"readings": readings, "baseline": baseline})))
            self.live.save_state(row, loop)
            db.commit()
        result = {"accepted": len(parsed), "listener": estimate.affect.to_dict(),
                  "contributions": estimate.contributions,
                  "closed_loop": {"active": waiting is not None, "waiting": waiting or 0}}
        self.ctx.broker.publish(session_id, {"type": "listener", "listener": result["listener"], "source": "physiology"})
        return result

    def list_readings(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            rows = db.scalars(select(ReadingRow).where(ReadingRow.session_id == row.id).order_by(ReadingRow.id)).all()
            self.ctx.audit_read(db, user, "readings", row.id)
            return [{"created": r.created, **self.ctx.vault.open(r.sealed)} for r in rows]

    def post_message(self, user: User, session_id: str, text: str) -> dict[str, Any]:
        """Interpret a listener's message, apply what it asks to the session, record both turns."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the message is empty")
        if len(text) > LIMITS["message_chars"]:
            raise InputError(f"messages are at most {LIMITS['message_chars']} characters")
        vault = self.ctx.vault
        with self.live.locked(user, session_id) as (db, row, loop):
            before = loop.preferences
            reply, changes = interpret_and_apply(loop, text)
            kept = self.live.guard.enforce(db, row.id, loop)
            self.live.listener_changed(db, user, before, loop)
            if kept:  # the listener sees why a change did not take
                reply, changes = f"{reply} But: {'; '.join(kept)}.", [*changes, *kept]
            db.add(MessageRow(session_id=row.id, role="listener", sealed=vault.seal({"text": text})))
            db.add(MessageRow(session_id=row.id, role="assistant", sealed=vault.seal({"text": reply, "changes": changes})))
            self.live.save_state(row, loop)
            db.commit()
            view = session_view(db, row, self.ctx.settings)
        result = {"reply": reply, "changes": changes, "session": view}
        self.ctx.broker.publish(session_id, {"type": "message", "role": "assistant", "text": reply, "changes": changes})
        self.ctx.broker.publish(session_id, {"type": "state", "session": jsonable(view)})
        return result

    def list_messages(self, user: User, session_id: str) -> list[dict[str, Any]]:
        with self.ctx.db() as db:
            row = owned_session(db, user, session_id)
            rows = db.scalars(select(MessageRow).where(MessageRow.session_id == row.id).order_by(MessageRow.id)).all()
            self.ctx.audit_read(db, user, "messages", row.id)
            out = []
            for m in rows:
                body = self.ctx.vault.open(m.sealed)
                out.append({"role": m.role, "text": body["text"], "changes": body.get("changes", []), "created": m.created})
            return out
