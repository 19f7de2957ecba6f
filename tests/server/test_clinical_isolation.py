"""The isolation matrix extended to roles.

Every endpoint that returns or changes a client's data through a therapist is listed with the consent
scope it needs.  For each one: a therapist without a grant, and one whose grant was revoked, get the
same 404 as for a made-up id; a grant that lacks the scope gets 403 naming it; a grant of exactly
that scope gets the data, no more, and the client's audit log gains an entry.  Listener-side clinical
endpoints answer another listener 404, and therapist-side ones answer listeners 403.
"""

from __future__ import annotations

import re

from clinical_support import ALL_SCOPES, PROGRAMME, audit_entries, link, therapist
from srv_support import Api

C = "/v1/clients/{client_id}"
P = C + "/programmes/{programme_id}"
# every endpoint under /v1/clients/{client_id}: the scope it needs (None: any current grant)
SCOPE: dict[tuple[str, str], str | None] = {
    ("get", C): None,
    ("get", C + "/sessions"): "sessions",
    ("get", C + "/sessions/{session_id}"): "sessions",
    ("get", C + "/sessions/{session_id}/self-reports"): "sessions",
    ("get", C + "/sessions/{session_id}/messages"): "messages",
    ("get", C + "/sessions/{session_id}/physiology"): "physiology",
    ("get", C + "/progress"): "sessions",
    ("get", C + "/profile"): "profile",
    ("get", C + "/report.html"): "sessions",
    ("get", C + "/report.csv"): "sessions",
    ("post", C + "/programmes"): "prescribe",
    ("get", C + "/programmes"): "prescribe",
    ("get", P): "prescribe",
    ("post", P + "/steps/{step}/proposal"): "prescribe",
    ("post", P + "/steps/{step}/playlist"): "prescribe",
    ("get", P + "/proposals"): "prescribe",
    ("post", P + "/proposals/{proposal_id}/decision"): "prescribe",
    ("put", P): "prescribe",  # after the decision: replacing a programme drops its proposals
    ("delete", P): "prescribe",  # last: it removes the programme the others use
}
BODIES = {("post", C + "/programmes"): PROGRAMME, ("put", P): PROGRAMME,
          ("post", P + "/proposals/{proposal_id}/decision"): {"action": "approve"},
          ("post", P + "/steps/{step}/playlist"): {"tracks": 1}}
# listener-side endpoints that take another id than a session's (those are in test_isolation.py)
LISTENER_SIDE = {("patch", "/v1/consents/{consent_id}"): {"scopes": ["sessions"]},
                 ("delete", "/v1/consents/{consent_id}"): None,
                 ("post", "/v1/me/programmes/{programme_id}/sessions"): {"step": 0}}
THERAPIST_ONLY = {("post", "/v1/invitations"): {}, ("get", "/v1/invitations"): None,
                  ("delete", "/v1/invitations/{invitation_id}"): None, ("get", "/v1/clients"): None,
                  ("get", "/v1/approvals"): None}
ADMIN_ONLY = {("put", "/v1/admin/users/{user_name}/role"): {"role": "therapist"}}
MESSAGE = "please no drums at all"
HEART_RATE = 97.25


def _paths(client) -> set[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return {(m, p) for p, ops in schema["paths"].items() for m in ops}


def test_the_role_matrix_covers_every_clinical_endpoint(client) -> None:
    paths = _paths(client)
    assert {e for e in paths if e[1].startswith("/v1/clients/")} == set(SCOPE)
    others = {e for e in paths if re.search(r"{(?!session_id)(?!job_id)(?!index)\w+}", e[1])} - set(SCOPE)
    assert others == set(LISTENER_SIDE) | {k for k in THERAPIST_ONLY if "{" in k[1]} | set(ADMIN_ONLY)


def _call(api: Api, method: str, path: str, ids: dict[str, str]):
    url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
    body = BODIES.get((method, path))
    return getattr(api, method)(url, **({"json": body} if body is not None else {}))


def test_therapists_see_exactly_what_the_consent_grants(service, client, alice: Api) -> None:
    tina, tom = therapist(service, client, "tina"), therapist(service, client, "tom")
    client_id = link(tina, alice, ALL_SCOPES)
    s = alice.new_session(segments=2)
    alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [{"heart_rate": HEART_RATE}]})
    alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": MESSAGE})
    alice.post(f"/v1/sessions/{s['id']}/self-reports", json={"phase": "pre", "valence": 3, "arousal": 7, "distress": 6})
    alice.generate(s["id"])
    programme = tina.post(f"/v1/clients/{client_id}/programmes", json=PROGRAMME).json()
    proposal = tina.post(f"/v1/clients/{client_id}/programmes/{programme['id']}/steps/0/proposal").json()
    ids = {"client_id": client_id, "session_id": s["id"], "programme_id": programme["id"],
           "proposal_id": proposal["id"], "step": "0"}
    made_up = {**ids, "client_id": "c_madeup"}

    # a therapist's token on the client's own routes is a stranger's
    assert tina.get(f"/v1/sessions/{s['id']}").status_code == 404
    assert tina.get(f"/v1/sessions/{s['id']}/messages").status_code == 404

    for (method, path), scope in SCOPE.items():
        # without a grant: exactly the answer for an id that does not exist
        r, r0 = _call(tom, method, path, ids), _call(tom, method, path, made_up)
        assert (r.status_code, r.json()) == (r0.status_code, r0.json()) == (404, {"detail": "no such client"}), path
        if scope is not None:  # a grant that lacks the scope: 403 naming it, and the denial is logged
            narrower = [x for x in ALL_SCOPES if x != scope]
            assert alice.patch(f"/v1/consents/{client_id}", json={"scopes": narrower}).status_code == 200
            before = len(audit_entries(alice, "tina"))
            r = _call(tina, method, path, ids)
            assert r.status_code == 403 and scope in r.json()["detail"], (path, r.status_code, r.text)
            denied = audit_entries(alice, "tina")
            assert len(denied) == before + 1 and denied[0]["action"] == "denied" and denied[0]["scope"] == scope
        # a grant of exactly the scope: the data, and an audit entry naming who, what and which scope
        assert alice.patch(f"/v1/consents/{client_id}", json={"scopes": [scope] if scope else []}).status_code == 200
        before = len(audit_entries(alice, "tina"))
        r = _call(tina, method, path, ids)
        assert r.status_code in (200, 201, 202, 204), (path, r.status_code, r.text)
        entries = audit_entries(alice, "tina")
        assert len(entries) > before and entries[0]["action"] != "denied", path
        assert all(e["scope"] == scope for e in entries[: len(entries) - before]), path
        if scope != "messages":
            assert MESSAGE not in r.text, path
        if scope != "physiology":
            assert str(HEART_RATE) not in r.text, path
        if scope == "physiology":
            assert r.json()["summary"]["first"] == {"heart_rate": HEART_RATE} and "readings" not in r.json()
        if path.endswith("/progress"):
            assert not r.json()["includes_physiology"] and "physiology" not in r.json()["sessions"][0]

    # revoked: every endpoint is a 404 again, the same as for a made-up id, effective at once
    assert alice.delete(f"/v1/consents/{client_id}").status_code == 200
    for (method, path) in SCOPE:
        r, r0 = _call(tina, method, path, ids), _call(tina, method, path, made_up)
        assert (r.status_code, r.json()) == (r0.status_code, r0.json()) == (404, {"detail": "no such client"}), path
    assert tina.get("/v1/clients").json() == []


def test_listener_side_ids_are_the_owners_and_roles_gate_the_rest(service, client, alice: Api, bob: Api) -> None:
    tina = therapist(service, client)
    client_id = link(tina, alice, ALL_SCOPES)
    programme = tina.post(f"/v1/clients/{client_id}/programmes", json=PROGRAMME).json()
    invitation = tina.post("/v1/invitations", json={}).json()
    ids = {"consent_id": client_id, "programme_id": programme["id"], "invitation_id": invitation["id"],
           "user_name": "alice"}
    for (method, path), body in LISTENER_SIDE.items():
        url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
        r = getattr(bob, method)(url, **({"json": body} if body is not None else {}))
        missing = getattr(bob, method)(re.sub(r"{(\w+)}", "x_nope", path), **({"json": body} if body else {}))
        assert r.status_code == 404 and (r.status_code, r.json()) == (missing.status_code, missing.json()), path
    for table, who in ((THERAPIST_ONLY, "therapist"), (ADMIN_ONLY, "admin")):
        for (method, path), body in table.items():
            url = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)
            r = getattr(alice, method)(url, **({"json": body} if body is not None else {}))
            assert r.status_code == 403 and who in r.json()["detail"], (path, r.status_code, r.text)
    # a therapist is not an admin either, and an admin's role opens no one's data
    assert tina.put("/v1/admin/users/alice/role", json={"role": "therapist"}).status_code == 403
    assert alice.get("/v1/consents").json()[0]["active"]  # bob's attempts changed nothing
    assert alice.get("/v1/me/programmes").json()[0]["id"] == programme["id"]
