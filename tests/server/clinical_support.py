"""Helpers for the clinical tests: therapists, consent links and a short programme."""

from __future__ import annotations

from typing import Any

from srv_support import Api

from promptloop.service.clinical import Clinical
from promptloop.service.engine import Service

ALL_SCOPES = ["sessions", "physiology", "messages", "prescribe", "profile"]
# Two short segments, one candidate, no retries: a fraction of a second each with the synth.
STEP: dict[str, Any] = {"title": "wind down", "start": "anxious", "target": "calm", "segments": 2,
                        "segment_seconds": 2.5, "prefer": ["piano"], "avoid": ["drums"],
                        "loudness_ceiling_lufs": -24.0, "locks": ["loudness_ceiling", "avoid", "target"]}
PROGRAMME: dict[str, Any] = {
    "title": "evening programme", "note": "Play this before bed.", "steps": [STEP],
    "questionnaires": [{"id": "sleep", "title": "Sleepiness", "when": "post",
                        "items": [{"id": "drowsy", "text": "How drowsy are you?", "min": 0, "max": 4}]}],
}


def therapist(service: Service, client: Any, name: str = "tina") -> Api:
    _user, token = service.create_user(name)
    Clinical(service).set_role(None, name, "therapist")
    return Api(client, token)


def link(therapist: Api, listener: Api, scopes: list[str]) -> str:
    """Invite ``listener`` and accept with ``scopes``; the therapist's client id."""
    invitation = therapist.post("/v1/invitations", json={"note": "test"})
    assert invitation.status_code == 201, invitation.text
    grant = listener.post("/v1/consents", json={"code": invitation.json()["code"], "scopes": scopes})
    assert grant.status_code == 201, grant.text
    return str(grant.json()["id"])


def audit_entries(listener: Api, actor: str) -> list[dict[str, Any]]:
    r = listener.get("/v1/me/audit")
    assert r.status_code == 200, r.text
    return [a for a in r.json() if a["actor"] == actor]
