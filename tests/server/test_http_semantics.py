"""HTTP details the schema fuzzers found: a 405 names every method of its path in ``Allow``, and the
published request schemas say what the handlers validate (POST /v1/playlists needs listeners)."""

from __future__ import annotations

import pytest
from srv_support import Api


def _methods(client) -> dict[str, set[str]]:  # noqa: ANN001
    paths = client.get("/openapi.json").json()["paths"]
    return {path: {m.upper() for m in ops} for path, ops in paths.items()}


@pytest.mark.parametrize("path", ["/v1/me", "/v1/sessions", "/v1/sessions/{session_id}",
                                  "/v1/sessions/{session_id}/messages", "/v1/sessions/{session_id}/readings"])
def test_a_405_lists_every_method_of_the_path(client, alice: Api, path: str) -> None:
    declared = _methods(client)[path]
    assert len(declared) >= 2, declared
    url = path.replace("{session_id}", alice.new_session()["id"])
    r = alice.put(url, json={})
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert declared <= allowed and allowed <= declared | {"HEAD"}, (declared, allowed)


def test_the_playlist_schema_says_what_the_handler_validates(client, alice: Api) -> None:
    body = client.get("/openapi.json").json()["paths"]["/v1/playlists"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = client.get("/openapi.json").json()["components"]["schemas"][ref]
    assert "listeners" in schema["required"] and schema["additionalProperties"] is False
    refused = alice.post("/v1/playlists", json={})
    assert refused.status_code == 422 and "listeners" in str(refused.json()["detail"])
    ok = alice.post("/v1/playlists", json={"tracks": 1, "track_seconds": 4, "segments_per_track": 2, "start": "sad", "target": "calm",
                                           "listeners": [{"id": "ana", "preferences": {"avoid": ["drums"]}}]})
    assert ok.status_code == 202, ok.text
    assert alice.wait_job(ok.json()["id"], timeout=300)["status"] == "succeeded"
