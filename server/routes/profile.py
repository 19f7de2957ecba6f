"""/v1/me/profile: the listener sees and edits what the system learned about them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.errors import InputError
from promptloop.representation.profile import ListenerProfile

from ..deps import CurrentUser, ServiceDep
from .sessions import E401

router = APIRouter(prefix="/v1", tags=["profile"])

_Terms = Field(default_factory=list, max_length=24)


class ProfileIn(BaseModel):
    """An edited profile; every field optional, unknown fields refused."""

    model_config = ConfigDict(extra="forbid")

    triggers: list[str] = _Terms
    rejected: list[str] = _Terms
    # (low, high) as a two-item list: OpenAPI 3.0 tools read a list schema, not a tuple's
    comfortable_tempo_bpm: list[float] | None = Field(default=None, min_length=2, max_length=2)
    comfortable_loudness_lufs: list[float] | None = Field(default=None, min_length=2, max_length=2)
    followed_tempo_bpm: list[float] | None = Field(default=None, min_length=2, max_length=2)
    calming_loudness_lufs: float | None = Field(default=None, ge=-60.0, le=-5.0)
    follow: float | None = Field(default=None, ge=0.0, le=2.0)
    lead: float | None = Field(default=None, ge=0.1, le=1.5)
    arrive: float | None = Field(default=None, ge=0.1, le=1.0)
    moved_by: dict[str, float] = Field(default_factory=dict, max_length=16)
    response: list[list[float]] = Field(default_factory=list, max_length=21)
    offsets: list[list[float]] = Field(default_factory=list, max_length=12)
    notes: str = Field(default="", max_length=500)


class ProfileOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    sessions: int = Field(description="sessions that contributed to the profile")
    triggers: list[str] = Field(description="sounds that worked against the session's direction for this listener")
    rejected: list[str] = Field(description="sounds the listener removed or reported unpleasant")
    comfortable_tempo_bpm: list[float] | None = Field(
        min_length=2, max_length=2, description="set by the listener: every new session's tempo stays inside it")
    comfortable_loudness_lufs: list[float] | None = Field(
        min_length=2, max_length=2, description="set by the listener: its top caps every new session's loudness")
    followed_tempo_bpm: list[float] | None = Field(
        min_length=2, max_length=2, description="learned: the tempi the listener followed (information, not a limit)")
    calming_loudness_lufs: float | None = Field(
        description="learned: calming music louder than this did not calm the listener (caps calming sessions only)")
    follow: float | None = Field(description="how closely the listener followed the music (1: as modelled)")
    lead: float | None = Field(description="how far ahead of the listener the closed loop may lead")
    arrive: float | None = Field(description="share of a session by which the closed loop may reach the target")
    moved_by: dict[str, float]
    response: list[list[float]] = Field(
        description="[waypoint arousal, arousal the listener headed for under it], per 0.1 of arousal")
    offsets: list[list[float]] = Field(
        description="[target arousal, waypoint arousal offset that brought the listener closest to it]")
    notes: str


@router.get("/me/profile", response_model=ProfileOut, responses={**E401})
def get_profile(user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """What was learned about this listener; new sessions use it as a prior (audited)."""
    return service.get_profile(user).model_dump()


@router.put("/me/profile", response_model=ProfileOut, responses={**E401})
def put_profile(body: ProfileIn, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Replace the profile with the listener's edited version (validated; audited)."""
    current = service.get_profile(user)
    try:
        edited = ListenerProfile.model_validate({**body.model_dump(), "sessions": current.sessions})
    except ValidationError as exc:  # a range the wrong way round, an unknown attribute: the listener's input
        first = exc.errors()[0]
        raise InputError(f"profile: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    return service.put_profile(user, edited).model_dump()
