"""The closed loop of a live session: readings pace the path.

A session created with ``pacing="closed"`` (the default) switches from the open-loop iso path to
:class:`~promptloop.session.closed_loop.ReadingPacer` when its first readings arrive — the
controller the twin study evaluates.  Readings posted between two segments wait; just before the
next segment is made the pacer reads them all at once (as readings taken while the last segment
played), holds, moves on, backs off or probes, and what it learned to avoid enters the session's
preferences — then the session's rules (:class:`~promptloop.service.live.SessionGuard`) are kept.
When the session's last segment is made, what the session learned goes into the listener's
profile, once.

The pacer's state and the waiting readings are health data: they are kept sealed by the vault in
``sessions.pacer_sealed``, never in the plain session state, so the loop rebuilt after a restart or
an eviction continues with exactly the pacer it had (:meth:`ReadingPacer.state`).  Readings are
attributed to the last segment made: with the default lookahead (half a second) that is the
segment playing when they were taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session as DB

from promptloop.acquisition.affect import Affect
from promptloop.acquisition.physio import Baseline, Readings, estimate_affect
from promptloop.service.profiles import Profiles
from promptloop.service.store import SessionRow, User
from promptloop.session.closed_loop import ReadingPacer, apply_readings
from promptloop.session.loop import LoopSession
from promptloop.session.pacing import Pacer

__all__ = ["PACING_MODES", "Biofeedback", "pacing_mode"]

PACING_MODES = ("closed", "open")


def pacing_mode(spec: dict[str, Any]) -> str:
    """``closed``: readings pace the session once they arrive; ``open``: they only move the
    listener estimate the iso path meets."""
    return str(spec.get("pacing", "closed"))


class Biofeedback:
    """Reads and writes a session's sealed closed-loop state; every method runs under the session's
    lock (:meth:`~promptloop.service.live.LiveSessions.locked`)."""

    def __init__(self, vault: Any, profiles: Profiles) -> None:
        self.vault = vault
        self.profiles = profiles

    def _open(self, row: SessionRow) -> dict[str, Any] | None:
        return None if row.pacer_sealed is None else dict(self.vault.open(row.pacer_sealed))

    def _save(self, row: SessionRow, saved: dict[str, Any], **changes: Any) -> None:
        row.pacer_sealed = self.vault.seal({**saved, **changes})

    def pacer_for(self, row: SessionRow) -> Pacer | None:
        """The saved pacer of a session being rebuilt; None: the loop's default (open loop)."""
        saved = self._open(row)
        return None if saved is None or saved["pacer"] is None else ReadingPacer.from_state(saved["pacer"])

    def add(self, row: SessionRow, loop: LoopSession, readings: Sequence[dict[str, float]],
            baseline: dict[str, float] | None) -> int | None:
        """Queue ``readings`` for the next segment: how many readings now wait, or None when readings
        do not pace this session."""
        if pacing_mode(row.spec) != "closed" or loop.done:
            return None
        saved = self._open(row) or {"pacer": None, "pending": [], "baseline": None, "heard": None, "learned": False}
        pending = [*saved["pending"], *readings]
        self._save(row, saved, pending=pending, baseline=baseline or saved["baseline"])
        return len(pending)

    def before_segment(self, db: DB, user: User, row: SessionRow, loop: LoopSession) -> bool:
        """The pacer reads what waited; what it avoids enters the preferences.  True when the
        preferences changed.

        The first time, the pacer starts: with the listener's profile as its prior and its belief
        where the waiting readings place the listener, moved from where the session took them to be
        (before the first segment, the state they started from; later, the last segment's waypoint,
        the open loop's own assumption).  From then on each signal is read relative to its first
        reading, so a wearable's calibration offset does not move the belief; and the model of the
        listener following the music steps each segment even when no reading came (a dropout)."""
        saved = self._open(row)
        if saved is None:
            return False
        pending = [Readings.from_dict(r) for r in saved["pending"]]
        first = not isinstance(loop.pacer, ReadingPacer)
        if first:
            baseline = Baseline.partial(saved["baseline"]) if saved["baseline"] else None
            last = loop.results[-1].record.waypoint if loop.results else None
            prior = Affect(last.valence, last.arousal) if last is not None else Affect(**row.spec["start"])
            belief = estimate_affect(Readings.mean(pending), baseline, prior=prior).affect
            loop.pacer = ReadingPacer(belief, baseline or Baseline(), profile=self.profiles.load(db, user))
        elif saved["heard"] >= len(loop.results):  # nothing has played since it last read
            return False
        assert isinstance(loop.pacer, ReadingPacer)
        return apply_readings(loop, loop.pacer, pending, first=first)

    def after_segment(self, db: DB, user: User, row: SessionRow, loop: LoopSession) -> None:
        """Keep the pacer as it is now; with the session's last segment, teach the profile (once)."""
        saved = self._open(row)
        if saved is None or not isinstance(loop.pacer, ReadingPacer):
            return
        learned = bool(saved["learned"])
        if loop.done and not learned:
            self.profiles.learn_in(db, user, loop.pacer.learned())
            learned = True
        # the readings read before this segment belong to the segments before it
        self._save(row, saved, pacer=loop.pacer.state(), pending=[], heard=len(loop.results) - 1, learned=learned)
