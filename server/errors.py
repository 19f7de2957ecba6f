"""promptloop errors → JSON responses.

Every 422 has FastAPI's validation shape (``{"detail": [{"loc", "msg", "type"}]}``), whether pydantic
or the core refused the input; every other error is ``{"detail": "one line"}``.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from promptloop.errors import (
    BackendUnavailable,
    InputError,
    PromptloopError,
    QueueFull,
    RateLimited,
    ServiceError,
    StorageError,
    Unauthorized,
)


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


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 body, except that inputs JSON cannot carry (NaN, Infinity) come back as
    text: echoing them as numbers would turn a refused request into a 500."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _finite(jsonable_encoder(exc.errors()))}, status_code=422)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def install(app: FastAPI) -> None:
    app.add_exception_handler(PromptloopError, promptloop_error)
    app.add_exception_handler(RequestValidationError, validation_error)
