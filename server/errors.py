"""promptloop errors → JSON responses.

Every 422 has FastAPI's validation shape (``{"detail": [{"loc", "msg", "type"}]}``), whether pydantic
or the core refused the input; every other error is ``{"detail": "one line"}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from promptloop.errors import BackendUnavailable, InputError, PromptloopError, StorageError
from promptloop.service.errors import QueueFull, ServiceError, Unauthorized
from promptloop.service.limits import RateLimited


def _status(exc: PromptloopError) -> int:
    if isinstance(exc, ServiceError):
        return exc.status
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, BackendUnavailable):
        return 503
    if isinstance(exc, StorageError):
        return 507
    return 500


async def promptloop_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PromptloopError)
    status = _status(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, (QueueFull, RateLimited)):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if status == 422:
        body: dict[str, object] = {"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]}
    else:
        body = {"detail": str(exc) if status < 500 or status in (503, 507) else "internal error"}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PromptloopError, promptloop_error)
