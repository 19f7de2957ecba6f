"""`promptloop serve` as a real process on loopback: login URL, the whole flow over HTTP, the event
stream, and a restart of the process in the middle of a session."""

from __future__ import annotations

import json
import threading

import httpx
from srv_support import SHORT, Api, start_server, stop_server


def test_serve_prints_a_login_url_and_serves_the_chat_page(live_server) -> None:
    assert live_server.token.startswith("pl_")
    page = httpx.get(live_server.base + "/chat")
    assert page.status_code == 200 and "<audio id=\"player\"" in page.text
    assert httpx.get(live_server.base + "/static/chat.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(live_server.base + "/openapi.json").json()["openapi"].startswith("3.")


def test_flow_over_http_with_server_sent_events(live_server, live_tokens) -> None:
    with httpx.Client(base_url=live_server.base, timeout=60) as client:
        alice = Api(client, live_tokens["alice"])
        s = alice.new_session(segments=2)
        events: list[dict] = []
        subscribed = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", f"{live_server.base}/v1/sessions/{s['id']}/events",
                              headers=alice.headers, timeout=60) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        subscribed.set()
                        if events[-1]["type"] == "job" and events[-1]["job"]["status"] == "succeeded":
                            return

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        assert subscribed.wait(30)
        alice.post(f"/v1/sessions/{s['id']}/readings", json={"readings": [{"heart_rate": 95}]})
        alice.post(f"/v1/sessions/{s['id']}/messages", json={"text": "no piano"})
        job = alice.generate(s["id"], segments=2)
        reader.join(60)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "state" and "listener" in kinds and "message" in kinds and "progress" in kinds
        segments = [e["segment"] for e in events if e["type"] == "segment"]
        assert [x["index"] for x in segments] == [0, 1]
        statuses = [e["job"]["status"] for e in events if e["type"] == "job"]
        assert statuses[-1] == "succeeded" and "running" in statuses
        audio = client.get(segments[1]["audio_url"], headers=alice.headers)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert job["done"] == 2


def test_a_restarted_process_continues_the_session(tmp_path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            alice = Api(client, server.token)
            s = alice.new_session(**{**SHORT, "segments": 3})
            alice.generate(s["id"])
    finally:
        stop_server(server)
    again = start_server(data)  # same store: no new user, no token printed
    try:
        assert again.token == ""
        with httpx.Client(base_url=again.base, timeout=60) as client:
            alice = Api(client, server.token)
            assert alice.get(f"/v1/sessions/{s['id']}").json()["segments_done"] == 1
            alice.generate(s["id"], segments=2)
            assert [x["index"] for x in alice.get(f"/v1/sessions/{s['id']}/segments").json()] == [0, 1, 2]
    finally:
        stop_server(again)
