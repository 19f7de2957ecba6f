"""Request and response bodies of the REST API.

Requests refuse unknown fields (``extra="forbid"``) and bound every size; responses are separate
classes so that no internal field can leak into an answer.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from promptloop.service.engine import LIMITS as SERVICE
from promptloop.service.lookahead import LOOKAHEAD_BOUNDS
from promptloop.session.loop import LIMITS as LOOP


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value


# The store keeps naive UTC times (SQLite has no time zones); answers carry the zone (RFC 3339).
Time = Annotated[_dt.datetime, AfterValidator(_utc)]
Unit = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
Term = Annotated[str, StringConstraints(min_length=1, max_length=40)]
BackendName = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
AffectWord = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared pieces -------------------------------------------------------------------------------
class AffectIn(_In):
    valence: Unit
    arousal: Unit


class AffectOut(_Out):
    valence: float
    arousal: float


class PreferencesIn(_In):
    prefer: list[Term] = Field(default=[], max_length=24, description="liked instruments, textures, genres, words")
    avoid: list[Term] = Field(default=[], max_length=24, description="never to be played")
    genres: list[Term] = Field(default=[], max_length=24)
    gentle: bool = Field(default=False, description="hyperacusis/misophonia/tinnitus mode")
    loudness_ceiling_lufs: float = Field(default=-14.0, ge=-60.0, le=-5.0, allow_inf_nan=False)
    tempo_range_bpm: list[float] | None = Field(
        default=None, min_length=2, max_length=2,
        description="[low, high] comfortable tempo in BPM: every segment's tempo stays inside it")


class PreferencesOut(_Out):
    instruments: list[str]
    genres: list[str]
    avoid: list[str]
    extra: list[str]
    loudness_ceiling_lufs: float
    gentle: bool
    tempo_range_bpm: list[float] | None = None


class ErrorOut(_Out):
    detail: str


class ValidationItem(_Out):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None
    url: str | None = None


class ValidationErrorOut(_Out):
    detail: list[ValidationItem]


# -- sessions ------------------------------------------------------------------------------------
class SessionCreate(_In):
    title: str = Field(default="", max_length=SERVICE["title_chars"])
    start: AffectWord | AffectIn = Field(default="neutral", description="an affect word or valence/arousal")
    target: AffectWord | AffectIn = "calm"
    preferences: PreferencesIn = PreferencesIn()
    segments: int = Field(default=6, ge=LOOP["segments"][0], le=LOOP["segments"][1])
    segment_seconds: float = Field(default=10.0, ge=LOOP["segment_seconds"][0], le=LOOP["segment_seconds"][1],
                                   allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, lt=2**32)
    candidates: int | None = Field(default=None, ge=LOOP["candidates"][0], le=LOOP["candidates"][1])
    max_retries: int | None = Field(default=None, ge=LOOP["max_retries"][0], le=LOOP["max_retries"][1])
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    crossfade_seconds: float | None = Field(default=None, ge=LOOP["crossfade_seconds"][0],
                                            le=LOOP["crossfade_seconds"][1], allow_inf_nan=False)
    lookahead_seconds: float | None = Field(
        default=None, ge=LOOKAHEAD_BOUNDS[0], le=LOOKAHEAD_BOUNDS[1], allow_inf_nan=False,
        description="live playback: seconds of audio still queued when the next segment arrives")
    pacing: Literal["closed", "open"] = Field(
        default="closed", description="closed: once readings arrive they pace the path (hold, move on, back off, "
                                      "find triggers) and teach the listener profile; open: they only move the "
                                      "listener estimate the iso path meets")
    generator: BackendName | None = None
    planner: BackendName | None = None
    evaluator: BackendName | None = None


class SessionPatch(_In):
    title: str | None = Field(default=None, max_length=SERVICE["title_chars"])
    target: AffectWord | AffectIn | None = None
    preferences: PreferencesIn | None = None


class SessionSettingsOut(_Out):
    candidates: int
    threshold: float
    max_retries: int
    max_step: float
    crossfade_seconds: float
    seed: int


class LiveOut(_Out):
    lookahead_s: float = Field(description="the chat page asks for the next segment this close to the end of "
                                           "what is queued (plus the time a segment takes)")


class PacingOut(_Out):
    distance: float
    segments: int
    step: float
    comfortable_step: float
    comfortable_segments: int
    steep: bool = Field(description="the path is steeper than the comfortable step; it still ends at the target")
    note: str | None
    tempo_note: str | None = Field(default=None, description="the listener's comfortable tempo range keeps the "
                                                             "music from the target's tempo")


class ClosedLoopOut(_Out):
    mode: Literal["closed", "open"]
    active: bool = Field(description="readings pace this session (they have arrived and the mode is closed)")


class BackendsOut(_Out):
    generator: str
    planner: str
    evaluator: str


class SessionOut(_Out):
    id: str
    title: str
    created: Time
    updated: Time
    status: Literal["idle", "generating", "complete"]
    active_job: str | None
    segments_done: int
    segments: int
    segment_seconds: float
    duration_s: float
    sample_rate: int
    start: AffectOut
    listener: AffectOut
    target: AffectOut
    preferences: PreferencesOut
    settings: SessionSettingsOut
    backends: BackendsOut
    live: LiveOut
    pacing: PacingOut
    closed_loop: ClosedLoopOut


class SegmentOut(_Out):
    index: int
    created: Time
    start_s: float
    duration_s: float
    waypoint: AffectOut
    listener: AffectOut
    estimated: AffectOut
    score: float
    prompt: str
    attempts: int
    loudness_lufs: float
    audio_url: str


class SegmentDetailOut(SegmentOut):
    record: dict[str, Any] = Field(description="the segment's provenance record (see session.schema.json)")


class ScoresOut(_Out):
    session_id: str
    segments: list[dict[str, Any]]
    summary: dict[str, Any] | None


# -- readings ------------------------------------------------------------------------------------
class ReadingIn(_In):
    heart_rate: float | None = Field(default=None, ge=25, le=250, allow_inf_nan=False, description="bpm")
    hrv_rmssd: float | None = Field(default=None, ge=1, le=300, allow_inf_nan=False, description="ms")
    skin_conductance: float | None = Field(default=None, ge=0.01, le=100, allow_inf_nan=False, description="µS")
    eeg_alpha: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    eeg_beta: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    eeg_theta: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    eeg_alpha_asymmetry: float | None = Field(default=None, ge=-1, le=1, allow_inf_nan=False)


class ReadingsIn(_In):
    readings: list[ReadingIn] = Field(min_length=1, max_length=SERVICE["readings_per_request"])
    baseline: ReadingIn | None = Field(default=None, description="the listener's resting values")


class ReadingsClosedLoopOut(_Out):
    active: bool = Field(description="the readings pace the session")
    waiting: int = Field(description="readings the pacer reads just before the next segment is made")


class ReadingsResultOut(_Out):
    accepted: int
    listener: AffectOut
    contributions: dict[str, dict[str, float]]
    closed_loop: ReadingsClosedLoopOut


class StoredReadingsOut(_Out):
    created: Time
    readings: list[dict[str, float | None]]
    baseline: dict[str, float | None] | None


# -- chat ----------------------------------------------------------------------------------------
class MessageIn(_In):
    text: str = Field(min_length=1, max_length=SERVICE["message_chars"])


class MessageOut(_Out):
    role: Literal["listener", "assistant"]
    text: str
    changes: list[str]
    created: Time


class ChatReplyOut(_Out):
    reply: str
    changes: list[str] = Field(description="one line per change made to the session")
    session: SessionOut


# -- jobs ----------------------------------------------------------------------------------------
class GenerateIn(_In):
    segments: int = Field(default=1, ge=1, le=SERVICE["segments_per_job"])


class JobOut(_Out):
    id: str
    session_id: str | None
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    total: int
    done: int
    progress: float
    error: str | None
    created: Time
    updated: Time


class PlaylistOut(_Out):
    job: JobOut
    report: dict[str, Any] | None = Field(description="report.json once the playlist is written")
    files: list[str] = Field(description="paths for /v1/playlists/{id}/file?path=...")


# -- account -------------------------------------------------------------------------------------
class UserOut(_Out):
    id: int
    name: str
    created: Time


class ErasedOut(_Out):
    erased: bool
    sessions: int


class ExportOut(_Out):
    format: str
    exported: Time
    user: UserOut
    sessions: list[dict[str, Any]]
    jobs: list[JobOut]
    audit: list[dict[str, Any]]
    playlists: list[dict[str, Any]] = Field(description="each playlist job's report and file paths")
    clinical: dict[str, Any] = Field(description="role, consents, access log, programmes, self-reports "
                                     "(docs/clinical.md)")
    profile: dict[str, Any] | None = Field(default=None, description="the listener profile, when one is stored")


class HealthOut(_Out):
    status: str


class ReadyOut(_Out):
    ready: bool
    detail: str
    queued: int
    running: int
    queue_size: int
    workers: str
