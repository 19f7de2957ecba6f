"""The arc across a playlist's tracks.

``iso`` follows the iso principle at the scale of a playlist: the first track meets the listener
where they are (it starts and stays at the start affect), and each later track moves one equal
step further, so that the last track ends at the target.  Within a track the loop itself moves
from the track's start to its end in bounded steps, segment by segment.

``hold`` keeps every track at the target affect (for a state to maintain, such as calm before
sleep or focus while working); the start affect is not used.

>>> from promptloop.acquisition.affect import Affect
>>> arc = track_arc(Affect(-0.6, 0.6), Affect(0.4, -0.4), tracks=3, arc="iso")
>>> [(round(a.valence, 2), round(b.valence, 2)) for a, b in arc]
[(-0.6, -0.6), (-0.6, -0.1), (-0.1, 0.4)]
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from promptloop.acquisition.affect import Affect, describe_affect
from promptloop.playlist.spec import ListenerSpec, PlaylistSpec

__all__ = ["TrackPlan", "plan_playlist", "track_arc", "track_seed"]


def _lerp(a: Affect, b: Affect, t: float) -> Affect:
    if t in (0.0, 1.0):
        return a if t == 0.0 else b  # exact ends, not rounded ones
    return Affect.clipped(a.valence + (b.valence - a.valence) * t, a.arousal + (b.arousal - a.arousal) * t)


def track_arc(start: Affect, target: Affect, tracks: int, arc: str) -> list[tuple[Affect, Affect]]:
    """(start, end) affect of each track."""
    if arc == "hold":
        return [(target, target)] * tracks
    if tracks == 1:
        return [(start, target)]
    points = [_lerp(start, target, k / (tracks - 1)) for k in range(tracks)]
    return [(start, start)] + [(points[k - 1], points[k]) for k in range(1, tracks)]


def track_seed(playlist_seed: int, listener_id: str, index: int, attempt: int) -> int:
    """A reproducible seed per (playlist seed, listener, track, variety attempt).

    The listener enters by a checksum of its id, not its position, so adding a listener to a spec
    does not change anyone else's music.
    """
    words = [playlist_seed, zlib.crc32(listener_id.encode()), index, attempt]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


@dataclass(frozen=True)
class TrackPlan:
    """One track to make: whose it is, where it starts and ends on the circumplex."""

    listener: str
    index: int  # 0-based position in the listener's playlist
    start: Affect
    end: Affect

    @property
    def key(self) -> str:
        return f"{self.listener}/{self.index + 1:02d}"

    @property
    def title(self) -> str:
        if self.start == self.end:
            return f"Track {self.index + 1}: {describe_affect(self.end)}"
        return f"Track {self.index + 1}: {describe_affect(self.start)} to {describe_affect(self.end)}"

    def file_stem(self) -> str:
        return f"{self.listener}/{self.index + 1:02d}"


def plan_playlist(spec: PlaylistSpec) -> dict[str, list[TrackPlan]]:
    """Every listener's tracks, in order."""
    plans: dict[str, list[TrackPlan]] = {}
    for listener in spec.listeners:
        plans[listener.id] = _plan_listener(spec, listener)
    return plans


def _plan_listener(spec: PlaylistSpec, listener: ListenerSpec) -> list[TrackPlan]:
    arc = track_arc(spec.start_of(listener), spec.target_of(listener), spec.tracks, spec.arc)
    return [TrackPlan(listener.id, i, a, b) for i, (a, b) in enumerate(arc)]
