"""A playlist spec submitted through the API runs as a job; its report and files are served to
their owner only."""

from __future__ import annotations

import io

import soundfile as sf
from srv_support import Api

SPEC = {
    "name": "api test", "seed": 3, "tracks": 2, "track_seconds": 4, "segments_per_track": 2,
    "arc": "iso", "start": "anxious", "target": "calm", "format": "wav",
    "backends": {"generator": "synth", "planner": "rule", "evaluator": "embedding"},
    "listeners": [{"id": "ana", "preferences": {"prefer": ["piano"], "avoid": ["drums"]}}],
}


def test_playlist_job_writes_tracks_served_to_the_owner(service, alice: Api, bob: Api) -> None:
    r = alice.post("/v1/playlists", json=SPEC)
    assert r.status_code == 202, r.text
    job = alice.wait_job(r.json()["id"], timeout=300)
    assert job["status"] == "succeeded" and job["done"] == job["total"] == 2 and job["session_id"] is None
    body = alice.get(f"/v1/playlists/{job['id']}").json()
    assert body["report"]["listeners"][0]["id"] == "ana"
    tracks = [f for f in body["files"] if f.endswith(".wav")]
    assert len(tracks) == 2 and "ana/playlist.m3u8" in body["files"]
    audio = alice.get(f"/v1/playlists/{job['id']}/file", params={"path": tracks[0]})
    info = sf.info(io.BytesIO(audio.content))
    assert audio.headers["content-type"] == "audio/wav" and abs(info.duration - 4.0) < 0.05
    # nothing outside the folder, and nothing for another user
    for outside in ("../../../secret.key", "/etc/passwd", "ana/../../../../promptloop.db"):
        assert alice.get(f"/v1/playlists/{job['id']}/file", params={"path": outside}).status_code == 404
    assert bob.get(f"/v1/playlists/{job['id']}").status_code == 404
    assert bob.get(f"/v1/playlists/{job['id']}/file", params={"path": tracks[0]}).status_code == 404
    # the export lists it; erasing the account removes its files
    export = alice.get("/v1/me/export").json()
    assert export["playlists"][0]["job_id"] == job["id"] and export["playlists"][0]["files"] == body["files"]
    assert list(service.config.data_dir.glob(f"playlists/*/{job['id']}"))
    assert alice.delete("/v1/me").status_code == 200
    assert not list(service.config.data_dir.glob(f"playlists/*/{job['id']}"))


def test_a_bad_spec_gets_422_with_the_reason(alice: Api) -> None:
    r = alice.post("/v1/playlists", json={**SPEC, "tracks": 0})
    assert r.status_code == 422 and "tracks" in str(r.json()["detail"])  # the field, in loc or msg
    r = alice.post("/v1/playlists", json={**SPEC, "colour": "blue"})
    assert r.status_code == 422 and "colour" in str(r.json()["detail"])
    many = {**SPEC, "tracks": 30, "listeners": [{"id": "a"}, {"id": "b"}]}
    r = alice.post("/v1/playlists", json=many)
    assert r.status_code == 422 and "at most 48 tracks" in r.json()["detail"][0]["msg"]


def test_cancelling_a_playlist_job(alice: Api) -> None:
    job = alice.post("/v1/playlists", json={**SPEC, "tracks": 6, "track_seconds": 8}).json()
    alice.post(f"/v1/jobs/{job['id']}/cancel")
    done = alice.wait_job(job["id"], timeout=300)
    assert done["status"] == "cancelled" and done["done"] < 6
