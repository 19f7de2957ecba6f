"""The clinical API end to end: invitations and consent, review before play, self-reports,
progress, the report and CSV, export and erase, encryption at rest."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

from clinical_support import ALL_SCOPES, PROGRAMME, STEP, audit_entries, link, therapist
from srv_support import Api


def test_invitations_are_single_use_and_consent_is_the_listeners(service, client, alice: Api, bob: Api) -> None:
    tina = therapist(service, client)
    code = tina.post("/v1/invitations", json={"days": 1}).json()["code"]
    assert tina.post("/v1/consents", json={"code": code, "scopes": ["sessions"]}).status_code == 409
    assert alice.post("/v1/consents", json={"code": code, "scopes": ["everything"]}).status_code == 422
    r = alice.post("/v1/consents", json={"code": code, "scopes": ["sessions", "sessions"]})
    assert r.status_code == 201 and r.json()["scopes"] == ["sessions"] and r.json()["therapist"] == "tina"
    assert bob.post("/v1/consents", json={"code": code, "scopes": ["sessions"]}).status_code == 404  # used
    assert alice.post("/v1/consents", json={"code": "inv_madeup", "scopes": []}).status_code == 404
    again = tina.post("/v1/invitations", json={}).json()["code"]
    assert alice.post("/v1/consents", json={"code": again, "scopes": []}).status_code == 409  # one grant per pair
    assert [c["name"] for c in tina.get("/v1/clients").json()] == ["alice"]
    assert tina.get("/v1/invitations").json()[0]["status"] in ("open", "used")
    assert [a["action"] for a in audit_entries(alice, "alice")][:1] == ["grant"]


def test_the_access_log_holds_a_grant_of_every_scope() -> None:
    # A grant is logged with its scopes joined by ","; SQLite never enforces a VARCHAR width, so only
    # the PostgreSQL run would otherwise notice a column too narrow for them (it answered 500 once).
    from typing import get_args

    from promptloop.service.clinical.consent import Scope
    from promptloop.service.clinical.models import AccessRecord

    width = AccessRecord.__table__.c.scope.type.length
    assert sorted(ALL_SCOPES) == sorted(get_args(Scope))
    assert len(",".join(get_args(Scope))) <= width

def test_review_before_play_pins_what_the_therapist_approved(service, client, alice: Api) -> None:
    tina = therapist(service, client)
    cid = link(tina, alice, ["prescribe"])
    body = copy.deepcopy(PROGRAMME)
    body["steps"] = [{**STEP, "review": True, "segments": 3, "preview": 2}]
    programme = tina.post(f"/v1/clients/{cid}/programmes", json=body).json()
    base = f"/v1/clients/{cid}/programmes/{programme['id']}"
    start = f"/v1/me/programmes/{programme['id']}/sessions"
    assert alice.get("/v1/me/programmes").json()[0]["steps"][0]["status"] == "awaiting review"
    assert alice.post(start, json={"step": 0}).status_code == 409

    proposal = tina.post(f"{base}/steps/0/proposal").json()
    assert len(proposal["waypoints"]) == 3 and len(proposal["plans"]) == 2
    assert all("drum" not in p["prompt"].lower() for p in proposal["plans"])
    assert tina.get("/v1/approvals").json()[0]["proposal_id"] == proposal["id"]
    decision = f"{base}/proposals/{proposal['id']}/decision"
    bad = tina.post(decision, json={"action": "edit", "plans": [{"index": 0, "prompt": "loud drums and piano"}]})
    assert bad.status_code == 422 and "drums" in bad.text  # an edit is checked like a planner's plan
    edited = "slow solo piano, soft rain, warm and low"
    r = tina.post(decision, json={"action": "edit", "plans": [{"index": 0, "prompt": edited}], "note": "gentler"})
    assert r.status_code == 200 and r.json()["status"] == "edited" and r.json()["plans"][0]["planner"] == "therapist"
    assert tina.post(decision, json={"action": "approve"}).status_code == 409  # decided once
    assert tina.get("/v1/approvals").json() == []

    session = alice.post(start, json={"step": 0}).json()
    assert alice.get(f"/v1/sessions/{session['id']}/programme").json()["approved_segments"] == [0, 1]
    alice.generate(session["id"], 3)
    segments = alice.get(f"/v1/sessions/{session['id']}/segments").json()
    assert segments[0]["prompt"] == edited  # what was approved is what played
    assert segments[1]["prompt"] == proposal["plans"][1]["prompt"]
    played = [(round(s["waypoint"]["valence"], 3), round(s["waypoint"]["arousal"], 3)) for s in segments]
    planned = [(round(w["valence"], 3), round(w["arousal"], 3)) for w in proposal["waypoints"]]
    assert played == planned  # the reviewed path is the path the session took

    # a later rejection withdraws the approval: the step waits again
    second = tina.post(f"{base}/steps/0/proposal").json()
    rejected = tina.post(f"{base}/proposals/{second['id']}/decision", json={"action": "reject"})
    assert rejected.json()["status"] == "rejected"
    assert alice.post(start, json={"step": 0}).status_code == 409


def test_self_reports_progress_report_and_csv(service, client, alice: Api) -> None:
    tina = therapist(service, client)
    cid = link(tina, alice, ["sessions", "prescribe", "physiology"])
    programme = tina.post(f"/v1/clients/{cid}/programmes", json=PROGRAMME).json()
    sid = alice.post(f"/v1/me/programmes/{programme['id']}/sessions", json={"step": 0}).json()["id"]
    url = f"/v1/sessions/{sid}/self-reports"
    assert alice.post(url, json={"phase": "pre", "valence": 10, "arousal": 5}).status_code == 422
    assert alice.post(url, json={"phase": "pre", "valence": 3, "arousal": 5, "answers": {"sleep": {"drowsy": 1}}}
                      ).status_code == 422  # the questionnaire is for after the session
    assert alice.post(url, json={"phase": "pre", "valence": 3, "arousal": 8, "distress": 7}).status_code == 201
    assert alice.post(url, json={"phase": "pre", "valence": 4, "arousal": 8}).status_code == 409
    alice.post(f"/v1/sessions/{sid}/readings", json={"readings": [{"heart_rate": 90}, {"heart_rate": 94}]})
    alice.generate(sid, 2)
    alice.post(f"/v1/sessions/{sid}/readings", json={"readings": [{"heart_rate": 70}]})
    assert alice.post(url, json={"phase": "post", "valence": 7, "arousal": 3, "distress": 2,
                                 "answers": {"sleep": {"drowsy": 9}}}).status_code == 422  # item range 0-4
    assert alice.post(url, json={"phase": "post", "valence": 7, "arousal": 3, "distress": 2,
                                 "answers": {"sleep": {"drowsy": 3}}}).status_code == 201
    other = alice.new_session(title="<b>my own</b>")  # a session outside the programme, no reports

    progress = tina.get(f"/v1/clients/{cid}/progress").json()
    first, second = progress["sessions"]
    assert first["change"] == {"valence": 4, "arousal": -5, "distress": -5}
    assert first["post"]["answers"] == {"sleep": {"drowsy": 3}}
    assert first["physiology"]["first"] == {"heart_rate": 92.0}
    assert first["physiology"]["change"] == {"heart_rate": -22.0}
    assert second["session_id"] == other["id"] and second["change"] is None
    assert progress["summary"]["with_both_reports"] == 1 and progress["summary"]["mean_valence_change"] == 4

    rows = list(csv.DictReader(io.StringIO(tina.get(f"/v1/clients/{cid}/report.csv").text)))
    assert [r["session_id"] for r in rows] == [sid, other["id"]]
    assert (rows[0]["pre_valence"], rows[0]["post_valence"], rows[0]["change_heart_rate"]) == ("3", "7", "-22.0")
    html = tina.get(f"/v1/clients/{cid}/report.html")
    assert html.headers["content-type"].startswith("text/html") and "attachment" in html.headers["content-disposition"]
    assert 'src="data:image/png;base64,' in html.text and "<b>my own</b>" not in html.text
    assert "&lt;b&gt;my own&lt;/b&gt;" in html.text


def test_export_erase_and_encryption_cover_the_clinical_data(service, client, alice: Api, bob: Api) -> None:
    tina = therapist(service, client)
    cid = link(tina, alice, ALL_SCOPES)
    note = "NOTE-only-for-alice-7731"
    programme = tina.post(f"/v1/clients/{cid}/programmes", json={**PROGRAMME, "note": note}).json()
    sid = alice.post(f"/v1/me/programmes/{programme['id']}/sessions", json={"step": 0}).json()["id"]
    alice.post(f"/v1/sessions/{sid}/self-reports", json={"phase": "pre", "valence": 2, "arousal": 9, "distress": 9})
    tina.get(f"/v1/clients/{cid}/progress")
    link(tina, bob, ["sessions"])

    data = Path(service.config.data_dir)
    stored = b"".join(p.read_bytes() for p in data.glob("promptloop.db*"))
    assert note.encode() not in stored and b'"distress"' not in stored  # sealed, like readings

    exported = alice.get("/v1/me/export").json()["clinical"]
    assert exported["programmes"][0]["note"] == note
    assert exported["self_reports"][0]["distress"] == 9
    assert exported["consents"][0]["as"] == "listener"
    assert any(a["actor"] == "tina" and a["object_type"] == "progress" for a in exported["access_log"])
    assert exported["programme_sessions"][0]["locks"]["avoid"] == ["drums"]

    assert alice.delete("/v1/me").status_code == 200
    from sqlalchemy import text

    with service.engine.connect() as db:
        for table in ("consents", "programmes", "programme_sessions", "self_reports", "proposals"):
            left = db.execute(text(f"select count(*) from {table}")).scalar()
            assert left == (1 if table == "consents" else 0), table  # bob's grant to tina stays
        assert db.execute(text("select count(*) from clinical_access where subject_id != "
                               "(select id from users where name='bob')")).scalar() == 0
    assert [c["name"] for c in tina.get("/v1/clients").json()] == ["bob"]


def test_a_playlist_from_a_programme_step_belongs_to_the_client(service, client, alice: Api) -> None:
    tina = therapist(service, client)
    cid = link(tina, alice, ["prescribe"])
    programme = tina.post(f"/v1/clients/{cid}/programmes", json=PROGRAMME).json()
    r = tina.post(f"/v1/clients/{cid}/programmes/{programme['id']}/steps/0/playlist", json={"tracks": 2})
    assert r.status_code == 202, r.text
    job = alice.wait_job(r.json()["id"], timeout=300)
    assert job["status"] == "succeeded" and job["kind"] == "playlist" and job["total"] == 2
    assert tina.get(f"/v1/jobs/{job['id']}").status_code == 404  # the client's, not the therapist's
    report = alice.get(f"/v1/playlists/{job['id']}").json()
    tracks = [f for f in report["files"] if f.endswith(".flac")]
    assert len(tracks) == 2
    listener = report["report"]["listeners"][0]
    prompts = [seg["prompt"] for track in listener["tracks"] for seg in track["segments"]]
    assert len(prompts) == 4 and not any("drum" in p.lower() for p in prompts)  # the step's forbidden sound
    assert listener["start"] == {"valence": -0.6, "arousal": 0.7}  # anxious
    assert listener["target"] == {"valence": 0.4, "arousal": -0.6}  # calm


def test_what_the_llm_planner_proposes_is_checked_then_reviewed(make_service, shared_backends, tmp_path) -> None:
    """A fake chat model behind the real LLM planner: its unsafe first plan is replaced by the rule
    planner's (and the proposal says why), its second plan is shown as written."""
    from fastapi.testclient import TestClient
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from promptloop.feedback.planners.llm import LLMPlanner
    from promptloop.wiring.builders import Backends
    from promptloop_server import create_app

    def plan(prompt: str, **fields: object) -> str:
        return json.dumps({"prompt": prompt, "tempo_bpm": 70, "key": "C", "mode": "major", "instruments": ["piano"],
                           "genre": "ambient", "dynamics": "p", "density": 0.3, "brightness": 0.4,
                           "rationale": "test", **fields})

    plans = [plan("driving drums and piano, 70 bpm, C major", instruments=["drums", "piano"]),
             plan("slow piano and soft rain, 70 bpm, C major")]
    llm = LLMPlanner(FakeListChatModel(responses=plans), retries=0)
    service = make_service()
    service.backends.factory = lambda g, p, e: Backends(shared_backends.generator, llm if p == "llm" else
                                                        shared_backends.planner, shared_backends.evaluator,
                                                        shared_backends.fallback_planner)
    with TestClient(create_app(service, close_service=False)) as client:
        alice = Api(client, service.create_user("alice")[1])
        tina = therapist(service, client)
        cid = link(tina, alice, ["prescribe"])
        body = {**PROGRAMME, "steps": [{**STEP, "planner": "llm"}]}
        programme = tina.post(f"/v1/clients/{cid}/programmes", json=body).json()
        assert programme["steps"][0]["needs_review"]  # on by default for the llm planner
        proposal = tina.post(f"/v1/clients/{cid}/programmes/{programme['id']}/steps/0/proposal").json()
        first, second = proposal["plans"]
        assert first["planner"] == "rule (fallback)" and "drums" in first["fallback"]
        assert "drum" not in first["prompt"].lower()
        assert second["planner"] == "llm" and second["prompt"].startswith("slow piano and soft rain")


def test_a_programme_step_sets_how_readings_pace_its_session(service, client, alice: Api) -> None:
    """A step prescribes closed-loop pacing (the default) or the planned path: the client's readings
    then pace the session, or only move where the path meets them."""
    tina = therapist(service, client)
    cid = link(tina, alice, ["prescribe"])
    body = copy.deepcopy(PROGRAMME)
    body["steps"] = [STEP, {**STEP, "pacing": "open"}]
    programme = tina.post(f"/v1/clients/{cid}/programmes", json=body).json()
    assert [s["spec"]["pacing"] for s in programme["steps"]] == ["closed", "open"]
    bad = {**body, "steps": [{**STEP, "pacing": "sideways"}]}
    r = tina.post(f"/v1/clients/{cid}/programmes", json=bad)
    assert r.status_code == 422 and "pacing" in r.text
    start = f"/v1/me/programmes/{programme['id']}/sessions"
    for step, mode in ((0, "closed"), (1, "open")):
        session = alice.post(start, json={"step": step}).json()
        assert session["closed_loop"] == {"mode": mode, "active": False}
        answer = alice.post(f"/v1/sessions/{session['id']}/readings", json={"readings": [{"heart_rate": 96}]}).json()
        assert answer["closed_loop"]["active"] is (mode == "closed")


def test_a_programme_step_prescribes_and_locks_a_tempo_range(service, client, alice: Api) -> None:
    """A therapist's tempo range reaches the client's session; locked, the client cannot widen or
    drop it, and the plans made stay inside it."""
    tina = therapist(service, client)
    cid = link(tina, alice, ["prescribe"])
    body = copy.deepcopy(PROGRAMME)
    body["steps"] = [{**STEP, "tempo_range_bpm": [80, 100], "locks": [*STEP["locks"], "tempo_range"]}]
    programme = tina.post(f"/v1/clients/{cid}/programmes", json=body).json()
    for bad in ({**STEP, "tempo_range_bpm": [100, 80]}, {**STEP, "locks": ["tempo_range"]}):
        r = tina.post(f"/v1/clients/{cid}/programmes", json={**body, "steps": [bad]})
        assert r.status_code == 422 and "tempo" in r.text, r.text
    session = alice.post(f"/v1/me/programmes/{programme['id']}/sessions", json={"step": 0}).json()
    sid = session["id"]
    assert session["preferences"]["tempo_range_bpm"] == [80.0, 100.0]
    assert "tempo within 80-100 BPM" in alice.get(f"/v1/sessions/{sid}/programme").json()["locks"]
    prefs = {"prefer": ["piano"], "avoid": ["drums"], "loudness_ceiling_lufs": -24}
    for loose in (None, [60, 100]):
        r = alice.patch(f"/v1/sessions/{sid}", json={"preferences": {**prefs, "tempo_range_bpm": loose}})
        assert r.status_code == 409 and "tempo range" in r.json()["detail"], r.text
    r = alice.patch(f"/v1/sessions/{sid}", json={"preferences": {**prefs, "tempo_range_bpm": [84, 96]}})
    assert r.status_code == 200 and r.json()["preferences"]["tempo_range_bpm"] == [84.0, 96.0]  # tightening
    alice.generate(sid, 2)
    record = alice.get(f"/v1/sessions/{sid}/provenance").json()
    tempi = [s["attempts"][s["chosen_attempt"]]["plan"]["tempo_bpm"] for s in record["segments"]]
    assert len(tempi) == 2 and all(84 <= t <= 96 for t in tempi) and tempi[-1] == 84  # calm asks for 69


def test_with_the_profile_scope_a_therapist_reads_the_clients_profile_and_cannot_edit_it(service, client, alice: Api) -> None:
    tina = therapist(service, client)
    cid = link(tina, alice, ["sessions"])
    assert tina.get(f"/v1/clients/{cid}/profile").status_code == 403
    alice.put("/v1/me/profile", json={"rejected": ["bells"], "comfortable_tempo_bpm": [60, 85]})
    assert alice.patch(f"/v1/consents/{cid}", json={"scopes": ["sessions", "profile"]}).status_code == 200
    r = tina.get(f"/v1/clients/{cid}/profile")
    assert r.status_code == 200 and r.json()["rejected"] == ["bells"] and r.json()["comfortable_tempo_bpm"] == [60.0, 85.0]
    assert tina.put(f"/v1/clients/{cid}/profile", json={"rejected": []}).status_code == 405
    assert [a["scope"] for a in audit_entries(alice, "tina")][:2] == ["profile", "profile"]  # the read and the denial
