"""Load and limits: every input bounded (422 naming the field), request bodies bounded (413), a burst
of generation requests past the queue (429 at once, accepted jobs finish), per-user request and
generation rates and the per-user quota of generated audio seconds."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import httpx
import pytest
from rel_support import SHORT, Api, serve, until
from srv_support import GatedGenerator

from promptloop.errors import InputError
from promptloop.playlist.spec import MAX_TRACKS, parse_spec
from promptloop.service.engine import LIMITS
from promptloop_server import create_app

LONG = "x" * 5000

# (what, endpoint, body, the field the 422 must name).  "{s}" is a session of the caller.
SESSION_BOUNDS: list[tuple[str, dict[str, Any], str]] = [
    ("segments per session", {"segments": 65}, "segments"),
    ("segments per session", {"segments": 0}, "segments"),
    ("segment seconds", {"segment_seconds": 30.5}, "segment_seconds"),
    ("segment seconds", {"segment_seconds": 1.0}, "segment_seconds"),
    ("candidates", {"candidates": 9}, "candidates"),
    ("retries", {"max_retries": 6}, "max_retries"),
    ("threshold", {"threshold": 1.5}, "threshold"),
    ("crossfade", {"crossfade_seconds": 4.5}, "crossfade_seconds"),
    ("seed", {"seed": 2**32}, "seed"),
    ("seed", {"seed": -1}, "seed"),
    ("title length", {"title": LONG}, "title"),
    ("affect range", {"start": {"valence": 1.5, "arousal": 0}}, "start"),
    ("affect word length", {"target": LONG}, "target"),
    ("preference count", {"preferences": {"prefer": ["piano"] * 25}}, "prefer"),
    ("preference length", {"preferences": {"avoid": [LONG]}}, "avoid"),
    ("loudness ceiling", {"preferences": {"loudness_ceiling_lufs": 0}}, "loudness_ceiling_lufs"),
    ("backend name", {"generator": "../../etc"}, "generator"),
]
PER_SESSION_BOUNDS: list[tuple[str, str, str, Any, str]] = [
    ("readings per request", "post", "/v1/sessions/{s}/readings",
     {"readings": [{"heart_rate": 70}] * (LIMITS["readings_per_request"] + 1)}, "readings"),
    ("no readings", "post", "/v1/sessions/{s}/readings", {"readings": []}, "readings"),
    ("reading range", "post", "/v1/sessions/{s}/readings", {"readings": [{"heart_rate": 400}]}, "heart_rate"),
    ("message length", "post", "/v1/sessions/{s}/messages", {"text": "a" * (LIMITS["message_chars"] + 1)}, "text"),
    ("empty message", "post", "/v1/sessions/{s}/messages", {"text": ""}, "text"),
    ("segments per job", "post", "/v1/sessions/{s}/generate", {"segments": LIMITS["segments_per_job"] + 1}, "segments"),
    ("patched title", "patch", "/v1/sessions/{s}", {"title": LONG}, "title"),
    ("page size", "get", "/v1/sessions?limit=1000", None, "limit"),
    ("segment index", "get", "/v1/sessions/{s}/segments/64", None, "index"),
]


def _gated() -> GatedGenerator:
    """A generator the test releases; open while the service warms up, so warm-up does not wait."""
    generator = GatedGenerator()
    generator.gate.set()
    return generator


@pytest.fixture
def alice(make_client):
    service, client = make_client()
    return Api(client, service.create_user("alice")[1])


@pytest.mark.parametrize(("what", "body", "field"), SESSION_BOUNDS, ids=[f"{w}:{f}" for w, _, f in SESSION_BOUNDS])
def test_session_inputs_are_bounded(alice: Api, what: str, body: dict[str, Any], field: str) -> None:
    r = alice.post("/v1/sessions", json={**SHORT, **body})
    assert r.status_code == 422, (what, r.status_code, r.text)
    detail = r.json()["detail"]
    assert any(field in [str(x) for x in item["loc"]] and item["msg"] for item in detail), detail
    assert alice.get("/v1/sessions").json() == []  # nothing was created


def test_per_session_inputs_are_bounded(alice: Api) -> None:
    s = alice.new_session()["id"]
    for what, method, path, body, field in PER_SESSION_BOUNDS:
        kwargs = {"json": body} if body is not None else {}
        r = getattr(alice, method)(path.format(s=s), **kwargs)
        assert r.status_code == 422, (what, r.status_code, r.text)
        assert any(field in [str(x) for x in item["loc"]] for item in r.json()["detail"]), (what, r.text)
    after = alice.get(f"/v1/sessions/{s}").json()
    assert after["segments_done"] == 0 and after["title"] == "" and alice.get(f"/v1/sessions/{s}/readings").json() == []


def test_non_finite_numbers_are_refused(alice: Api) -> None:
    """JSON has no NaN, but Python's parser accepts the literal: it must still be refused."""
    s = alice.new_session()["id"]
    for path, raw in [("/v1/sessions", '{"segment_seconds": NaN}'),
                      (f"/v1/sessions/{s}/readings", '{"readings": [{"heart_rate": Infinity}]}'),
                      ("/v1/sessions", '{"start": {"valence": NaN, "arousal": 0}}')]:
        r = alice.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.text)


def test_playlist_size_is_bounded() -> None:
    spec = {"tracks": MAX_TRACKS + 1, "track_seconds": 10, "segments_per_track": 2, "start": "sad", "target": "calm",
            "listeners": [{"id": "ana"}]}
    with pytest.raises(InputError, match="tracks"):
        parse_spec(spec)
    with pytest.raises(InputError, match="listeners"):
        parse_spec({**spec, "tracks": 1, "listeners": [{"id": f"l{i}"} for i in range(100)]})


def test_request_bodies_are_bounded(make_client) -> None:
    service, client = make_client(settings={"max_request_bytes": 4096})
    alice = Api(client, service.create_user("alice")[1])
    s = alice.new_session()["id"]
    big = {"readings": [{"heart_rate": 70.0, "hrv_rmssd": 40.0}] * 200}  # ~7 kB, inside the readings bound
    r = alice.post(f"/v1/sessions/{s}/readings", json=big)
    assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold on the bytes actually read
        for _ in range(20):
            yield b" " * 1024

    r = alice.post(f"/v1/sessions/{s}/readings", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert alice.get(f"/v1/sessions/{s}/readings").json() == []
    assert alice.post(f"/v1/sessions/{s}/readings", json={"readings": [{"heart_rate": 70}]}).status_code == 200


def test_a_burst_past_the_queue_gets_429_at_once_and_accepted_jobs_finish(make_service) -> None:
    generator = _gated()
    service = make_service(generator=generator, queue_size=3, workers=1, job_deadline_s=60)
    generator.gate.clear()
    users = [service.create_user(f"u{i}")[1] for i in range(4)]
    with serve(create_app(service, close_service=False)) as base, httpx.Client(base_url=base, timeout=30) as http:
        apis = [Api(http, t) for t in users]
        sessions = [(api, api.new_session(segments=1)["id"]) for api in apis for _ in range(3)]  # 12 > 1 + 3

        def fire(item: tuple[Api, str]) -> tuple[int, float, httpx.Response]:
            api, sid = item
            started = time.perf_counter()
            r = api.post(f"/v1/sessions/{sid}/generate")
            return r.status_code, time.perf_counter() - started, r

        with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
            results = list(pool.map(fire, sessions))
        accepted = [r.json()["id"] for code, _, r in results if code == 202]
        refused = [(t, r) for code, t, r in results if code == 429]
        assert len(accepted) + len(refused) == len(sessions), [c for c, _, _ in results]
        assert 3 <= len(accepted) <= 4  # the queue (3) plus the one worker, never more
        for elapsed, r in refused:
            assert elapsed < 2.0, elapsed  # refused at once, not after waiting for a slot
            assert int(r.headers["retry-after"]) >= 1 and "queue is full" in r.json()["detail"]
        generator.gate.set()
        owners = {r.json()["id"]: api for (api, _), (code, _, r) in zip(sessions, results, strict=True) if code == 202}
        for job_id in accepted:
            assert owners[job_id].wait_job(job_id, timeout=120)["status"] == "succeeded"
        until(lambda: http.get("/readyz").status_code == 200, what="ready again")


def test_per_user_request_rate(make_client) -> None:
    service, client = make_client(settings={"rate_limit_per_minute": 20})
    alice, bob = (Api(client, service.create_user(n)[1]) for n in ("alice", "bob"))
    codes = [alice.get("/v1/sessions").status_code for _ in range(20)]
    assert codes == [200] * 20
    limited = alice.get("/v1/sessions")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "too many requests" in limited.json()["detail"]
    assert bob.get("/v1/sessions").status_code == 200  # one user's burst never starves another
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_per_user_generation_rate(make_client) -> None:
    service, client = make_client(settings={"generate_per_minute": 2})
    alice, bob = (Api(client, service.create_user(n)[1]) for n in ("alice", "bob"))
    sessions = [alice.new_session(segments=1)["id"] for _ in range(3)]
    for sid in sessions[:2]:
        alice.generate(sid)
    r = alice.post(f"/v1/sessions/{sessions[2]}/generate")
    assert r.status_code == 429 and "generation jobs" in r.json()["detail"] and int(r.headers["retry-after"]) >= 1
    assert alice.get("/v1/jobs").json().__len__() == 2  # the refused request left no job
    bob.generate(bob.new_session(segments=1)["id"])


def test_quota_of_generated_audio_seconds(make_client, tmp_path) -> None:
    data = tmp_path / "quota"
    quota = {"audio_quota_seconds": 6.0}
    service, client = make_client(data_dir=data, settings=quota)
    alice, bob = (Api(client, service.create_user(n)[1]) for n in ("alice", "bob"))
    s = alice.new_session(segments=3, segment_seconds=2.5)["id"]
    alice.generate(s, segments=2)  # 5 s of 6
    r = alice.post(f"/v1/sessions/{s}/generate")
    assert r.status_code == 429 and "quota" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 3600  # frees when the oldest seconds leave the 24 h window
    # deleting the session does not give the seconds back, and a restart does not forget them
    assert alice.delete(f"/v1/sessions/{s}").status_code == 204
    service.close()
    service2, client2 = make_client(data_dir=data, settings=quota)
    alice2 = Api(client2, alice.headers["Authorization"].split()[1])
    s2 = alice2.new_session(segments=1, segment_seconds=2.5)["id"]
    assert alice2.post(f"/v1/sessions/{s2}/generate").status_code == 429
    bob2 = Api(client2, bob.headers["Authorization"].split()[1])
    bob2.generate(bob2.new_session(segments=1, segment_seconds=2.5)["id"])  # the quota is per user


def test_quota_counts_seconds_still_owed_to_running_jobs(make_service) -> None:
    generator = _gated()
    service = make_service(generator=generator, settings={"audio_quota_seconds": 6.0}, job_deadline_s=60)
    generator.gate.clear()
    from fastapi.testclient import TestClient

    with TestClient(create_app(service, close_service=False)) as client:
        alice = Api(client, service.create_user("alice")[1])
        a, b = (alice.new_session(segments=2, segment_seconds=2.5)["id"] for _ in range(2))
        job = alice.post(f"/v1/sessions/{a}/generate", json={"segments": 2}).json()  # owes 5 s
        r = alice.post(f"/v1/sessions/{b}/generate")  # 5 + 2.5 > 6 even before any audio exists
        assert r.status_code == 429 and "quota" in r.json()["detail"]
        generator.gate.set()
        assert alice.wait_job(job["id"])["status"] == "succeeded"
