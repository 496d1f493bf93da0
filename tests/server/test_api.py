"""The HTTP API over the tiny pipeline (engine provided through the dependency override)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image

from sonogen.pipeline.seeds import MASK_IMAGE_IDS, SEED_IMAGE_IDS

ORIGINAL_REQUEST = {
    "alpha": 0.25,
    "num_inference_steps": 2,
    "seed_image_id": "og_beat",
    "mask_image_id": None,
    "start": {"prompt": "church bells on sunday", "seed": 42, "negative_prompt": None, "denoising": 0.75, "guidance": 7.0},
    "end": {"prompt": "jazz with piano", "seed": 123, "denoising": 0.75, "guidance": 7.0},
}


def decode_uri(uri: str, media: str) -> bytes:
    prefix = f"data:{media};base64,"
    assert uri.startswith(prefix), uri[:40]
    return base64.b64decode(uri[len(prefix) :])


def assert_error(response: Any, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "\n" not in body["detail"]
    assert fragment.lower() in body["detail"].lower(), body["detail"]


def wav_bytes(seconds: float, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format="WAV")
    return buffer.getvalue()


# ------------------------------------------------------------------ the original app's call
def test_run_inference_answers_like_the_original(client: TestClient) -> None:
    response = client.post("/run_inference/", json=ORIGINAL_REQUEST)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"image", "audio", "duration_s"}
    image = Image.open(io.BytesIO(decode_uri(body["image"], "image/jpeg")))
    assert image.format == "JPEG" and image.width == 512
    wave, rate = sf.read(io.BytesIO(decode_uri(body["audio"], "audio/mpeg")))
    assert rate == 44100
    assert body["duration_s"] == pytest.approx(5.11, abs=0.02)
    assert abs(len(wave) / rate - body["duration_s"]) < 0.1  # MP3 frames pad a little
    assert np.abs(wave).max() > 0.01


def test_whole_numbers_where_floats_are_meant_and_defaults(client: TestClient) -> None:
    body = {
        "alpha": 1,
        "num_inference_steps": 2,
        "start": {"prompt": "(caribbean:1.5) (jazz:0.3)", "seed": 1, "denoising": 1, "guidance": 7},
        "end": {"prompt": "techno", "seed": 2, "guidance": 7},
    }
    response = client.post("/run_inference/", json=body)  # seed_image_id defaults to og_beat
    assert response.status_code == 200, response.text
    assert response.json()["duration_s"] > 5


# ------------------------------------------------------------------ /v1
def test_generate_answers_audio_bytes_in_each_format(client: TestClient) -> None:
    for fmt, media in (("mp3", "audio/mpeg"), ("wav", "audio/wav"), ("ogg", "audio/ogg")):
        response = client.post(
            "/v1/generate",
            json={"prompt": "jazz", "num_inference_steps": 1, "duration_s": 0.5, "format": fmt, "seed": 3},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == media
        assert response.headers["x-sonogen-seed"] == "3"
        wave, rate = sf.read(io.BytesIO(response.content))
        assert rate == 44100 and 0.4 < len(wave) / rate < 0.6


def test_generate_json_with_png_and_seed_image_and_mask(client: TestClient) -> None:
    response = client.post(
        "/v1/generate",
        json={
            "prompt": "drums",
            "num_inference_steps": 2,
            "duration_s": 1.0,
            "seed_image_id": "vibes",
            "mask_image_id": "mask_top_third_75",
            "response": "json",
            "format": "wav",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    image = Image.open(io.BytesIO(decode_uri(body["image"], "image/png")))
    assert image.format == "PNG" and image.width == 96  # 1 s = 100 columns, rounded to 8
    wave, rate = sf.read(io.BytesIO(decode_uri(body["audio"], "audio/wav")))
    assert body["sample_rate"] == rate == 44100
    assert body["duration_s"] == pytest.approx(len(wave) / rate, abs=1e-3)
    assert body["prompt"] == "drums"


def test_interpolate_json_flac(client: TestClient) -> None:
    body = dict(ORIGINAL_REQUEST, alpha=0.75, format="flac", response="json", image_format="jpeg")
    response = client.post("/v1/interpolate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    wave, rate = sf.read(io.BytesIO(decode_uri(answer["audio"], "audio/flac")))
    assert len(wave) / rate == pytest.approx(answer["duration_s"], abs=1e-3)  # exact length
    assert answer["prompt"] == "jazz with piano"  # alpha >= 0.5: the end leads


def test_transform_upload(client: TestClient) -> None:
    response = client.post(
        "/v1/transform",
        files={"audio": ("tone.wav", wav_bytes(1.5), "audio/wav")},
        data={"prompt": "piano", "strength": "0.5", "num_inference_steps": "2", "duration_s": "1", "format": "wav"},
    )
    assert response.status_code == 200, response.text
    wave, rate = sf.read(io.BytesIO(response.content))
    assert 0.9 < len(wave) / rate < 1.05


def test_long_piece(client: TestClient) -> None:
    response = client.post(
        "/v1/long",
        json={"prompts": ["jazz", "rock"], "duration_s": 7, "num_inference_steps": 1, "format": "wav", "response": "json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration_s"] == pytest.approx(7.0, abs=0.05)
    assert body["prompt"] == "jazz → rock"


def test_seed_images_health_docs_and_web(client: TestClient) -> None:
    ids = client.get("/v1/seed-images").json()
    assert ids["seed_image_ids"] == list(SEED_IMAGE_IDS)
    assert ids["mask_image_ids"] == list(MASK_IMAGE_IDS)
    assert {"og_beat", "agile", "marim", "motorway", "vibes"} <= set(ids["seed_image_ids"])
    picture = client.get("/v1/seed-images/og_beat")
    assert picture.status_code == 200 and Image.open(io.BytesIO(picture.content)).size == (512, 512)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["queue"]["size"] == 16
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/run_inference/", "/v1/generate", "/v1/transform", "/v1/interpolate", "/v1/long"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "sonogen" in page.text and "jam.js" in page.text
    assert "studio.js" in client.get("/studio.html").text
    assert client.get("/js/jam.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))


# ------------------------------------------------------------------ bad requests: 4xx JSON, never 500
def test_invalid_json(client: TestClient) -> None:
    response = client.post("/run_inference/", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400, "json")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"alpha": None}, "alpha"),
        ({"start": None}, "start"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": "lots"}, "alpha"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": 10_000}, "num_inference_steps"),
        ({"num_inference_steps": 2.5}, "num_inference_steps"),
        ({"seed_image_id": "../../etc/passwd"}, "seed_image_id"),
        ({"seed_image_id": "og_beat.png"}, "unknown seed_image_id"),
        ({"mask_image_id": "/tmp/mask"}, "mask_image_id"),
        ({"start": {"prompt": "x", "seed": -1}}, "seed"),
        ({"start": {"prompt": "x", "denoising": 2}}, "denoising"),
        ({"end": {"prompt": "x", "guidance": 1e9}}, "guidance"),
        ({"end": {"seed": 3}}, "prompt"),
        ({"end": {"prompt": "x" * 5000}}, "prompt"),
    ],
)
def test_bad_run_inference_fields(client: TestClient, change: dict[str, Any], fragment: str) -> None:
    body = dict(ORIGINAL_REQUEST)
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert_error(client.post("/run_inference/", json=body), 422, fragment)


def test_body_is_not_an_object(client: TestClient) -> None:
    assert_error(client.post("/run_inference/", json=[1, 2]), 422, "JSON object")
    form = client.post("/run_inference/", content=b'{"alpha": 0.5}', headers={"content-type": "text/plain"})
    assert_error(form, 422, "Content-Type: application/json")
    assert_error(client.post("/v1/generate", content=b"", headers={"content-type": "application/json"}), 422)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "format": "exe"}, "format"),
        ({"prompt": "x", "response": "html"}, "response"),
        ({"prompt": "x", "duration_s": 0}, "duration_s"),
        ({"prompt": "x", "duration_s": 45}, "duration_s"),
        ({"prompt": "x", "seed_image_id": "nope"}, "seed_image_id"),
        ({"prompt": "x", "surprise": 1}, "surprise"),
    ],
)
def test_bad_generate(client: TestClient, body: dict[str, Any], fragment: str) -> None:
    assert_error(client.post("/v1/generate", json=body), 422, fragment)


def test_bad_long(client: TestClient) -> None:
    assert_error(client.post("/v1/long", json={"prompts": []}), 422, "prompts")
    assert_error(client.post("/v1/long", json={"prompts": ["  "]}), 422, "prompt")
    assert_error(client.post("/v1/long", json={"prompts": ["a"], "duration_s": 1e6}), 422, "duration_s")


def test_oversized_bodies(client: TestClient) -> None:
    big = json.dumps(dict(ORIGINAL_REQUEST, padding="x" * 300_000)).encode()
    assert_error(client.post("/run_inference/", content=big, headers={"content-type": "application/json"}), 413, "too large")

    def chunks() -> Any:  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b" " * 10_000

    response = client.post("/run_inference/", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "too large")


def test_oversized_upload(client: TestClient) -> None:
    limit = client.app.state.config.max_upload_bytes  # type: ignore[attr-defined]
    response = client.post(
        "/v1/transform",
        files={"audio": ("big.wav", b"\0" * (limit + 10), "audio/wav")},
        data={"prompt": "piano"},
    )
    assert_error(response, 413, "too large")


@pytest.mark.parametrize(
    ("files", "data", "status", "fragment"),
    [
        ({"audio": ("x.wav", b"this is not audio at all", "audio/wav")}, {"prompt": "p"}, 400, "cannot decode"),
        ({"audio": ("x.wav", b"", "audio/wav")}, {"prompt": "p"}, 422, "empty"),
        (None, {"prompt": "p"}, 422, "audio"),
        ({"audio": ("x.wav", wav_bytes(0.5), "audio/wav")}, {"prompt": "   "}, 422, "prompt"),
        ({"audio": ("x.wav", wav_bytes(0.5), "audio/wav")}, {"prompt": "p", "strength": "3"}, 422, "strength"),
        ({"audio": ("x.wav", wav_bytes(0.5), "audio/wav")}, {"prompt": "p", "strength": "abc"}, 422, "strength"),
        ({"audio": ("x.wav", wav_bytes(0.5), "audio/wav")}, {"prompt": "p", "offset_s": "9"}, 400, "past the end"),
        ({"audio": ("x.wav", wav_bytes(0.5), "audio/wav")}, {"prompt": "p", "format": "exe"}, 422, "format"),
        ({"audio": ("x.wav", wav_bytes(0.01), "audio/wav")}, {"prompt": "p"}, 400, "too short"),
    ],
)
def test_bad_transform(client: TestClient, files: Any, data: dict[str, str], status: int, fragment: str) -> None:
    assert_error(client.post("/v1/transform", files=files, data=data), status, fragment)


def test_transform_needs_multipart(client: TestClient) -> None:
    assert_error(client.post("/v1/transform", json={"prompt": "x"}), 422)


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404)
    assert_error(client.get("/v1/seed-images/..%2F..%2Fetc"), 404)
    wrong_method = client.get("/run_inference/")  # static files answer GETs: not found
    assert wrong_method.status_code in (404, 405)
    assert_error(wrong_method, wrong_method.status_code)
    assert_error(client.put("/v1/generate", json={}), 405)


def test_cors_is_off_by_default_and_configurable(client: TestClient, tiny_pipe: Any, app_factory: Any) -> None:
    preflight = {"Origin": "http://example.test", "Access-Control-Request-Method": "POST"}
    plain = client.options("/run_inference/", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers
    app, _ = app_factory(tiny_pipe, cors_origins=["http://example.test"])
    with TestClient(app) as other:
        allowed = other.options("/run_inference/", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://example.test"
        denied = other.options("/run_inference/", headers={**preflight, "Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in denied.headers


def test_width_step_follows_the_vae_factor() -> None:
    """A 16x VAE (the default model's) needs widths in steps of 16, not SD 1.x's 8."""
    from types import SimpleNamespace

    from sonogen.server.jobs import width_for, width_step
    from sonogen.spectrogram.params import SpectrogramParams

    sd, small = SimpleNamespace(vae_scale_factor=8), SimpleNamespace(vae_scale_factor=16)
    for pipe in (sd, small):
        pipe.spectrogram_params = SpectrogramParams()
    assert (width_step(sd), width_step(small)) == (8, 16)
    assert width_for(sd, 1.2) == 120 and width_for(small, 1.2) == 128  # 120 px rounded to the step
    assert width_for(small, 0.01) == 16  # never below one latent column
    assert width_step(object()) == 8  # pipelines that do not say are SD 1.x


def test_max_steps_caps_what_clients_ask(tiny_pipe: Any, app_factory: Any) -> None:
    """`serve --max-steps N`: the original app's 50 steps run as N, smaller requests as asked."""
    from sonogen.server.batching import run_inference_batch

    seen: list[Any] = []

    def recording(pipe: Any, items: list[Any]) -> Any:
        seen.extend(item.num_inference_steps for item in items)
        return run_inference_batch(pipe, items)

    app, _ = app_factory(tiny_pipe, max_steps=2, run_batch=recording)
    with TestClient(app) as http:
        for asked in (50, 1):
            body = dict(ORIGINAL_REQUEST, num_inference_steps=asked)
            assert http.post("/run_inference/", json=body).status_code == 200
    assert seen == [2, 1]
