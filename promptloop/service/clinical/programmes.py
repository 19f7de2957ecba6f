"""Programmes: a series of session specs a therapist writes for one client, with locked constraints.

A step says where the session starts and leads, its arc, length, sounds, loudness ceiling, gentle
mode, and which planner and generator it may use; ``locks`` names the constraints no listener-side
path may loosen (:mod:`.locks`).  A step with ``review`` on cannot be started until the therapist
approved or edited its proposal (:mod:`.proposals`).  The body is sealed like readings.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from promptloop.acquisition.affect import Affect, affect_text, parse_affect
from promptloop.errors import InputError
from promptloop.representation.preferences import (
    DEFAULT_LOUDNESS_CEILING_LUFS,
    Preferences,
)
from promptloop.service.clinical.locks import LOCKABLE, Locks
from promptloop.session.loop import LIMITS as LOOP

__all__ = ["MAX_STEPS", "ProgrammeSpec", "Questionnaire", "QuestionnaireItem", "StepSpec", "parse_programme",
           "playlist_spec"]

MAX_STEPS = 24
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
Term = Field(min_length=1, max_length=40)
Lockable = Literal["loudness_ceiling", "avoid", "gentle", "target", "tempo_range"]
assert set(Lockable.__args__) == set(LOCKABLE)  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepSpec(_Strict):
    """One session of a programme."""

    title: str = Field(default="", max_length=120)
    start: str = Field(default="neutral", description="an affect word or 'v=..,a=..'")
    target: str = "calm"
    arc: Literal["iso", "hold"] = Field(default="iso", description="iso: meet the start, then move; "
                                        "hold: play at the target throughout")
    pacing: Literal["closed", "open"] = Field(default="closed", description="closed: once the client's readings "
                                              "arrive they pace the session (hold, move on, back off); open: the "
                                              "planned path, readings only move where it meets the client")
    segments: int = Field(default=6, ge=LOOP["segments"][0], le=LOOP["segments"][1])
    segment_seconds: float = Field(default=10.0, ge=LOOP["segment_seconds"][0], le=LOOP["segment_seconds"][1],
                                   allow_inf_nan=False)
    prefer: list[str] = Field(default=[], max_length=24)
    avoid: list[str] = Field(default=[], max_length=24)
    genres: list[str] = Field(default=[], max_length=24)
    loudness_ceiling_lufs: float = Field(default=DEFAULT_LOUDNESS_CEILING_LUFS, ge=-60.0, le=-5.0, allow_inf_nan=False)
    gentle: bool = False
    tempo_range_bpm: list[float] | None = Field(default=None, min_length=2, max_length=2,
                                                description="[low, high] BPM: the session's tempo stays inside it")
    planner: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$",
                                description="the planner allowed (default: the server's)")
    generator: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    seed: int = Field(default=0, ge=0, lt=2**32)
    review: bool | None = Field(default=None, description="the therapist approves the planned path and first "
                                "prompts before the client plays it (default: on for the llm planner)")
    preview: int = Field(default=2, ge=1, le=4, description="how many first prompts the proposal shows")
    locks: list[Lockable] = Field(default=[], description="constraints no listener-side change may loosen")

    _start = field_validator("start", "target", mode="before")(affect_text)

    @field_validator("prefer", "avoid", "genres")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        if any(not isinstance(t, str) or not 1 <= len(t) <= 40 for t in value):
            raise ValueError("each term is 1-40 characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StepSpec:
        try:
            self.preferences()
        except InputError as exc:
            raise ValueError(str(exc)) from None
        if "tempo_range" in self.locks and self.tempo_range_bpm is None:
            raise ValueError("a tempo_range lock needs the step's tempo_range_bpm")
        return self

    def needs_review(self) -> bool:
        return self.review if self.review is not None else self.planner == "llm"

    def preferences(self) -> Preferences:
        return Preferences.build(self.prefer, self.avoid, genres=self.genres, gentle=self.gentle,
                                 loudness_ceiling_lufs=self.loudness_ceiling_lufs, tempo_range_bpm=self.tempo_range_bpm)

    def start_affect(self) -> Affect:
        return self.target_affect() if self.arc == "hold" else parse_affect(self.start)

    def target_affect(self) -> Affect:
        return parse_affect(self.target)

    def lock_values(self) -> Locks:
        return Locks.of(list(self.locks), self.preferences(), self.target_affect())


class QuestionnaireItem(_Strict):
    id: str = Field(pattern=_SLUG.pattern)
    text: str = Field(min_length=1, max_length=200)
    min: int = Field(default=0, ge=0, le=100)
    max: int = Field(default=10, ge=1, le=100)
    labels: tuple[str, str] | None = Field(default=None, description="words for the two ends of the scale")

    @model_validator(mode="after")
    def _range(self) -> QuestionnaireItem:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class Questionnaire(_Strict):
    """A short questionnaire the therapist attaches; answered with the self-report."""

    id: str = Field(pattern=_SLUG.pattern)
    title: str = Field(min_length=1, max_length=120)
    when: Literal["pre", "post", "both"] = "both"
    items: list[QuestionnaireItem] = Field(min_length=1, max_length=12)


class ProgrammeSpec(_Strict):
    """What a therapist prescribes: steps, questionnaires and a note the client sees."""

    title: str = Field(min_length=1, max_length=120)
    note: str = Field(default="", max_length=2000, description="shown to the client")
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    questionnaires: list[Questionnaire] = Field(default=[], max_length=4)

    @model_validator(mode="after")
    def _unique_ids(self) -> ProgrammeSpec:
        ids = [q.id for q in self.questionnaires]
        if len(ids) != len(set(ids)):
            raise ValueError("questionnaire ids must be unique")
        for q in self.questionnaires:
            items = [i.id for i in q.items]
            if len(items) != len(set(items)):
                raise ValueError(f"item ids of questionnaire {q.id!r} must be unique")
        return self


def parse_programme(data: dict[str, Any]) -> ProgrammeSpec:
    """Validate stored or submitted programme data; problems become one :class:`InputError`."""
    try:
        return ProgrammeSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}" if where else first["msg"]) from None


def playlist_spec(programme: ProgrammeSpec, step: int, tracks: int) -> dict[str, Any]:
    """A playlist spec (docs/playlists.md) of ``tracks`` tracks for one step: its arc, start and target
    across the tracks, each track as long as the step's session, under the step's sounds and limits."""
    s = programme.steps[step]
    return {
        "name": f"{programme.title} {step + 1}"[:80], "seed": s.seed, "tracks": tracks,
        "track_seconds": s.segments * s.segment_seconds, "segments_per_track": s.segments, "arc": s.arc,
        "start": s.start, "target": s.target, "format": "flac",
        "backends": {"generator": s.generator, "planner": s.planner},
        "listeners": [{"id": "client", "preferences": {"prefer": s.prefer, "genres": s.genres, "avoid": s.avoid},
                       "sensitivities": {"gentle": s.gentle, "loudness_ceiling_lufs": s.loudness_ceiling_lufs}}],
    }
