"""A playlist spec submitted through the API runs as a job; its report and files are served to
their owner only."""

from __future__ import annotations

import hashlib
import io
import json

import soundfile as sf
from srv_support import Api

from promptloop.service.crypto import sealed_key_id
from promptloop.service.rotation import rotate_keys

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


def test_playlist_files_are_sealed_at_rest_and_plain_to_their_owner(service, alice: Api) -> None:
    job = alice.post("/v1/playlists", json=SPEC).json()
    assert alice.wait_job(job["id"], timeout=300)["status"] == "succeeded"
    folder = next(service.config.data_dir.glob(f"playlists/*/{job['id']}"))
    on_disk = [p for p in folder.rglob("*") if p.is_file()]
    assert on_disk and all(sealed_key_id(p) is not None for p in on_disk), on_disk
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in on_disk)
    assert all(p.stat().st_mode & 0o077 == 0 for p in [folder, *folder.rglob("*")] if p.is_dir())
    raw = b"".join(p.read_bytes() for p in on_disk)
    assert b"RIFF" not in raw and b"piano" not in raw and b"anxious" not in raw  # audio and words unreadable
    body = alice.get(f"/v1/playlists/{job['id']}").json()
    assert body["report"]["listeners"][0]["id"] == "ana" and body["files"]
    # the owner gets the plain files: each track matches the SHA-256 its (plain) manifest records
    manifest = alice.get(f"/v1/playlists/{job['id']}/file", params={"path": "manifest.json"}).json()
    for entry in manifest["tracks"].values():
        track = alice.get(f"/v1/playlists/{job['id']}/file", params={"path": entry["file"]})
        assert track.status_code == 200 and hashlib.sha256(track.content).hexdigest() == entry["sha256"]
        part = alice.get(f"/v1/playlists/{job['id']}/file", params={"path": entry["file"]},
                         headers={"Range": "bytes=0-3"})
        assert part.status_code == 206 and part.content == b"RIFF"
    assert "#EXTM3U" in alice.get(f"/v1/playlists/{job['id']}/file", params={"path": "ana/playlist.m3u8"}).text
    # a killed run's plain leftovers are sealed at the next start
    plain = folder / "ana" / "left-by-a-kill.json"
    plain.write_text('{"prompt": "soft piano"}')
    (folder / ".x.json.part").write_bytes(b"half")
    service.__class__(service.config, service.settings).close()
    assert sealed_key_id(plain) is not None and not (folder / ".x.json.part").exists()
    assert json.loads(service.vault.read_file(plain)) == {"prompt": "soft piano"}
    # key rotation re-seals the playlist's files with the new key; the owner still gets the same bytes
    old_keys = {sealed_key_id(p) for p in folder.rglob("*") if p.is_file()}
    rotate_keys(service.config.data_dir, service.config.database_url)
    new_keys = {sealed_key_id(p) for p in folder.rglob("*") if p.is_file()}
    assert len(new_keys) == 1 and not new_keys & old_keys
    entry = next(iter(manifest["tracks"].values()))
    track = alice.get(f"/v1/playlists/{job['id']}/file", params={"path": entry["file"]})
    assert hashlib.sha256(track.content).hexdigest() == entry["sha256"]

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
