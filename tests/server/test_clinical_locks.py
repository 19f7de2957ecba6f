"""A locked constraint survives every listener-side path that could change it: the preference PATCH
(refused, 409, with the lock named), a chat message and a readings update (undone, and the reply
says why); the audio the session then makes is measured to be inside the locks."""

from __future__ import annotations

import io

import soundfile as sf
from clinical_support import PROGRAMME, therapist
from srv_support import Api

from promptloop.audio.mix import integrated_lufs

CEILING = -24.0


def _start(service, client, alice: Api) -> tuple[dict, Api]:
    tina = therapist(service, client)
    from clinical_support import link

    client_id = link(tina, alice, ["prescribe"])
    programme = tina.post(f"/v1/clients/{client_id}/programmes", json=PROGRAMME).json()
    r = alice.post(f"/v1/me/programmes/{programme['id']}/sessions", json={"step": 0})
    assert r.status_code == 201, r.text
    return r.json(), tina


def _assert_inside(session: dict) -> None:
    prefs = session["preferences"]
    assert prefs["loudness_ceiling_lufs"] <= CEILING
    assert "drums" in prefs["avoid"] and "drums" not in prefs["instruments"]
    assert (session["target"]["valence"], session["target"]["arousal"]) == (0.4, -0.6)  # "calm"


def test_a_locked_constraint_survives_every_listener_path(service, client, alice: Api) -> None:
    session, _tina = _start(service, client, alice)
    sid = session["id"]
    _assert_inside(session)
    assert alice.get(f"/v1/sessions/{sid}/programme").json()["locks"] == [
        "loudness at most -24 LUFS", "never drums", "target fixed at v +0.40, a -0.60"]

    # the preference PATCH: a loosening is refused whole, and says which lock
    loose = {"prefer": ["piano"], "avoid": [], "loudness_ceiling_lufs": -10}
    r = alice.patch(f"/v1/sessions/{sid}", json={"preferences": loose})
    assert r.status_code == 409 and "locked by your therapist" in r.json()["detail"]
    assert "loudness ceiling" in r.json()["detail"] and "drums" in r.json()["detail"]
    r = alice.patch(f"/v1/sessions/{sid}", json={"target": "excited"})
    assert r.status_code == 409 and "target" in r.json()["detail"]
    _assert_inside(alice.get(f"/v1/sessions/{sid}").json())

    # a chat message asking for more arousal, more loudness and drums
    r = alice.post(f"/v1/sessions/{sid}/messages", json={"text": "faster and louder please, I want drums"})
    assert r.status_code == 200, r.text
    assert "locked by your therapist" in r.json()["reply"]
    _assert_inside(r.json()["session"])

    # a readings update moves the listener estimate, never the locks
    r = alice.post(f"/v1/sessions/{sid}/readings", json={"readings": [{"heart_rate": 120, "skin_conductance": 20}]})
    assert r.status_code == 200, r.text
    _assert_inside(alice.get(f"/v1/sessions/{sid}").json())

    # tightening is always allowed
    tight = {"prefer": ["piano"], "avoid": ["drums", "bells"], "loudness_ceiling_lufs": -30}
    r = alice.patch(f"/v1/sessions/{sid}", json={"preferences": tight})
    assert r.status_code == 200 and r.json()["preferences"]["loudness_ceiling_lufs"] == -30

    # what is played follows the locks: no drums in any prompt, loudness under the ceiling, measured
    alice.generate(sid, 2)
    for seg in alice.get(f"/v1/sessions/{sid}/segments").json():
        assert "drum" not in seg["prompt"].lower()
        audio, rate = sf.read(io.BytesIO(alice.get(seg["audio_url"]).content), dtype="float32")
        assert integrated_lufs(audio, rate) <= -30 + 0.5
    record = alice.get(f"/v1/sessions/{sid}/provenance").json()
    assert record["summary"]["max_segment_loudness_lufs"] <= -30 + 0.5


def test_sessions_outside_a_programme_have_no_locks(alice: Api) -> None:
    s = alice.new_session(preferences={"avoid": ["drums"], "loudness_ceiling_lufs": -24})
    r = alice.patch(f"/v1/sessions/{s['id']}", json={"preferences": {"avoid": [], "loudness_ceiling_lufs": -10}})
    assert r.status_code == 200 and r.json()["preferences"]["loudness_ceiling_lufs"] == -10
    assert alice.get(f"/v1/sessions/{s['id']}/programme").json()["locks"] == []
