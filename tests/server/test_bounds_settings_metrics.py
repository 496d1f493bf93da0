"""What the server says about itself and the bounds of its work: GET /v1/settings (the model's
own steps and guidance, the cap, every bound), the steps and guidance each clip was really
drawn with, every bound answered 413/422 before any work, /favicon.ico, the request log
with queue and model times, and Prometheus /metrics."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image

from tests.server.conftest import GatedPipeline
from tests.server.test_api import ORIGINAL_REQUEST, assert_error, wav_bytes


class Recommends(GatedPipeline):
    """The tiny pipeline with a ``sampling.json`` of its own (``steps``, ``guidance``); every
    model call is counted (``calls``) and the steps it ran with recorded (``steps_seen``)."""

    def __init__(self, inner: Any, steps: int, guidance: float) -> None:
        super().__init__(inner)
        self.default_steps = steps
        self.default_guidance = guidance
        self.steps_seen: list[int | None] = []

    def __call__(self, prompt: str, **kwargs: Any) -> Any:
        self.steps_seen.append(kwargs.get("num_inference_steps"))
        return super().__call__(prompt, **kwargs)

    def run_batch(self, items: list[Any]) -> Any:
        self.steps_seen.extend(item.num_inference_steps for item in items)
        return super().run_batch(items)


@pytest.fixture()
def capped(tiny_pipe: Any, app_factory: Any) -> Any:
    """A client of a server whose model recommends 2 steps and guidance 4, capped at 3 steps."""
    pipe = Recommends(tiny_pipe, steps=2, guidance=4.0)
    app, engine = app_factory(pipe, max_steps=3, run_batch=Recommends.run_batch, max_clip_s=2.0, max_long_s=6.0)
    with TestClient(app) as http:
        http.pipe, http.engine = pipe, engine  # type: ignore[attr-defined]
        yield http


# ------------------------------------------------------------------ the model's settings and the cap
def test_settings_and_health_give_the_models_own_steps_guidance_and_the_cap(capped: TestClient) -> None:
    settings = capped.get("/v1/settings").json()
    assert settings["sampling"] == {"num_inference_steps": 2, "guidance": 4.0, "max_steps": 3}
    assert settings["clip_step_s"] == pytest.approx(0.08) and settings["sample_rate"] == 44100
    limits = settings["limits"]
    assert limits["max_steps"] == 3 and limits["max_clip_s"] == 2.0 and limits["max_long_s"] == 6.0
    assert limits["min_clip_s"] == 0.5 and limits["max_upload_s"] == 6.0 and limits["max_sample_clips"] == 16
    assert limits["max_body_bytes"] == 256 * 1024 and limits["max_upload_bytes"] == 20 * 1024 * 1024
    assert capped.get("/health").json()["sampling"] == settings["sampling"]


def test_a_model_that_recommends_more_than_the_cap_is_drawn_at_the_cap(tiny_pipe: Any, app_factory: Any) -> None:
    app, _ = app_factory(Recommends(tiny_pipe, steps=20, guidance=4.0), max_steps=3)
    with TestClient(app) as http:
        assert http.get("/v1/settings").json()["sampling"]["num_inference_steps"] == 3


def test_explicit_steps_are_honoured_up_to_the_cap_everywhere_and_answers_say_so(capped: TestClient) -> None:
    pipe = capped.pipe  # type: ignore[attr-defined]
    cases = [
        ("/run_inference/", {**ORIGINAL_REQUEST, "num_inference_steps": 50}, 3),  # the original app's 50
        ("/run_inference/", {**ORIGINAL_REQUEST, "num_inference_steps": 1}, 1),
        ("/v1/interpolate", {**ORIGINAL_REQUEST, "num_inference_steps": None, "response": "json"}, 2),  # model's
        ("/v1/generate", {"prompt": "jazz", "num_inference_steps": 90, "duration_s": 0.5, "response": "json"}, 3),
        ("/v1/generate", {"prompt": "jazz", "duration_s": 0.5, "response": "json"}, 2),
    ]
    for path, body, steps in cases:
        pipe.steps_seen.clear()
        response = capped.post(path, json=body)
        assert response.status_code == 200, response.text
        assert pipe.steps_seen == [steps], (path, body)
        assert response.headers["x-sonogen-steps"] == str(steps)
        if path != "/run_inference/":
            answer = response.json()
            assert answer["num_inference_steps"] == steps
            assert answer["guidance"] == (4.0 if path == "/v1/generate" else 7.0)
        else:
            assert set(response.json()) == {"image", "audio", "duration_s"}  # the original answer, unchanged
    pipe.steps_seen.clear()
    upload = {"audio": ("tone.wav", wav_bytes(1.0), "audio/wav")}
    response = capped.post("/v1/transform", files=upload, data={"prompt": "piano", "num_inference_steps": "99"})
    assert response.status_code == 200 and response.headers["x-sonogen-steps"] == "3"
    assert response.headers["x-sonogen-guidance"] == "4"


def test_a_rounded_length_is_reported_with_the_length_asked(capped: TestClient) -> None:
    answer = capped.post("/v1/generate", json={"prompt": "jazz", "duration_s": 1.0, "num_inference_steps": 1,
                                                 "response": "json", "format": "wav"}).json()
    assert answer["requested_duration_s"] == 1.0
    assert answer["duration_s"] == pytest.approx(0.95, abs=0.005)  # 96 columns: the 8-column step


# ------------------------------------------------------------------ bounds: answered at once, before any work
def _no_work(http: TestClient, call: Any, status: int, fragment: str) -> None:
    """``call()`` is answered ``status`` quickly, and the model never ran."""
    pipe = http.pipe  # type: ignore[attr-defined]
    before = (len(pipe.calls), http.engine.stats.accepted)  # type: ignore[attr-defined]
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert_error(response, status, fragment)
    assert (len(pipe.calls), http.engine.stats.accepted) == before, "the model ran"  # type: ignore[attr-defined]
    assert elapsed < 5.0, f"answered after {elapsed:.1f} s"


def flac_of_silence(seconds: float, rate: int = 8000) -> bytes:
    """Minutes of silence in a few kilobytes of FLAC."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * rate), np.float32), rate, format="FLAC")
    return buffer.getvalue()


def test_every_bound_is_answered_413_or_422_before_any_work(capped: TestClient, tiny_pipe: Any,
                                                            app_factory: Any) -> None:
    post = capped.post
    song = flac_of_silence(600.0)
    assert len(song) < 50_000  # ten minutes of sound in a small upload: only its header says how long
    cases: list[tuple[Any, int, str]] = [
        (lambda: post("/v1/generate", json={"prompt": "x", "duration_s": 2.5}), 422, "duration_s"),
        (lambda: post("/v1/generate", json={"prompt": "x", "duration_s": 61}), 422, "duration_s"),
        (lambda: post("/v1/generate", json={"prompt": "x", "duration_s": 0.2}), 422, "duration_s"),
        (lambda: post("/v1/generate", json={"prompt": "x", "num_inference_steps": 101}), 422, "num_inference_steps"),
        (lambda: post("/v1/generate", json={"prompt": "x", "guidance": 31}), 422, "guidance"),
        (lambda: post("/v1/generate", json={"prompt": "x" * 1001}), 422, "prompt"),
        (lambda: post("/v1/generate", json={"prompt": "   "}), 422, "prompt"),
        (lambda: post("/v1/long", json={"prompts": ["a"], "duration_s": 7}), 422, "duration_s"),
        (lambda: post("/v1/long", json={"prompts": ["a"] * 17}), 422, "prompts"),
        (lambda: post("/run_inference/", json={**ORIGINAL_REQUEST, "num_inference_steps": 101}), 422, "steps"),
        (lambda: post("/run_inference/", content=b"{" + b" " * 300_000 + b"}",
                      headers={"content-type": "application/json"}), 413, "too large"),
        (lambda: post("/v1/transform", files={"audio": ("s.flac", song, "audio/flac")}, data={"prompt": "p"}),
         422, "600.0 s long"),
        (lambda: post("/v1/transform", files={"audio": ("t.wav", wav_bytes(1.0), "audio/wav")},
                      data={"prompt": "p", "duration_s": "3"}), 422, "duration_s"),
        (lambda: post("/v1/transform", files={"audio": ("t.wav", wav_bytes(1.0), "audio/wav")},
                      data={"prompt": "p", "offset_s": "1e308"}), 422, "offset_s"),
        (lambda: post("/v1/transform-song", files={"audio": ("s.flac", song, "audio/flac")}, data={"prompt": "p"}),
         422, "600.0 s long"),
        (lambda: post("/v1/transform-song", files={"audio": ("t.wav", wav_bytes(1.0), "audio/wav")},
                      data={"prompt": "p", "clip_s": "0.5"}), 422, "clip_s"),
        (lambda: post("/v1/sample-clips", files={"audio": ("s.flac", song, "audio/flac")}), 422, "600.0 s long"),
        (lambda: post("/v1/sample-clips", files={"audio": ("t.wav", wav_bytes(3.0), "audio/wav")},
                      data={"seconds": "2.5"}), 422, "seconds"),
        (lambda: post("/v1/sample-clips", files={"audio": ("t.wav", wav_bytes(3.0), "audio/wav")},
                      data={"starts": ",".join(["0"] * 17), "seconds": "1"}), 422, "at most 16"),
        (lambda: post("/v1/image-to-audio", files={"image": ("w.png", _png(700, 512), "image/png")}), 422, "too large"),
        (lambda: post("/v1/image-to-audio", files={"image": ("t.png", _png(100, 5000), "image/png")}), 422,
         "too large"),
    ]
    for call, status, fragment in cases:
        _no_work(capped, call, status, fragment)
    # more model clips than a request may cost: a long piece, a song in short clips
    pipe = Recommends(tiny_pipe, steps=1, guidance=4.0)
    app, engine = app_factory(pipe, max_request_clips=3, max_long_s=60.0)
    with TestClient(app) as http:
        http.pipe, http.engine = pipe, engine  # type: ignore[attr-defined]
        _no_work(http, lambda: http.post("/v1/long", json={"prompts": ["a"], "duration_s": 20}), 422, "model clips")
        song = {"audio": ("s.wav", wav_bytes(20.0), "audio/wav")}
        _no_work(http, lambda: http.post("/v1/transform-song", files=song, data={"prompt": "p", "clip_s": "2"}),
                 422, "model clips")
    # a larger upload than the limit: 413 from the declared length, before the body is read
    app, engine = app_factory(pipe, max_upload_bytes=10_000)
    with TestClient(app) as http:
        http.pipe, http.engine = pipe, engine  # type: ignore[attr-defined]
        big = {"audio": ("t.wav", wav_bytes(1.0), "audio/wav")}
        _no_work(http, lambda: http.post("/v1/transform", files=big, data={"prompt": "p"}), 413, "too large")


def test_no_request_waits_longer_than_max_wait(tiny_pipe: Any, app_factory: Any) -> None:
    """A job still queued after ``max_wait_s`` leaves the queue; its request gets 503 + Retry-After."""
    import threading

    from tests.server.test_queue import canned_output

    gated = GatedPipeline(tiny_pipe, canned_output(tiny_pipe))
    app, engine = app_factory(gated, run_batch=GatedPipeline.run_batch, max_batch=1)
    engine.max_wait_s = 1.0
    gated.gate.clear()
    body = {**ORIGINAL_REQUEST, "num_inference_steps": 1}
    with TestClient(app) as http:
        first: list[Any] = []
        holder = threading.Thread(target=lambda: first.append(http.post("/run_inference/", json=body)))
        holder.start()
        assert gated.entered.wait(30)  # the first request holds the model
        started = time.monotonic()
        waited = http.post("/v1/interpolate", json=body)
        elapsed = time.monotonic() - started
        gated.gate.set()
        holder.join(60)
    assert_error(waited, 503, "waited")
    assert int(waited.headers["retry-after"]) >= 1 and 1.0 <= elapsed < 10
    assert first[0].status_code == 200 and engine.stats.dropped == 1
    assert [kind for kind, _ in gated.calls] == ["batch"]  # the one that waited never ran


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_schema_carries_the_servers_own_bounds(capped: TestClient) -> None:
    schema = capped.get("/openapi.json").json()
    parts = schema["components"]["schemas"]
    generate = parts["GenerateIn"]["properties"]["duration_s"]["anyOf"][0]
    assert (generate["minimum"], generate["maximum"]) == (0.5, 2.0)
    assert parts["LongIn"]["properties"]["duration_s"]["anyOf"][0]["maximum"] == 6.0
    form = schema["paths"]["/v1/transform"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "audio/wav" in form["encoding"]["audio"]["contentType"]
    fields = form["schema"]["properties"]
    assert fields["duration_s"] == {**fields["duration_s"], "type": "number", "maximum": 2.0}  # no null in a form
    assert set(form["schema"]["required"]) == {"audio"}
    picture = schema["paths"]["/v1/image-to-audio"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "image/png" in picture["encoding"]["image"]["contentType"]


def test_a_song_whose_last_clip_would_be_too_narrow_is_answered(client: TestClient) -> None:
    """3.2 s in 1.04 s clips without overlap leaves an 8-column last clip, too little to rebuild
    sound from (the pipeline alone fails on it): the song is padded for it, and the answer is
    as long as the upload."""
    data = {"prompt": "rock", "clip_s": "1.04", "overlap_s": "0", "num_inference_steps": "1", "format": "wav"}
    for seconds in (3.2, 3.25):
        response = client.post("/v1/transform-song", files={"audio": ("s.wav", wav_bytes(seconds), "audio/wav")},
                               data=data)
        assert response.status_code == 200, (seconds, response.text)
        wave, rate = sf.read(io.BytesIO(response.content))
        assert abs(len(wave) / rate - seconds) < 0.1


# ------------------------------------------------------------------ favicon, request log, metrics
def test_favicon_is_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert Image.open(io.BytesIO(icon.content)).size[0] >= 16
    for page in ("/", "/studio.html"):
        assert 'rel="icon" href="favicon.ico"' in client.get(page).text


def test_each_request_is_logged_with_its_queue_and_model_time(client: TestClient,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sonogen.server.access"):
        assert client.post("/run_inference/", json={**ORIGINAL_REQUEST, "num_inference_steps": 1}).status_code == 200
        client.get("/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "sonogen.server.access"]
    clip = next(line for line in lines if line.startswith("POST /run_inference/ 200 "))
    assert " s (queue " in clip and ", model " in clip, clip
    queue_s = float(clip.split("(queue ")[1].split(" s")[0])
    model_s = float(clip.split(", model ")[1].split(" s")[0])
    total_s = float(clip.split(" 200 ")[1].split(" s")[0])
    assert 0 <= queue_s and 0 < model_s <= total_s
    assert any(line.startswith("GET /health 200 ") and "queue" not in line for line in lines)


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_expose_the_named_metrics_and_count_a_request(tiny_pipe: Any, app_factory: Any) -> None:
    app, _ = app_factory(tiny_pipe)
    with TestClient(app) as http:
        first = http.get("/metrics")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain; version=0.0.4")
        for name in ("sonogen_requests_total", "sonogen_request_errors_total", "sonogen_queue_length",
                     "sonogen_clip_latency_seconds", "sonogen_clips_per_second", "sonogen_queue_wait_seconds",
                     "sonogen_model_seconds", "sonogen_request_duration_seconds", "sonogen_clips_total"):
            assert f"# TYPE {name} " in first.text, name
        assert http.post("/run_inference/", json={**ORIGINAL_REQUEST, "num_inference_steps": 1}).status_code == 200
        assert http.post("/run_inference/", json={**ORIGINAL_REQUEST, "alpha": 3}).status_code == 422
        samples = _samples(http.get("/metrics").text)
    ok = 'sonogen_requests_total{method="POST",path="/run_inference/",code="200"}'
    assert samples[ok] == 1
    assert samples['sonogen_requests_total{method="POST",path="/run_inference/",code="422"}'] == 1
    assert samples['sonogen_request_errors_total{code="422"}'] == 1
    assert samples['sonogen_clips_total{path="/run_inference/"}'] == 1
    assert samples['sonogen_clip_latency_seconds_count{path="/run_inference/"}'] == 1
    assert samples['sonogen_clip_latency_seconds_bucket{path="/run_inference/",le="+Inf"}'] == 1
    assert samples["sonogen_queue_wait_seconds_count"] == 1 and samples["sonogen_model_seconds_count"] == 1
    assert samples["sonogen_clips_per_second"] > 0
    assert samples["sonogen_queue_length"] == 0 and samples["sonogen_queue_capacity"] == 16
    assert samples["sonogen_model_loaded"] == 1
    assert samples['sonogen_requests_total{method="GET",path="/metrics",code="200"}'] == 1  # the first scrape
