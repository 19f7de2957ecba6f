"""Erasing an account while one of its jobs runs: the job ends quietly, the worker keeps serving."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from srv_support import Api, GatedGenerator

from promptloop_server import create_app


def test_account_erased_mid_job_does_not_break_the_worker(make_service) -> None:
    generator = GatedGenerator()
    generator.gate.set()
    service = make_service(generator=generator, workers=1, queue_size=4)
    generator.gate.clear()
    generator.calls = 0
    with TestClient(create_app(service, close_service=False)) as client:
        alice = Api(client, service.create_user("alice")[1])
        bob = Api(client, service.create_user("bob")[1])
        running = alice.post(f"/v1/sessions/{alice.new_session(segments=1)['id']}/generate").json()
        end = time.monotonic() + 60
        while generator.calls == 0:  # the job is inside the model call
            assert time.monotonic() < end, "the job never reached the generator"
            time.sleep(0.02)
        assert alice.client.delete("/v1/me", headers=alice.headers).status_code in (200, 204)
        queued = bob.post(f"/v1/sessions/{bob.new_session(segments=1)['id']}/generate").json()
        generator.gate.set()
        assert bob.wait_job(queued["id"])["status"] == "succeeded"
        assert alice.client.get(f"/v1/jobs/{running['id']}", headers=alice.headers).status_code == 401
