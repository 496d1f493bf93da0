"""The pages follow the served model (headless Chromium): the Jam page and the Studio read the
model's own steps and guidance from GET /v1/settings, honour a user's value up to the
server's cap and show the cap; the Jam page's plan gives every queued prompt the whole
four-clip blend; the Studio clears its error banner once an attempt succeeds and says when
a length was rounded to the model's step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.conftest import JAM_READY, SHOTS, STUDIO_READY, LiveServer, make_app, open_page
from tests.server.test_bounds_settings_metrics import Recommends

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The served model recommends these; the server draws at most CAP steps.
STEPS, GUIDANCE, CAP = 2, 4.0, 3
SETTINGS_READY = "window.sonogenJam.model.loaded"


@pytest.fixture(scope="module")
def capped_server(tiny_pipe: Any) -> Iterator[LiveServer]:
    pipe = Recommends(tiny_pipe, steps=STEPS, guidance=GUIDANCE)
    app, engine = make_app(pipe, run_batch=Recommends.run_batch, max_steps=CAP)
    with LiveServer(app) as live:
        live.pipe = pipe  # type: ignore[attr-defined]
        yield live
    engine.stop()


def test_jam_sends_the_models_own_steps_and_guidance(capped_server: LiveServer, browser: Any) -> None:
    page = open_page(browser, f"{capped_server.url}/?prompt=jazz", JAM_READY)
    page.wait_for_function(SETTINGS_READY)
    assert page.input_value("#steps") == str(STEPS) and float(page.input_value("#guidance")) == GUIDANCE
    assert page.get_attribute("#steps", "max") == str(CAP)
    note = page.inner_text("#model-note")
    assert f"{STEPS} steps, guidance 4" in note and f"at most {CAP} steps" in note
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r.post_data_json) if r.url.endswith("/v1/interpolate") else None)
    page.click("#play")
    page.wait_for_function("window.sonogenJam.received >= 1", timeout=120_000)
    body = requests[0]
    assert body["num_inference_steps"] == STEPS
    assert body["start"]["guidance"] == body["end"]["guidance"] == GUIDANCE
    assert page.evaluate("window.sonogenJam.drawn") == {"steps": STEPS, "guidance": GUIDANCE}
    assert f"drawn with {STEPS} steps" in page.inner_text("#drawn")
    assert "steps=" not in page.evaluate("window.sonogenJam.shareUrl()")  # the model's own: not in the link
    page.evaluate("window.sonogenJam.stop()")
    assert page.errors == []
    page.close()


def test_jam_honours_a_users_steps_up_to_the_cap_and_shows_it(capped_server: LiveServer, browser: Any) -> None:
    # more than the cap: the box shows the cap and the note says so; guidance as given
    page = open_page(browser, f"{capped_server.url}/?prompt=jazz&steps=30&guidance=6", JAM_READY)
    page.wait_for_function(SETTINGS_READY)
    assert page.input_value("#steps") == str(CAP) and page.input_value("#guidance") == "6"
    assert f"You asked for 30 steps: {CAP} are used" in page.inner_text("#model-note")
    page.screenshot(path=str(SHOTS / "jam-settings-capped.png"))
    assert page.evaluate("window.sonogenJam.shareUrl()").count("guidance=6") == 1
    page.close()
    # below the cap: honoured as asked, and drawn so
    page = open_page(browser, f"{capped_server.url}/?prompt=jazz&steps=1", JAM_READY)
    page.wait_for_function(SETTINGS_READY)
    assert page.input_value("#steps") == "1"
    page.click("#play")
    page.wait_for_function("window.sonogenJam.received >= 1", timeout=120_000)
    assert page.evaluate("window.sonogenJam.lastRequest.num_inference_steps") == 1
    assert page.evaluate("window.sonogenJam.drawn.steps") == 1
    # typing over the cap into the box: capped at once
    page.fill("#steps", "50")  # an input event, as typing gives
    assert page.input_value("#steps") == str(CAP)
    assert f"You asked for 50 steps: {CAP} are used" in page.inner_text("#model-note")
    page.evaluate("window.sonogenJam.stop()")
    assert page.errors == []
    page.close()


BLEND = """async (queuedAfter) => {
  const { firstPlan, advance } = await import("/js/plan.js");
  const queue = [];
  let plan = firstPlan("church bells", 42);
  const clips = [plan];
  for (let i = 1; i < 16; i++) {
    if (i === queuedAfter) queue.push("techno beat");
    plan = advance(plan, queue).plan;
    clips.push(plan);
  }
  return clips.map((c) => ({ alpha: c.alpha, start: c.start.prompt, end: c.end.prompt }));
}"""


def test_jam_plan_gives_a_queued_prompt_the_whole_four_clip_blend(server: LiveServer, browser: Any) -> None:
    """Whenever in a blend the prompt is queued, its blend is four clips: alpha 0.25, 0.5, 0.75, 1."""
    page = open_page(browser, f"{server.url}/", JAM_READY)
    for queued_after in range(1, 10):
        clips = page.evaluate(BLEND, queued_after)
        blend = [c for c in clips if c["end"] == "techno beat" and c["start"] != "techno beat"]
        assert [c["alpha"] for c in blend] == [0.25, 0.5, 0.75, 1], (queued_after, clips)
        first = clips.index(blend[0])
        assert first >= queued_after and first - queued_after <= 4  # it starts at the next blend
        assert all(c["start"] == "church bells" for c in blend)
        after = clips[first + 4 :]
        assert after and all(c["start"] == c["end"] == "techno beat" for c in after)  # then it stays
    assert page.errors == []
    page.close()


def test_studio_follows_the_model_clears_its_banner_and_explains_rounding(capped_server: LiveServer,
                                                                          browser: Any) -> None:
    page = open_page(browser, f"{capped_server.url}/studio.html", STUDIO_READY, viewport={"width": 1100, "height": 900})
    note = page.inner_text("#model-note")
    assert f"{STEPS} steps, guidance 4" in note and f"at most {CAP} steps" in note and "0.08 s" in note
    for box in page.locator("input[name=num_inference_steps]").all():
        assert box.input_value() == str(STEPS) and box.get_attribute("max") == str(CAP)
    form = page.locator("#form-text")
    assert float(form.locator("input[name=guidance]").input_value()) == GUIDANCE
    # a prompt of spaces: the server's one-line message in the banner
    form.locator("input[name=prompt]").fill("   ")
    form.locator("input[name=duration_s]").fill("1")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#error:not([hidden])")
    assert "prompt" in page.inner_text("#error")
    # a valid attempt: the banner goes, the result says what it was drawn with and why 0.95 s
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r.post_data_json) if r.url.endswith("/v1/generate") else None)
    form.locator("input[name=prompt]").fill("funky drums")
    form.locator("button[type=submit]").click()
    page.wait_for_function("window.sonogenStudio.results.length === 1", timeout=120_000)
    assert page.locator("#error").is_hidden()
    assert requests[-1]["num_inference_steps"] == STEPS and requests[-1]["guidance"] == GUIDANCE
    result = page.evaluate("window.sonogenStudio.results[0]")
    assert abs(result["duration_s"] - 0.95) < 0.01
    assert "1 s asked: the length was rounded to the model's step of 0.08 s" in result["note"]
    meta = page.locator(".result .hint").first.inner_text()
    assert f"{STEPS} steps, guidance 4" in meta and "rounded to the model's step" in meta
    page.screenshot(path=str(SHOTS / "studio-settings.png"), full_page=True)
    # a user's steps over the cap: the box caps them and the note says so
    steps = form.locator("input[name=num_inference_steps]")
    steps.evaluate("el => { el.removeAttribute('max'); el.value = '9'; el.dispatchEvent(new Event('input')); }")
    assert f"You asked for 9 steps: {CAP} are used" in page.inner_text("#model-note")
    form.locator("button[type=submit]").click()
    page.wait_for_function("window.sonogenStudio.results.length === 2", timeout=120_000)
    assert page.evaluate("window.sonogenStudio.results[1].note").startswith(f"{CAP} steps")
    assert page.errors == []
    page.close()
