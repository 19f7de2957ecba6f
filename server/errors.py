"""promptloop errors → JSON responses.

Every 422 has FastAPI's validation shape (``{"detail": [{"loc", "msg", "type"}]}``), whether pydantic
or the core refused the input; every other error is ``{"detail": "one line"}``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

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
from promptloop.service.store import database_fault

log = logging.getLogger("promptloop.server")


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


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    """Every documented path (as a pattern) with all its methods, from the app's own OpenAPI."""
    cached = getattr(app.state, "path_methods", None)
    if cached is None:
        cached = []
        for template, operations in app.openapi()["paths"].items():
            methods = {m.upper() for m in operations}
            cached.append((compile_path(template)[0], methods | ({"HEAD"} if "GET" in methods else set())))
        app.state.path_methods = cached
    return cached  # type: ignore[no-any-return]


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTP errors, except that a 405 names every method of the path in ``Allow``
    (Starlette names only those of the first route that matched the path)."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = {m for pattern, allowed in _path_methods(request.app) if pattern.match(request.scope["path"])
                   for m in allowed}
        if methods:
            headers["Allow"] = ", ".join(sorted(methods))
    return await http_exception_handler(request, StarletteHTTPException(exc.status_code, exc.detail, headers))


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database refused a write or a read because of its storage: 507 when it is full, 503 when
    it is read-only or out of reach; the transaction was rolled back, so nothing is half-written."""
    assert isinstance(exc, DBAPIError)
    fault = database_fault(exc)
    if fault is None:
        # A bug: say which error, never its parameters (they can hold listener data) nor the DETAIL
        # line that follows the first (PostgreSQL repeats the offending values there).
        orig = getattr(exc, "orig", exc)
        code = getattr(orig, "sqlstate", None) or ""
        log.error("database error on %s %s: %s %s %s", request.method, request.url.path, type(orig).__name__, code,
                  str(orig).splitlines()[0] if str(orig) else "")
        return JSONResponse({"detail": "internal error"}, status_code=500)
    status, detail = fault
    headers = {"Retry-After": "30"} if status == 503 else {}
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PromptloopError, promptloop_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DBAPIError, database_error)
