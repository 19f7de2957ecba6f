"""The clinical pages in headless Chromium: a therapist invites a client and writes a programme on
/therapist; the client grants consent on /chat, starts the programme's session, answers the
self-report before it, plays it and answers again after it; the therapist sees the progress plot.

The plot is checked in the DOM and in a screenshot of it (its pre and post colours are counted).
Screenshots are kept in test-artifacts/clinical-chat.png and test-artifacts/clinical-therapist.png.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from srv_support import CHROMIUM, launch_chromium, users_add

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PRE, POST = (0x8A, 0x8F, 0x9C), (0x1F, 0x6F, 0xB2)  # therapist.css --pre and --post

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


def _add_user(live_server, name: str, *role: str) -> str:
    return users_add(live_server.data_dir, name, *role)


def _pixels(png: bytes, colour: tuple[int, int, int]) -> int:
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(colour)).sum(axis=2) < 24).sum())


def test_therapist_programme_consent_self_report_and_progress_plot(live_server) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'promptloop[test]'")
    tina = _add_user(live_server, "tina", "--role", "therapist")
    lee = _add_user(live_server, "lee")
    base = live_server.base
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            errors: list[str] = []
            therapist = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            therapist.on("pageerror", lambda exc: errors.append(str(exc)))
            therapist.goto(f"{base}/therapist#token={tina}")
            therapist.wait_for_selector("#app:not([hidden])")
            assert "#token" not in therapist.url
            therapist.click("#invite")
            therapist.wait_for_selector("#invite-result:not([hidden])")
            code = therapist.locator("#invite-code").inner_text().strip()
            assert code.startswith("inv_")

            client = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            client.on("pageerror", lambda exc: errors.append(str(exc)))
            ARTIFACTS.mkdir(exist_ok=True)
            client.goto(f"{base}/chat#token={lee}&invite={code}")
            client.wait_for_selector("#app:not([hidden])")
            assert client.locator("#invite-input").input_value() == code
            client.check("#consent-form input[name=scope][value=profile]")  # off by default
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {lee}"}) as api:
                assert api.put("/v1/me/profile", json={"rejected": ["bells"]}).status_code == 200
            client.click("#grant")
            client.wait_for_selector("#consents .consent:has-text('tina')")

            therapist.reload()
            therapist.wait_for_selector(".client:has-text('lee')")
            therapist.click(".client:has-text('lee')")
            therapist.wait_for_selector("#client-profile:has-text('Listening profile')")
            assert "avoids: bells" in therapist.locator("#client-profile").inner_text()
            form = therapist.locator("#programme-form")
            form.locator("input[name=title]").fill("Evening wind-down")
            form.locator("input[name=segments]").fill("2")
            form.locator("input[name=seconds]").fill("2.5")
            form.locator("input[name=avoid]").fill("drums")
            form.locator("input[name=ceiling]").fill("-24")
            form.locator("input[name=tempo_low]").fill("60")
            form.locator("input[name=tempo_high]").fill("85")
            form.locator("input[name=lock][value=tempo_range]").check()
            form.locator("input[name=q_title]").fill("Sleepiness")
            form.locator("textarea[name=q_items]").fill("How drowsy are you? | 0 | 4")
            therapist.click("#save-programme")
            therapist.wait_for_selector(".programme:has-text('Evening wind-down')")

            client.reload()
            client.wait_for_selector(".start-step")
            client.click(".start-step")
            client.wait_for_selector("#self-report:not([hidden])")
            assert "Locked by your therapist" in client.locator("#locks-note").inner_text()
            assert "tempo within 60-85 BPM" in client.locator("#locks-note").inner_text()
            assert "tempo 60–85 BPM" in therapist.locator(".programme:has-text('Evening wind-down')").inner_text()
            assert client.locator("#self-report .sam").count() == 2
            assert client.locator("#self-report .sam input[type=radio]").count() == 18
            assert client.locator("#self-report .sam svg").count() == 10  # manikin-style faces at the odd points
            form = client.locator("#self-report").screenshot(path=str(ARTIFACTS / "clinical-self-report.png"))
            assert _pixels(form, (0xC2, 0x57, 0x2B)) > 20  # the arousal faces' rays are drawn
            client.check("#self-report input[name=valence][value='3']")
            client.check("#self-report input[name=arousal][value='7']")
            client.select_option("#self-report select[name=distress]", "6")
            client.click("#self-report-send")
            client.wait_for_selector(".msg.segment", timeout=90_000)
            client.wait_for_selector("#self-report[data-phase=post]:not([hidden])", timeout=90_000)
            assert client.locator(".msg.segment").count() == 2
            assert client.locator("#self-report fieldset[data-questionnaire] input[data-item]").count() == 1
            client.fill("#self-report input[data-item=i1]", "3")
            client.check("#self-report input[name=valence][value='7']")
            client.check("#self-report input[name=arousal][value='3']")
            client.select_option("#self-report select[name=distress]", "2")
            client.click("#self-report-send")
            client.wait_for_selector(".msg.assistant:has-text('your therapist will see this')")
            ARTIFACTS.mkdir(exist_ok=True)
            client.screenshot(path=str(ARTIFACTS / "clinical-chat.png"), full_page=True)

            therapist.click(".client:has-text('lee')")
            therapist.wait_for_selector("#progress-points circle.post")
            pre = therapist.locator("#progress-points circle.pre")
            post = therapist.locator("#progress-points circle.post")
            assert (pre.count(), post.count()) == (1, 1)
            assert (pre.get_attribute("data-valence"), post.get_attribute("data-valence")) == ("3", "7")
            assert float(post.get_attribute("cy")) < float(pre.get_attribute("cy"))  # happier is higher
            assert "3 → 7" in therapist.locator("#progress-table tbody tr").first.inner_text()
            plot = therapist.locator("#progress-plot").screenshot()
            assert _pixels(plot, PRE) > 40 and _pixels(plot, POST) > 40  # both points are drawn
            therapist.screenshot(path=str(ARTIFACTS / "clinical-therapist.png"), full_page=True)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tina}"}) as api:
                client_id = api.get("/v1/clients").json()[0]["client_id"]
                post = api.get(f"/v1/clients/{client_id}/progress").json()["sessions"][0]["post"]
            assert post == {"valence": 7, "arousal": 3, "distress": 2, "answers": {"q1": {"i1": 3}}}
            assert not errors, errors
        finally:
            browser.close()
