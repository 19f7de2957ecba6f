"""What the system has learned about one listener across sessions, as a prior for the next.

A :class:`ListenerProfile` holds what moved this listener toward their targets (how closely they
follow the music, which plan attributes went with the moves), what they rejected or that acted as a
trigger, their comfortable tempo and loudness ranges, and the tempi they followed.  It is plain data
the listener can read and edit (JSON; ``extra="forbid"``), kept with the account by the service and
in a file by the CLI (``promptloop session --profile FILE``).

Planners use it through :meth:`ListenerProfile.prior`: avoided sounds, a loudness ceiling and the
comfortable tempo range folded into the session's preferences.  The comfortable ranges are the
listener's to set (limits every session keeps); what sessions learn goes elsewhere: the tempi the
listener followed (``followed_tempo_bpm``, information, never a limit) and the calming ceiling.
Two ceilings are kept apart: the comfortable range the listener set (it caps every session) and the
loudness above which *calming* music stopped calming them, which the closed loop learns and which
caps only sessions that calm (learned while winding down, it says nothing about music meant to
energise).  The closed-loop pacer uses its pacing fields.  After a session,
:meth:`ListenerProfile.learn` folds in what that session found (a :class:`ProfileUpdate`); what the
listener says during one (a sound to avoid, or one wanted again) goes in at once through
:meth:`ListenerProfile.heard`.

>>> p = ListenerProfile(triggers=["drums"], comfortable_loudness_lufs=(-40.0, -24.0))
>>> p.prior(Preferences()).loudness_ceiling_lufs
-24.0
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptloop.acquisition.affect import Affect
from promptloop.errors import InputError
from promptloop.representation.preferences import Preferences, check_tempo_range, parse_terms

__all__ = ["PROFILE_FORMAT", "ListenerProfile", "ProfileUpdate", "load_profile_text"]

PROFILE_FORMAT = "promptloop-profile/2"
#: Format 1 widened ``comfortable_tempo_bpm`` with every tempo a session followed and nothing read
#: it; format 2 keeps that learned range as ``followed_tempo_bpm`` and the comfortable range for the
#: listener to set, as a limit.  A format-1 profile's range is read as the learned one (it never
#: limited anything, so no session changes by the move).
_FORMAT_1 = "promptloop-profile/1"
#: How much one new session counts against what the profile already holds (exponential average).
LEARNING_RATE = 0.5
#: A session calms when its target's arousal is at least this far below its start's.
CALMING_AROUSAL_DROP = 0.05


def _terms(value: list[str]) -> list[str]:
    return list(parse_terms(value))


def _check_range(value: tuple[float, float] | None, low: float, high: float, what: str) -> None:
    if value is None:
        return
    a, b = value
    if not (low <= a <= b <= high):
        raise ValueError(f"{what} must be two numbers low <= high within [{low}, {high}], got {list(value)}")


class ListenerProfile(BaseModel):
    """The listener's profile (every field optional; an empty profile changes nothing)."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(default=PROFILE_FORMAT, pattern=r"^promptloop-profile/2$")
    sessions: int = Field(default=0, ge=0, le=100_000)
    triggers: list[str] = Field(default_factory=list, max_length=24)  # raised arousal against the session's direction
    rejected: list[str] = Field(default_factory=list, max_length=24)  # asked to remove or reported unpleasant
    comfortable_tempo_bpm: tuple[float, float] | None = None  # set by the listener: a limit
    comfortable_loudness_lufs: tuple[float, float] | None = None
    #: learned: the range of tempi the listener followed toward their targets (information only)
    followed_tempo_bpm: tuple[float, float] | None = None
    #: learned: calming music louder than this did not calm them (caps calming sessions only)
    calming_loudness_lufs: float | None = Field(default=None, ge=-60.0, le=-5.0)
    follow: float | None = Field(default=None, ge=0.0, le=2.0)  # how far per segment they follow (1: as modelled)
    lead: float | None = Field(default=None, ge=0.1, le=1.5)  # how far ahead the music may be
    arrive: float | None = Field(default=None, ge=0.1, le=1.0)  # share of a session by which to reach the target
    moved_by: dict[str, float] = Field(default_factory=dict, max_length=16)  # attribute -> arousal per unit
    #: (waypoint arousal, arousal the listener headed for under it): what moved them, per 0.1 of arousal
    response: list[tuple[float, float]] = Field(default_factory=list, max_length=21)
    #: (target arousal, waypoint arousal offset that brought the listener closest to it)
    offsets: list[tuple[float, float]] = Field(default_factory=list, max_length=12)
    notes: str = Field(default="", max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") == _FORMAT_1:
            data = {**data, "format": PROFILE_FORMAT}
            data.setdefault("followed_tempo_bpm", data.pop("comfortable_tempo_bpm", None))
        return data

    @field_validator("triggers", "rejected")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        return _terms(value)

    @field_validator("moved_by")
    @classmethod
    def _attributes(cls, value: dict[str, float]) -> dict[str, float]:
        allowed = {"tempo", "loudness", "brightness", "density", "mode"}
        unknown = set(value) - allowed
        if unknown:
            raise ValueError(f"unknown attribute(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}")
        if any(abs(v) > 5 for v in value.values()):
            raise ValueError("moved_by values must be within [-5, 5]")
        return {k: round(float(v), 4) for k, v in value.items()}

    @field_validator("response")
    @classmethod
    def _response(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not (-1.0 <= w <= 1.0 and -1.5 <= h <= 1.5) for w, h in value):
            raise ValueError("response points must be (waypoint arousal in [-1, 1], headed-for arousal in [-1.5, 1.5])")
        return sorted((round(float(w), 3), round(float(h), 3)) for w, h in value)

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not (-1.0 <= t <= 1.0 and -1.0 <= o <= 1.0) for t, o in value):
            raise ValueError("offsets must be (target arousal in [-1, 1], offset in [-1, 1])")
        return sorted((round(float(t), 3), round(float(o), 3)) for t, o in value)

    @field_validator("comfortable_tempo_bpm")
    @classmethod
    def _tempo_limit(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        return check_tempo_range(value, "comfortable_tempo_bpm")  # the same rule a session's range keeps

    @model_validator(mode="after")
    def _ranges(self) -> ListenerProfile:
        _check_range(self.followed_tempo_bpm, 40.0, 180.0, "followed_tempo_bpm")
        _check_range(self.comfortable_loudness_lufs, -60.0, -5.0, "comfortable_loudness_lufs")
        return self

    # -- as a prior -------------------------------------------------------------------------------
    def avoided(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.triggers, *self.rejected]))

    def prior(self, preferences: Preferences, start: Affect | None = None, target: Affect | None = None) -> Preferences:
        """``preferences`` with the profile folded in: its triggers and rejections avoided (unless
        the listener explicitly prefers them this time), the loudness ceiling no higher than the top
        of the comfortable range and, when the session calms (``target`` well below ``start`` in
        arousal), no higher than the learned calming ceiling; the tempo kept inside the comfortable
        tempo range (inside both, where the session sets a range of its own that overlaps it; the
        session's own range where they do not overlap, the choice made this time)."""
        liked = preferences.liked
        avoid = tuple(dict.fromkeys([*preferences.avoid, *(t for t in self.avoided() if t not in liked)]))
        ceiling = preferences.loudness_ceiling_lufs
        if self.comfortable_loudness_lufs is not None:
            ceiling = min(ceiling, self.comfortable_loudness_lufs[1])
        calming = start is not None and target is not None and target.arousal < start.arousal - CALMING_AROUSAL_DROP
        if calming and self.calming_loudness_lufs is not None:
            ceiling = min(ceiling, self.calming_loudness_lufs)
        tempo = _overlap(preferences.tempo_range_bpm, self.comfortable_tempo_bpm)
        try:
            return replace(preferences, avoid=avoid, loudness_ceiling_lufs=ceiling, tempo_range_bpm=tempo)
        except InputError:  # a conflict (e.g. gentle mode) the listener chose: keep their preferences
            return preferences

    # -- learning ---------------------------------------------------------------------------------
    def heard(self, rejected: list[str], liked: list[str]) -> ListenerProfile:
        """This profile after the listener's own word in a session: sounds they asked to avoid are
        rejected from now on; a rejected sound they asked for again is no longer (the latest word
        wins).  Not a session of its own: ``sessions`` does not count it."""
        added, wanted = _terms(rejected), set(_terms(liked))
        kept = [t for t in _terms([*self.rejected, *added]) if t not in wanted]
        if kept == self.rejected:
            return self
        return self.model_copy(update={"rejected": kept[-24:]})

    def learn(self, update: ProfileUpdate) -> ListenerProfile:
        """This profile with one more session folded in (new evidence weighted by LEARNING_RATE)."""
        def blend(old: float | None, new: float | None) -> float | None:
            if new is None:
                return old
            return round(new if old is None else (1 - LEARNING_RATE) * old + LEARNING_RATE * new, 4)

        loud = self.comfortable_loudness_lufs
        if update.loudness_ceiling_lufs is not None:
            top = update.loudness_ceiling_lufs if loud is None else min(loud[1], update.loudness_ceiling_lufs)
            loud = (min(-40.0, top), top)
        followed = self.followed_tempo_bpm
        if update.followed_tempo_bpm is not None:
            lo, hi = update.followed_tempo_bpm
            followed = (lo, hi) if followed is None else (min(followed[0], lo), max(followed[1], hi))
        response = dict(self.response)
        for w, h in update.response:
            response[w] = blend(response.get(w), h) or 0.0
        offsets = dict(self.offsets)
        for t, o in update.offsets:
            offsets[t] = blend(offsets.get(t), o) or 0.0
        moved = dict(self.moved_by)
        for key, value in update.moved_by.items():
            moved[key] = blend(moved.get(key), value) or 0.0
        return self.model_copy(update={
            "sessions": self.sessions + 1,
            "triggers": _terms([*self.triggers, *update.triggers])[:24],
            "rejected": _terms([*self.rejected, *update.rejected])[:24],
            "comfortable_loudness_lufs": loud,
            "comfortable_tempo_bpm": update.tempo_range_bpm or self.comfortable_tempo_bpm,
            "followed_tempo_bpm": followed,
            "calming_loudness_lufs": blend(self.calming_loudness_lufs, update.calming_ceiling_lufs),
            "follow": blend(self.follow, update.follow),
            "lead": blend(self.lead, update.lead),
            "arrive": update.arrive if update.arrive is not None else self.arrive,
            "moved_by": moved,
            "response": sorted(response.items())[:21],
            "offsets": sorted(offsets.items())[:12],
        })


def _overlap(session: tuple[float, float] | None, profile: tuple[float, float] | None) -> tuple[float, float] | None:
    """The tempo range a session keeps: both ranges where they overlap usefully, else the session's."""
    if session is None or profile is None:
        return session or profile
    low, high = max(session[0], profile[0]), min(session[1], profile[1])
    try:
        return check_tempo_range((low, high))
    except InputError:
        return session


class ProfileUpdate(BaseModel):
    """What one session learned about the listener (produced by the closed-loop pacer and chat)."""

    model_config = ConfigDict(extra="forbid")

    triggers: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)
    loudness_ceiling_lufs: float | None = None  # a ceiling the listener set (caps every session)
    tempo_range_bpm: tuple[float, float] | None = None  # a tempo range the listener set (limits every session)
    calming_ceiling_lufs: float | None = None  # calming music above this did not calm them (the closed loop)
    followed_tempo_bpm: tuple[float, float] | None = None
    follow: float | None = None
    lead: float | None = None
    arrive: float | None = None
    moved_by: dict[str, float] = Field(default_factory=dict)
    response: list[tuple[float, float]] = Field(default_factory=list)
    offsets: list[tuple[float, float]] = Field(default_factory=list)


def load_profile_text(text: str, where: str = "profile") -> ListenerProfile:
    """Parse a profile from JSON text; any problem is one :class:`InputError`."""
    from pydantic import ValidationError

    try:
        return ListenerProfile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{where}: {loc}: {first['msg']}") from None
