"""The REST API through FastAPI's test client, on the embedded default with short segments."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from srv_support import SHORT, Api


def _wav(body: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(body), dtype="float32")
    return audio, rate


def test_health_ready_metrics_and_openapi(client, alice: Api) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    alice.get("/v1/sessions")
    metrics = client.get("/metrics").text
    assert 'promptloop_http_request_seconds_count{method="GET",route="/v1/sessions",status="200"}' in metrics
    assert "promptloop_queue_size 8.0" in metrics
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "promptloop"
    assert all(p.startswith("/v1/") or p in ("/healthz", "/readyz", "/metrics") for p in schema["paths"])


def test_readyz_waits_for_the_heap_to_settle_after_warm_up(client) -> None:
    # A server process freezes its heap after the warm-up, and the full collection before the freeze
    # pauses every thread for a few hundred ms: it is not ready until that is over.
    settled = client.app.state.settled
    settled.clear()
    try:
        waiting = client.get("/readyz")
        assert waiting.status_code == 503 and waiting.json()["detail"] == "settling after warm-up"
    finally:
        settled.set()
    assert client.get("/readyz").status_code == 200


def test_authentication_is_required(client, alice: Api) -> None:
    assert client.get("/v1/sessions").status_code == 401
    r = client.get("/v1/sessions", headers={"Authorization": "Bearer pl_not-a-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    # the cookie is honoured for reads only, so another site cannot make a browser change anything
    client.cookies.set("promptloop_token", alice.headers["Authorization"].split()[1])
    try:
        assert client.get("/v1/me").status_code == 200
        assert client.post("/v1/sessions", json={}).status_code == 401
    finally:
        client.cookies.clear()


def test_session_lifecycle_audio_and_provenance(alice: Api) -> None:
    s = alice.new_session(preferences={"prefer": ["piano"], "avoid": ["drums"]}, title="evening")
    assert s["status"] == "idle" and s["segments_done"] == 0 and s["title"] == "evening"
    assert s["start"] == {"valence": -0.6, "arousal": 0.7} and s["preferences"]["avoid"] == ["drums"]
    assert [x["id"] for x in alice.get("/v1/sessions").json()] == [s["id"]]
    assert alice.get(f"/v1/sessions/{s['id']}/audio").status_code == 404  # nothing generated yet

    job = alice.generate(s["id"], segments=2)
    assert job["done"] == 2 and job["progress"] == 1.0
    segments = alice.get(f"/v1/sessions/{s['id']}/segments").json()
    assert [seg["index"] for seg in segments] == [0, 1]
    assert all("drums" not in seg["prompt"] for seg in segments)

    whole = alice.get(f"/v1/sessions/{s['id']}/audio")
    assert whole.headers["content-type"] == "audio/wav"
    audio, rate = _wav(whole.content)
    # two segments of 2.5 s; the second is generated 0.5 s longer to crossfade over the seam
    assert rate == 32000 and abs(audio.size / rate - 5.0) < 0.01
    assert float(np.sqrt(np.mean(audio**2))) > 0.01 and float(np.max(np.abs(audio))) <= 10 ** (-1.0 / 20) + 1e-3

    flac = alice.get(f"/v1/sessions/{s['id']}/segments/1/audio", params={"format": "flac"})
    seg_audio, _ = _wav(flac.content)
    assert flac.headers["content-type"] == "audio/flac" and abs(seg_audio.size / 32000 - 3.0) < 0.01

    ranged = alice.get(f"/v1/sessions/{s['id']}/audio", headers={"Range": "bytes=0-43"})
    assert ranged.status_code == 206 and ranged.content[:4] == b"RIFF" and len(ranged.content) == 44
    assert ranged.headers["content-range"].startswith("bytes 0-43/")

    detail = alice.get(f"/v1/sessions/{s['id']}/segments/1").json()
    assert detail["record"]["index"] == 1 and detail["record"]["attempts"]
    prov = alice.get(f"/v1/sessions/{s['id']}/provenance").json()
    assert len(prov["segments"]) == 2 and prov["summary"]["segments"] == 2
    scores = alice.get(f"/v1/sessions/{s['id']}/scores").json()
    assert [x["score"] for x in scores["segments"]] == [seg["score"] for seg in segments]

    assert alice.delete(f"/v1/sessions/{s['id']}").status_code == 204
    assert alice.get(f"/v1/sessions/{s['id']}").status_code == 404


def test_readings_move_the_listener_and_the_next_segment(alice: Api) -> None:
    s = alice.new_session(start="calm", target="calm", pacing="open")
    one = alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [{"heart_rate": 70}]})
    assert one.status_code == 200 and one.json()["listener"] == {"valence": 0.4, "arousal": -0.6}
    batch = alice.post(f"/v1/sessions/{s['id']}/readings",
                       json={"readings": [{"heart_rate": 110, "skin_conductance": 12}, {"heart_rate": 120}],
                             "baseline": {"heart_rate": 65}})
    body = batch.json()
    assert body["accepted"] == 2 and body["listener"]["arousal"] > 0.3  # much faster than baseline
    assert set(body["contributions"]) == {"heart_rate", "skin_conductance"}
    alice.generate(s["id"])
    seg = alice.get(f"/v1/sessions/{s['id']}/segments/0").json()
    assert seg["listener"] == body["listener"] and seg["waypoint"] == body["listener"]  # iso: meet them
    stored = alice.get(f"/v1/sessions/{s['id']}/readings").json()
    assert [len(x["readings"]) for x in stored] == [1, 2] and stored[1]["baseline"] == {"heart_rate": 65}


def test_in_a_closed_session_the_first_segment_meets_every_reading_sent_before_it(alice: Api) -> None:
    s = alice.new_session(start="calm", target="calm")  # pacing: closed by default
    readings = [{"heart_rate": 70}, {"heart_rate": 85}, {"heart_rate": 90}]
    first = alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": readings[:1]}).json()
    assert first["closed_loop"] == {"active": True, "waiting": 1}
    second = alice.post(f"/v1/sessions/{s['id']}/readings",
                        json={"readings": readings[1:], "baseline": {"heart_rate": 65}}).json()
    assert second["closed_loop"] == {"active": True, "waiting": 3}
    alice.generate(s["id"])
    seg = alice.get(f"/v1/sessions/{s['id']}/segments/0").json()
    # all three readings against the resting heart rate sent: above calm, below the second batch alone
    assert first["listener"]["arousal"] < seg["waypoint"]["arousal"] < second["listener"]["arousal"]
    assert seg["listener"] == seg["waypoint"]
    assert alice.get(f"/v1/sessions/{s['id']}").json()["closed_loop"] == {"mode": "closed", "active": True}


def test_chat_message_changes_the_next_segment(alice: Api) -> None:
    s = alice.new_session(start="calm", target="calm", preferences={"prefer": ["piano", "strings"]})
    alice.generate(s["id"])
    first = alice.get(f"/v1/sessions/{s['id']}/segments/0").json()
    assert "strings" in first["prompt"]
    r = alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": "too loud, and I really don't like violins"})
    assert r.status_code == 200, r.text
    reply = r.json()
    # The listener named violins: violins are avoided by name (the GM palette keeps them apart from cellos).
    assert "avoiding violin" in reply["changes"] and any("loudness ceiling" in c for c in reply["changes"])
    assert "violin" in reply["session"]["preferences"]["avoid"]
    # 3 dB under what the listener heard (the loop keeps 1 LU of headroom under the ceiling)
    assert reply["session"]["preferences"]["loudness_ceiling_lufs"] == round(first["loudness_lufs"] + 1.0 - 3.0, 1)
    alice.generate(s["id"])
    second = alice.get(f"/v1/sessions/{s['id']}/segments/1").json()
    assert "violin" not in second["prompt"] and "strings" not in second["prompt"]  # an ensemble has violins
    assert second["loudness_lufs"] <= first["loudness_lufs"] - 2.5  # audibly quieter than what was heard
    transcript = alice.get(f"/v1/sessions/{s['id']}/messages").json()
    assert [m["role"] for m in transcript] == ["listener", "assistant"]
    assert transcript[0]["text"].startswith("too loud") and transcript[1]["changes"] == reply["changes"]
    unclear = alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": "hmm"}).json()
    assert unclear["changes"] == [] and "did not catch" in unclear["reply"]


def test_patch_target_and_preferences(alice: Api) -> None:
    s = alice.new_session()
    r = alice.patch(f"/v1/sessions/{s['id']}", json={"target": {"valence": 0.2, "arousal": -0.9},
                                                      "preferences": {"prefer": ["guitar"], "avoid": ["rain"]}})
    assert r.status_code == 200
    assert r.json()["target"] == {"valence": 0.2, "arousal": -0.9}
    assert r.json()["preferences"]["instruments"] == ["guitar"] and r.json()["preferences"]["avoid"] == ["rain"]


def test_bad_input_gets_422_with_a_clear_message(alice: Api) -> None:
    cases = [
        {"start": "anxious", "unknown": 1},                      # unknown field
        {"start": "grumpy-ish"},                                  # unknown affect word
        {"segments": 65},                                         # over the bound
        {"segment_seconds": 1.0},
        {"preferences": {"prefer": ["piano"], "avoid": ["piano"]}},  # conflicting
        {"start": {"valence": 2, "arousal": 0}},
        {"title": "x" * 201},
    ]
    for body in cases:
        r = alice.post("/v1/sessions", json=body)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, list) and detail[0]["msg"]
    r = alice.post("/v1/sessions", json={"start": "grumpy-ish"})
    assert "unknown affect" in r.json()["detail"][0]["msg"]
    s = alice.new_session()
    for path, body in [
        ("readings", {"readings": []}),
        ("readings", {"readings": [{"heart_rate": 400}]}),
        ("readings", {"readings": [{"heart_rate": 70}] * 501}),
        ("readings", {"readings": [{"pulse": 70}]}),
        ("messages", {"text": ""}),
        ("messages", {"text": "x" * 501}),
        ("generate", {"segments": 17}),
    ]:
        assert alice.post(f"/v1/sessions/{s['id']}/{path}", json=body).status_code == 422, (path, body)


def test_generation_stops_at_the_session_length(alice: Api) -> None:
    s = alice.new_session(segments=1)
    alice.generate(s["id"])
    assert alice.get(f"/v1/sessions/{s['id']}").json()["status"] == "complete"
    r = alice.post(f"/v1/sessions/{s['id']}/generate", json={"segments": 1})
    assert r.status_code == 409 and "all its segments" in r.json()["detail"]


def test_jobs_list_and_pagination(alice: Api) -> None:
    ids = [alice.new_session(**{**SHORT, "segments": 1})["id"] for _ in range(3)]
    assert len(alice.get("/v1/sessions", params={"limit": 2}).json()) == 2
    assert len(alice.get("/v1/sessions", params={"limit": 2, "offset": 2}).json()) == 1
    alice.generate(ids[0])
    jobs = alice.get("/v1/jobs").json()
    assert len(jobs) == 1 and jobs[0]["session_id"] == ids[0] and jobs[0]["status"] == "succeeded"


def test_the_score_downloads_as_midi_where_the_generator_composes(alice: Api) -> None:
    import mido

    s = alice.new_session(preferences={"prefer": ["harp"]})
    assert alice.get(f"/v1/sessions/{s['id']}/midi").status_code == 404  # nothing generated yet
    alice.generate(s["id"], segments=2)
    got = alice.get(f"/v1/sessions/{s['id']}/midi")
    if alice.get(f"/v1/sessions/{s['id']}").json()["backends"]["generator"] != "soundfont":
        assert got.status_code == 404  # the procedural synth writes no score
        return
    assert got.status_code == 200 and got.headers["content-type"] == "audio/midi"
    midi = mido.MidiFile(file=io.BytesIO(got.content))
    programs = {m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert 46 in programs  # the listener's harp, as General MIDI's harp
    audio, rate = _wav(alice.get(f"/v1/sessions/{s['id']}/audio").content)
    assert midi.length == pytest.approx(audio.shape[0] / rate, abs=0.1)
