"""The bounded generation queue: 429 with Retry-After when full, cancel frees the slot, deadlines."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from srv_support import Api, GatedGenerator

from promptloop_server import create_app


@pytest.fixture
def gated(make_service):
    generator = GatedGenerator()
    generator.gate.set()  # the warm-up at start goes through
    service = make_service(generator=generator, queue_size=2, workers=1, job_deadline_s=30)
    generator.gate.clear()
    generator.calls = 0
    with TestClient(create_app(service, close_service=False)) as client:
        yield service, generator, Api(client, service.create_user("alice")[1])
    generator.gate.set()


def _until(predicate, timeout: float = 120.0) -> None:  # a bound on waiting, not a timing claim
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_full_queue_answers_429_with_retry_after_and_accepted_jobs_finish(gated) -> None:
    service, generator, alice = gated
    sessions = [alice.new_session(segments=1)["id"] for _ in range(4)]
    first = alice.post(f"/v1/sessions/{sessions[0]}/generate").json()
    _until(lambda: generator.calls == 1)  # the one worker is busy with it
    queued = [alice.post(f"/v1/sessions/{sid}/generate").json() for sid in sessions[1:3]]
    assert [j["status"] for j in queued] == ["queued", "queued"]
    assert alice.client.get("/readyz").status_code == 503  # saturated, and says so

    # refused at once, not after waiting for a slot: the one worker is still held by the closed gate
    refused = alice.post(f"/v1/sessions/{sessions[3]}/generate")
    assert generator.calls == 1 and not generator.gate.is_set()
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "queue is full" in refused.json()["detail"]
    assert alice.get("/v1/jobs").json().__len__() == 3  # the refused request left no job behind

    generator.gate.set()
    for job in [first, *queued]:
        assert alice.wait_job(job["id"])["status"] == "succeeded"
    assert alice.client.get("/readyz").status_code == 200
    assert alice.post(f"/v1/sessions/{sessions[3]}/generate").status_code == 202


def test_cancelling_a_queued_job_frees_its_slot_at_once(gated) -> None:
    service, generator, alice = gated
    sessions = [alice.new_session(segments=1)["id"] for _ in range(4)]
    alice.post(f"/v1/sessions/{sessions[0]}/generate")
    _until(lambda: generator.calls == 1)
    waiting = [alice.post(f"/v1/sessions/{sid}/generate").json() for sid in sessions[1:3]]
    assert alice.post(f"/v1/sessions/{sessions[3]}/generate").status_code == 429
    cancelled = alice.post(f"/v1/jobs/{waiting[0]['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert alice.post(f"/v1/sessions/{sessions[3]}/generate").status_code == 202
    generator.gate.set()


def test_cancelling_a_running_job_stops_it_and_keeps_the_session_usable(gated) -> None:
    service, generator, alice = gated
    sid = alice.new_session(segments=3, candidates=1, max_retries=0)["id"]
    job = alice.post(f"/v1/sessions/{sid}/generate", json={"segments": 3}).json()
    _until(lambda: generator.calls == 1)
    assert alice.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    generator.gate.set()  # the running attempt returns; the job stops before the next step
    done = alice.wait_job(job["id"])
    assert done["status"] == "cancelled" and done["done"] <= 1
    assert service.pool.wait_idle(60)  # the worker lets go of the job just after its row says cancelled
    left = alice.get(f"/v1/sessions/{sid}").json()
    assert left["segments_done"] == done["done"] and left["status"] == "idle"
    assert alice.generate(sid)["status"] == "succeeded"  # and it continues


def test_a_job_past_its_deadline_fails_and_the_worker_serves_others(make_service) -> None:
    generator = GatedGenerator()
    generator.gate.set()
    service = make_service(generator=generator, queue_size=2, workers=1, job_deadline_s=0.5)
    generator.gate.clear()
    generator.calls = 0
    with TestClient(create_app(service, close_service=False)) as client:
        alice = Api(client, service.create_user("alice")[1])
        stuck, other = alice.new_session(segments=1)["id"], alice.new_session(segments=1)["id"]
        hung = alice.post(f"/v1/sessions/{stuck}/generate").json()  # the generator never returns
        _until(lambda: generator.calls == 1)
        job = alice.wait_job(hung["id"], timeout=30)
        assert job["status"] == "failed" and "deadline" in job["error"]
        assert alice.get(f"/v1/sessions/{stuck}").json()["segments_done"] == 0
        generator.gate.set()
        service.config.job_deadline_s = 30
        assert alice.generate(other)["status"] == "succeeded"
        assert client.get("/readyz").status_code == 200


def test_a_job_that_raises_past_its_handlers_is_reported_and_the_worker_serves_the_next() -> None:
    """With one worker, an exception that escaped a job's own error handling ended the worker's thread
    and every later job stayed queued for ever (the live server stopped generating)."""
    import threading

    from promptloop.service.workers import InProcessPool

    reported: list[tuple[str, str]] = []
    pool = InProcessPool(workers=1, queue_size=4, on_abandon=lambda job_id, reason: reported.append((job_id, reason)))
    served = threading.Event()

    def broken(_ctx) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("the handler itself failed")

    try:
        pool.submit("j_broken", broken, deadline_s=60)
        pool.submit("j_next", lambda _ctx: served.set(), deadline_s=60)
        assert served.wait(30), "the next job never ran: the worker died with the broken one"
        assert reported == [("j_broken", "RuntimeError: the handler itself failed")]
    finally:
        pool.shutdown()
