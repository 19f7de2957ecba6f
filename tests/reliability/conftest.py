"""Fixtures of the reliability suite: services with chosen limits, fake backends registered by name,
the app served by a real uvicorn (in a thread, or as a ``promptloop serve`` process).

``PROMPTLOOP_SOAK=1`` turns on the long mode: more kill cycles, more requests, more fuzz examples.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))  # reuse the server tests' helpers

from fakes import register_fakes  # noqa: E402
from srv_support import TEST_REGISTRIES, factory_for, warmed_backends  # noqa: E402

from dbs import database_for  # noqa: E402
from promptloop.service.engine import Service, ServiceConfig  # noqa: E402
from promptloop.service.workers import WorkerPool  # noqa: E402
from promptloop.synthesis.base import Generator  # noqa: E402
from promptloop.wiring.builders import Backends  # noqa: E402
from promptloop.wiring.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def shared_backends() -> Backends:
    """The embedded default, loaded and run once for the whole run (fake backends registered)."""
    register_fakes(TEST_REGISTRIES)
    return warmed_backends()


@pytest.fixture
def make_service(tmp_path: Path, shared_backends: Backends) -> Iterator[Callable[..., Service]]:
    """``make(generator=..., settings={...}, **ServiceConfig fields)``: a warmed service."""
    made: list[Service] = []

    def make(data_dir: Path | None = None, generator: Generator | None = None,
             settings: dict[str, Any] | None = None, warm: bool = True, pool: WorkerPool | None = None,
             **config: Any) -> Service:
        data_dir = data_dir or tmp_path / "data"
        config.setdefault("database_url", database_for(data_dir))  # SQLite, or PostgreSQL (tests/dbs.py)
        service = Service(ServiceConfig(data_dir=data_dir, **config), Settings(**(settings or {})), pool=pool,
                          backend_factory=factory_for(shared_backends, generator))
        if warm:
            service.warm_up()
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def make_client(make_service: Callable[..., Service]) -> Iterator[Callable[..., tuple[Service, Any]]]:
    """``make(**service args)`` -> (service, TestClient) over a fresh app."""
    from fastapi.testclient import TestClient

    from promptloop_server import create_app

    opened: list[TestClient] = []

    def make(**kwargs: Any) -> tuple[Service, TestClient]:
        service = make_service(**kwargs)
        client = TestClient(create_app(service, close_service=False))
        client.__enter__()
        opened.append(client)
        return service, client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
