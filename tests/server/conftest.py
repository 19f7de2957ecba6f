"""Fixtures for the server tests: warmed backends shared by every service, services on temporary
data folders, test clients with two users, and a real ``promptloop serve`` process on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_log import pytest_runtest_makereport, pytest_runtest_setup  # noqa: F401 - hooks: a failure shows the live server's log
from srv_support import (
    Api,
    LiveServer,
    factory_for,
    start_server,
    stop_server,
    users_add,
    warmed_backends,
)

from dbs import database_for
from promptloop.service.engine import Service, ServiceConfig
from promptloop.synthesis.base import Generator
from promptloop.wiring.builders import Backends
from promptloop_server import create_app


@pytest.fixture(scope="session")
def shared_backends() -> Backends:
    """The embedded default, loaded and run once for the whole test session."""
    return warmed_backends()


@pytest.fixture
def make_service(tmp_path: Path, shared_backends: Backends) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(data_dir: Path | None = None, generator: Generator | None = None, **config: Any) -> Service:
        data_dir = data_dir or tmp_path / "data"
        config.setdefault("database_url", database_for(data_dir))  # SQLite, or PostgreSQL (tests/dbs.py)
        service = Service(ServiceConfig(data_dir=data_dir, **config), backend_factory=factory_for(shared_backends, generator))
        service.warm_up()
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    return make_service()


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service, close_service=False)) as c:
        yield c


@pytest.fixture
def alice(service: Service, client: TestClient) -> Api:
    return Api(client, service.create_user("alice")[1])


@pytest.fixture
def bob(service: Service, client: TestClient) -> Api:
    return Api(client, service.create_user("bob")[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("live") / "data")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def live_tokens(live_server: LiveServer) -> dict[str, str]:
    """alice: the token `promptloop serve` printed on its empty store; bob: from `promptloop users add`."""
    return {"alice": live_server.token, "bob": users_add(live_server.data_dir, "bob")}


@pytest.fixture(params=["testclient", "uvicorn"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Api, Api]]:
    """(client, alice, bob) through FastAPI's test client or a real uvicorn process on loopback."""
    import httpx

    if request.param == "testclient":
        service = request.getfixturevalue("service")
        client = request.getfixturevalue("client")
        yield client, Api(client, service.create_user("alice")[1]), Api(client, service.create_user("bob")[1])
    else:
        live = request.getfixturevalue("live_server")
        tokens = request.getfixturevalue("live_tokens")
        with httpx.Client(base_url=live.base, timeout=30) as client:
            yield client, Api(client, tokens["alice"]), Api(client, tokens["bob"])
