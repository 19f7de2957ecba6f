"""`--workers ray`: generation on Ray actors (one loaded generator each) behind the same bounded
queue; the API behaves as with the in-process pool."""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient
from srv_support import Api

from dbs import database_for
from promptloop.service.engine import Service, ServiceConfig
from promptloop.wiring.settings import Settings
from promptloop_server import create_app

ray = pytest.importorskip("ray", reason="pip install 'promptloop[ray]'")


@pytest.fixture(scope="module")
def ray_service(tmp_path_factory):
    from promptloop.service.ray_pool import RayPool

    pool = RayPool(workers=1, queue_size=1)
    data = tmp_path_factory.mktemp("ray")
    service = Service(ServiceConfig(data_dir=data, database_url=database_for(data), queue_size=1), pool=pool)
    service.warm_up()
    assert service.ready, service.ready_detail
    yield service
    service.close()


@pytest.fixture
def alice(ray_service):
    with TestClient(create_app(ray_service, close_service=False)) as client:
        yield Api(client, ray_service.create_user(f"u{time.monotonic_ns()}")[1])


def test_segments_are_generated_by_ray_actors(ray_service, alice: Api) -> None:
    s = alice.new_session(segments=2)
    alice.generate(s["id"], segments=2)
    prov = alice.get(f"/v1/sessions/{s['id']}/provenance").json()
    generator = prov["backends"]["generator"]
    assert generator["name"] == Settings().generator and generator["workers"] == "ray"  # the embedded default
    assert generator["actor_pids"] and os.getpid() not in generator["actor_pids"]
    audio = alice.get(f"/v1/sessions/{s['id']}/audio")
    assert audio.status_code == 200 and len(audio.content) == 44 + 2 * int(5.0 * 32000)
    assert alice.client.get("/readyz").json()["workers"] == "ray"


def test_full_queue_answers_429_and_cancel_frees_it(ray_service, alice: Api) -> None:
    slow = {"segments": 8, "segment_seconds": 30.0, "candidates": 4, "max_retries": 0, "crossfade_seconds": 1.0}
    a, b, c = (alice.new_session(**slow)["id"] for _ in range(3))
    running = alice.post(f"/v1/sessions/{a}/generate", json={"segments": 8}).json()
    deadline = time.monotonic() + 30
    while alice.get(f"/v1/jobs/{running['id']}").json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    waiting = alice.post(f"/v1/sessions/{b}/generate").json()
    refused = alice.post(f"/v1/sessions/{c}/generate")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert alice.post(f"/v1/jobs/{waiting['id']}/cancel").json()["status"] == "cancelled"
    assert alice.post(f"/v1/jobs/{running['id']}/cancel").status_code == 200
    assert alice.wait_job(running["id"], timeout=120)["status"] == "cancelled"
    assert alice.post(f"/v1/sessions/{c}/generate", json={"segments": 1}).status_code == 202
