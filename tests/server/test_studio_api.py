"""The Studio's upload endpoints (image to audio, sample clips, whole-song transform) and serving a LoRA."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image

from sonogen.spectrogram.params import SpectrogramParams
from tests.server.conftest import make_app
from tests.server.test_api import assert_error, decode_uri, wav_bytes


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=image.getexif())
    return buffer.getvalue()


def tone_picture(seconds: float = 1.0) -> Image.Image:
    from sonogen.spectrogram.converter import get_converter

    t = np.arange(int(seconds * 44100)) / 44100
    wave = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    return get_converter().audio_to_image(wave, 44100)


# ------------------------------------------------------------------ image -> audio
def test_image_to_audio_reads_exif_pictures_and_drawn_ones(client: TestClient) -> None:
    picture = tone_picture(1.0)
    response = client.post(
        "/v1/image-to-audio", files={"image": ("tone.png", png_bytes(picture), "image/png")},
        data={"format": "wav", "response": "json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["used_exif"] is True and (body["width"], body["height"]) == (picture.width, 512)
    wave, rate = sf.read(io.BytesIO(decode_uri(body["audio"], "audio/wav")))
    assert rate == 44100 and abs(len(wave) / rate - 1.0) < 0.02
    spectrum = np.abs(np.fft.rfft(wave[:, 0] if wave.ndim > 1 else wave))
    assert abs(np.argmax(spectrum) * rate / len(wave) - 440) < 15  # the tone comes back

    # a drawn picture: no EXIF, RGBA, 300 x 200; transparent = silence, scaled to 512 bands
    drawn = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    for x in range(300):
        drawn.putpixel((x, 150), (0, 0, 0, 255))  # one dark line: a low tone
    response = client.post("/v1/image-to-audio", files={"image": ("drawn.png", png_bytes(drawn), "image/png")})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/flac"
    wave, rate = sf.read(io.BytesIO(response.content))
    assert abs(len(wave) / rate - 2.99) < 0.02 and np.abs(wave).max() > 0.1


def test_image_to_audio_bad_input(client: TestClient, app_factory: Any, tiny_pipe: Any) -> None:
    assert_error(client.post("/v1/image-to-audio", files={"image": ("x.png", b"not a picture", "image/png")}), 400, "image")
    assert_error(client.post("/v1/image-to-audio", files={"image": ("x.png", b"", "image/png")}), 422, "empty")
    assert_error(client.post("/v1/image-to-audio", data={"format": "wav"}), 422, "image")
    tiny = png_bytes(Image.new("RGB", (1, 1)))
    assert_error(client.post("/v1/image-to-audio", files={"image": ("x.png", tiny, "image/png")}), 400, "too small")
    app, _ = app_factory(tiny_pipe, max_long_s=1.0)
    with TestClient(app) as small:
        wide = png_bytes(Image.new("RGB", (400, 512), "white"))
        assert_error(small.post("/v1/image-to-audio", files={"image": ("w.png", wide, "image/png")}), 422, "too large")
    app, _ = app_factory(tiny_pipe, max_upload_bytes=1000)
    with TestClient(app) as limited:
        big = png_bytes(tone_picture(1.0))
        assert_error(limited.post("/v1/image-to-audio", files={"image": ("b.png", big, "image/png")}), 413, "too large")


# ------------------------------------------------------------------ sample clips
def test_sample_clips_cut_an_upload_with_spectrograms(client: TestClient) -> None:
    song = wav_bytes(12.0)
    response = client.post("/v1/sample-clips", files={"audio": ("song.wav", song, "audio/wav")},
                           data={"count": "3", "seconds": "2", "seed": "4", "format": "wav"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source_duration_s"] == pytest.approx(12.0, abs=0.01) and len(body["clips"]) == 3
    starts = [c["start_s"] for c in body["clips"]]
    assert starts == sorted(starts) and all(0 <= s <= 10 for s in starts)
    for clip in body["clips"]:
        wave, rate = sf.read(io.BytesIO(decode_uri(clip["audio"], "audio/wav")))
        assert abs(len(wave) / rate - 2.0) < 0.01
        image = Image.open(io.BytesIO(decode_uri(clip["image"], "image/png")))
        assert image.height == 512 and abs(image.width - 200) <= 1
    again = client.post("/v1/sample-clips", files={"audio": ("song.wav", song, "audio/wav")},
                        data={"count": "3", "seconds": "2", "seed": "4", "format": "wav"}).json()
    assert [c["start_s"] for c in again["clips"]] == starts  # seeded
    picked = client.post("/v1/sample-clips", files={"audio": ("song.wav", song, "audio/wav")},
                         data={"starts": "0, 7.5", "seconds": "1"}).json()
    assert [c["start_s"] for c in picked["clips"]] == [0.0, 7.5]
    hop = client.post("/v1/sample-clips", files={"audio": ("song.wav", song, "audio/wav")},
                      data={"hop_s": "5", "seconds": "2"}).json()
    assert [c["start_s"] for c in hop["clips"]] == [0.0, 5.0, 10.0]


def test_sample_clips_bad_input(client: TestClient) -> None:
    song = wav_bytes(3.0)
    files = {"audio": ("song.wav", song, "audio/wav")}
    assert_error(client.post("/v1/sample-clips", files=files, data={"seconds": "5"}), 400, "shorter")
    assert_error(client.post("/v1/sample-clips", files=files, data={"count": "2", "hop_s": "1"}), 422, "one of")
    assert_error(client.post("/v1/sample-clips", files=files, data={"starts": "zero"}), 422, "starts")
    assert_error(client.post("/v1/sample-clips", files=files, data={"starts": "2.5", "seconds": "1"}), 400, "starts")
    assert_error(client.post("/v1/sample-clips", files=files, data={"count": "99"}), 422, "count")
    assert_error(client.post("/v1/sample-clips", files=files, data={"hop_s": "0.1", "seconds": "0.5"}), 422, "at most")
    assert_error(client.post("/v1/sample-clips", files={"audio": ("x.wav", b"RIFF junk", "audio/wav")}), 400, "decode")


# ------------------------------------------------------------------ whole-song transform
def test_transform_song_moves_between_prompts(client: TestClient) -> None:
    files = {"audio": ("song.wav", wav_bytes(2.5), "audio/wav")}
    data = {"prompt": "rock", "to_prompt": "jazz", "clip_s": "1", "overlap_s": "0.2", "crossfade_s": "0.1",
            "num_inference_steps": "1", "strength": "0.5", "format": "wav", "response": "json"}
    response = client.post("/v1/transform-song", files=files, data=data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["prompt"] == "rock → jazz" and abs(body["duration_s"] - 2.5) < 0.1
    image = Image.open(io.BytesIO(base64.b64decode(body["image"].split(",", 1)[1])))
    assert image.width > 200
    bad = dict(data, overlap_s="0.6")
    assert_error(client.post("/v1/transform-song", files=files, data=bad), 422, "overlap_s")
    bad = dict(data, crossfade_s="0.3")
    assert_error(client.post("/v1/transform-song", files=files, data=bad), 422, "crossfade_s")
    bad = dict(data, clip_s="30")
    assert_error(client.post("/v1/transform-song", files=files, data=bad), 422, "clip_s")


# ------------------------------------------------------------------ serving a LoRA
def test_serving_a_lora_with_a_scheduler(tmp_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from sonogen.pipeline.tiny import build_tiny_components, save_tiny_checkpoint
    from sonogen.server import ServerConfig, create_app

    folder = save_tiny_checkpoint(tmp_path / "tiny", spectrogram_params=SpectrogramParams(num_frequencies=64))
    unet = build_tiny_components()["unet"]
    unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=["to_q", "to_v"]))
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 1.0)
    StableDiffusionPipeline.save_lora_weights(
        str(tmp_path / "lora"), unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
        safe_serialization=True,
    )
    config = ServerConfig(checkpoint=str(folder), device="cpu", lora=str(tmp_path / "lora"), scheduler="ddim", threads=1)
    with TestClient(create_app(config)) as served:
        pipe = served.app.state.engine.pipeline  # type: ignore[attr-defined]
        assert type(pipe.scheduler).__name__ == "DDIMScheduler"
        assert "sonogen" in getattr(pipe.unet, "peft_config", {})
        response = served.post("/v1/generate", json={"prompt": "jazz", "num_inference_steps": 1, "duration_s": 0.5})
        assert response.status_code == 200, response.text
    # the command line passes both on
    from sonogen.cli import build_parser

    args = build_parser().parse_args(["serve", "--lora", "my-lora", "--scheduler", "dpm"])
    assert (args.lora, args.scheduler) == ("my-lora", "dpm")


def test_the_studio_endpoints_are_documented(tiny_pipe: Any) -> None:
    app, engine = make_app(tiny_pipe)
    paths = app.openapi()["paths"]
    for path in ("/v1/image-to-audio", "/v1/sample-clips", "/v1/transform-song"):
        assert "post" in paths[path], path
    engine.stop()
