"""The Studio's playground pages in headless Chromium: whole song, image to audio, sample
clips, and seed/mask chosen by picture. Each uploads, generates, and plays or downloads.

Screenshots land in artifacts/screenshots/studio-*.png.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.server.conftest import SHOTS, STUDIO_READY, LiveServer, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(server: LiveServer, browser: Any) -> Any:
    tab = open_page(browser, f"{server.url}/studio.html", STUDIO_READY, viewport={"width": 1100, "height": 900})
    yield tab
    assert tab.errors == []
    tab.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from sonogen.spectrogram.converter import get_converter

    folder = tmp_path_factory.mktemp("uploads")
    rate = 44100
    t = np.arange(int(6.0 * rate)) / rate
    song = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2).astype(np.float32)
    sf.write(folder / "song.wav", song, rate)
    get_converter().audio_to_image(song[None, : rate], rate).save(folder / "tone.png", exif=None)
    picture = get_converter().audio_to_image(song[None, : rate], rate)
    picture.save(folder / "tagged.png", exif=picture.getexif())
    drawn = Image.new("RGB", (250, 180), "white")
    for x in range(250):
        for y in (120, 121, 122):
            drawn.putpixel((x, y), (0, 0, 0))
    drawn.save(folder / "drawn.jpg", quality=95)
    return {"song": folder / "song.wav", "tagged": folder / "tagged.png", "drawn": folder / "drawn.jpg"}


def _wait_results(page: Any, count: int) -> None:
    page.wait_for_function(f"window.sonogenStudio.results.length >= {count}", timeout=120_000)
    assert page.evaluate("window.sonogenStudio.errors") == []


def _play(page: Any, audio: Any) -> None:
    """The player loads its data URI and plays forward."""
    audio.evaluate("el => { el.muted = true; return el.play(); }")
    page.wait_for_function("el => el.currentTime > 0.05 || el.ended", arg=audio.element_handle(), timeout=20_000)


def test_whole_song_transform_moves_from_prompt_to_prompt(page: Any, files: dict[str, Path]) -> None:
    page.click("[data-tab=song]")
    form = page.locator("#form-song")
    form.locator("input[name=audio]").set_input_files(str(files["song"]))
    form.locator("input[name=prompt]").fill("piano")
    form.locator("input[name=to_prompt]").fill("jazz")
    form.locator("input[name=clip_s]").fill("2")
    form.locator("input[name=overlap_s]").fill("0.3")
    form.locator("input[name=num_inference_steps]").fill("1")
    before = page.evaluate("window.sonogenStudio.results.length")
    form.locator("button[type=submit]").click()
    _wait_results(page, before + 1)
    result = page.locator(".result").first
    assert "piano → jazz" in result.locator("h3").inner_text()
    assert page.evaluate("window.sonogenStudio.results.at(-1).kind") == "song"
    assert abs(page.evaluate("window.sonogenStudio.results.at(-1).duration_s") - 6.0) < 0.1
    # the crossfade was clipped to the overlap
    assert float(form.locator("input[name=crossfade_s]").input_value()) <= 0.3
    _play(page, result.locator("audio"))
    page.screenshot(path=str(SHOTS / "studio-song.png"), full_page=True)


def test_image_to_audio_with_and_without_exif(page: Any, files: dict[str, Path]) -> None:
    page.click("[data-tab=image]")
    form = page.locator("#form-image")
    for name, note in (("tagged", "EXIF"), ("drawn", "no EXIF")):
        form.locator("input[name=image]").set_input_files(str(files[name]))
        page.wait_for_selector("#image-preview:not([hidden])")
        before = page.evaluate("window.sonogenStudio.results.length")
        form.locator("select[name=format]").select_option("wav")
        form.locator("button[type=submit]").click()
        _wait_results(page, before + 1)
        result = page.locator(".result").first
        assert note in result.locator(".hint").inner_text()
        assert result.locator("audio").get_attribute("src").startswith("data:audio/wav;base64,")
        _play(page, result.locator("audio"))
    assert abs(page.evaluate("window.sonogenStudio.results.at(-1).duration_s") - 2.5) < 0.02  # 250 columns
    with page.expect_download() as download:
        page.locator(".result").first.locator("a", has_text="Download").click()
    wav = Path(download.value.path()).read_bytes()
    assert wav[:4] == b"RIFF" and download.value.suggested_filename.endswith(".wav")
    page.screenshot(path=str(SHOTS / "studio-image.png"), full_page=True)
    # a file that is no picture: the server's one-line message
    (files["song"].parent / "fake.png").write_bytes(b"not an image at all")
    form.locator("input[name=image]").set_input_files(str(files["song"].parent / "fake.png"))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#error:not([hidden])")
    assert "cannot read" in page.inner_text("#error")
    page.evaluate("window.sonogenStudio.errors.length = 0")


def test_sample_clips_download_audio_and_spectrogram(page: Any, files: dict[str, Path]) -> None:
    page.click("[data-tab=clips]")
    form = page.locator("#form-clips")
    form.locator("input[name=audio]").set_input_files(str(files["song"]))
    form.locator("input[name=seconds]").fill("1.5")
    form.locator("input[name=count]").fill("3")
    before = page.evaluate("window.sonogenStudio.results.length")
    form.locator("button[type=submit]").click()
    _wait_results(page, before + 3)
    card = page.locator(".result.clips").first
    assert card.locator(".clip").count() == 3
    first = card.locator(".clip").first
    _play(page, first.locator("audio"))
    with page.expect_download() as audio_download:
        first.locator("a", has_text="Download").click()
    data, rate = sf.read(io.BytesIO(Path(audio_download.value.path()).read_bytes()))
    assert abs(len(data) / rate - 1.5) < 0.01 and audio_download.value.suggested_filename.startswith("song-01-")
    with page.expect_download() as image_download:
        first.locator("a", has_text="Spectrogram").click()
    image = Image.open(image_download.value.path())
    assert image.height == 512 and image.getexif()  # the format's parameters travel with it
    page.screenshot(path=str(SHOTS / "studio-clips.png"), full_page=True)
    # chosen start times instead of random ones
    form.locator("input[name=starts]").fill("0, 4")
    form.locator("button[type=submit]").click()
    _wait_results(page, before + 5)
    starts = page.locator(".result.clips").first.locator(".clip-title").all_inner_texts()
    assert [s.split("from ")[1].split(" s")[0] for s in starts] == ["0.00", "4.00"]


def test_seed_image_and_mask_chosen_by_picture(page: Any) -> None:
    page.click("[data-tab=interp]")
    form = page.locator("#form-interp")
    seeds = form.locator(".picker[data-kind=seed] .pick")
    masks = form.locator(".picker[data-kind=mask] .pick")
    assert seeds.count() >= 5 and masks.count() >= 7  # masks: "no mask" + six
    # every thumbnail loaded
    page.wait_for_function(
        "[...document.querySelectorAll('#form-interp .pick img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert form.locator(".pick[aria-checked=true]").count() == 2
    form.locator(".pick[data-id=agile]").click()
    form.locator(".pick[data-id=mask_top_third_75]").click()
    assert form.locator("input[name=seed_image_id]").input_value() == "agile"
    assert form.locator("input[name=mask_image_id]").input_value() == "mask_top_third_75"
    form.locator("input[name=num_inference_steps]").fill("1")
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/v1/interpolate") else None)
    before = page.evaluate("window.sonogenStudio.results.length")
    form.locator("button[type=submit]").click()
    _wait_results(page, before + 1)
    body = requests[-1].post_data_json
    assert body["seed_image_id"] == "agile" and body["mask_image_id"] == "mask_top_third_75"
    page.screenshot(path=str(SHOTS / "studio-pickers.png"), full_page=False)
    # the text tab takes a seed image too
    page.click("[data-tab=text]")
    text = page.locator("#form-text")
    text.locator("details.pickers summary").click()
    text.locator(".pick[data-id=vibes]").click()
    text.locator("input[name=num_inference_steps]").fill("1")
    text.locator("input[name=duration_s]").fill("1")
    before = page.evaluate("window.sonogenStudio.results.length")
    text.locator("button[type=submit]").click()
    _wait_results(page, before + 1)
    assert page.evaluate("window.sonogenStudio.results.at(-1).kind") == "text"


def test_studio_fits_a_phone(server: LiveServer, page: Any) -> None:
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    for tab in ("song", "image", "clips", "interp"):
        phone.goto(f"{server.url}/studio.html#{tab}")
        phone.wait_for_function("window.sonogenStudio && window.sonogenStudio.ready")
        assert phone.locator(f"[data-panel={tab}]").is_visible(), tab  # the hash picks the tab
        assert phone.locator("[data-panel]:visible").count() == 1
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, tab
    phone.wait_for_function(
        "[...document.querySelectorAll('#form-interp .pick img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    phone.screenshot(path=str(SHOTS / "studio-phone-interp.png"), full_page=True)
    phone.close()
