"""Two users: every endpoint that takes an id answers 404 to the other user, and changes nothing.

The matrix is built from the app's own OpenAPI document, so a new endpoint with an id joins it
automatically; a test below fails if one is ever left out.
"""

from __future__ import annotations

import re

from srv_support import Api

BODIES = {
    ("post", "/v1/sessions/{session_id}/generate"): {"segments": 1},
    ("post", "/v1/sessions/{session_id}/readings"): {"readings": [{"heart_rate": 80}]},
    ("post", "/v1/sessions/{session_id}/messages"): {"text": "too loud"},
    ("patch", "/v1/sessions/{session_id}"): {"target": "sad"},
    ("post", "/v1/sessions/{session_id}/self-reports"): {"phase": "pre", "valence": 5, "arousal": 5},
}
# Endpoints whose ids are a consent's, a programme's and so on: the role matrix of
# test_clinical_isolation.py covers them.
ID_PARAMS = {"session_id", "job_id", "index"}
PLAYLIST = {
    "name": "isolation", "tracks": 1, "track_seconds": 4, "segments_per_track": 2, "start": "sad",
    "target": "calm", "format": "wav", "listeners": [{"id": "ana"}],
}


def _id_endpoints(client) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return sorted((method, path) for path, ops in schema["paths"].items() if "{" in path for method in ops
                  if set(re.findall(r"{(\w+)}", path)) <= ID_PARAMS)


def test_the_matrix_covers_every_endpoint_with_an_id(client) -> None:
    endpoints = _id_endpoints(client)
    params = {p for _, path in endpoints for p in re.findall(r"{(\w+)}", path)}
    assert params == ID_PARAMS
    assert len(endpoints) >= 19


def test_other_users_ids_answer_404_and_change_nothing(pair) -> None:
    client, alice, bob = pair
    s = alice.new_session(segments=3)
    alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [{"heart_rate": 90}]})
    alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": "no drums please"})
    job = alice.generate(s["id"])
    playlist = alice.post("/v1/playlists", json=PLAYLIST).json()
    assert alice.wait_job(playlist["id"], timeout=300)["status"] == "succeeded"
    ids = {"session_id": s["id"], "job_id": job["id"], "index": "0"}
    before = alice.get("/v1/me/export").json()["sessions"]

    tried = 0
    for method, path in _id_endpoints(client):
        # playlist routes take a playlist's job id; the others a generation job's
        own = {**ids, "job_id": playlist["id"]} if path.startswith("/v1/playlists") else ids
        url = re.sub(r"{(\w+)}", lambda m, own=own: own[m.group(1)], path)
        kwargs = {"json": BODIES[(method, path)]} if (method, path) in BODIES else {}
        if path.endswith("/file"):
            kwargs = {"params": {"path": "report.json"}}
        r = getattr(bob, method)(url, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert s["id"] not in r.text and job["id"] not in r.text and playlist["id"] not in r.text
        # an id that does not exist at all answers exactly the same
        missing = re.sub(r"{(\w+)}", lambda m: {"session_id": "s_nope", "job_id": "j_nope", "index": "0"}[m.group(1)], path)
        r2 = getattr(bob, method)(missing, **kwargs)
        assert (r2.status_code, r2.json()["detail"]) == (r.status_code, r.json()["detail"])
        tried += 1
    assert tried >= 19

    assert s["id"] not in {x["id"] for x in bob.get("/v1/sessions").json()}
    assert job["id"] not in {x["id"] for x in bob.get("/v1/jobs").json()}
    assert s["id"] not in bob.get("/v1/me/export").text
    after = alice.get("/v1/me/export").json()["sessions"]
    assert after == before  # bob's deletes, patches, readings and messages changed nothing
    assert alice.get(f"/v1/sessions/{s['id']}").json()["segments_done"] == 1


def test_erasing_one_account_leaves_the_other(client, alice: Api, bob: Api) -> None:
    a = alice.new_session(segments=1)
    b = bob.new_session(segments=1)
    alice.generate(a["id"])
    bob.generate(b["id"])
    assert bob.delete("/v1/me").status_code == 200
    assert bob.get("/v1/me").status_code == 401  # the token died with the account
    assert alice.get(f"/v1/sessions/{a['id']}/audio").status_code == 200
