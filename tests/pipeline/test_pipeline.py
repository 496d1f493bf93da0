"""Behaviour of the diffusion pipeline on a tiny random checkpoint (two steps on the CPU)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.pipeline import PromptInput, SonogenOutput, load_pipeline
from sonogen.pipeline.noise import seeded_noise, slerp
from sonogen.pipeline.prompts import encode_prompts, parse_weighted_prompt

STEPS = 2
W = 64


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_loading_paths_agree(pipe, tiny_folder, tiny_file) -> None:
    from_file = load_pipeline(str(tiny_file), device="cpu")
    for name in ("unet", "vae", "text_encoder"):
        a, b = getattr(pipe, name).state_dict(), getattr(from_file, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert from_file.spectrogram_params == pipe.spectrogram_params
    assert pipe.spectrogram_params.num_frequencies == 64  # read from spectrogram.json
    x = pipe("jazz", seed=3, num_inference_steps=STEPS, width=W, progress=False)
    y = from_file("jazz", seed=3, num_inference_steps=STEPS, width=W, progress=False)
    assert np.array_equal(_pixels(x.images[0]), _pixels(y.images[0]))


def test_missing_checkpoints_fail_fast(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(SonogenError, match="download"):
        load_pipeline("nobody-here/no-such-model", device="cpu")
    assert time.monotonic() - start < 10
    with pytest.raises(SonogenError, match="not found"):
        load_pipeline(str(tmp_path / "missing.safetensors"), device="cpu")
    with pytest.raises(SonogenError, match="model_index"):
        load_pipeline(str(tmp_path), device="cpu")


def test_text_to_audio_shapes_and_determinism(pipe) -> None:
    out = pipe("jazz piano", seed=7, num_inference_steps=STEPS, width=W, progress=False)
    assert isinstance(out, SonogenOutput)
    assert out.images[0].size == (W, 64) and out.seeds == [7]
    wave = out.waveforms[0]
    assert wave.dtype == np.float32 and wave.shape == (1, (W - 1) * pipe.spectrogram_params.hop_length)
    assert out.sample_rate == 44100
    from sonogen.spectrogram.params import SpectrogramParams

    params, _ = SpectrogramParams.from_image(out.images[0], warn=False)
    assert params == pipe.spectrogram_params  # EXIF attached
    again = pipe("jazz piano", seed=7, num_inference_steps=STEPS, width=W, progress=False)
    assert np.array_equal(_pixels(out.images[0]), _pixels(again.images[0]))
    other = pipe("jazz piano", seed=8, num_inference_steps=STEPS, width=W, progress=False)
    assert not np.array_equal(_pixels(out.images[0]), _pixels(other.images[0]))


def test_batch_matches_single_calls(pipe) -> None:
    batch = pipe(["jazz", "rock"], seed=[1, 2], num_inference_steps=STEPS, width=W, progress=False)
    assert len(batch.images) == 2 and batch.seeds == [1, 2]
    single = pipe("rock", seed=2, num_inference_steps=STEPS, width=W, progress=False)
    diff = np.abs(_pixels(batch.images[1]) - _pixels(single.images[0])).max()
    assert diff <= 2


def test_width_must_be_multiple_of_8(pipe) -> None:
    with pytest.raises(SonogenError, match="multiple of 8"):
        pipe("jazz", num_inference_steps=STEPS, width=60, progress=False)
    out = pipe("jazz", num_inference_steps=STEPS, width=40, progress=False)
    assert out.images[0].width == 40


def test_negative_prompt_changes_result(pipe) -> None:
    plain = pipe("jazz", seed=1, num_inference_steps=STEPS, width=W, progress=False)
    negative = pipe("jazz", seed=1, negative_prompt="drums", num_inference_steps=STEPS, width=W, progress=False)
    assert not np.array_equal(_pixels(plain.images[0]), _pixels(negative.images[0]))


def test_weights_parse_and_apply(pipe) -> None:
    assert parse_weighted_prompt("(caribbean:1.5) (jazz:0.3) drums") == [
        ("caribbean", 1.5),
        ("jazz", 0.3),
        ("drums", 1.0),
    ]
    assert parse_weighted_prompt("plain (not weighted)") == [("plain (not weighted)", 1.0)]
    with pytest.raises(SonogenError):
        parse_weighted_prompt("(x:99)")
    a = encode_prompts(["jazz drums"], pipe.tokenizer, pipe.text_encoder)
    b = encode_prompts(["jazz (drums:1.8)"], pipe.tokenizer, pipe.text_encoder)
    assert a.shape == b.shape and not torch.allclose(a, b)


def test_long_prompt_is_chunked(pipe) -> None:
    long = " ".join(["jazz piano"] * 60)  # far beyond 77 tokens
    states = encode_prompts([long, "jazz"], pipe.tokenizer, pipe.text_encoder)
    assert states.shape[1] > 77 and states.shape[1] % 77 == 0
    out = pipe(long, num_inference_steps=STEPS, width=W, progress=False)
    assert out.images[0].size == (W, 64)


def test_interpolation_ends_equal_prompts_alone(pipe) -> None:
    start = PromptInput("jazz", seed=3, denoising=0.8, guidance=6.0)
    end = PromptInput("rock guitar", seed=9, negative_prompt="drums", denoising=0.6, guidance=8.0)
    init = pipe("funk", seed=0, num_inference_steps=STEPS, width=W, progress=False, output_type="pil").images[0]
    for alpha, one in ((0.0, start), (1.0, end)):
        mixed = pipe.interpolate(start, end, alpha, num_inference_steps=STEPS, init_image=init, progress=False)
        alone = pipe(
            one.prompt,
            seed=one.seed,
            negative_prompt=one.negative_prompt,
            guidance_scale=one.guidance,
            strength=one.denoising,
            num_inference_steps=STEPS,
            width=W,
            init_image=init,
            progress=False,
        )
        assert np.array_equal(_pixels(mixed.images[0]), _pixels(alone.images[0]))
    middle = pipe.interpolate(start, end, 0.5, num_inference_steps=STEPS, init_image=init, progress=False)
    assert middle.images[0].size == (W, 64)
    with pytest.raises(SonogenError):
        pipe.interpolate(start, end, 1.5, num_inference_steps=STEPS)


def test_slerp_and_noise() -> None:
    a, b = seeded_noise((4, 2, 2), [1, 2])
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    assert abs(float(mid.norm()) - float(a.norm())) < 0.2 * float(a.norm())
    assert torch.equal(seeded_noise((3,), [5])[0], seeded_noise((3,), [4, 5])[1])


def test_mask_keeps_region(pipe) -> None:
    init = pipe("funk", seed=0, num_inference_steps=STEPS, width=W, progress=False, output_type="pil").images[0]
    mask = np.zeros((64, W), dtype=np.uint8)
    mask[:, W // 2 :] = 255  # repaint the right half
    out = pipe(
        "rock", seed=5, num_inference_steps=STEPS, width=W, init_image=init,
        strength=1.0, mask_image=Image.fromarray(mask, "L"), progress=False,
    )
    got, src = _pixels(out.images[0]), _pixels(init)
    assert np.array_equal(got[:, : W // 2], src[:, : W // 2])
    assert not np.array_equal(got[:, W // 2 :], src[:, W // 2 :])
    with pytest.raises(SonogenError, match="mask needs"):
        pipe("rock", num_inference_steps=STEPS, width=W, mask_image=Image.fromarray(mask, "L"), progress=False)


def test_audio_to_audio_strength(pipe) -> None:
    init = pipe("funk", seed=0, num_inference_steps=STEPS, width=W, progress=False, output_type="pil").images[0]
    low = pipe("rock", seed=1, num_inference_steps=4, width=W, init_image=init, strength=0.25, progress=False)
    high = pipe("rock", seed=1, num_inference_steps=4, width=W, init_image=init, strength=1.0, progress=False)
    src = _pixels(init).astype(float)
    assert np.abs(_pixels(low.images[0]) - src).mean() < np.abs(_pixels(high.images[0]) - src).mean()


def test_loop_ends_join(pipe) -> None:
    from sonogen.pipeline.seamless import circular_time_axis

    latents = seeded_noise((4, 8, 8), [0])
    with circular_time_axis([pipe.vae]):
        a = pipe.decode_latents(latents)
        b = pipe.decode_latents(torch.roll(latents, 2, dims=-1))
    assert torch.allclose(torch.roll(a, 16, dims=-1), b, atol=1e-5)  # time-shift equivariant
    plain = pipe.decode_latents(latents)
    assert not torch.allclose(plain, a)  # patches are undone afterwards... and applied inside
    assert torch.allclose(pipe.decode_latents(latents), plain)
    out = pipe("loop", seed=2, num_inference_steps=STEPS, width=W, loop=True, progress=False)
    wave = out.waveforms[0][0]
    steps = np.abs(np.diff(wave))
    assert abs(float(wave[0] - wave[-1])) <= 4 * float(np.percentile(steps, 99)) + 1e-6


def test_builtin_seed_images_and_masks() -> None:
    from sonogen.pipeline.seeds import (
        MASK_IMAGE_IDS,
        SEED_IMAGE_IDS,
        get_mask_image,
        get_seed_image,
    )

    assert "og_beat" in SEED_IMAGE_IDS and "mask_top_third_75" in MASK_IMAGE_IDS
    with pytest.raises(SonogenError, match="unknown seed image"):
        get_seed_image("../../etc/passwd")
    with pytest.raises(SonogenError, match="unknown mask"):
        get_mask_image("nope")
    mask = np.asarray(get_mask_image("mask_top_third_95", width=16, height=30))
    assert mask[0, 0] > 200 and mask[-1, 0] == 0


@pytest.fixture()
def counted(pipe, monkeypatch):  # type: ignore[no-untyped-def]
    """Counts of phase reconstructions (converter calls) and VAE decodes while a test runs."""
    from sonogen.spectrogram.converter import SpectrogramConverter

    counts = {"phase": 0, "decode": 0}
    phase, decode = SpectrogramConverter.waveform_from_spectrogram, pipe.vae.decode

    def counted_phase(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["phase"] += 1
        return phase(self, *args, **kwargs)

    def counted_decode(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["decode"] += 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(SpectrogramConverter, "waveform_from_spectrogram", counted_phase)
    monkeypatch.setattr(pipe.vae, "decode", counted_decode)
    return counts


def test_output_type_computes_only_what_is_asked(pipe, counted) -> None:
    """"audio" (the default) decodes and reconstructs phase; "pil" stops at the images and
    "latent" at the latents, with the same images as the full path."""
    kw = {"seed": [4, 5], "num_inference_steps": STEPS, "width": W, "progress": False}
    full = pipe(["jazz", "rock"], **kw)
    assert counted == {"phase": 1, "decode": 1}  # one batched phase reconstruction for both
    assert len(full.waveforms) == 2 and full.latents is None

    counted.update(phase=0, decode=0)
    pictures = pipe(["jazz", "rock"], output_type="pil", **kw)
    assert counted == {"phase": 0, "decode": 1}
    assert pictures.waveforms == [] and pictures.seeds == [4, 5] and pictures.latents is None
    for a, b in zip(full.images, pictures.images, strict=True):
        assert np.array_equal(_pixels(a), _pixels(b)) and dict(a.getexif()) == dict(b.getexif())

    counted.update(phase=0, decode=0)
    latent = pipe(["jazz", "rock"], output_type="latent", **kw)
    assert counted == {"phase": 0, "decode": 0}
    assert latent.images == [] and latent.waveforms == [] and latent.seeds == [4, 5]
    assert latent.latents is not None and latent.latents.dtype == torch.float32
    assert latent.latents.shape == (2, pipe.latent_channels, 64 // pipe.vae_scale_factor, W // pipe.vae_scale_factor)
    decoded = [pipe._to_image(p) for p in pipe.decode_latents(latent.latents)]
    for a, b in zip(full.images, decoded, strict=True):
        assert np.array_equal(_pixels(a), _pixels(b))

    with pytest.raises(SonogenError, match="output_type"):
        pipe("jazz", output_type="np", **kw)  # type: ignore[arg-type]


def test_output_type_of_interpolation_loops_and_masks(pipe, counted) -> None:
    start, end = PromptInput("jazz", 1), PromptInput("rock", 2, denoising=0.5)
    init = pipe("funk", seed=0, num_inference_steps=STEPS, width=W, progress=False, output_type="pil").images[0]
    mask = Image.fromarray(np.where(np.arange(W) < W // 2, 0, 255).astype(np.uint8)[None].repeat(64, 0), "L")
    cases = [
        (pipe.interpolate, (start, end, 0.5), {"init_image": init, "mask_image": mask}),
        (pipe, ("loop",), {"seed": 2, "width": W, "loop": True}),
    ]
    for call, args, kw in cases:
        full = call(*args, num_inference_steps=STEPS, progress=False, **kw)
        counted.update(phase=0)
        pictures = call(*args, num_inference_steps=STEPS, progress=False, output_type="pil", **kw)
        assert counted["phase"] == 0 and pictures.waveforms == []
        assert np.array_equal(_pixels(full.images[0]), _pixels(pictures.images[0]))


def test_output_item() -> None:
    from sonogen.spectrogram.params import SpectrogramParams

    images = [Image.new("RGB", (8, 8), (k, k, k)) for k in range(3)]
    out = SonogenOutput(images, [np.zeros((1, 4)) + k for k in range(3)], 44100, SpectrogramParams(), [7, 8, 9])
    one = out.item(1)
    assert one.images == [images[1]] and float(one.waveforms[0][0, 0]) == 1.0 and one.seeds == [8]
    latent = SonogenOutput([], [], 44100, SpectrogramParams(), [7, 8], torch.arange(2.0)[:, None]).item(1)
    assert latent.images == [] and latent.seeds == [8] and latent.latents is not None
    assert latent.latents.tolist() == [[1.0]]


def test_extension_keeps_opening(pipe) -> None:
    from sonogen.pipeline.longform import extend_audio, generate_long

    clip = pipe("jazz", seed=1, num_inference_steps=STEPS, width=W, progress=False).waveforms[0]
    rate = pipe.spectrogram_params.sample_rate
    seconds = clip.shape[1] / rate + 1.0
    out, out_rate = extend_audio(pipe, clip, rate, "rock", seconds, num_inference_steps=STEPS, progress=False)
    assert out_rate == rate and out.shape == (1, int(round(seconds * rate)))
    keep = clip.shape[1] - int(0.1 * rate)
    assert np.array_equal(out[:, :keep], clip[:, :keep])
    with pytest.raises(SonogenError, match="already"):
        extend_audio(pipe, clip, rate, "rock", 0.1, progress=False)
    long, _ = generate_long(pipe, [("jazz", 3.0), ("rock", 3.0)], num_inference_steps=1, progress=False)
    assert long.shape == (1, 6 * rate) and np.isfinite(long).all()


def test_schedulers_and_bad_inputs(tiny_folder) -> None:
    for name, cls in (("dpm", "DPMSolverMultistepScheduler"), ("ddim", "DDIMScheduler")):
        p = load_pipeline(str(tiny_folder), device="cpu", scheduler=name)
        assert type(p.scheduler).__name__ == cls
        out = p("jazz", num_inference_steps=STEPS, width=W, progress=False)
        assert out.images[0].size == (W, 64)
    with pytest.raises(SonogenError, match="scheduler"):
        load_pipeline(str(tiny_folder), device="cpu", scheduler="euler-ish")
    p = load_pipeline(str(tiny_folder), device="cpu")
    with pytest.raises(SonogenError, match="seeds"):
        p(["a", "b"], seed=[1, 2, 3], num_inference_steps=STEPS, width=W, progress=False)
    with pytest.raises(SonogenError, match="strength"):
        p("a", init_image=Image.new("RGB", (W, 64)), strength=2.0, num_inference_steps=STEPS, width=W)


def test_lora_adapter_applies(tiny_folder, tmp_path) -> None:
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from sonogen.pipeline.tiny import build_tiny_components

    unet = build_tiny_components()["unet"]
    unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=["to_q", "to_v"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 1.0)  # as if trained (B starts at zero)
    StableDiffusionPipeline.save_lora_weights(
        str(tmp_path), unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)), safe_serialization=True
    )
    base = load_pipeline(str(tiny_folder), device="cpu")
    tuned = load_pipeline(str(tiny_folder), device="cpu", lora=str(tmp_path))
    a = base("jazz", num_inference_steps=STEPS, width=W, progress=False).images[0]
    b = tuned("jazz", num_inference_steps=STEPS, width=W, progress=False).images[0]
    assert not np.array_equal(_pixels(a), _pixels(b))
    with pytest.raises(SonogenError, match="LoRA"):
        load_pipeline(str(tiny_folder), device="cpu", lora=str(tmp_path / "missing"))
