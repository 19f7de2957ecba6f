"""The FastAPI application factory.  The server is an edge: routes, schemas and dependencies; all
music and data logic lives in :mod:`promptloop.service`."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from promptloop._version import __version__
from promptloop.service.engine import Service
from promptloop.service.limits import RequestGuard

from . import errors
from .metrics import Metrics
from .routes import account, clinical, consent, health, jobs, playlists, profile, sessions, web

STATIC = Path(__file__).parent / "static"


def _freeze_heap() -> None:
    """Move every object alive now out of the cyclic collector's reach (``gc.freeze``).  The loaded
    backends are some 245,000 long-lived objects; a full collection walked them all (about 190 ms
    here), pausing every request now and then (docs/benchmarks.md, server load).  Garbage is collected
    first so that none is kept for good."""
    gc.collect()
    gc.freeze()


def _warm_up(service: Service, freeze: bool, settled: threading.Event) -> None:
    try:
        service.warm_up()
        if freeze:
            _freeze_heap()
    finally:
        settled.set()


def create_app(service: Service, *, warm_up: bool = True, close_service: bool = True,
               freeze_heap: bool = False) -> FastAPI:
    """An app around ``service``.  ``warm_up`` loads the backends in the background at start
    (``/readyz`` answers 503 until done); ``close_service`` stops its workers at shutdown;
    ``freeze_heap`` (for a server process, not a test process that makes many apps) freezes the heap
    once the backends are loaded."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.closing = asyncio.Event()
        # /readyz waits for this too: the heap freeze's full collection pauses every thread (about
        # 350 ms with the backends loaded), and a client let in before it met that pause
        app.state.settled = settled = threading.Event()
        if warm_up and not service.ready:
            threading.Thread(target=_warm_up, args=(service, freeze_heap, settled), name="promptloop-warm-up",
                             daemon=True).start()
        else:
            if freeze_heap:
                _freeze_heap()
            settled.set()
        try:
            yield
        finally:
            app.state.closing.set()
            if close_service:
                service.close()

    app = FastAPI(
        title="promptloop",
        version=__version__,
        summary="Therapeutic music that adapts to a listener: sessions, chat, readings, jobs.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    app.state.metrics = Metrics(service)
    app.state.closing = asyncio.Event()
    app.add_middleware(app.state.metrics.middleware)  # a factory of ASGI apps: app -> timed app
    app.add_middleware(RequestGuard, limits=service.limits)  # size and rate bounds before any route (outermost)
    errors.install(app)
    for module in (health, account, profile, sessions, consent, clinical, playlists, jobs, web):
        app.include_router(module.router)
    return app
