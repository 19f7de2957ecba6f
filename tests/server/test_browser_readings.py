"""Readings on the chat page, in headless Chromium: a reading typed in while a segment plays paces
the next segment the listener hears (the closed loop), measured on the audio; and the Bluetooth
heart-rate monitor's measurement bytes are decoded as the GATT Heart Rate service defines them.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from srv_support import CHROMIUM, Api, launch_chromium, open_chat, users_add

from promptloop.audio.analysis import measure

SEGMENTS, SECONDS = 3, 4.0

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


def _descriptors(api: Api, session_id: str, index: int):  # type: ignore[no-untyped-def]
    r = api.get(f"/v1/sessions/{session_id}/segments/{index}/audio")
    assert r.status_code == 200
    audio, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    return measure(np.asarray(audio if audio.ndim == 1 else audio.mean(axis=1)), sr)


@pytest.fixture
def page_for(live_server):  # type: ignore[no-untyped-def]
    """Open the chat page on a session of a new listener: yields (page, api, session id, page errors)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'promptloop[test]'")
    with sync_api.sync_playwright() as p, httpx.Client(base_url=live_server.base, timeout=60) as client:
        browser = launch_chromium(p)
        try:
            def open_page(name: str, **session: object):  # type: ignore[no-untyped-def]
                token = users_add(live_server.data_dir, name)
                api = Api(client, token)
                sid = api.new_session(**session)["id"]
                errors: list[str] = []
                return open_chat(browser, live_server.base, token, sid, errors), api, sid, errors

            yield open_page
        finally:
            browser.close()


def test_a_racing_heart_typed_in_during_playback_makes_the_next_heard_segment_livelier(page_for: Callable[..., Any]) -> None:
    # calm -> calm: the music holds still unless the listener's state says otherwise
    page, api, sid, errors = page_for("erin", start="calm", target="calm", segments=SEGMENTS, segment_seconds=SECONDS,
                                      lookahead_seconds=1.0, title="readings", preferences={"prefer": ["piano"]})
    page.click("#readings-send")  # nothing filled in: said, nothing sent
    page.wait_for_function("() => document.getElementById('readings-status').textContent"
                           ".includes('at least one value')")
    page.click("#next")
    page.wait_for_function("() => document.getElementById('live-status').textContent"
                           ".includes('segment 1 scheduled')", timeout=120_000)
    made_before = api.get(f"/v1/sessions/{sid}").json()["segments_done"]
    page.fill("#readings-form input[name=heart_rate]", "118")
    page.fill("#readings-form input[name=hrv_rmssd]", "18")
    page.fill("#readings-form input[name=skin_conductance]", "14")
    page.click("#readings-send")
    page.wait_for_function("() => document.getElementById('readings-status').textContent.includes('Reading taken')",
                           timeout=30_000)
    status = page.inner_text("#readings-status")
    assert "closed loop reads it before the next segment" in status, status
    assert page.locator(".msg.listener:has-text('heart rate 118 bpm')").count() == 1
    page.wait_for_function(f"() => document.querySelectorAll('.msg.segment').length >= {SEGMENTS}",
                           timeout=(SEGMENTS * SECONDS + 120) * 1000)
    assert not errors, errors

    assert made_before < SEGMENTS - 1, made_before  # paced: the rest was not made when the reading came
    deadline = time.monotonic() + 60
    while api.get(f"/v1/sessions/{sid}").json()["segments_done"] < SEGMENTS and time.monotonic() < deadline:
        time.sleep(0.5)
    stored = api.get(f"/v1/sessions/{sid}/readings").json()
    assert [r["readings"] for r in stored] == [[{"heart_rate": 118, "hrv_rmssd": 18, "skin_conductance": 14}]]
    records = [api.get(f"/v1/sessions/{sid}/segments/{i}").json()["record"] for i in range(SEGMENTS)]
    first = made_before  # the first segment made after the reading: the next one the listener hears
    assert records[first]["waypoint"]["arousal"] > records[0]["waypoint"]["arousal"] + 0.2, records
    before, after = _descriptors(api, sid, first - 1), _descriptors(api, sid, first)
    # meeting an aroused listener (the iso principle): audibly faster and busier than what played before
    assert after.tempo_bpm > before.tempo_bpm + 5, (before, after)
    assert after.onset_rate > before.onset_rate, (before, after)


def test_heart_rate_monitor_bytes_are_decoded_as_the_gatt_heart_rate_service_defines_them(page_for: Callable[..., Any]) -> None:
    page, _, _, errors = page_for("finn", segments=2, segment_seconds=3.0)
    decoded = page.evaluate("""() => {
        const view = (bytes) => new DataView(new Uint8Array(bytes).buffer);
        return [
          parseHeartRateMeasurement(view([0x00, 72])),                              // 8-bit rate only
          parseHeartRateMeasurement(view([0x10, 64, 0x00, 0x04, 0x33, 0x03])),      // 8-bit rate, two RR
          parseHeartRateMeasurement(view([0x19, 0x2c, 0x01, 0x10, 0x00, 0x00, 0x02])), // 16-bit rate, energy, one RR
          rmssd([800, 820, 790]), rmssd([800, 810]),
          monitorReading([70, 72, 400], [{ms: 800}, {ms: 820}, {ms: 790}]),
          monitorReading([], []),
        ];
    }""")
    assert decoded[0] == {"heartRate": 72, "rrMs": []}
    assert decoded[1]["heartRate"] == 64 and decoded[1]["rrMs"] == pytest.approx([1000.0, 819 * 1000 / 1024])
    assert decoded[2]["heartRate"] == 300 and decoded[2]["rrMs"] == pytest.approx([500.0])
    assert decoded[3] == pytest.approx(np.sqrt((20**2 + 30**2) / 2)) and decoded[4] is None
    # an impossible rate (400 bpm) is left out of the average; RMSSD comes from the intervals
    assert decoded[5] == pytest.approx({"heart_rate": 71.0, "hrv_rmssd": np.sqrt(650)})
    assert decoded[6] is None
    # Web Bluetooth is not in headless Chromium: the button stays hidden rather than failing on click
    assert page.locator("#monitor").is_hidden()
    assert not errors, errors
