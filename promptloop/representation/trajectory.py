"""Iso-principle trajectories: meet the listener where they are, then move evenly to the target.

The iso principle (Altshuler, 1948; Heiderscheit & Madson, 2015) starts with music that matches the
listener's current state and changes it gradually toward the target.  A session always ends at its
target: the *comfortable step* paces the path but never stops it short.  When the path is steeper
than the comfortable step allows, :func:`path_pace` says so (the CLI, the API and ``session.json``
carry its note) instead of the session silently ending halfway.

>>> from promptloop.acquisition.affect import Affect
>>> path = iso_trajectory(Affect(-0.6, 0.7), Affect(0.4, -0.6), segments=3)
>>> path[0], path[-1]
(Affect(valence=-0.6, arousal=0.7), Affect(valence=0.4, arousal=-0.6))
>>> path_pace(Affect(-0.6, 0.7), Affect(0.4, -0.6), segments=3, comfortable_step=0.5).steep
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError

__all__ = ["DEFAULT_MAX_STEP", "PathPace", "even_step", "iso_trajectory", "next_waypoint", "path_pace"]

DEFAULT_MAX_STEP = 0.5
_EPS = 1e-9


def next_waypoint(current: Affect, target: Affect, max_step: float) -> Affect:
    """One step from ``current`` toward ``target``, at most ``max_step`` long."""
    dist = current.distance(target)
    if dist <= max_step or dist == 0:
        return target
    frac = max_step / dist
    return Affect.clipped(
        current.valence + (target.valence - current.valence) * frac,
        current.arousal + (target.arousal - current.arousal) * frac,
    )


def even_step(current: Affect, target: Affect, remaining: int) -> Affect:
    """The next of ``remaining`` equal steps from ``current`` to ``target`` (1 → the target)."""
    if remaining < 1:
        raise InputError("at least one step must remain")
    if remaining == 1:
        return target
    return Affect.clipped(
        current.valence + (target.valence - current.valence) / remaining,
        current.arousal + (target.arousal - current.arousal) / remaining,
    )


def iso_trajectory(start: Affect, target: Affect, segments: int) -> list[Affect]:
    """Waypoints for ``segments`` segments: the first meets ``start``, then equal steps, and the
    last is ``target`` (a one-segment session plays the target)."""
    if segments < 1:
        raise InputError("a session needs at least one segment")
    if segments == 1:
        return [target]
    path = [start]
    for index in range(1, segments):
        path.append(even_step(path[-1], target, segments - index))
    return path


@dataclass(frozen=True)
class PathPace:
    """How steep a path is against the comfortable step."""

    distance: float
    segments: int
    step: float  # the step each segment moves (the whole distance for one segment)
    comfortable_step: float
    comfortable_segments: int  # the fewest segments whose steps stay comfortable

    @property
    def steep(self) -> bool:
        return self.step > self.comfortable_step + _EPS

    def note(self) -> str | None:
        """One sentence for the listener when the path is steep; None when it is comfortable."""
        if not self.steep:
            return None
        moves = (f"a single segment jumps {self.step:.2f}" if self.segments == 1
                 else f"{self.segments} segments move {self.step:.2f} a step")
        return (f"The path is {self.distance:.2f} long on the valence/arousal plane: {moves}, steeper "
                f"than the comfortable {self.comfortable_step:.2f}. The session still ends at the target; "
                f"{self.comfortable_segments} segments would keep every step comfortable.")

    def to_dict(self) -> dict[str, object]:
        return {"distance": round(self.distance, 4), "segments": self.segments, "step": round(self.step, 4),
                "comfortable_step": self.comfortable_step, "comfortable_segments": self.comfortable_segments,
                "steep": self.steep, "note": self.note()}


def path_pace(start: Affect, target: Affect, segments: int, comfortable_step: float) -> PathPace:
    """The pace of :func:`iso_trajectory` for these ends, measured against ``comfortable_step``."""
    if segments < 1:
        raise InputError("a session needs at least one segment")
    if not comfortable_step > 0:
        raise InputError(f"the comfortable step must be positive, got {comfortable_step}")
    distance = start.distance(target)
    step = distance / max(1, segments - 1)
    needed = max(2, math.ceil(distance / comfortable_step - _EPS) + 1) if distance > _EPS else 1
    return PathPace(distance, segments, step, comfortable_step, needed)
