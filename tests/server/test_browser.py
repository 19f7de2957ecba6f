"""The chat page in headless Chromium (Debian's `chromium`, driven by Playwright): send a message,
a segment arrives, the audio element gets playable audio, and the plot shows a point.

A screenshot is kept in test-artifacts/chat-page.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from srv_support import CHROMIUM, Api, launch_chromium, open_chat, users_add

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


def test_chat_page_plays_a_segment_and_plots_it(live_server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'promptloop[test]'")
    token = users_add(live_server.data_dir, "carol")
    with httpx.Client(base_url=live_server.base, timeout=60) as client:
        carol = Api(client, token)
        session = carol.new_session(start="anxious", target="calm", segments=3, segment_seconds=2.5,
                                    title="browser test",
                                    preferences={"prefer": ["piano"], "tempo_range_bpm": [60, 90]})

    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            errors: list[str] = []
            # the session list loads after the app shows: open_chat waits for it rather than race it
            page = open_chat(browser, live_server.base, token, session["id"], errors,
                             viewport={"width": 1280, "height": 800})
            assert "#token" not in page.url  # the token leaves the address bar at once
            assert page.locator("#chips-like .chip").all_inner_texts()[0].startswith("piano")

            page.fill("#message", "no drums please")
            page.click("#send")
            page.wait_for_selector(".msg.assistant:has-text('avoiding drums')")
            page.wait_for_selector(".msg.segment", timeout=90_000)  # the segment arrived
            assert "Segment 1" in page.locator(".msg.segment").first.inner_text()
            assert page.locator("#chips-avoid .chip").all_inner_texts()[0].startswith("drums")
            # removing a chip sends the whole preference set back: the tempo range stays
            page.click("#chips-like .chip button")
            page.wait_for_function("() => !document.querySelector('#chips-like .chip')")
            with httpx.Client(base_url=live_server.base, timeout=60) as client:
                prefs = Api(client, token).get(f"/v1/sessions/{session['id']}").json()["preferences"]
            assert prefs["instruments"] == [] and prefs["tempo_range_bpm"] == [60.0, 90.0], prefs

            # the plot shows the planned waypoint and the estimate of the first segment
            assert page.locator("#points circle.estimate").count() >= 1
            assert page.locator("#points circle.waypoint").count() >= 1
            cx = float(page.locator("#points circle.estimate").first.get_attribute("cx"))
            assert -1.0 <= cx <= 1.0

            # the audio element holds the session so far, decoded: metadata and a real duration
            page.wait_for_function(
                "() => { const a = document.getElementById('player');"
                " return a.readyState >= 1 && a.duration > 2 && !a.error; }", timeout=30_000)
            duration = page.evaluate("document.getElementById('player').duration")
            assert 2.4 < duration < 2.6 * 3
            # and live playback scheduled the segment through Web Audio, gapless with the next one
            page.wait_for_function("() => document.getElementById('live-status').textContent.includes('Playing live')",
                                   timeout=30_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)
            assert not errors, errors

            # the session goes while a job of its is finishing (deleted elsewhere, the account
            # erased): the page's refresh after the job says so instead of failing unhandled
            with httpx.Client(base_url=live_server.base, timeout=60) as client:
                assert Api(client, token).delete(f"/v1/sessions/{session['id']}").status_code == 204
            page.evaluate("onEvent('job', {job: {status: 'succeeded', progress: 1}})")
            page.wait_for_selector(".msg.assistant:has-text('no longer available')", timeout=30_000)
            assert not errors, errors
        finally:
            browser.close()
    assert (ARTIFACTS / "chat-page.png").stat().st_size > 10_000
