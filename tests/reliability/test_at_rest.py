"""Listener files at rest: every audio file the service keeps is sealed with the data folder's key and
readable by its owner alone; the API serves it plain, ranges included; a damaged file is refused, not
misread; a key rotation re-seals everything, survives being cut short, and leaves the old key useless.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cryptography.fernet import Fernet
from rel_support import Api

from promptloop.errors import StorageError
from promptloop.service.crypto import Keyring, Vault, load_or_create_keyring, sealed_key_id, write_keyring
from promptloop.service.files import SessionFiles, data_vault
from promptloop.service.rotation import rotate_keys


def _files(data: Path) -> list[Path]:
    return sorted(p for p in (data / "audio").rglob("*") if p.is_file())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_audio_is_sealed_on_disk_and_plain_to_its_owner(make_client) -> None:
    service, client = make_client()
    alice = Api(client, service.create_user("alice")[1])
    sid = alice.new_session()["id"]
    alice.generate(sid, segments=2)
    data = Path(service.config.data_dir)
    files = _files(data)
    assert len(files) >= 4  # two segments, their mixes
    primary = load_or_create_keyring(data / "secret.key").primary_id
    whole = alice.get(f"/v1/sessions/{sid}/audio")
    assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
    for path in files:
        raw = path.read_bytes()
        assert _mode(path) == 0o600 and sealed_key_id(path) == primary, path
        assert b"RIFF" not in raw[:64] and b"WAVE" not in raw and whole.content[1000:1064] not in raw
    for folder in (data, data / "audio", *{p.parent for p in files}, *{p.parent.parent for p in files}):
        assert _mode(folder) == 0o700, folder

    # what the API serves is what was generated: the plain samples of the sealed mix
    mix = SessionFiles(data, alice.get("/v1/me").json()["id"], sid)
    served, rate = sf.read(io.BytesIO(whole.content), dtype="float32")
    assert np.allclose(served, mix.load_mix(1, rate), atol=1e-4) and np.abs(served).max() > 0.01

    # ranges open only what they cover, byte-exact
    part = alice.get(f"/v1/sessions/{sid}/audio", headers={"Range": "bytes=100-70099"})
    assert part.status_code == 206 and part.content == whole.content[100:70100]
    assert part.headers["content-range"] == f"bytes 100-70099/{len(whole.content)}"
    tail = alice.get(f"/v1/sessions/{sid}/audio", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    beyond = alice.get(f"/v1/sessions/{sid}/audio", headers={"Range": f"bytes={len(whole.content)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole.content)}"

    flac = alice.get(f"/v1/sessions/{sid}/segments/0/audio", params={"format": "flac"})
    assert flac.status_code == 200 and flac.content[:4] == b"fLaC"
    made = mix.segment(0, "flac")
    assert made.is_file() and sealed_key_id(made) == primary and b"fLaC" not in made.read_bytes()


def test_a_damaged_sealed_file_is_refused_with_a_clear_error(make_client) -> None:
    service, client = make_client()
    alice = Api(client, service.create_user("alice")[1])
    sid = alice.new_session()["id"]
    alice.generate(sid)
    segment = next(p for p in _files(Path(service.config.data_dir)) if p.parent.name == "segments")
    raw = bytearray(segment.read_bytes())
    raw[200] ^= 0x01  # one flipped bit inside the first chunk
    segment.write_bytes(bytes(raw))
    r = alice.get(f"/v1/sessions/{sid}/segments/0/audio")
    assert r.status_code == 507 and "damaged" in r.json()["detail"], r.text
    segment.write_bytes(bytes(raw[:-5000]))  # cut short
    r = alice.get(f"/v1/sessions/{sid}/segments/0/audio")
    assert r.status_code == 507 and r.json()["detail"], r.text


def _listener_data(service, token: str, sid: str) -> tuple[list, list, bytes]:  # noqa: ANN001
    user = service.authenticate(token)
    wav = SessionFiles(service.config.data_dir, user.id, sid).segment(0)
    return (service.list_readings(user, sid), [m["text"] for m in service.list_messages(user, sid)],
            data_vault(service.config.data_dir).read_file(wav))


def test_key_rotation_reseals_everything_and_survives_being_cut_short(make_service, tmp_path: Path) -> None:
    from rel_support import until

    from promptloop.acquisition.affect import parse_affect
    from promptloop.representation.preferences import Preferences

    data = tmp_path / "data"
    service = make_service(data_dir=data)
    user, token = service.create_user("alice")
    sid = service.create_session(user, start=parse_affect("anxious"), target=parse_affect("calm"),
                                 preferences=Preferences(), segments=2, segment_seconds=2.5, candidates=1,
                                 max_retries=0)["id"]
    service.add_readings(user, sid, [{"heart_rate": 71.25}])
    service.post_message(user, sid, "a bit softer please")
    job = service.generate(user, sid, 1)
    until(lambda: service.get_job(user, job["id"])["status"] == "succeeded", timeout=120, what="the segment")
    before = _listener_data(service, token, sid)
    url = service.config.database_url
    service.close()
    old = load_or_create_keyring(data / "secret.key")

    # cut short after steps 1-2: the new key first, the rows re-sealed, the files not yet
    new = Fernet.generate_key()
    write_keyring(data / "secret.key", [new, *old.keys])
    from dbs import query

    assert query(data, "SELECT count(*) FROM readings")[0][0] == 1
    again = make_service(data_dir=data, database_url=url)
    assert _listener_data(again, token, sid) == before  # every key of the file still opens what it sealed
    again.close()

    counts = rotate_keys(data, url)  # finishes the job, with yet another key
    assert counts["old_keys"] == 2 and counts["readings"] == 1 and counts["messages"] == 2 and counts["files"] >= 2
    ring = load_or_create_keyring(data / "secret.key")
    assert len(ring.keys) == 1 and ring.keys[0] not in (new, *old.keys)
    assert _mode(data / "secret.key") == 0o600
    assert all(sealed_key_id(p) == ring.primary_id for p in _files(data))
    stale = Vault(Keyring([new, *old.keys]))  # the keys before: useless now
    with pytest.raises(StorageError):
        stale.open(bytes(query(data, "SELECT sealed FROM readings")[0][0]))
    with pytest.raises(StorageError):
        stale.read_file(_files(data)[0])
    rotated = make_service(data_dir=data, database_url=url)
    assert _listener_data(rotated, token, sid) == before
