"""The diffusers-free path draws what the full pipeline draws, from the same folder.

Each network is compared with its diffusers or transformers original on the same
weights, the sampler with diffusers' DPM-Solver++ on several schedules, and whole
images (weighted and negative prompts, guidance) with the full pipeline's. The command
line takes this path for the packaged model and then imports neither diffusers nor
transformers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.lite.pipeline import LitePipeline, lite_unsupported
from sonogen.lite.sampler import DDIMSampler, DPMSolverPP, LCMSampler
from sonogen.models import DEFAULT_MODEL_DIR
from sonogen.spectrogram.params import SpectrogramParams

PARAMS = SpectrogramParams(num_frequencies=64)
#: the noise schedule and sampler the default models use
V_PRED = {
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "num_train_timesteps": 1000,
    "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing",
    "algorithm_type": "dpmsolver++", "solver_order": 2, "final_sigmas_type": "zero",
}


@pytest.fixture(scope="module", autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random checkpoint (64 bands) that samples with DPM-Solver++ and v-prediction."""
    from diffusers import DPMSolverMultistepScheduler

    from sonogen.pipeline.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline(3, spectrogram_params=PARAMS)
    pipe.scheduler = DPMSolverMultistepScheduler(**V_PRED)
    pipe.sampling_defaults = {"num_inference_steps": 6, "guidance_scale": 3.0}
    out = tmp_path_factory.mktemp("lite") / "model"
    pipe.save_pretrained(str(out), safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def full(folder: Path) -> Any:
    from sonogen.pipeline import load_pipeline

    return load_pipeline(str(folder), device="cpu")


@pytest.fixture(scope="module")
def lite(folder: Path) -> LitePipeline:
    return LitePipeline.load(folder)


def test_each_network_gives_its_originals_output(lite: LitePipeline, full: Any) -> None:
    torch.manual_seed(0)
    ids = torch.randint(0, full.tokenizer.vocab_size, (2, 77))
    torch.testing.assert_close(lite.text_encoder(ids)[0], full.text_encoder(ids)[0], atol=1e-5, rtol=1e-5)
    latents, context = torch.randn(2, 4, 8, 24), torch.randn(2, 77, 32)
    for t in (0, 417, 999):
        expected = full.unet(latents, torch.tensor(t), encoder_hidden_states=context).sample
        torch.testing.assert_close(lite.unet(latents, torch.tensor(t), context), expected, atol=1e-5, rtol=1e-5)
    # an odd latent size goes down to 3 columns and back up to 5
    odd = torch.randn(1, 4, 8, 5)
    expected = full.unet(odd, torch.tensor(10), encoder_hidden_states=context[:1]).sample
    torch.testing.assert_close(lite.unet(odd, torch.tensor(10), context[:1]), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lite.decoder.decode(latents[:1]), full.decode_latents(latents[:1]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("prompt", ["(jazz:1.6) piano with (drums:0.5)", "a long prompt " * 30])
def test_the_whole_image_matches_the_full_pipeline(lite: LitePipeline, full: Any, prompt: str) -> None:
    options = {"negative_prompt": "rock guitar", "seed": 7, "width": 96}
    ours = lite.text_to_image(prompt, **options)
    theirs = full(prompt, **options, output_type="pil", progress=False).images[0]
    assert ours.size == theirs.size == (96, 64)
    diff = np.abs(np.asarray(ours, dtype=int) - np.asarray(theirs, dtype=int))
    assert diff.max() <= 1 and diff.mean() < 0.01
    assert dict(ours.getexif()) == dict(theirs.getexif())
    # the settings come from sampling.json: 6 steps at guidance 3 unless told
    other = lite.text_to_image(prompt, **options, num_inference_steps=6, guidance_scale=3.0)
    assert np.array_equal(np.asarray(other), np.asarray(ours))
    assert not np.array_equal(np.asarray(lite.text_to_image(prompt, **options, guidance_scale=1.0)), np.asarray(ours))


def test_audio_is_the_image_through_the_format(lite: LitePipeline) -> None:
    wave, rate, image = lite.text_to_audio("jazz", seed=1, width=64)
    assert rate == PARAMS.sample_rate and image.size == (64, 64)
    assert wave.dtype == np.float32 and wave.shape[0] == 1
    assert abs(wave.shape[1] - 64 * PARAMS.hop_length) <= PARAMS.hop_length
    assert 0.9 < float(np.abs(wave).max()) <= 0.98 + 1e-6


def made_up_network(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A made-up network whose answer depends on the latents and the timestep."""
    return torch.tanh(0.7 * x) + 0.001 * float(t) * torch.cos(x)


def diffusers_walk(reference: Any, noise: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``noise`` taken through every step of a diffusers scheduler (``set_timesteps`` called)
    with :func:`made_up_network`."""
    x = noise.clone()
    for t in reference.timesteps:
        extra = {"generator": [generator]} if generator is not None else {}
        x = reference.step(made_up_network(x, t), t, x, **extra).prev_sample
    return x


@pytest.mark.parametrize("changes", [
    {},
    {"timestep_spacing": "leading", "steps_offset": 1, "rescale_betas_zero_snr": False, "prediction_type": "epsilon"},
    {"timestep_spacing": "linspace", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02},
    {"solver_type": "heun", "prediction_type": "sample", "rescale_betas_zero_snr": False},
    {"final_sigmas_type": "sigma_min", "rescale_betas_zero_snr": False, "prediction_type": "epsilon"},
    {"solver_order": 1},
])
@pytest.mark.parametrize("steps", [1, 2, 7, 20])
def test_the_sampler_follows_diffusers_dpm_solver(changes: dict[str, Any], steps: int) -> None:
    from diffusers import DPMSolverMultistepScheduler

    config = {**V_PRED, **changes}
    reference = DPMSolverMultistepScheduler(**config)
    ours = DPMSolverPP.from_config({"_class_name": "DPMSolverMultistepScheduler", **config}, steps)
    reference.set_timesteps(steps)
    assert torch.equal(ours.timesteps, reference.timesteps)
    torch.testing.assert_close(ours.sigmas, reference.sigmas)
    noise = torch.randn(1, 4, 6, 10, generator=torch.Generator().manual_seed(steps))
    torch.testing.assert_close(ours.sample(noise, made_up_network), diffusers_walk(reference, noise),
                               atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("changes", [
    {},
    {"prediction_type": "epsilon", "rescale_betas_zero_snr": False, "set_alpha_to_one": False},
    {"prediction_type": "sample", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02},
])
@pytest.mark.parametrize("steps", [1, 2, 4, 8])
def test_the_lcm_sampler_follows_diffusers(changes: dict[str, Any], steps: int) -> None:
    from diffusers import LCMScheduler

    config = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
              "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "original_inference_steps": 50,
              "timestep_scaling": 10.0, "set_alpha_to_one": True, **changes}
    reference = LCMScheduler(**config)
    reference.set_timesteps(steps)
    ours = LCMSampler.from_config({"_class_name": "LCMScheduler", **config}, steps)
    assert torch.equal(ours.timesteps, reference.timesteps)
    noise = torch.randn(1, 4, 6, 10, generator=torch.Generator().manual_seed(steps))
    got = ours.sample(noise, made_up_network, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(got, diffusers_walk(reference, noise, torch.Generator().manual_seed(9)),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("changes", [
    {},
    {"prediction_type": "epsilon", "rescale_betas_zero_snr": False, "set_alpha_to_one": False,
     "timestep_spacing": "leading", "steps_offset": 1},
    {"prediction_type": "sample", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
     "timestep_spacing": "linspace", "rescale_betas_zero_snr": False},
])
@pytest.mark.parametrize("steps", [1, 3, 8])
def test_the_ddim_sampler_follows_diffusers(changes: dict[str, Any], steps: int) -> None:
    from diffusers import DDIMScheduler

    config = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
              "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing",
              "clip_sample": False, "set_alpha_to_one": True, **changes}
    reference = DDIMScheduler(**config)
    reference.set_timesteps(steps)
    ours = DDIMSampler.from_config({"_class_name": "DDIMScheduler", **config}, steps)
    assert torch.equal(ours.timesteps, reference.timesteps)
    noise = torch.randn(1, 4, 6, 10, generator=torch.Generator().manual_seed(steps))
    torch.testing.assert_close(ours.sample(noise, made_up_network), diffusers_walk(reference, noise),
                               atol=1e-5, rtol=1e-5)


def test_a_few_step_student_draws_the_same_image(folder: Path, tmp_path: Path) -> None:
    """A model sampled by the LCM scheduler (the distilled student's), fresh noise and all."""
    from diffusers import LCMScheduler

    from sonogen.pipeline import load_pipeline

    student = tmp_path / "student"
    subprocess.run(["cp", "-r", str(folder), str(student)], check=True)
    scheduler = LCMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                             prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_scaling=10.0)
    scheduler.save_pretrained(str(student / "scheduler"))
    index = json.loads((student / "model_index.json").read_text())
    (student / "model_index.json").write_text(json.dumps({**index, "scheduler": ["diffusers", "LCMScheduler"]}))
    (student / "sampling.json").write_text(json.dumps({"num_inference_steps": 4, "guidance_scale": 1.0}))
    assert lite_unsupported(student) is None
    lite, full = LitePipeline.load(student), load_pipeline(str(student), device="cpu")
    ours = np.asarray(lite.text_to_image("jazz piano", seed=11, width=64), dtype=int)
    theirs = np.asarray(full("jazz piano", seed=11, width=64, output_type="pil", progress=False).images[0], dtype=int)
    assert np.abs(ours - theirs).max() <= 1
    other = np.asarray(lite.text_to_image("jazz piano", seed=12, width=64), dtype=int)
    assert np.abs(other - ours).mean() > 1  # the seed reaches the noise between steps too


@pytest.mark.parametrize("sampler", ["lcm", "ddim"])
def test_a_few_step_adapter_is_merged_and_draws_the_same_image(folder: Path, tmp_path: Path, sampler: str) -> None:
    """A folder's few_step/ LoRA, merged at load, samples as the full pipeline's fused adapter,
    with a consistency student's LCM sampler or a trajectory student's DDIM."""
    from sonogen.pipeline import load_pipeline
    from sonogen.train.distill import (
        ddim_scheduler,
        few_step_student,
        save_few_step,
        student_scheduler,
    )

    model = tmp_path / "model"
    subprocess.run(["cp", "-r", str(folder), str(model)], check=True)
    teacher = load_pipeline(str(model), device="cpu")
    student = few_step_student(teacher.unet.requires_grad_(False), 2)
    with torch.no_grad():
        for name, p in student.named_parameters():
            if "lora_" in name:
                p.normal_(std=0.2, generator=torch.Generator().manual_seed(len(name)))
    few_sched = student_scheduler(teacher.scheduler, 10) if sampler == "lcm" else ddim_scheduler(teacher.scheduler)
    save_few_step(student, few_sched, {"num_inference_steps": 3, "guidance_scale": 1.0}, model / "few_step")
    assert lite_unsupported(model, few_step=True) is None
    lite, full = LitePipeline.load(model, few_step=True), load_pipeline(str(model), device="cpu", scheduler="few-step")
    assert (lite.default_steps, lite.default_guidance) == (3, 1.0)
    ours = np.asarray(lite.text_to_image("jazz piano", seed=4, width=64), dtype=int)
    theirs = np.asarray(full("jazz piano", seed=4, width=64, output_type="pil", progress=False).images[0], dtype=int)
    assert np.abs(ours - theirs).max() <= 1
    plain = np.asarray(LitePipeline.load(model).text_to_image("jazz piano", seed=4, width=64, num_inference_steps=3,
                                                              guidance_scale=1.0), dtype=int)
    assert np.abs(plain - ours).mean() > 1  # the adapter and its sampler change the picture
    with pytest.raises(SonogenError, match="no few-step adapter"):
        LitePipeline.load(folder, few_step=True)


def test_a_folder_it_cannot_run_is_named_with_the_reason(tmp_path: Path, folder: Path) -> None:
    from sonogen.pipeline.tiny import save_tiny_checkpoint

    pndm = save_tiny_checkpoint(tmp_path / "pndm", spectrogram_params=PARAMS)
    assert "scheduler" in (lite_unsupported(pndm) or "")
    assert lite_unsupported(tmp_path) == "no readable model_index.json"
    assert lite_unsupported(folder) is None
    few = tmp_path / "few"  # a few-step adapter whose sampler this path does not have
    subprocess.run(["cp", "-r", str(folder), str(few)], check=True)
    (few / "few_step").mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", "sampling.json"):
        (few / "few_step" / name).write_text("{}")
    (few / "few_step" / "scheduler_config.json").write_text(json.dumps({"_class_name": "PNDMScheduler"}))
    assert lite_unsupported(few) is None
    assert "PNDMScheduler" in (lite_unsupported(few, few_step=True) or "")
    config = json.loads((folder / "unet" / "config.json").read_text())
    odd = tmp_path / "odd"
    subprocess.run(["cp", "-r", str(folder), str(odd)], check=True)
    (odd / "unet" / "config.json").write_text(json.dumps({**config, "class_embed_type": "timestep"}))
    assert "class_embed_type" in (lite_unsupported(odd) or "")


PROBE = """
import json, sys
from sonogen.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_generate(*argv: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", PROBE, "generate", *argv], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_generate_with_the_packaged_model_imports_no_diffusers(tmp_path: Path) -> None:
    from sonogen.pipeline import load_pipeline

    assert lite_unsupported(DEFAULT_MODEL_DIR) is None
    out = run_generate("jazz piano trio", "--steps", "3", "--seconds", "1.28", "--seed", "5",
                       "-o", str(tmp_path / "lite.wav"), "--image", str(tmp_path / "lite.png"))
    assert out["code"] == 0
    heavy = [m for m in out["modules"] if m.split(".")[0] in ("diffusers", "transformers", "peft", "accelerate")
             or m.startswith("torch._dynamo")]
    assert heavy == []
    assert (tmp_path / "lite.wav").stat().st_size > 1000
    # the same clip through the full pipeline, in this process
    full = load_pipeline(None, device="cpu")
    expected = full("jazz piano trio", seed=5, num_inference_steps=3, width=128, output_type="pil", progress=False)
    drawn = np.asarray(Image.open(tmp_path / "lite.png"), dtype=int)
    assert drawn.shape == (512, 128, 3)
    assert np.abs(drawn - np.asarray(expected.images[0], dtype=int)).max() <= 1


def test_the_packaged_few_step_student_takes_the_quick_path(tmp_path: Path) -> None:
    """The packaged model's few-step adapter (its own sampler, DDIM) runs without diffusers and
    draws the full pipeline's image."""
    from sonogen.pipeline import load_pipeline

    assert lite_unsupported(DEFAULT_MODEL_DIR, few_step=True) is None
    out = run_generate("jazz piano trio", "--scheduler", "few-step", "--seconds", "1.28", "--seed", "5",
                       "-o", str(tmp_path / "few.wav"), "--image", str(tmp_path / "few.png"))
    assert out["code"] == 0 and "diffusers" not in {m.split(".")[0] for m in out["modules"]}
    full = load_pipeline(None, device="cpu", scheduler="few-step")
    expected = full("jazz piano trio", seed=5, width=128, output_type="pil", progress=False)
    drawn = np.asarray(Image.open(tmp_path / "few.png"), dtype=int)
    assert np.abs(drawn - np.asarray(expected.images[0], dtype=int)).max() <= 1


@pytest.fixture(scope="module")
def sentence_folder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny model of the v2 kind: the tiny sentence encoder (installed on ``sys.path``
    as a wheel would be), a spectrogram autoencoder and a vocabulary of its captions."""
    from diffusers import DPMSolverMultistepScheduler

    from sonogen.models.autoencoder import SpectrogramAutoencoder
    from sonogen.models.tiny_text import install_tiny_encoder, tiny_sentence_components
    from sonogen.models.vocabulary import build_vocabulary
    from sonogen.pipeline.pipeline import SonogenPipeline

    root = tmp_path_factory.mktemp("site")
    source = install_tiny_encoder(root)
    sys.path.insert(0, str(root))
    parts = tiny_sentence_components(source)
    torch.manual_seed(4)
    parts["vae"] = SpectrogramAutoencoder(block_out_channels=(8, 16, 16), strides=((2, 2), (1, 2)),
                                          decoder_layers_per_block=(0, 1, 1), latent_channels=4,
                                          norm_num_groups=4, scaling_factor=0.7, decode_tile=6).eval()
    parts["scheduler"] = DPMSolverMultistepScheduler(**V_PRED)
    pipe = SonogenPipeline(**parts)
    pipe.spectrogram_params = PARAMS
    pipe.text_encoder.set_vocabulary(build_vocabulary(["jazz drums with piano"], [{"style": "jazz swing"}]))
    out = tmp_path_factory.mktemp("lite-sentence") / "model"
    pipe.save_pretrained(str(out))
    yield out
    sys.path.remove(str(root))


def test_a_sentence_encoder_model_draws_the_same_image(sentence_folder: Path) -> None:
    from sonogen.models.vocabulary import unknown_words_message
    from sonogen.pipeline import load_pipeline

    assert lite_unsupported(sentence_folder) is None
    lite = LitePipeline.load(sentence_folder)
    full = load_pipeline(str(sentence_folder), device="cpu")
    assert lite.factors == full.latent_factors == (2, 4)
    ids = torch.tensor([[2, 30, 40, 3, 0, 0], [2, 50, 3, 0, 0, 0]])
    for ours, theirs in zip(lite.text_encoder(ids), full.text_encoder(ids), strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    for prompt in ("(jazz:1.4) drums with a fiddle", "slap bass " * 20):
        options = {"negative_prompt": "calm", "seed": 2, "width": 64, "num_inference_steps": 4}
        ours = np.asarray(lite.text_to_image(prompt, **options), dtype=int)
        theirs = np.asarray(full(prompt, **options, output_type="pil", progress=False).images[0], dtype=int)
        assert ours.shape == theirs.shape == (64, 64, 3) and np.abs(ours - theirs).max() <= 1
    # what the model knows of its captions comes along, so generate can name unknown words
    assert lite.text_encoder.vocabulary == full.text_encoder.vocabulary
    texts = ["jazz", "a fiddle with slap bass", "zzyzx"]
    torch.testing.assert_close(lite.text_encoder.embed(texts), full.text_encoder.embed(texts), atol=1e-5, rtol=1e-5)
    for prompt in texts:
        assert unknown_words_message(lite.text_encoder, prompt) == unknown_words_message(full.text_encoder, prompt)


def test_generate_takes_the_quick_path_only_where_it_draws_the_same(folder: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from sonogen.cli import build_parser
    from sonogen.cli.generate import _lite_folder
    from sonogen.pipeline.tiny import save_tiny_checkpoint

    def choice(*extra: str) -> Path | None:
        argv = ["generate", "jazz", "-o", str(tmp_path / "x.wav"), *extra]
        return _lite_folder(build_parser(argv).parse_args(argv))

    assert choice() == DEFAULT_MODEL_DIR
    assert choice("--checkpoint", str(folder)) == folder
    assert choice("--seconds", "10.24", "--negative", "rock", "--steps", "3", "--device", "cpu") == DEFAULT_MODEL_DIR
    assert choice("--scheduler", "few-step", "--checkpoint", str(folder)) is None  # it has no adapter
    for extra in (["--loop"], ["--seconds", "20"], ["--scheduler", "ddim"], ["--lora", str(tmp_path)],
                  ["--dtype", "bfloat16"], ["--compile"], ["--device", "meta"],
                  ["--checkpoint", str(save_tiny_checkpoint(tmp_path / "pndm", spectrogram_params=PARAMS))]):
        assert choice(*extra) is None, extra
    monkeypatch.setenv("SONOGEN_LITE", "0")
    assert choice() is None
