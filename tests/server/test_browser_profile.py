"""The chat page's profile panel and data rights, in headless Chromium: the listener sees what was
learned about them, edits it without losing the learned pacing fields, sees the API's refusal of a
bad range, downloads their data and erases their account.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from srv_support import CHROMIUM, Api, launch_chromium, open_chat, users_add

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)

#: What earlier sessions taught the system about this listener (the page must not touch it).
LEARNED = {"rejected": ["bells"], "comfortable_loudness_lufs": [-40.0, -24.0], "calming_loudness_lufs": -30.0,
           "followed_tempo_bpm": [70.0, 95.0], "follow": 0.8, "lead": 0.5, "arrive": 0.7, "moved_by": {"tempo": 0.3},
           "response": [[-0.5, -0.3], [0.2, 0.1]], "offsets": [[-0.6, -0.1]], "notes": "rain helps"}


def _status_says(page, element: str, text: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("([id, text]) => document.getElementById(id).textContent.includes(text)",
                           arg=[element, text], timeout=30_000)


def test_the_listener_edits_their_profile_downloads_their_data_and_erases_their_account(live_server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'promptloop[test]'")
    token = users_add(live_server.data_dir, "pia")
    with httpx.Client(base_url=live_server.base, timeout=60) as client, sync_api.sync_playwright() as p:
        pia = Api(client, token)
        # every field the API accepts is seeded, so a field the page's list misses is caught below
        accepted = client.get("/openapi.json").json()["components"]["schemas"]["ProfileIn"]["properties"]
        assert set(accepted) == set(LEARNED) | {"triggers", "comfortable_tempo_bpm"}, sorted(accepted)
        seeded = pia.put("/v1/me/profile", json=LEARNED)
        assert seeded.status_code == 200, seeded.text
        before = seeded.json()
        sid = pia.new_session(title="profile")["id"]
        browser = launch_chromium(p)
        try:
            errors: list[str] = []
            page = open_chat(browser, live_server.base, token, sid, errors)
            page.click("#profile-box > summary")
            page.wait_for_selector("#profile-form[data-loaded]")
            learned = page.inner_text("#profile-learned")
            assert "Sounds you rejected: bells." in learned, learned
            assert "Comfortable loudness: -40 to -24 LUFS." in learned and "Comfortable tempo: not set." in learned
            assert "did not calm you" in learned
            assert "Tempi you followed: 70–95 BPM." in learned, learned
            page.click("#profile-pacing > summary")
            assert "follow 0.8 · lead 0.5 · arrive 0.7" in page.inner_text("#profile-pacing-list")
            assert "tempo" in page.inner_text("#profile-box fieldset")  # the tempo range says what it limits

            # edit: a trigger and a tempo range; everything learned survives the PUT
            page.fill("#profile-form input[name=triggers]", "drums")
            page.fill("#profile-form input[name=tempo_low]", "60")
            page.fill("#profile-form input[name=tempo_high]", "90")
            page.click("#profile-save")
            _status_says(page, "profile-status", "Saved")
            saved = pia.get("/v1/me/profile").json()
            assert saved["triggers"] == ["drums"] and saved["comfortable_tempo_bpm"] == [60.0, 90.0]
            assert {k: saved[k] for k in [*LEARNED, "sessions"]} == {k: before[k] for k in [*LEARNED, "sessions"]}
            assert "Comfortable tempo: 60–90 BPM." in page.inner_text("#profile-learned")  # the saved state
            assert page.input_value("#profile-form input[name=triggers]") == "drums"

            # a range the wrong way round: the API's own message, next to the form; nothing stored
            page.fill("#profile-form input[name=tempo_low]", "90")
            page.fill("#profile-form input[name=tempo_high]", "60")
            page.click("#profile-save")
            _status_says(page, "profile-status", "Not saved")
            refused = pia.put("/v1/me/profile", json={"comfortable_tempo_bpm": [90, 60]})
            assert refused.status_code == 422
            message = refused.json()["detail"][0]["msg"]
            assert message in page.inner_text("#profile-status")
            assert "error" in (page.get_attribute("#profile-status", "class") or "")
            assert pia.get("/v1/me/profile").json() == saved

            # a sound avoided in the chat joins the profile's rejected sounds, and the open panel shows it
            page.fill("#message", "no flute please")
            page.click("#send")
            page.wait_for_function("() => document.getElementById('profile-learned').textContent.includes('flute')",
                                   timeout=30_000)
            assert pia.get("/v1/me/profile").json()["rejected"] == ["bells", "flute"]
            saved = pia.get("/v1/me/profile").json()

            # download: the export as a JSON file, holding the saved profile
            page.click("#data-box > summary")
            with page.expect_download() as download:
                page.click("#export-data")
            exported = json.loads(Path(download.value.path()).read_text())
            assert download.value.suggested_filename.endswith(".json")
            assert exported["user"]["name"] == "pia" and [s["session"]["id"] for s in exported["sessions"]] == [sid]
            assert exported["profile"]["triggers"] == ["drums"]
            assert exported["profile"]["comfortable_tempo_bpm"] == [60.0, 90.0]

            # erase: a dismissed confirmation erases nothing; an accepted one erases and signs out
            assert page.locator("#transcript .msg").count() > 0 and page.locator("#session-select option").count() > 0
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.click("#erase-account")
            _status_says(page, "data-status", "Nothing was erased")
            assert pia.get("/v1/me").status_code == 200
            def token_cookies() -> list:
                return [c for c in page.context.cookies() if c["name"] == "promptloop_token"]

            assert token_cookies()  # the page's audio and event stream read it
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#erase-account")
            try:
                page.wait_for_selector("#login:not([hidden])")
            except sync_api.TimeoutError:  # say what the page says, e.g. "Could not erase: ..."
                raise AssertionError(f"no sign-out after the erase: {page.inner_text('#data-status')!r}") from None
            assert page.is_hidden("#app")
            assert "erased" in page.inner_text("#erased-note")
            assert page.evaluate("localStorage.getItem('promptloop_token')") is None
            # nothing of the erased account is left on the page (chat.js's signOut clears it)
            assert page.locator("#transcript .msg").count() == 0 and page.locator("#session-select option").count() == 0
            assert page.inner_text("#profile-learned") == ""
            assert pia.get("/v1/me").status_code == 401
            assert token_cookies() == []  # the erase answer expired the login cookie
            assert not errors, errors
        finally:
            browser.close()
