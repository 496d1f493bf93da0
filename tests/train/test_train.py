"""End-to-end training on the CPU: from scratch, full fine-tune (+EMA, resume) and LoRA, plus bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.cli import main
from sonogen.errors import SonogenError

COMMON = ["--resolution", "64", "--batch-size", "4", "--validation-steps", "2", "--no-progress", "--seed", "0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic clips as 64-band, 1.28 s spectrogram images."""
    from sonogen.data.dataset import BuildSettings, build_dataset
    from sonogen.data.synth import write_corpus

    root = tmp_path_factory.mktemp("train")
    write_corpus(root / "corpus", 6, seed=1, workers=1, seconds=1.28, progress=False)
    build_dataset(root / "corpus", root / "ds", BuildSettings(seconds=1.28, params={"num_frequencies": 64}),
                  progress=False)
    return root / "ds"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline's tiny random SD-1.x checkpoint, declared as drawing 64-band spectrograms."""
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.spectrogram.params import SpectrogramParams

    pipe = build_tiny_pipeline(0)
    pipe.spectrogram_params = SpectrogramParams(num_frequencies=64)
    folder = tmp_path_factory.mktemp("base") / "tiny"
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def eval_losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    return [r["eval_loss"] for r in rows if r.get("stage") == "unet" and "eval_loss" in r]


def generate(checkpoint: Path, lora: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    from sonogen.pipeline import load_pipeline

    pipe = load_pipeline(str(checkpoint), device="cpu", lora=str(lora) if lora else None)
    out = pipe("funky slap bass", seed=3, num_inference_steps=2, width=64, height=64, progress=False)
    assert out.images[0].size == (64, 64) and out.params.num_frequencies == 64
    assert out.waveforms[0].shape[1] > 0 and np.isfinite(out.waveforms[0]).all()
    return np.asarray(out.images[0]), out.waveforms[0]


@pytest.mark.soundfont
@pytest.mark.slow
def test_from_scratch(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sonogen.train.config import CONFIGS

    config = CONFIGS / "micro.json"  # the test-size model, 4 VAE steps
    out = tmp_path / "scratch"
    assert main(["train", "--dataset", str(dataset), "--output", str(out), "--config", str(config),
                 "--max-steps", "10", "--learning-rate", "3e-3", "--checkpoint-every", "0", *COMMON]) == 0
    assert "wrote new model" in capsys.readouterr().out
    losses = eval_losses(out)
    assert losses[-1] < losses[0] * 0.9
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert sum(r["stage"] == "autoencoder" for r in rows) == 4 and sum("loss" in r and r["stage"] == "unet" for r in rows) == 10
    assert json.loads((out / "spectrogram.json").read_text())["num_frequencies"] == 64
    assert json.loads((out / "vae" / "config.json").read_text())["scaling_factor"] != 1.0
    assert (out / "latents" / "latents.npy").is_file() and (out / "autoencoder" / "config.json").is_file()
    index = json.loads((out / "model_index.json").read_text())
    assert index["tokenizer"][1].startswith("CLIPTokenizer")
    assert (out / "loss.png").stat().st_size > 1000
    assert sorted(p.name for p in (out / "validation" / "step-10").iterdir()) == [
        "0.png", "0.wav", "1.png", "1.wav", "prompts.json"]
    generate(out)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out / "tokenizer")
    caption = json.loads((dataset / "metadata.jsonl").read_text().splitlines()[0])["text"]
    ids = tok(caption).input_ids
    assert len(ids) < len(caption) / 2  # merges learnt on the captions: words, not bytes


@pytest.mark.soundfont
@pytest.mark.slow
def test_full_finetune_with_ema_and_resume(dataset: Path, base: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "full"
    args = ["train", "--dataset", str(dataset), "--output", str(out), "--checkpoint", str(base),
            "--learning-rate", "2e-3", "--ema", "--ema-decay", "0.5", "--checkpoint-every", "3",
            "--train-text-encoder", *COMMON]
    assert main([*args, "--max-steps", "3"]) == 0
    assert (out / "checkpoints" / "step-3" / "sonogen_state.json").is_file()
    assert main([*args, "--max-steps", "8"]) == 2  # an earlier run's states: refuse without --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--max-steps", "8", "--resume"]) == 0
    losses = eval_losses(out)
    assert len(losses) == 4  # before/after the first run, before/after the resumed one
    assert losses[-1] < losses[0] * 0.95
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-6", "step-8"]  # keeps the newest two
    from safetensors.torch import load_file

    before = load_file(str(base / "unet" / "diffusion_pytorch_model.safetensors"))
    after = load_file(str(out / "unet" / "diffusion_pytorch_model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    generate(out)


@pytest.mark.soundfont
@pytest.mark.slow
def test_lora(dataset: Path, base: Path, tmp_path: Path) -> None:
    out = tmp_path / "lora"
    assert main(["train", "--dataset", str(dataset), "--output", str(out), "--checkpoint", str(base), "--lora",
                 "--lora-rank", "4", "--max-steps", "8", "--learning-rate", "1e-2", "--checkpoint-every", "0",
                 *COMMON]) == 0
    assert (out / "pytorch_lora_weights.safetensors").is_file()
    assert not (out / "unet").exists()  # only the adapter is written
    losses = eval_losses(out)
    assert losses[-1] < losses[0]
    plain, _ = generate(base)
    adapted, _ = generate(base, lora=out)
    assert not np.array_equal(plain, adapted)


@pytest.mark.soundfont
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--checkpoint", "{base}", "--resolution", "60"], "multiple of 8"),
        (["--config", "{tmp}/missing.json"], "model config not found"),
        (["--config", "{tmp}/bad.json"], "unknown keys"),
        (["--config", "{tmp}/bad.json", "--lora"], "--lora needs a base model"),
        (["--checkpoint", "{tmp}/nowhere"], "checkpoint not found"),
        (["--checkpoint", "{tmp}/wrong_height"], "64"),
    ],
)
def test_bad_training_input(extra: list[str], message: str, dataset: Path, base: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"unet": {"widths": [1]}}))
    wrong = tmp_path / "wrong_height"
    if "{tmp}/wrong_height" in extra:
        import shutil

        shutil.copytree(base, wrong)
        (wrong / "spectrogram.json").write_text(json.dumps({"num_frequencies": 512}))
    args = [a.format(base=base, tmp=tmp_path) for a in extra]
    out = tmp_path / "out"
    assert main(["train", "--dataset", str(dataset), "--output", str(out), "--max-steps", "1", "--no-progress",
                 *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sonogen: error:") and message in err
    assert not (out / "model_index.json").exists()


def test_missing_dataset_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--dataset", str(tmp_path / "none"), "--output", str(tmp_path / "o"),
                 "--config", "x.json"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", "--dataset", str(tmp_path / "empty"), "--output", str(tmp_path / "o"),
                 "--config", "x.json"]) == 2
    assert "no metadata.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # neither --checkpoint nor --config
        main(["train", "--dataset", "d", "--output", "o"])
    assert exc.value.code == 2


def test_options_are_defined_once_on_train_config() -> None:
    """Every TrainConfig field the command line offers parses back into the same field."""
    from dataclasses import fields

    from sonogen.cli import build_parser
    from sonogen.train.config import TrainConfig

    args = build_parser().parse_args(["train", "--dataset", "d", "--output", "o", "--checkpoint", "c", "--lora",
                                      "--no-progress", "--validation-prompt", "a", "--validation-prompt", "b",
                                      "--resolution", "64", "--ema-decay", "0.5"])
    cfg = TrainConfig.from_args(args)
    assert (cfg.lora, cfg.progress, cfg.validation_prompts, cfg.resolution, cfg.ema_decay) == (
        True, False, ["a", "b"], 64, 0.5)
    assert cfg.learning_rate == 1e-4  # LoRA's default; full fine-tuning's is 1e-5
    assert TrainConfig(checkpoint="c").learning_rate == 1e-5
    offered = {f.name for f in fields(TrainConfig) if f.metadata.get("cli", True)}
    assert offered <= set(vars(args)) and all(f.metadata["help"] for f in fields(TrainConfig))


def test_ema_weights_swap_in_and_back() -> None:
    """Final weights are the average; afterwards the raw ones return (a resumable state saves those)."""
    from diffusers.training_utils import EMAModel

    from sonogen.train.trainer import ema_weights

    layer = torch.nn.Linear(3, 2)
    params = list(layer.parameters())
    ema = EMAModel(params, decay=0.5)
    raw = [p.detach().clone() for p in params]
    for _ in range(3):  # (the first EMA step copies the weights; later ones average)
        with torch.no_grad():
            for p in params:
                p.add_(1.0)
        ema.step(params)
    trained = [p.detach().clone() for p in params]
    with ema_weights(ema, params):
        assert all(torch.allclose(p, s) for p, s in zip(params, ema.shadow_params, strict=True))
        assert not any(torch.equal(p, t) for p, t in zip(params, trained, strict=True))
    assert all(torch.equal(p, t) for p, t in zip(params, trained, strict=True))
    assert not any(torch.equal(p, r) for p, r in zip(params, raw, strict=True))
    with ema_weights(None, params):
        assert all(torch.equal(p, t) for p, t in zip(params, trained, strict=True))


def test_loss_plot_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               caplog: pytest.LogCaptureFixture) -> None:
    """Without matplotlib the log is still written and the missing plot is named once."""
    import sys

    from sonogen.train.trainer import LossLog

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    log = LossLog(tmp_path, enabled=True)
    log.write(stage="unet", step=1, loss=0.5)
    with caplog.at_level("WARNING"):
        log.plot()
        log.plot()
    assert not (tmp_path / "loss.png").exists() and log.rows() == [{"stage": "unet", "step": 1, "loss": 0.5}]
    warnings = [r.getMessage() for r in caplog.records if "matplotlib" in r.getMessage()]
    assert len(warnings) == 1 and "sonogen[plot]" in warnings[0]


@pytest.mark.soundfont
@pytest.mark.slow
def test_distill_a_few_step_student(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From scratch, then --stage distill: a student that samples in the config's steps without guidance."""
    from sonogen.pipeline import load_pipeline
    from sonogen.train.config import CONFIGS

    out = tmp_path / "scratch"
    base = ["train", "--dataset", str(dataset), "--output", str(out), "--config", str(CONFIGS / "micro.json"),
            "--resolution", "64", "--no-progress", "--validation-steps", "2"]
    assert main([*base, "--max-steps", "3", "--checkpoint-every", "0"]) == 0
    assert main([*base, "--stage", "distill", "--resume"]) == 0
    assert "few-step student" in capsys.readouterr().out
    student = out / "student"
    assert json.loads((student / "sampling.json").read_text()) == {"num_inference_steps": 2, "guidance_scale": 1.0}
    scheduler = json.loads((student / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["_class_name"] == "LCMScheduler" and scheduler["original_inference_steps"] == 10
    assert scheduler["prediction_type"] == "v_prediction"
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r.get("stage") == "distill"] == [1, 2, 3]
    pipe = load_pipeline(str(student), device="cpu")
    assert pipe.default_steps == 2 and pipe.default_guidance == 1.0
    both = pipe(["a", "b"], seed=[5, 6], width=64, height=64, progress=False, output_type="latent").latents
    alone = pipe("b", seed=6, width=64, height=64, progress=False, output_type="latent").latents
    assert torch.allclose(both[1:], alone, atol=1e-5)  # LCM's between-step noise follows each clip's seed
    again = pipe("a", seed=5, width=64, height=64, progress=False, output_type="latent").latents
    assert torch.allclose(both[:1], again, atol=1e-5)


    # with lora_rank the student is an adapter beside the unchanged teacher, in one folder
    import shutil

    from safetensors.torch import load_file

    from sonogen.pipeline.lora import apply_lora

    lora_out = tmp_path / "lora"
    shutil.copytree(out, lora_out, ignore=shutil.ignore_patterns("student", "distill"))
    config = json.loads((CONFIGS / "micro.json").read_text())
    config["distill_training"]["lora_rank"] = 2
    (tmp_path / "lora.json").write_text(json.dumps(config))
    argv = ["train", "--dataset", str(dataset), "--output", str(lora_out), "--config", str(tmp_path / "lora.json"),
            "--resolution", "64", "--no-progress", "--stage", "distill", "--resume"]
    assert main(argv) == 0
    folder = lora_out / "student"
    assert load_file(str(folder / "unet" / "diffusion_pytorch_model.safetensors")).keys() == \
        load_file(str(out / "unet" / "diffusion_pytorch_model.safetensors")).keys()
    teacher_pipe, with_adapter = load_pipeline(str(folder), device="cpu"), load_pipeline(str(folder), device="cpu")
    assert teacher_pipe.default_steps == load_pipeline(str(out), device="cpu").default_steps  # the teacher's own
    few = folder / "few_step"
    assert json.loads((few / "sampling.json").read_text()) == {"num_inference_steps": 2, "guidance_scale": 1.0}
    assert json.loads((few / "scheduler_config.json").read_text())["_class_name"] == "LCMScheduler"
    adapter = load_file(str(few / "adapter_model.safetensors"))
    ups = [v for k, v in adapter.items() if "lora_B" in k]
    assert ups and any(float(v.abs().max()) > 0 for v in ups)  # trained away from the identity start
    apply_lora(with_adapter, few)
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    states = torch.randn(1, 8, teacher_pipe.unet.config.cross_attention_dim, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([500])
    with torch.no_grad():
        plain = teacher_pipe.unet(x, t, encoder_hidden_states=states).sample
        adapted = with_adapter.unet(x, t, encoder_hidden_states=states).sample
    assert not torch.allclose(plain, adapted)
    # --scheduler few-step: the adapter fused, its LCM scheduler and its sampling defaults
    fast = load_pipeline(str(folder), device="cpu", scheduler="few-step")
    assert (fast.default_steps, fast.default_guidance) == (2, 1.0)
    assert type(fast.scheduler).__name__ == "LCMScheduler"
    with torch.no_grad():
        assert torch.allclose(fast.unet(x, t, encoder_hidden_states=states).sample, adapted, atol=1e-5)
    image = fast("a", seed=3, width=64, height=64, progress=False).images[0]
    assert image.size == (64, 64)
    with pytest.raises(SonogenError, match="no few-step adapter"):
        load_pipeline(str(out), device="cpu", scheduler="few-step")

    # method "guidance": one pass learns the guided output; it samples with the teacher's solver
    guided_out = tmp_path / "guided"
    shutil.copytree(out, guided_out, ignore=shutil.ignore_patterns("student", "distill"))
    config["distill_training"]["method"] = "guidance"
    (tmp_path / "guided.json").write_text(json.dumps(config))
    assert main([*argv[:4], str(guided_out), "--config", str(tmp_path / "guided.json"), *argv[7:]]) == 0
    few = guided_out / "student" / "few_step"
    assert json.loads((few / "sampling.json").read_text()) == {"num_inference_steps": 2, "guidance_scale": 1.0}
    teacher_scheduler = json.loads((out / "scheduler" / "scheduler_config.json").read_text())
    assert json.loads((few / "scheduler_config.json").read_text())["_class_name"] == teacher_scheduler["_class_name"]
    adapter = load_file(str(few / "adapter_model.safetensors"))
    assert any(float(v.abs().max()) > 0 for k, v in adapter.items() if "lora_B" in k)
    guided = load_pipeline(str(guided_out / "student"), device="cpu", scheduler="few-step")
    assert type(guided.scheduler).__name__ == teacher_scheduler["_class_name"]
    assert (guided.default_steps, guided.default_guidance) == (2, 1.0)
    assert guided("a", seed=3, width=64, height=64, progress=False).images[0].size == (64, 64)

    # method "trajectory", started from the guidance student: it samples with DDIM on its grid
    walked_out = tmp_path / "walked"
    shutil.copytree(out, walked_out, ignore=shutil.ignore_patterns("student", "distill"))
    config["distill_training"].update(method="trajectory", teacher_substeps=3, init_adapter=str(few))
    (tmp_path / "walked.json").write_text(json.dumps(config))
    assert main([*argv[:4], str(walked_out), "--config", str(tmp_path / "walked.json"), *argv[7:]]) == 0
    walked_few = walked_out / "student" / "few_step"
    ddim = json.loads((walked_few / "scheduler_config.json").read_text())
    assert ddim["_class_name"] == "DDIMScheduler" and ddim["timestep_spacing"] == "trailing"
    assert ddim["clip_sample"] is False and ddim["set_alpha_to_one"] is True
    walked = load_pipeline(str(walked_out / "student"), device="cpu", scheduler="few-step")
    assert type(walked.scheduler).__name__ == "DDIMScheduler" and walked.default_steps == 2
    assert walked("a", seed=3, width=64, height=64, progress=False).images[0].size == (64, 64)
    # progressive: a one-step student taught by the two-step one, in its own DDIM steps
    halved_out = tmp_path / "halved"
    shutil.copytree(out, halved_out, ignore=shutil.ignore_patterns("student", "distill"))
    config["distill_training"].update(init_adapter=str(walked_few), teacher_adapter=str(walked_few),
                                      sampling_steps=1, teacher_substeps=2, guidance_scale=1.0)
    (tmp_path / "halved.json").write_text(json.dumps(config))
    assert main([*argv[:4], str(halved_out), "--config", str(tmp_path / "halved.json"), *argv[7:]]) == 0
    halved = load_pipeline(str(halved_out / "student"), device="cpu", scheduler="few-step")
    assert halved.default_steps == 1 and type(halved.scheduler).__name__ == "DDIMScheduler"
    before, after = (load_file(str(f / "adapter_model.safetensors")) for f in (walked_few, halved_out / "student" / "few_step"))
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    config["distill_training"].update(teacher_adapter=None, sampling_steps=2, guidance_scale=4.0)
    config["distill_training"]["init_adapter"] = str(tmp_path / "nowhere")
    (tmp_path / "walked.json").write_text(json.dumps(config))
    shutil.rmtree(walked_out / "distill")
    assert main([*argv[:4], str(walked_out), "--config", str(tmp_path / "walked.json"), *argv[7:]]) != 0
    assert "init_adapter: no adapter_model.safetensors" in capsys.readouterr().err


def test_consistency_parametrisation() -> None:
    """The student's boundary and the teacher's DDIM step are what the distillation assumes."""
    from diffusers import DDPMScheduler

    from sonogen.train.distill import boundary_scalings, clean_and_noise, solver_grid, teacher_step

    c_skip, c_out = boundary_scalings(torch.tensor([-1, 0, 999]))
    assert c_skip[:2].tolist() == [1.0, 1.0] and c_out[:2].tolist() == [0.0, 0.0] and c_out[2] > 0.99
    assert solver_grid(1000, 50)[:3].tolist() == [19, 39, 59] and solver_grid(1000, 50)[-1] == 999
    sched = DDPMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True)
    alphas = sched.alphas_cumprod.float()
    x0, noise = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    t = torch.tensor([499, 999])
    x_t = sched.add_noise(x0, noise, t)
    v = sched.get_velocity(x0, noise, t)
    est_x0, est_eps = clean_and_noise(v, x_t, alphas[t], "v_prediction")
    assert torch.allclose(est_x0, x0, atol=1e-4) and torch.allclose(est_eps[:1], noise[:1], atol=1e-4)

    class Oracle(torch.nn.Module):  # predicts the true velocity whatever the text
        def forward(self, x, ts, encoder_hidden_states):  # type: ignore[no-untyped-def]
            out = torch.nn.Module()
            out.sample = sched.get_velocity(torch.cat([x0, x0]), torch.cat([noise, noise]), ts)
            return out

    states = torch.zeros(2, 3, 4)
    s = torch.tensor([-1, -1])
    clean = teacher_step(Oracle(), x_t, t, s, states, states, 4.0, alphas, "v_prediction")
    assert torch.allclose(clean, x0, atol=1e-4)  # a step to s < 0 lands on the clean estimate


def test_guided_output_guides_the_clean_and_noise_estimates() -> None:
    """The guidance student's target is ``u + w (c - u)`` of the teacher's outputs, and the
    estimates read from it equal the guided estimates of the two passes."""
    from sonogen.train.distill import clean_and_noise, guided_output

    class ByText(torch.nn.Module):  # a different output for each text state
        def forward(self, x, ts, encoder_hidden_states):  # type: ignore[no-untyped-def]
            out = torch.nn.Module()
            out.sample = x * encoder_hidden_states.mean(dim=(1, 2))[:, None, None, None] + ts[:, None, None, None]
            return out

    x_t, t = torch.randn(2, 4, 8, 8), torch.tensor([250, 750])
    cond, uncond = torch.full((2, 3, 4), 2.0), torch.full((2, 3, 4), 0.5)
    goal = guided_output(ByText(), x_t, t, cond, uncond, 4.0)
    u, c = x_t * 0.5 + t[:, None, None, None], x_t * 2.0 + t[:, None, None, None]
    assert torch.allclose(goal, u + 4.0 * (c - u))
    alpha = torch.tensor([0.6, 0.2])
    (x0_u, eps_u), (x0_c, eps_c) = (clean_and_noise(o, x_t, alpha, "v_prediction") for o in (u, c))
    x0, eps = clean_and_noise(goal, x_t, alpha, "v_prediction")
    assert torch.allclose(x0, x0_u + 4.0 * (x0_c - x0_u), atol=1e-4)
    assert torch.allclose(eps, eps_u + 4.0 * (eps_c - eps_u), atol=1e-4)


class _Velocity(torch.nn.Module):
    """A teacher that knows the one clean latent ``x0`` and predicts its true velocity at any ``x_t``."""

    def __init__(self, x0: torch.Tensor, alphas: torch.Tensor) -> None:
        super().__init__()
        self.x0, self.alphas = x0, alphas

    def forward(self, x, ts, encoder_hidden_states):  # type: ignore[no-untyped-def]
        a = self.alphas[ts].sqrt()[:, None, None, None]
        s = (1 - self.alphas[ts]).sqrt()[:, None, None, None]
        x0 = self.x0.repeat(len(x) // len(self.x0), 1, 1, 1)
        noise = (x - a * x0) / s
        out = torch.nn.Module()
        out.sample = a * noise - s * x0 + 0.1 * torch.tanh(x) * encoder_hidden_states.mean()  # bent by the text
        return out


def test_trajectory_target_steps_where_the_teacher_walked() -> None:
    """The trajectory student's target, put through one step of the saved DDIM sampler, lands
    on the guided teacher's multi-step walk; for a teacher that knows the clean latent the walk
    is exact and the target is the true velocity; one sub-step is the teacher's DDIM step."""
    from diffusers import DDPMScheduler

    from sonogen.train.distill import (
        alpha_sigma,
        ddim_clean_target,
        ddim_scheduler,
        guided_output,
        prediction_from_clean,
        student_grid,
        sub_steps,
        teacher_step,
        teacher_walk,
    )

    ddim = ddim_scheduler(DDPMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012))
    t_grid, s_grid = student_grid(ddim, 4)
    assert t_grid.tolist() == [999, 749, 499, 249] and s_grid.tolist() == [749, 499, 249, -1]
    points = sub_steps(t_grid, s_grid, 3)
    assert torch.equal(points[0], t_grid) and torch.equal(points[-1], s_grid)
    assert all(bool((a > b).all()) for a, b in zip(points, points[1:], strict=False))
    alphas = ddim.alphas_cumprod.float()
    x0 = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    a_t, s_t = alpha_sigma(alphas, t_grid)
    a_s, s_s = alpha_sigma(alphas, s_grid)
    x_t = a_t * x0 + s_t * noise
    cond, uncond = torch.zeros(4, 3, 8), torch.zeros(4, 3, 8)
    exact = _Velocity(x0, alphas)
    walked = teacher_walk(exact, x_t, t_grid, s_grid, cond, uncond, 4.0, alphas, "v_prediction", 3)
    assert torch.allclose(walked, a_s * x0 + s_s * noise, atol=1e-3)  # on the true path, into the clean end
    goal = prediction_from_clean(ddim_clean_target(x_t, walked, a_t, s_t, a_s, s_s), x_t, a_t, s_t, "v_prediction")
    assert torch.allclose(goal, a_t * noise - s_t * x0, atol=1e-3)

    bent_cond = torch.ones(4, 3, 8)  # the text bends the teacher off the exact path; guidance matters
    walked = teacher_walk(exact, x_t, t_grid, s_grid, bent_cond, uncond, 4.0, alphas, "v_prediction", 3)
    goal = prediction_from_clean(ddim_clean_target(x_t, walked, a_t, s_t, a_s, s_s), x_t, a_t, s_t, "v_prediction")
    for i in range(4):  # the sampler's own step from the target lands on the walk
        landed = ddim.step(goal[i:i + 1], int(t_grid[i]), x_t[i:i + 1]).prev_sample
        assert torch.allclose(landed, walked[i:i + 1], atol=1e-3)
    one = teacher_walk(exact, x_t, t_grid, s_grid, bent_cond, uncond, 4.0, alphas, "v_prediction", 1)
    guided = guided_output(exact, x_t, t_grid, bent_cond, uncond, 4.0)
    x0_guided = a_t * x_t - s_t * guided  # one DDIM step, written out: clean and noise estimates moved to s
    assert torch.allclose(one, a_s * x0_guided + s_s * (s_t * x_t + a_t * guided), atol=1e-4)
    assert not torch.allclose(one, walked, atol=1e-3)  # sub-steps change where the walk ends
    # first order: a distilled teacher's own DDIM steps, one after another
    first = teacher_walk(exact, x_t, t_grid, s_grid, bent_cond, uncond, 1.0, alphas, "v_prediction", 2, order=1)
    mid = sub_steps(t_grid, s_grid, 2)[1]
    by_hand = teacher_step(exact, x_t, t_grid, mid, bent_cond, uncond, 1.0, alphas, "v_prediction")
    by_hand = teacher_step(exact, by_hand, mid, s_grid, bent_cond, uncond, 1.0, alphas, "v_prediction")
    assert torch.allclose(first, by_hand, atol=1e-4)


def test_few_step_adapter_starts_as_its_teacher_and_round_trips(tmp_path: Path) -> None:
    """A LoRA student starts equal to the teacher, only its adapter trains, and the saved
    adapter folder, applied to a fresh teacher, gives the student's outputs exactly."""
    from sonogen.pipeline.lora import apply_lora
    from sonogen.pipeline.tiny import build_tiny_pipeline
    from sonogen.train.distill import (
        few_step_student,
        load_adapter_weights,
        save_few_step,
        student_scheduler,
    )

    teacher = build_tiny_pipeline(0).unet.eval().requires_grad_(False)
    student = few_step_student(teacher, 2)
    trainable = {n for n, p in student.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    x = torch.randn(2, teacher.config.in_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    states = torch.randn(2, 8, teacher.config.cross_attention_dim, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([999, 250])
    with torch.no_grad():
        before = teacher(x, t, encoder_hidden_states=states).sample
        assert torch.allclose(student(x, t, encoder_hidden_states=states).sample, before, atol=1e-6)
        for name, p in student.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
        trained = student(x, t, encoder_hidden_states=states).sample
    assert not torch.allclose(trained, before, atol=1e-3)
    save_few_step(student, student_scheduler(build_tiny_pipeline(0).scheduler, 10),
                  {"num_inference_steps": 2, "guidance_scale": 1.0}, tmp_path / "few_step")
    fresh = build_tiny_pipeline(0)
    apply_lora(fresh, tmp_path / "few_step")
    with torch.no_grad():
        assert torch.allclose(fresh.unet(x, t, encoder_hidden_states=states).sample, trained, atol=1e-5)
    # a new student started from the saved adapter (init_adapter) is the trained one; another rank is refused
    restarted = few_step_student(teacher, 2)
    load_adapter_weights(restarted, tmp_path / "few_step")
    with torch.no_grad():
        assert torch.allclose(restarted(x, t, encoder_hidden_states=states).sample, trained, atol=1e-5)
    with pytest.raises(SonogenError, match="init_adapter"):
        load_adapter_weights(few_step_student(teacher, 4), tmp_path / "few_step")
