"""Live playback in headless Chromium: a chat message sent while a segment plays audibly changes the
next segment the listener hears (issue 13), measured on the audio.

Before issue 13, "keep going" generated every segment within seconds of pressing Start, so a
message sent during playback changed nothing the listener heard in that session.  Here the page
generates just ahead of playback (the session's lookahead), the listener says "too loud" while
segment 1 plays, and a later segment of the same session must carry the change and measure quieter
than the ones before it, which hold their level.
"""

from __future__ import annotations

import io
import os
import time

import httpx
import numpy as np
import pytest
import soundfile as sf
from srv_support import CHROMIUM, Api, launch_chromium, open_chat, users_add

from promptloop.audio.mix import integrated_lufs

SEGMENTS, SECONDS = 4, 4.0

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


def _loudness(api: Api, session_id: str, index: int) -> float:
    r = api.get(f"/v1/sessions/{session_id}/segments/{index}/audio")
    assert r.status_code == 200
    audio, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    return integrated_lufs(np.asarray(audio if audio.ndim == 1 else audio.mean(axis=1)), sr)


def test_too_loud_during_playback_makes_the_next_heard_segment_quieter(live_server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'promptloop[test]'")
    token = users_add(live_server.data_dir, "dana")
    with httpx.Client(base_url=live_server.base, timeout=60) as client:
        _run(live_server, sync_api, Api(client, token), token)


def _run(live_server, sync_api, dana: Api, token: str) -> None:  # type: ignore[no-untyped-def]
    # calm -> calm: the level holds from segment to segment unless the listener asks otherwise
    session = dana.new_session(start="calm", target="calm", segments=SEGMENTS, segment_seconds=SECONDS,
                               lookahead_seconds=1.0, title="live test", preferences={"prefer": ["piano"]})
    assert session["live"]["lookahead_s"] == 1.0 and not session["pacing"]["steep"]
    sid = session["id"]

    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            errors: list[str] = []
            page = open_chat(browser, live_server.base, token, sid, errors)
            assert page.locator("#auto").is_checked()  # "keep going"
            page.click("#next")  # the listener presses play: audio starts, the page keeps going
            page.wait_for_function("() => document.getElementById('live-status').textContent"
                                   ".includes('segment 1 scheduled')", timeout=120_000)
            made_before = dana.get(f"/v1/sessions/{sid}").json()["segments_done"]
            page.fill("#message", "too loud")
            page.click("#send")
            page.wait_for_selector(".msg.assistant:has-text('loudness ceiling')", timeout=60_000)
            page.wait_for_function(f"() => document.querySelectorAll('.msg.segment').length >= {SEGMENTS}",
                                   timeout=(SEGMENTS * SECONDS + 120) * 1000)
            # audio queued ahead of the playhead as each segment arrived: no more than the page aimed
            # for when it asked (the lookahead plus its estimate of a segment's generation time), never
            # a backlog of segments (generating all at once queued ~3 segments = 12 s here).  The aim,
            # not a fixed bound: on a busy machine generation is slower and the page rightly asks earlier;
            # and the page paces by the audio clock, which on a busy machine can run behind the wall clock.
            queued, aimed = page.evaluate("[st.queuedAhead, st.aimedAhead]")
            assert len(queued) == len(aimed) == SEGMENTS, (queued, aimed)
            assert all(q < a + SECONDS / 2 for q, a in zip(queued, aimed, strict=True)), (queued, aimed)
            assert min(aimed[1:]) >= 1.0  # the session's lookahead is part of every aim
            assert not errors, errors
        finally:
            browser.close()

    # Paced, not all at once: when the message was sent, the rest of the session was not made yet.
    assert made_before < SEGMENTS - 1, made_before
    deadline = time.monotonic() + 60
    while dana.get(f"/v1/sessions/{sid}").json()["segments_done"] < SEGMENTS and time.monotonic() < deadline:
        time.sleep(0.5)
    records = [dana.get(f"/v1/sessions/{sid}/segments/{i}").json()["record"] for i in range(SEGMENTS)]
    changed = [i for i, r in enumerate(records) if any(e.get("source") == "chat" for e in r["events"])]
    assert changed, "no segment after the message carries it"
    first = changed[0]
    assert 1 <= first <= made_before + 1  # the next segment made after the message: the next one heard
    levels = [_loudness(dana, sid, i) for i in range(SEGMENTS)]
    assert all(abs(levels[i] - levels[0]) < 1.0 for i in range(first)), levels  # level held before
    assert levels[first] < levels[first - 1] - 2.5, levels  # then audibly quieter
