"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from promptloop.errors import Unauthorized
from promptloop.service.engine import Service
from promptloop.service.store import User

COOKIE = "promptloop_token"
_bearer = HTTPBearer(auto_error=False, description="a token from `promptloop users add NAME`")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False,
                       description="set by POST /v1/auth/cookie; accepted for GET requests only (audio, events)")
SAFE_METHODS = frozenset({"GET", "HEAD"})


# Dependencies that only read memory are ``async``: FastAPI runs a plain ``def`` dependency on a
# request thread of its own, a thread hand-off per dependency per request (docs/benchmarks.md).
async def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[Service, Depends(get_service)]


def current_user(
    request: Request,
    service: ServiceDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """The user of the bearer token.  The cookie is honoured only for GET/HEAD, so a page on
    another site can never make a listener's browser change anything (no CSRF surface)."""
    if bearer is not None:
        return service.authenticate(bearer.credentials)
    if cookie is not None and request.method in SAFE_METHODS:
        return service.authenticate(cookie)
    raise Unauthorized("a valid bearer token is required")


CurrentUser = Annotated[User, Depends(current_user)]
