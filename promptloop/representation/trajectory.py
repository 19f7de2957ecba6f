"""Iso-principle trajectories: meet the listener where they are, then move in bounded steps.

The iso principle (Altshuler, 1948; Heiderscheit & Madson, 2015) starts with music that matches the
listener's current state and changes it gradually toward the target.

>>> from promptloop.acquisition.affect import Affect
>>> path = iso_trajectory(Affect(-0.6, 0.7), Affect(0.4, -0.6), segments=4, max_step=0.6)
>>> path[0]
Affect(valence=-0.6, arousal=0.7)
"""

from __future__ import annotations

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError

__all__ = ["DEFAULT_MAX_STEP", "iso_trajectory", "next_waypoint"]

DEFAULT_MAX_STEP = 0.5


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


def iso_trajectory(
    start: Affect, target: Affect, segments: int, max_step: float = DEFAULT_MAX_STEP
) -> list[Affect]:
    """Waypoints for ``segments`` segments: the first equals ``start``, the last is as close to
    ``target`` as the step bound allows, spread evenly over the remaining segments."""
    if segments < 1:
        raise InputError("a session needs at least one segment")
    if not 0 < max_step <= 3:
        raise InputError(f"max step must be in (0, 3], got {max_step}")
    if segments == 1:
        return [start]
    even_step = start.distance(target) / (segments - 1)
    step = min(max_step, even_step) if even_step > 0 else max_step
    path = [start]
    for _ in range(segments - 1):
        path.append(next_waypoint(path[-1], target, step))
    return path
