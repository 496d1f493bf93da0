"""The web app in a real headless Chromium (Debian's /usr/bin/chromium via Playwright).

Installs nothing: ``scripts/install-browser.sh`` provides Chromium. Without it these tests
are skipped with the reason (``browser`` marker, tests/conftest.py), except under
``SONOGEN_REQUIRE_ALL=1`` (scripts/test.sh, CI), where they fail. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import JAM_READY, SHOTS, STUDIO_READY, LiveServer, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def assert_back_to_back(clips: list[dict[str, Any]], crossfade: float) -> None:
    for prev, cur in zip(clips, clips[1:], strict=False):
        expected = prev["start"] + prev["duration"] - crossfade
        assert abs(cur["start"] - expected) < 1e-3, (prev, cur)


def test_jam_plays_a_gapless_stream_and_follows_a_new_prompt(server: LiveServer, browser: Any) -> None:
    url = f"{server.url}/?prompt=jazz%20piano&seed=7&steps=2&preroll=3"
    page = open_page(browser, url, JAM_READY, viewport={"width": 1280, "height": 860})
    assert page.input_value("#prompt") == "jazz piano" and page.input_value("#seed") == "7"
    assert page.locator("#seed-image option").count() >= 5
    page.click("#play")
    page.wait_for_function("window.sonogenJam.scheduled.length >= 3", timeout=120_000)
    jam = page.evaluate("({s: window.sonogenJam.scheduled, x: window.sonogenJam.crossfade})")
    first = jam["s"][:3]
    assert all(not clip["late"] for clip in first)
    assert all(abs(clip["duration"] - 5.11) < 0.02 for clip in first)
    assert_back_to_back(first, jam["x"])
    assert [clip["alpha"] for clip in first] == [0, 0.25, 0.5]
    assert first[0]["prompt"] == "jazz piano" and first[0]["seed"] == 7
    # the Web Audio clock runs: playback is under way
    t0 = page.evaluate("window.sonogenJam.now()")
    page.wait_for_timeout(600)
    assert page.evaluate("window.sonogenJam.now()") > t0 + 0.3
    assert page.evaluate("window.sonogenJam.state") == "playing"
    page.screenshot(path=str(SHOTS / "jam.png"))

    # a new prompt: queued, then the stream heads for it
    page.fill("#prompt", "techno beat")
    page.press("#prompt", "Enter")
    page.wait_for_function(
        "window.sonogenJam.scheduled.some(c => c.endPrompt === 'techno beat')", timeout=120_000
    )
    clips = page.evaluate("window.sonogenJam.scheduled")
    blend = [c for c in clips if c["endPrompt"] == "techno beat"]
    assert blend[0]["alpha"] == 0.25 and blend[0]["startPrompt"] == "jazz piano"  # the whole blend ahead
    on_time = [c for c in clips if not c["late"]]
    for prev, cur in zip(clips, clips[1:], strict=False):
        if not cur["late"]:
            assert_back_to_back([prev, cur], jam["x"])
    assert len(on_time) >= 4
    share = page.evaluate("window.sonogenJam.shareUrl()")
    assert "prompt=" in share and "seed=" in share
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "jam-new-prompt.png"))

    # pause and resume
    page.click("#play")
    page.wait_for_function("window.sonogenJam.state === 'paused'")
    paused_at = page.evaluate("window.sonogenJam.now()")
    page.wait_for_timeout(400)
    assert abs(page.evaluate("window.sonogenJam.now()") - paused_at) < 0.05
    page.click("#play")
    page.wait_for_function("window.sonogenJam.state === 'playing'")
    with page.expect_download() as download:
        page.click("#download")
    wav = Path(download.value.path()).read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 44 + 4 * 44100  # > ~0.5 s stereo
    page.evaluate("window.sonogenJam.stop()")
    assert page.errors == []

    # the share link restores prompt and seed; the page fits a phone
    phone = open_page(browser, share, JAM_READY, viewport={"width": 390, "height": 844}, device_scale_factor=2)
    assert phone.input_value("#prompt") in ("jazz piano", "techno beat")
    assert phone.input_value("#seed") != ""
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "jam-phone.png"), full_page=True)
    phone.close()
    page.close()


def test_studio_generates_a_clip(server: LiveServer, browser: Any) -> None:
    page = open_page(browser, f"{server.url}/studio.html", STUDIO_READY, viewport={"width": 1100, "height": 900})
    form = page.locator("#form-text")
    form.locator("input[name=prompt]").fill("funky drums")
    form.locator("input[name=num_inference_steps]").fill("2")
    form.locator("input[name=duration_s]").fill("2")
    form.locator("button[type=submit]").click()
    page.wait_for_function("window.sonogenStudio.results.length === 1", timeout=120_000)
    result = page.locator(".result").first
    assert result.locator("img").evaluate("img => img.naturalWidth") == 200
    assert result.locator("audio").get_attribute("src").startswith("data:audio/flac;base64,")
    assert result.locator("a", has_text="Download").get_attribute("download").endswith(".flac")
    duration = page.evaluate("window.sonogenStudio.results[0].duration_s")
    assert abs(duration - 2.0) < 0.02
    # a bad request shows the server's message
    form.locator("input[name=num_inference_steps]").evaluate("el => { el.removeAttribute('max'); el.value = '1000'; }")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#error:not([hidden])")
    assert "num_inference_steps" in page.inner_text("#error")
    page.screenshot(path=str(SHOTS / "studio.png"), full_page=True)
    page.click("[data-tab=interp]")
    page.screenshot(path=str(SHOTS / "studio-interpolate.png"))
    assert page.errors == []
    page.close()
