"""/v1/me: who am I, export everything, erase everything; the web page's cookie."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..deps import COOKIE, CurrentUser, ServiceDep
from ..schemas import ErasedOut, ExportOut, UserOut
from .sessions import E401

router = APIRouter(prefix="/v1", tags=["account"])


@router.get("/me", response_model=UserOut, responses={**E401})
async def me(user: CurrentUser) -> dict[str, Any]:  # reads the loaded user only: no request thread
    return {"id": user.id, "name": user.name, "created": user.created}


@router.get("/me/export", response_model=ExportOut, responses={**E401})
def export(user: CurrentUser, service: ServiceDep) -> dict[str, Any]:
    """Everything stored for this account, decrypted, as JSON (audited)."""
    return service.export(user)


@router.delete("/me", response_model=ErasedOut, responses={**E401})
def erase(user: CurrentUser, service: ServiceDep, response: Response) -> dict[str, Any]:
    """Erase the account: every session, segment, reading, message, job, token and audio file (and
    the browser's login cookie, which held the erased token)."""
    erased = {"erased": True, **service.erase(user)}
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return erased


@router.post("/auth/cookie", status_code=204, responses={**E401})
def auth_cookie(request: Request, user: CurrentUser) -> Response:
    """Give the browser an HttpOnly, same-site cookie with the bearer token, so the page's audio
    element and event stream (which cannot send headers) are authenticated; GET requests only."""
    auth = request.headers.get("authorization", "")
    token = auth.split(" ", 1)[1].strip() if " " in auth else ""
    response = Response(status_code=204)
    if token:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/", max_age=7 * 24 * 3600)
    return response
