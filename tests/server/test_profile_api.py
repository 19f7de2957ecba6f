"""/v1/me/profile: per-user, editable, validated, a prior for new sessions, in export and erase."""

from __future__ import annotations

from srv_support import Api

from promptloop.service.profiles import ProfileRow


def test_a_new_account_has_an_empty_profile(alice: Api) -> None:
    r = alice.get("/v1/me/profile")
    assert r.status_code == 200
    body = r.json()
    assert body["sessions"] == 0 and body["triggers"] == [] and body["comfortable_loudness_lufs"] is None


def test_the_listener_edits_their_profile_and_only_theirs(alice: Api, bob: Api) -> None:
    r = alice.put("/v1/me/profile", json={"triggers": ["Chimes"], "comfortable_loudness_lufs": [-40, -26],
                                          "notes": "rain helps"})
    assert r.status_code == 200, r.text
    assert r.json()["triggers"] == ["bells"]  # canonical names
    assert alice.get("/v1/me/profile").json()["comfortable_loudness_lufs"] == [-40.0, -26.0]
    assert bob.get("/v1/me/profile").json()["triggers"] == []


def test_bad_profiles_are_refused_with_4xx(alice: Api) -> None:
    assert alice.put("/v1/me/profile", json={"colour": "blue"}).status_code == 422
    r = alice.put("/v1/me/profile", json={"comfortable_tempo_bpm": [120, 60]})
    assert 400 <= r.status_code < 500 and "comfortable_tempo_bpm" in r.text
    r = alice.put("/v1/me/profile", json={"moved_by": {"vibes": 1.0}})
    assert 400 <= r.status_code < 500
    assert alice.get("/v1/me/profile").json()["comfortable_tempo_bpm"] is None


def test_new_sessions_take_the_profile_as_a_prior(alice: Api) -> None:
    alice.put("/v1/me/profile", json={"triggers": ["piano"], "comfortable_loudness_lufs": [-40, -27]})
    session = alice.new_session()
    prefs = session["preferences"]
    assert "piano" in prefs["avoid"] and prefs["loudness_ceiling_lufs"] == -27.0


def test_the_profile_is_sealed_exported_and_erased(alice: Api, service) -> None:
    alice.put("/v1/me/profile", json={"triggers": ["drums"], "notes": "thunder is awful"})
    with service.ctx.db() as db:
        row = db.get(ProfileRow, 1)
        assert row is not None and b"thunder" not in row.sealed
    exported = alice.get("/v1/me/export").json()
    assert exported["profile"]["triggers"] == ["drums"]
    assert alice.delete("/v1/me").status_code == 200
    with service.ctx.db() as db:
        assert db.query(ProfileRow).count() == 0


def test_a_learned_calming_ceiling_caps_calming_sessions_only(alice: Api) -> None:
    r = alice.put("/v1/me/profile", json={"calming_loudness_lufs": -29})
    assert r.status_code == 200 and r.json()["calming_loudness_lufs"] == -29.0
    calming = alice.new_session()  # anxious -> calm
    energising = alice.new_session(start="tired", target="energized")
    assert calming["preferences"]["loudness_ceiling_lufs"] == -29.0
    assert energising["preferences"]["loudness_ceiling_lufs"] > -29.0


def test_the_comfortable_tempo_range_limits_new_sessions_and_says_so(alice: Api) -> None:
    r = alice.put("/v1/me/profile", json={"comfortable_tempo_bpm": [80, 100], "followed_tempo_bpm": [60, 120]})
    assert r.status_code == 200, r.text
    assert r.json()["comfortable_tempo_bpm"] == [80.0, 100.0] and r.json()["followed_tempo_bpm"] == [60.0, 120.0]
    session = alice.new_session()  # anxious -> calm: the target's tempo (69 BPM) is below the range
    assert session["preferences"]["tempo_range_bpm"] == [80.0, 100.0]
    assert "80-100 BPM" in session["pacing"]["tempo_note"]
    alice.put("/v1/me/profile", json={})
    assert alice.new_session()["preferences"]["tempo_range_bpm"] is None


def test_a_session_sets_its_own_tempo_range_and_a_bad_one_is_a_4xx(alice: Api) -> None:
    own = alice.new_session(preferences={"tempo_range_bpm": [60, 75]})
    assert own["preferences"]["tempo_range_bpm"] == [60.0, 75.0] and own["pacing"]["tempo_note"] is None
    for bad in ([90, 60], [20, 60], [70]):
        r = alice.post("/v1/sessions", json={"start": "anxious", "target": "calm",
                                             "preferences": {"tempo_range_bpm": bad}})
        assert 400 <= r.status_code < 500 and "tempo" in r.text, (bad, r.text)


def test_what_the_listener_rejects_in_a_session_is_remembered_until_they_ask_for_it(alice: Api, bob: Api) -> None:
    first = alice.new_session()
    r = alice.post(f"/v1/sessions/{first['id']}/messages", json={"text": "no drums please"})
    assert r.status_code == 200 and "drums" in r.json()["session"]["preferences"]["avoid"]
    profile = alice.get("/v1/me/profile").json()
    assert profile["rejected"] == ["drums"] and profile["sessions"] == 0  # a word, not a session
    assert bob.get("/v1/me/profile").json()["rejected"] == []
    assert "drums" in alice.new_session()["preferences"]["avoid"]  # the next session remembers
    # asking for it again (the preference PATCH, as the chat page's chips send it) lifts the rejection
    prefs = {"prefer": ["drums"], "avoid": [], "loudness_ceiling_lufs": -14}
    r = alice.patch(f"/v1/sessions/{first['id']}", json={"preferences": prefs})
    assert r.status_code == 200, r.text
    assert alice.get("/v1/me/profile").json()["rejected"] == []
    assert "drums" not in alice.new_session()["preferences"]["avoid"]
    # so does removing it from the avoided sounds (the chat page's avoid chip ×)
    alice.post(f"/v1/sessions/{first['id']}/messages", json={"text": "no bells please"})
    assert alice.get("/v1/me/profile").json()["rejected"] == ["bells"]
    r = alice.patch(f"/v1/sessions/{first['id']}", json={"preferences": {**prefs, "avoid": []}})
    assert r.status_code == 200 and alice.get("/v1/me/profile").json()["rejected"] == []
