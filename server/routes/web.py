"""The chat page and the therapist dashboard: static HTML, CSS and JavaScript, no build step."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static"
_TYPES = {"chat.js": "text/javascript", "chat.css": "text/css", "chat-clinical.js": "text/javascript",
          "chat-readings.js": "text/javascript", "chat-profile.js": "text/javascript",
          "chat-clinical.css": "text/css", "therapist.js": "text/javascript", "therapist.css": "text/css"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/chat")


@router.get("/chat")
def chat_page() -> FileResponse:
    return FileResponse(STATIC / "chat.html", media_type="text/html", headers={"Cache-Control": "no-store"})


@router.get("/therapist")
def therapist_page() -> FileResponse:
    return FileResponse(STATIC / "therapist.html", media_type="text/html", headers={"Cache-Control": "no-store"})


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _TYPES:
        return Response(status_code=404)
    return FileResponse(STATIC / name, media_type=_TYPES[name])
