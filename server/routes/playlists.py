"""/v1/playlists: a playlist spec (docs/playlists.md) runs as a job; its report and files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import FileResponse, Response

from promptloop.playlist.spec import PlaylistSpec
from promptloop.service.playlists import SERVED_SUFFIXES

from ..deps import CurrentUser, ServiceDep
from ..schemas import JobOut, PlaylistOut
from ..sealed import sealed_response
from .sessions import E401, E404, E422, E429

router = APIRouter(prefix="/v1/playlists", tags=["playlists"])
JobId = Annotated[str, Path(description="the playlist's job id")]
FILES = {200: {"content": {t: {} for t in sorted(set(SERVED_SUFFIXES.values()))},
               "description": "a file of the playlist (range requests honoured)"},
         206: {"description": "part of the file"}, 416: {"description": "range not satisfiable"}}


@router.post("", status_code=202, response_model=JobOut, responses={**E401, **E422, **E429})
def create_playlist(
    user: CurrentUser, service: ServiceDep,
    spec: Annotated[PlaylistSpec, Body(description="a playlist spec, as in docs/playlists.md")],
) -> dict[str, Any]:
    """Queue a playlist job: tracks for one or more listeners along a planned arc.  Follow it at
    /v1/jobs/{id}; cancel it there.  The body's schema is the spec parser's own model, so the
    published schema is what is validated."""
    return service.playlists.create(user, spec.model_dump(mode="json", exclude_unset=True))


@router.get("/{job_id}", response_model=PlaylistOut, responses={**E401, **E404})
def get_playlist(job_id: JobId, user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """The job, the report once written, and the files made so far."""
    return service.playlists.report(user, job_id)


@router.get("/{job_id}/file", response_class=FileResponse, responses={**FILES, **E401, **E404, **E422})
def playlist_file(job_id: JobId, request: Request, user: CurrentUser, service: ServiceDep,
                  path: Annotated[str, Query(min_length=1, max_length=300, description="a path from `files`")]) -> Response:
    """A track (FLAC/WAV), a playlist (M3U8), the report (JSON, Markdown) or the arc plot (PNG):
    sealed at rest, plain to its owner."""
    file, media_type = service.playlists.file(user, job_id, path)
    return sealed_response(service.vault, file, request, media_type, file.name,
                           headers={"Cache-Control": "private, no-store"})
