"""Pacing: where each segment of a session sits on the circumplex, chosen by a replaceable pacer.

The loop asks its :class:`Pacer` for one :class:`Waypoint` before every segment and never computes
one itself, so a different strategy plugs in without touching the loop: the default
:class:`IsoPacer` spreads the remaining way to the target evenly (open loop); a closed-loop pacer
can hold, move on or back off from what the readings say (``LoopSession(..., pacer=...)``).

A pacer may keep state between calls (one pacer per session); it is asked exactly once per segment,
in order, and ``history`` holds every segment made so far.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptloop.acquisition.affect import Affect
from promptloop.representation.trajectory import even_step
from promptloop.session.provenance import SegmentRecord

__all__ = ["IsoPacer", "PaceContext", "Pacer", "Waypoint"]

_EPS = 1e-9


@dataclass(frozen=True)
class PaceContext:
    """What a pacer knows when it places the next segment."""

    index: int  # the segment about to be made, 0-based
    segments: int  # how many the session has in all
    start: Affect  # where the session began
    listener: Affect  # the latest estimate of the listener (chat, readings, the start)
    listener_fresh: bool  # True when ``listener`` arrived since the last segment
    target: Affect  # where the session is heading now (chat and the API may move it)
    comfortable_step: float  # the session's max_step: steps beyond it are reported as steep
    previous: Affect | None = None  # the last segment's waypoint; None before the first
    history: Sequence[SegmentRecord] = ()  # the finished segments, oldest first

    @property
    def remaining(self) -> int:
        """Segments still to make, this one included."""
        return self.segments - self.index


@dataclass(frozen=True)
class Waypoint:
    """Where one segment should sit, and how far it moves from where the listener is taken to be."""

    affect: Affect
    step: float  # distance from the pacer's starting point for this segment
    steep: bool = False  # True when ``step`` is beyond the comfortable step
    reason: str = ""  # a few words for provenance

    def to_dict(self) -> dict[str, Any]:
        return {**self.affect.to_dict(), "step": round(self.step, 4), "steep": self.steep, "reason": self.reason}


class Pacer(abc.ABC):
    """Chooses each segment's waypoint."""

    name: str = "pacer"

    @abc.abstractmethod
    def next_waypoint(self, context: PaceContext) -> Waypoint:
        """The waypoint for segment ``context.index``."""

    def describe(self) -> dict[str, Any]:
        """Backend details for provenance."""
        return {"name": self.name}


class IsoPacer(Pacer):
    """The iso principle, open loop: meet the listener on the first segment, then cover the
    remaining way in equal steps so that the last segment sits at the target.

    A fresh listener estimate (chat, readings) becomes the new starting point; otherwise each step
    starts from the last waypoint.  Steps longer than the comfortable step are taken anyway and
    flagged ``steep``: the session never ends short of its target.
    """

    name = "iso"

    def next_waypoint(self, context: PaceContext) -> Waypoint:
        if context.segments == 1:
            step = context.listener.distance(context.target)
            return self._flag(context.target, step, context, "one segment: the target")
        if context.index == 0 or context.previous is None:
            return Waypoint(context.listener, 0.0, False, "meet the listener")
        base = context.listener if context.listener_fresh else context.previous
        affect = even_step(base, context.target, context.remaining)
        where = "the target" if context.remaining == 1 else f"1/{context.remaining} of the way to the target"
        source = "from the listener's new state" if context.listener_fresh else "from the last segment"
        return self._flag(affect, base.distance(affect), context, f"{where}, {source}")

    @staticmethod
    def _flag(affect: Affect, step: float, context: PaceContext, reason: str) -> Waypoint:
        steep = step > context.comfortable_step + _EPS
        return Waypoint(affect, step, steep, reason + (" (steeper than comfortable)" if steep else ""))
