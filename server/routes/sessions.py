"""/v1/sessions: create, read, update, delete; readings, chat, segments, audio, provenance, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from promptloop.acquisition.affect import Affect, parse_affect
from promptloop.representation.preferences import Preferences
from promptloop.service.engine import Service
from promptloop.service.files import data_vault

from ..deps import CurrentUser, ServiceDep
from ..schemas import (
    AffectIn,
    ChatReplyOut,
    ErrorOut,
    GenerateIn,
    JobOut,
    MessageIn,
    MessageOut,
    PreferencesIn,
    ReadingsIn,
    ReadingsResultOut,
    ScoresOut,
    SegmentDetailOut,
    SegmentOut,
    SessionCreate,
    SessionOut,
    SessionPatch,
    StoredReadingsOut,
    ValidationErrorOut,
)
from ..sealed import sealed_response

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

E401 = {401: {"model": ErrorOut, "description": "missing or invalid token"}}
E404 = {404: {"model": ErrorOut, "description": "no such object for this user"}}
E409 = {409: {"model": ErrorOut, "description": "the session's state forbids it"}}
E422 = {422: {"model": ValidationErrorOut, "description": "invalid input"}}
E429 = {429: {"model": ErrorOut, "description": "the generation queue is full; see Retry-After",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}}}
E503 = {503: {"model": ErrorOut, "description": "a backend is not usable here"}}
AUDIO = {200: {"content": {"audio/wav": {}, "audio/flac": {}}, "description": "audio (range requests honoured)"},
         206: {"content": {"audio/wav": {}, "audio/flac": {}}, "description": "part of the audio"},
         416: {"description": "range not satisfiable"}}

SessionId = Annotated[str, Path(description="a session id from POST /v1/sessions")]
SegmentIndex = Annotated[int, Path(ge=0, le=63)]
Format = Annotated[Literal["wav", "flac"], Query()]


def _affect(value: str | AffectIn) -> Affect:
    return parse_affect(value) if isinstance(value, str) else Affect(value.valence, value.arousal)


def _preferences(p: PreferencesIn) -> Preferences:
    return Preferences.build(p.prefer, p.avoid, genres=p.genres, gentle=p.gentle,
                             loudness_ceiling_lufs=p.loudness_ceiling_lufs, tempo_range_bpm=p.tempo_range_bpm)


@router.post("", status_code=201, response_model=SessionOut, responses={**E401, **E409, **E422, **E503})
def create_session(body: SessionCreate, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Start a session: where the listener is, where to lead, what they like; no audio yet."""
    return service.create_session(
        user, start=_affect(body.start), target=_affect(body.target), preferences=_preferences(body.preferences),
        title=body.title, generator=body.generator, planner=body.planner, evaluator=body.evaluator,
        segments=body.segments, segment_seconds=body.segment_seconds, seed=body.seed, candidates=body.candidates,
        max_retries=body.max_retries, threshold=body.threshold, crossfade_seconds=body.crossfade_seconds,
        lookahead_seconds=body.lookahead_seconds, pacing=body.pacing,
    )


@router.get("", response_model=list[SessionOut], responses={**E401, **E422})
def list_sessions(user: CurrentUser, service: ServiceDep, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                  offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> list[dict[str, Any]]:
    return service.list_sessions(user, limit, offset)


@router.get("/{session_id}", response_model=SessionOut, responses={**E401, **E404})
def get_session(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    return service.get_session(user, session_id)


@router.patch("/{session_id}", response_model=SessionOut, responses={**E401, **E404, **E422})
def update_session(session_id: SessionId, body: SessionPatch, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Change the target or the preferences; the next segment follows them."""
    return service.update_session(
        user, session_id, title=body.title,
        target=_affect(body.target) if body.target is not None else None,
        preferences=_preferences(body.preferences) if body.preferences is not None else None,
    )


@router.delete("/{session_id}", status_code=204, responses={**E401, **E404})
def delete_session(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> Response:
    """Delete the session with its segments, readings, messages, jobs and audio files."""
    service.delete_session(user, session_id)
    return Response(status_code=204)


@router.post("/{session_id}/generate", status_code=202, response_model=JobOut,
             responses={**E401, **E404, **E409, **E422, **E429})
def generate(session_id: SessionId, user: CurrentUser, service: ServiceDep, body: GenerateIn | None = None) -> dict[str, Any]:
    """Queue a job that adds the next segment(s); follow it at /v1/jobs/{id} or the events stream."""
    return service.generate(user, session_id, (body or GenerateIn()).segments)


@router.post("/{session_id}/readings", response_model=ReadingsResultOut, responses={**E401, **E404, **E422})
def add_readings(session_id: SessionId, body: ReadingsIn, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Physiological readings (one or a batch): they move the listener estimate the next segment meets.
    Stored encrypted; never logged."""
    return service.add_readings(
        user, session_id, [r.model_dump(exclude_none=True) for r in body.readings],
        body.baseline.model_dump(exclude_none=True) if body.baseline else None,
    )


@router.get("/{session_id}/readings", response_model=list[StoredReadingsOut], responses={**E401, **E404})
def list_readings(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> list[dict[str, Any]]:
    """The readings stored for the session (an audited read of listener data)."""
    return service.list_readings(user, session_id)


@router.post("/{session_id}/messages", response_model=ChatReplyOut, responses={**E401, **E404, **E422, **E503})
def post_message(session_id: SessionId, body: MessageIn, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """A chat message from the listener: the planner interprets it, the next segment reflects it, and
    the reply says what changed."""
    return service.post_message(user, session_id, body.text)


@router.get("/{session_id}/messages", response_model=list[MessageOut], responses={**E401, **E404})
def list_messages(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> list[dict[str, Any]]:
    """The chat transcript (an audited read of listener data)."""
    return service.list_messages(user, session_id)


@router.get("/{session_id}/segments", response_model=list[SegmentOut], responses={**E401, **E404})
def list_segments(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> list[dict[str, Any]]:
    return service.list_segments(user, session_id)


@router.get("/{session_id}/segments/{index}", response_model=SegmentDetailOut, responses={**E401, **E404, **E422})
def get_segment(session_id: SessionId, index: SegmentIndex, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    return service.get_segment(user, session_id, index)


def _audio(service: Service, request: Request, path: FilePath, fmt: str, name: str) -> Response:
    """The plain audio of a sealed file (the listener's own), ranges honoured."""
    return sealed_response(data_vault(service.config.data_dir), path, request, f"audio/{fmt}", f"{name}.{fmt}",
                           headers={"Cache-Control": "private, no-store"})


@router.get("/{session_id}/segments/{index}/audio", response_class=FileResponse,
            responses={**AUDIO, **E401, **E404, **E422})
def segment_audio(session_id: SessionId, index: SegmentIndex, request: Request, user: CurrentUser, service: ServiceDep,
                  format: Format = "wav") -> Response:
    """One segment's audio as chosen (with its crossfade lead-in), WAV or FLAC."""
    return _audio(service, request, service.audio_file(user, session_id, index, format), format, f"segment-{index:02d}")


@router.get("/{session_id}/audio", response_class=FileResponse, responses={**AUDIO, **E401, **E404, **E422})
def session_audio(session_id: SessionId, request: Request, user: CurrentUser, service: ServiceDep,
                  format: Format = "wav") -> Response:
    """The whole session so far, stitched and limited, WAV or FLAC."""
    return _audio(service, request, service.audio_file(user, session_id, None, format), format, "session")


@router.get("/{session_id}/midi", response_class=FileResponse,
            responses={200: {"content": {"audio/midi": {}}, "description": "the score as a standard MIDI file"},
                       **E401, **E404, **E422})
def session_midi(session_id: SessionId, request: Request, user: CurrentUser, service: ServiceDep) -> Response:
    """The session's score so far (``session.mid``), where its generator composes one."""
    return sealed_response(data_vault(service.config.data_dir), service.midi_file(user, session_id), request,
                           "audio/midi", "session.mid", headers={"Cache-Control": "private, no-store"})


@router.get("/{session_id}/provenance", response_model=dict[str, Any], responses={**E401, **E404})
def provenance(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """The session's session.json (schema: docs/session.schema.json)."""
    return service.provenance(user, session_id)


@router.get("/{session_id}/scores", response_model=ScoresOut, responses={**E401, **E404})
def scores(session_id: SessionId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Per segment: waypoint, estimate, score and each attempt's best score; and the summary."""
    record = service.provenance(user, session_id)
    segments = [{"index": s["index"], "score": s["score"], "waypoint": s["waypoint"], "estimated": s["estimated"],
                 "attempts": [a["candidates"][a["best"]]["score"] for a in s["attempts"]]}
                for s in record["segments"]]
    return {"session_id": session_id, "segments": segments, "summary": record["summary"]}


@router.get("/{session_id}/events", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **E401, **E404})
async def events(session_id: SessionId, request: Request, user: CurrentUser, service: ServiceDep) -> StreamingResponse:
    """Server-sent events: the session state first, then job, progress, segment and message events."""
    first = await asyncio.to_thread(service.get_session, user, session_id)  # 404 before streaming
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)

    def put(event: dict[str, Any]) -> None:
        if queue.full():
            queue.get_nowait()  # a slow reader loses the oldest event, never blocks a worker
        queue.put_nowait(event)

    unsubscribe = service.broker.subscribe(session_id, lambda event: loop.call_soon_threadsafe(put, event))
    closing: asyncio.Event = request.app.state.closing

    async def stream() -> AsyncIterator[str]:
        try:
            yield _sse({"type": "state", "session": json.loads(json.dumps(first, default=_iso))})
            while not closing.is_set():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                yield _sse(event)
        finally:
            unsubscribe()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _iso(value: Any) -> str:
    return value.isoformat() + "Z"


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, default=_iso)}\n\n"
