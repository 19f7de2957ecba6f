"""Persistence: sessions survive a restart and continue from the last committed segment; listener
data is encrypted at rest; export and erase; audit records."""

from __future__ import annotations

import io
import logging

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from srv_support import SHORT, Api

from dbs import query, raw_bytes
from promptloop_server import create_app

READING = {"heart_rate": 123.4567, "skin_conductance": 17.891}
SECRET_TEXT = "too loud, and I really don't like violins at all"


def _client(service):
    return TestClient(create_app(service, close_service=False))


def test_a_session_survives_a_restart_and_continues(make_service, tmp_path) -> None:
    data = tmp_path / "store"
    first = make_service(data_dir=data)
    with _client(first) as client:
        alice = Api(client, first.create_user("alice")[1])
        s = alice.new_session(start="anxious", target="calm", segments=4)
        alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": "no piano please"})
        alice.generate(s["id"], segments=2)
        before = alice.get(f"/v1/sessions/{s['id']}/segments").json()
        audio_before = client.get(f"/v1/sessions/{s['id']}/audio", headers=alice.headers).content
        # an update between segments must survive too
        alice.patch(f"/v1/sessions/{s['id']}", json={"target": "sleepy"})
    first.close()
    # leftovers of a crash in the middle of writing: an uncommitted segment and a partial file
    folder = next((data / "audio").glob("*/*"))
    (folder / "segments" / "02.wav").write_bytes(b"RIFF-not-committed")
    (folder / "segments" / ".03.wav.x.part").write_bytes(b"partial")

    second = make_service(data_dir=data)
    with _client(second) as client:
        alice = Api(client, alice.headers["Authorization"].split()[1])  # same token, new process
        again = alice.get(f"/v1/sessions/{s['id']}").json()
        assert again["segments_done"] == 2 and again["target"]["arousal"] == -0.9  # sleepy
        assert "piano" in again["preferences"]["avoid"]
        assert alice.get(f"/v1/sessions/{s['id']}/segments").json() == before
        assert client.get(f"/v1/sessions/{s['id']}/audio", headers=alice.headers).content == audio_before
        alice.generate(s["id"])
        segs = alice.get(f"/v1/sessions/{s['id']}/segments").json()
        assert [x["index"] for x in segs] == [0, 1, 2]
        third = alice.get(f"/v1/sessions/{s['id']}/segments/2").json()["record"]
        assert third["start_s"] == before[1]["start_s"] + before[1]["duration_s"] - SHORT["crossfade_seconds"]
        assert any(e["kind"] == "target" for e in third["events"])  # the update reached this segment
        assert "piano" not in third["prompt"]
        whole, rate = sf.read(io.BytesIO(client.get(f"/v1/sessions/{s['id']}/audio", headers=alice.headers).content))
        assert abs(whole.size / rate - 3 * 2.5) < 0.01
        # the new mix begins with the audio committed before the restart
        old, _ = sf.read(io.BytesIO(audio_before))
        head = int(rate * 4.0)
        assert np.max(np.abs(whole[:head] - old[:head])) < 0.02
    assert not list(folder.rglob("*.part"))


def test_jobs_running_at_a_restart_are_marked_failed_not_lost(make_service, tmp_path) -> None:
    from promptloop.service.store import JobRow

    data = tmp_path / "store"
    first = make_service(data_dir=data)
    with _client(first) as client:
        alice = Api(client, first.create_user("alice")[1])
        s = alice.new_session()
        job_id = alice.generate(s["id"])["id"]
    with first.db() as db:  # as if the process died while this job was running
        db.get(JobRow, job_id).status = "running"
        db.commit()
    first.close()
    second = make_service(data_dir=data)
    user = second.authenticate(alice.headers["Authorization"].split()[1])
    job = second.get_job(user, job_id)
    assert job["status"] == "failed" and "restart" in job["error"]


def test_listener_data_is_not_readable_in_the_database_file(service, alice: Api, tmp_path) -> None:
    s = alice.new_session()
    alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [READING]})
    alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": SECRET_TEXT})
    data = service.config.data_dir
    raw = raw_bytes(data)
    assert b"123.4567" not in raw and b"17.891" not in raw and b"violins at all" not in raw
    sealed = bytes(query(data, "select sealed from readings")[0][0])
    assert sealed.startswith(b"gAAAAA")  # a Fernet token
    key = (data / "secret.key").read_bytes()
    assert key not in raw  # the key lives outside the database
    # and the API still reads it back for its owner
    assert alice.get(f"/v1/sessions/{s['id']}/readings").json()[0]["readings"] == [READING]


def test_no_raw_readings_or_messages_in_logs(alice: Api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    s = alice.new_session()
    alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [READING]})
    alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": SECRET_TEXT})
    alice.generate(s["id"])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "123.4567" not in logged and "violins at all" not in logged


def test_export_then_erase_removes_rows_and_files(service, alice: Api, bob: Api) -> None:
    s = alice.new_session()
    alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [READING]})
    alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": SECRET_TEXT})
    alice.generate(s["id"])
    bob.new_session()

    export = alice.get("/v1/me/export").json()
    assert export["user"]["name"] == "alice" and len(export["sessions"]) == 1
    one = export["sessions"][0]
    assert one["readings"][0]["readings"] == [READING]
    assert one["messages"][0]["text"] == SECRET_TEXT and one["messages"][1]["role"] == "assistant"
    assert one["segments"][0]["record"]["prompt"] and export["jobs"][0]["status"] == "succeeded"
    assert {a["action"] for a in export["audit"]} >= {"export"}
    assert export["profile"]["rejected"] == ["violin"]  # what the listener's message asked to avoid

    user_id = export["user"]["id"]
    user_dir = service.config.data_dir / "audio" / str(user_id)
    assert any(user_dir.rglob("*.wav"))
    answer = alice.delete("/v1/me")
    erased = answer.json()
    assert erased == {"erased": True, "sessions": 1}
    cookie = answer.headers.get("set-cookie", "")
    assert cookie.startswith("promptloop_token=") and "Max-Age=0" in cookie  # the browser forgets the token
    assert not user_dir.exists()
    assert alice.get("/v1/me").status_code == 401
    data = service.config.data_dir
    for table in ("sessions", "segments", "readings", "messages", "jobs", "tokens"):
        rows = query(data, f"select count(*) from {table}")[0][0]
        assert rows == (1 if table in ("sessions", "tokens") else 0), table  # bob's remain
    assert query(data, "select count(*) from users where name = 'alice'")[0][0] == 0
    actions = [r[0] for r in query(data, "select action from audit where user_id = :u order by id", u=user_id)]
    # the message's "no violins" taught the profile (learn); the record of the erasure outlives the account
    assert actions == ["learn", "export", "erase"]


def test_reads_of_listener_data_are_audited(service, alice: Api) -> None:
    s = alice.new_session()
    alice.get(f"/v1/sessions/{s['id']}/readings")
    alice.get(f"/v1/sessions/{s['id']}/messages")
    alice.get(f"/v1/sessions/{s['id']}/provenance")
    alice.delete(f"/v1/sessions/{s['id']}")
    audit = alice.get("/v1/me/export").json()["audit"]
    got = [(a["action"], a["object_type"]) for a in audit]
    assert got[:4] == [("read", "readings"), ("read", "messages"), ("read", "provenance"), ("delete", "session")]
    assert all(a["object_id"] == s["id"] for a in audit[:4])
