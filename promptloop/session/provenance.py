"""The documented schema of ``session.json``: what was asked, planned, generated and measured.

``docs/session.schema.json`` is generated from these models (``promptloop schema``) and a test
keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SCHEMA_VERSION",
    "AffectRecord",
    "AttemptRecord",
    "CandidateRecord",
    "PacingRecord",
    "SegmentRecord",
    "SessionRecord",
    "SessionSummary",
]

SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AffectRecord(_Model):
    valence: float = Field(ge=-1, le=1)
    arousal: float = Field(ge=-1, le=1)


class CandidateRecord(_Model):
    seed: int
    score: float
    components: dict[str, float]
    descriptors: dict[str, float | int | str]
    estimated: AffectRecord
    caption: str
    violations: list[str] = []


class AttemptRecord(_Model):
    attempt: int
    planner: str
    fallback: str | None = Field(default=None, description="why the planner's plan was replaced")
    plan: dict[str, Any]
    prompt: str
    candidates: list[CandidateRecord]
    best: int = Field(description="index of the best candidate in this attempt")
    feedback: list[dict[str, Any]] = []
    timings: dict[str, float] = Field(description="seconds spent planning, generating, evaluating")


class SegmentRecord(_Model):
    index: int
    file: str
    start_s: float
    duration_s: float
    waypoint: AffectRecord
    listener: AffectRecord
    estimated: AffectRecord
    score: float
    prompt: str
    chosen_attempt: int
    chosen_seed: int
    attempts: list[AttemptRecord]
    loudness_lufs: float
    events: list[dict[str, Any]] = Field(default=[], description="updates applied before this segment")
    midi: str | None = Field(default=None, description="the segment's score as a MIDI file (composing generators)")
    substitutions: dict[str, str] = Field(
        default={}, description="instruments the plan names that the generator played as another voice")
    step: float | None = Field(default=None, description="how far this segment's waypoint moved on the circumplex")
    steep: bool = Field(default=False, description="the step was longer than the comfortable step")
    pace: str = Field(default="", description="the pacer's reason for this waypoint")


class PacingRecord(_Model):
    """How the path was paced: the session always ends at its target, and says so when the way
    there is steeper than the comfortable step."""

    pacer: dict[str, Any]
    comfortable_step: float
    distance: float = Field(description="start to target on the circumplex")
    step: float = Field(description="the planned step per segment")
    steep: bool = Field(description="a step is, or was, longer than the comfortable step")
    comfortable_segments: int = Field(description="the fewest segments that keep every step comfortable")
    steep_segments: list[int] = Field(default=[], description="indexes of the segments that moved steeply")
    note: str | None = Field(default=None, description="what the listener is told when the path is steep")
    tempo_note: str | None = Field(
        default=None, description="what the listener is told when their comfortable tempo range keeps the "
                                  "music from the target's tempo")


class SessionSummary(_Model):
    segments: int
    duration_s: float
    mean_score: float
    final_estimated: AffectRecord
    target: AffectRecord
    trajectory_error: float = Field(description="mean distance between waypoints and estimates")
    loudness_lufs: float
    max_segment_loudness_lufs: float
    retries: int
    retries_skipped: int = Field(default=0, description="retries not made: the rewrite left the plan as it was")
    wall_seconds: float
    generate_seconds: float
    evaluate_seconds: float

    @classmethod
    def of(cls, records: list[SegmentRecord], *, duration_s: float, target: AffectRecord, loudness_lufs: float,
           retries_skipped: int, wall_seconds: float) -> SessionSummary:
        """The summary of a session's segments (``records``, at least one) and its stitched audio's
        measured length and loudness."""
        from promptloop.acquisition.affect import Affect

        def off(r: SegmentRecord) -> float:
            return Affect(r.waypoint.valence, r.waypoint.arousal).distance(Affect(r.estimated.valence, r.estimated.arousal))

        return cls(
            segments=len(records),
            duration_s=round(duration_s, 3),
            mean_score=round(sum(r.score for r in records) / len(records), 4),
            final_estimated=records[-1].estimated,
            target=target,
            trajectory_error=round(sum(off(r) for r in records) / len(records), 4),
            loudness_lufs=round(loudness_lufs, 3),
            max_segment_loudness_lufs=max(r.loudness_lufs for r in records),
            retries=sum(len(r.attempts) - 1 for r in records),
            retries_skipped=retries_skipped,
            wall_seconds=round(wall_seconds, 3),
            generate_seconds=round(sum(a.timings["generate"] for r in records for a in r.attempts), 3),
            evaluate_seconds=round(sum(a.timings["evaluate"] for r in records for a in r.attempts), 3),
        )


class SessionRecord(_Model):
    schema_version: str = SCHEMA_VERSION
    promptloop_version: str
    created: str
    sample_rate: int
    seed: int
    settings: dict[str, Any]
    backends: dict[str, dict[str, Any]]
    start: AffectRecord
    target: AffectRecord
    preferences: dict[str, Any]
    prior: dict[str, Any] | None = None
    segments: list[SegmentRecord]
    summary: SessionSummary | None = None
    midi: str | None = Field(default=None, description="the whole session's score as a MIDI file")
    pacing: PacingRecord | None = None
