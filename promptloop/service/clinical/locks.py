"""Constraints a therapist locks on a programme session, and how they hold.

A lock fixes the loosest value a listener may reach: the loudness ceiling may go down but not up, a
locked sound stays avoided, gentle mode stays on, a locked target stays put, a locked tempo range
may narrow but not widen.  Tightening is always
allowed.  :func:`check` refuses an explicit request that would loosen a lock (the preference PATCH →
409 naming the lock); :func:`enforce` brings a state that a chat message or a readings update
produced back inside the locks and says what it undid, so the listener sees why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from promptloop.acquisition.affect import Affect
from promptloop.errors import Conflict
from promptloop.representation.preferences import Preferences
from promptloop.representation.vocabulary import HARSH_SOUNDS

__all__ = ["LOCKABLE", "Locks", "check", "enforce"]

LOCKABLE = ("loudness_ceiling", "avoid", "gentle", "target", "tempo_range")
_WHO = "locked by your therapist"


@dataclass(frozen=True)
class Locks:
    """The locked values (None / empty: not locked)."""

    loudness_ceiling_lufs: float | None = None
    avoid: tuple[str, ...] = ()
    gentle: bool = False
    target: Affect | None = None
    tempo_range_bpm: tuple[float, float] | None = None

    @classmethod
    def of(cls, names: list[str], preferences: Preferences, target: Affect) -> Locks:
        """The locks ``names`` over a step's own values."""
        return cls(
            loudness_ceiling_lufs=preferences.loudness_ceiling_lufs if "loudness_ceiling" in names else None,
            avoid=tuple(preferences.avoid) if "avoid" in names else (),
            gentle=preferences.gentle and "gentle" in names,
            target=target if "target" in names else None,
            tempo_range_bpm=preferences.tempo_range_bpm if "tempo_range" in names else None,
        )

    def any(self) -> bool:
        return self != Locks()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"loudness_ceiling_lufs": self.loudness_ceiling_lufs, "avoid": list(self.avoid),
                "gentle": self.gentle, "target": self.target.to_dict() if self.target else None}
        if self.tempo_range_bpm is not None:  # only when locked: records from before have no such key
            data["tempo_range_bpm"] = list(self.tempo_range_bpm)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Locks:
        target = data.get("target")
        return cls(loudness_ceiling_lufs=data.get("loudness_ceiling_lufs"), avoid=tuple(data.get("avoid") or ()),
                   gentle=bool(data.get("gentle")), target=Affect(**target) if target else None,
                   tempo_range_bpm=tuple(data["tempo_range_bpm"]) if data.get("tempo_range_bpm") else None)

    def explain(self) -> list[str]:
        """One line per lock, for the listener's page."""
        lines = []
        if self.loudness_ceiling_lufs is not None:
            lines.append(f"loudness at most {self.loudness_ceiling_lufs:.0f} LUFS")
        if self.avoid:
            lines.append("never " + ", ".join(self.avoid))
        if self.gentle:
            lines.append("gentle mode on")
        if self.tempo_range_bpm is not None:
            lines.append(f"tempo within {self.tempo_range_bpm[0]:.0f}-{self.tempo_range_bpm[1]:.0f} BPM")
        if self.target is not None:
            lines.append(f"target fixed at v {self.target.valence:+.2f}, a {self.target.arousal:+.2f}")
        return lines


def _within(inner: tuple[float, float] | None, outer: tuple[float, float]) -> bool:
    return inner is not None and outer[0] <= inner[0] and inner[1] <= outer[1]


def _bpm(span: tuple[float, float]) -> str:
    return f"{span[0]:.0f}-{span[1]:.0f} BPM"


def check(locks: Locks, preferences: Preferences | None, target: Affect | None) -> None:
    """Refuse (409) a requested change that would loosen a lock; tightening passes."""
    problems = []
    if preferences is not None:
        ceiling = locks.loudness_ceiling_lufs
        if ceiling is not None and preferences.loudness_ceiling_lufs > ceiling:
            problems.append(f"the loudness ceiling is {_WHO} at {ceiling:.0f} LUFS")
        missing = [t for t in locks.avoid if t not in preferences.avoid]
        if missing:
            problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} {_WHO} as never to play")
        if locks.gentle and not preferences.gentle:
            problems.append(f"gentle mode is {_WHO}")
        if locks.tempo_range_bpm is not None and not _within(preferences.tempo_range_bpm, locks.tempo_range_bpm):
            problems.append(f"the tempo range is {_WHO} at {_bpm(locks.tempo_range_bpm)}")
    if target is not None and locks.target is not None and target != locks.target:
        problems.append(f"the session's target is {_WHO}")
    if problems:
        raise Conflict("; ".join(problems))


def enforce(locks: Locks, preferences: Preferences, target: Affect) -> tuple[Preferences, Affect, list[str]]:
    """``preferences`` and ``target`` brought inside the locks, and one line per thing undone."""
    notes = []
    ceiling = preferences.loudness_ceiling_lufs
    if locks.loudness_ceiling_lufs is not None and ceiling > locks.loudness_ceiling_lufs:
        ceiling = locks.loudness_ceiling_lufs
        notes.append(f"loudness stays at most {ceiling:.0f} LUFS ({_WHO})")
    avoid = list(preferences.avoid)
    readded = [t for t in locks.avoid if t not in avoid]
    if readded:
        avoid += readded
        notes.append(f"{', '.join(readded)} stays avoided ({_WHO})")
    liked = [t for t in (*preferences.instruments, *preferences.genres, *preferences.extra) if t in set(locks.avoid)]
    if liked and not readded:
        notes.append(f"{', '.join(liked)} cannot be added ({_WHO})")
    gentle = preferences.gentle
    if locks.gentle and not gentle:
        gentle = True
        notes.append(f"gentle mode stays on ({_WHO})")
    tempo = preferences.tempo_range_bpm
    if locks.tempo_range_bpm is not None and not _within(tempo, locks.tempo_range_bpm):
        tempo = locks.tempo_range_bpm
        notes.append(f"the tempo stays within {_bpm(tempo)} ({_WHO})")
    banned = set(avoid) | (HARSH_SOUNDS if gentle else set())  # gentle mode refuses harsh sounds
    new = replace(preferences, loudness_ceiling_lufs=ceiling, avoid=tuple(avoid), gentle=gentle, tempo_range_bpm=tempo,
                  instruments=tuple(t for t in preferences.instruments if t not in banned),
                  genres=tuple(t for t in preferences.genres if t not in banned),
                  extra=tuple(t for t in preferences.extra if t not in banned))
    if locks.target is not None and target != locks.target:
        notes.append(f"the target stays where your therapist set it ({_WHO})")
        target = locks.target
    return new, target, notes
