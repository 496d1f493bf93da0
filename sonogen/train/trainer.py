"""The training loop: fine-tuning, LoRA and from-scratch training of spectrogram diffusion.

One function, :func:`train`, driven by a :class:`~sonogen.train.config.TrainConfig`:

1. read the dataset (``metadata.jsonl`` + images) and its spectrogram format;
2. get the model parts: a checkpoint's (fine-tune / LoRA) or new ones (from scratch:
   tokenizer learnt on the captions, VAE trained in stage 1, see ``config.py``);
3. train the UNet (or its LoRA adapter, optionally the text encoder) on the noise-
   prediction loss with accelerate: mixed precision, gradient accumulation and
   checkpointing, EMA, caption dropout, resumable states every N steps;
4. log the loss (``OUTPUT/loss.jsonl`` and ``OUTPUT/loss.png``), render validation
   spectrograms and audio (``OUTPUT/validation/step-N/``), and save the result: a
   diffusers model folder with ``spectrogram.json``, or ``pytorch_lora_weights.safetensors``.

Runs unchanged on one CPU, one GPU or several GPUs under ``accelerate launch``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError
from sonogen.train.config import TrainConfig

CHECKPOINTS = "checkpoints"
VAE_STAGE = "stage1-vae"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        output: the output folder.
        steps: optimiser steps done in the UNet stage (in total, across resumes).
        first_eval_loss / last_eval_loss: loss on a fixed batch with fixed noise before
            and after this run's steps (None when not measured).
        kind: ``"full"``, ``"lora"`` or ``"scratch"``.
        seconds: wall time of this call.
        main_process: False in the other processes of a distributed run.
    """

    output: Path
    steps: int
    first_eval_loss: float | None
    last_eval_loss: float | None
    kind: str
    seconds: float
    main_process: bool = True


# ----------------------------------------------------------------------------- helpers


class LossLog:
    """Appends rows to ``loss.jsonl`` and redraws ``loss.png`` (main process only)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / "loss.jsonl"
        self.picture = folder / "loss.png"
        self.enabled = enabled

    def write(self, **row: Any) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def plot(self) -> None:
        """Draw the training loss per stage (raw and smoothed) and the fixed-batch eval loss."""
        if not self.enabled:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from sonogen.utils import atomic_path

        rows = self.rows()
        stages = [s for s in ("vae", "unet") if any(r.get("stage") == s and "loss" in r for r in rows)]
        if not stages:
            return
        fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 3.6), squeeze=False)
        for ax, stage in zip(axes[0], stages, strict=True):
            pts = [(r["step"], r["loss"]) for r in rows if r.get("stage") == stage and "loss" in r]
            steps, losses = zip(*pts, strict=True)
            ax.plot(steps, losses, color="#9ab", linewidth=0.8, label="loss")
            k = max(1, len(losses) // 20)
            smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1]) for i in range(len(losses))]
            ax.plot(steps, smooth, color="#147", linewidth=1.6, label=f"mean of {k + 1}")
            evals = [(r["step"], r["eval_loss"]) for r in rows if r.get("stage") == stage and "eval_loss" in r]
            if evals:
                ax.plot(*zip(*evals, strict=True), "o-", color="#c42", label="fixed-batch loss")
            ax.set_title("VAE (reconstruction + KL)" if stage == "vae" else "UNet (noise prediction)")
            ax.set_xlabel("step")
            ax.set_yscale("log")
            ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(self.picture) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)


def _latest_checkpoint(folder: Path) -> Path | None:
    states = sorted(
        (p for p in (folder / CHECKPOINTS).glob("step-*") if (p / "sonogen_state.json").is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return states[-1] if states else None


def _tokenize(tokenizer: Any, texts: list[str], device: torch.device) -> torch.Tensor:
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    return ids.to(device)


def _target(scheduler: Any, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    if scheduler.config.prediction_type == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    return noise


def _encode_latents(vae: Any, pixels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scaled latents ``(B, C, H/f, W/f)`` of pixels ``(B, 3, H, W)`` in [-1, 1]."""
    posterior = vae.encode(pixels.to(vae.dtype)).latent_dist
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return (posterior.sample(generator=generator) - shift) * vae.config.scaling_factor


# ----------------------------------------------------------------------------- stage 1


class _VaeLoss(torch.nn.Module):
    """Wraps a VAE so one ``forward`` gives ``(L1 reconstruction, KL per pixel)`` of pixels ``(B, 3, H, W)``."""

    def __init__(self, vae: Any) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        posterior = self.vae.encode(pixels).latent_dist
        recon = self.vae.decode(posterior.sample()).sample
        rec_loss = torch.nn.functional.l1_loss(recon.float(), pixels.float())
        kl = posterior.kl().mean() / pixels[0].numel()
        return rec_loss, kl


def train_vae(vae: Any, loader: Any, accelerator: Any, cfg: dict[str, Any], log: LossLog, progress: bool) -> Any:
    """Stage 1 of from-scratch training: L1 reconstruction + ``kl_weight`` x KL.

    Afterwards the latents' standard deviation over a few batches sets
    ``vae.config.scaling_factor`` (so scaled latents have unit spread, as the UNet expects).
    Returns the trained VAE (unwrapped, float32, eval mode).
    """
    from tqdm import tqdm

    steps = int(cfg["steps"])
    vae.train()
    model = _VaeLoss(vae)  # one forward, so DDP syncs the gradients
    optimizer = torch.optim.AdamW(vae.parameters(), lr=float(cfg["learning_rate"]), weight_decay=0.0)
    model_p, optimizer, loader_p = accelerator.prepare(model, optimizer, loader)
    bar = tqdm(total=steps, desc="stage 1: VAE", disable=not (progress and accelerator.is_main_process))
    step = 0
    start = time.time()
    while step < steps:
        for batch in loader_p:
            with accelerator.autocast():
                rec_loss, kl = model_p(batch["pixels"])
                loss = rec_loss + float(cfg["kl_weight"]) * kl
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model_p.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update()
            log.write(stage="vae", step=step, loss=float(loss.detach().item()), l1=float(rec_loss.item()),
                      kl=float(kl.item()), time_s=round(time.time() - start, 3))
            if step >= steps:
                break
    bar.close()
    vae = accelerator.unwrap_model(model_p).vae
    vae = vae.float().eval()
    accelerator.free_memory()
    with torch.no_grad():
        samples = []
        for i, batch in enumerate(loader):
            samples.append(vae.encode(batch["pixels"].to(accelerator.device)).latent_dist.sample().float().cpu())
            if i >= 3:
                break
        std = float(torch.cat(samples).std())
    vae.register_to_config(scaling_factor=1.0 / max(std, 1e-4))
    return vae.cpu()


# ----------------------------------------------------------------------------- main


def train(cfg: TrainConfig) -> TrainResult:
    """Run a training job as :class:`TrainConfig` describes; see the module docstring."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from tqdm import tqdm

    from sonogen.data.dataset import read_dataset
    from sonogen.train.data import SpectrogramImages, collate, inspect_images

    cfg.check()
    started = time.time()
    out = Path(cfg.output)
    if out.exists() and not out.is_dir():
        raise SonogenError(f"output exists and is not a folder: {cfg.output}")
    rows = read_dataset(cfg.dataset)
    params, height, min_width = inspect_images(rows)
    if params.num_frequencies != height:
        raise SonogenError(
            f"dataset images are {height} px high but their EXIF says {params.num_frequencies} mel bands"
        )
    width = cfg.resolution or (min_width // 8) * 8
    previous = _latest_checkpoint(out) if out.is_dir() else None
    if previous is not None and not cfg.resume:
        raise SonogenError(f"{cfg.output} holds checkpoints of an earlier run; pass --resume or use a new folder")

    accelerator = Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.gradient_accumulation,
        project_config=ProjectConfiguration(project_dir=str(out)),
    )
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    set_seed(cfg.seed)
    log = LossLog(out, main)
    if previous is None and main and log.path.exists():
        log.path.unlink()  # a fresh run starts a fresh log

    dataset = SpectrogramImages(rows, width, random_crop=True)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate, drop_last=len(rows) >= cfg.batch_size,
        num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed),
    )

    # ------------------------------------------------------------ model parts
    kind = "lora" if cfg.lora else ("full" if cfg.checkpoint else "scratch")
    train_text = cfg.train_text_encoder or kind == "scratch"
    if cfg.checkpoint:
        from sonogen.train.model import load_components

        parts, _ = load_components(cfg.checkpoint, bands=height)
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
    else:
        parts = _scratch_parts(cfg, rows, dataset, accelerator, log, height, out)
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
    if height % factor or width % factor:
        raise SonogenError(f"image size {width}x{height} must be a multiple of the VAE factor {factor}")
    unet, vae, text_encoder, tokenizer = parts["unet"], parts["vae"], parts["text_encoder"], parts["tokenizer"]
    noise_scheduler = DDPMScheduler.from_config(parts["scheduler"].config)

    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    vae.requires_grad_(False)
    _place(vae, accelerator.device, weight_dtype).eval()
    text_encoder.requires_grad_(train_text)
    if not train_text:
        _place(text_encoder, accelerator.device, weight_dtype).eval()
    if cfg.lora:
        from peft import LoraConfig

        unet.requires_grad_(False)
        unet.add_adapter(LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, init_lora_weights="gaussian",
                                    target_modules=LORA_TARGETS))
    else:
        unet.requires_grad_(True)
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
        if train_text:
            text_encoder.gradient_checkpointing_enable()
    unet.train()
    if train_text:
        text_encoder.train()

    trainable = [p for p in unet.parameters() if p.requires_grad]
    if train_text:
        trainable += [p for p in text_encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_scheduler = get_scheduler(
        "constant_with_warmup", optimizer=optimizer,
        num_warmup_steps=cfg.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=cfg.max_steps * accelerator.num_processes,
    )
    ema = None
    if cfg.ema:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(trainable, decay=cfg.ema_decay)
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)
    if train_text:
        unet, text_encoder, optimizer, loader, lr_scheduler = accelerator.prepare(
            unet, text_encoder, optimizer, loader, lr_scheduler
        )
    else:
        unet, optimizer, loader, lr_scheduler = accelerator.prepare(unet, optimizer, loader, lr_scheduler)

    step = 0
    if previous is not None:
        accelerator.load_state(str(previous))
        step = int(json.loads((previous / "sonogen_state.json").read_text())["step"])
        if ema is not None:
            ema.to(accelerator.device)
        if main:
            _trim_log(log, step)

    # a fixed batch, fixed noise and timesteps: a loss that moves only with the weights
    eval_batch = collate([SpectrogramImages(rows[: max(1, min(4, len(rows)))], width, random_crop=False)[i]
                          for i in range(min(4, len(rows)))])
    eval_gen = torch.Generator().manual_seed(cfg.seed + 12345)

    def eval_loss() -> float:
        model = accelerator.unwrap_model(unet)
        te = accelerator.unwrap_model(text_encoder)
        was_training = model.training
        model.eval()
        te.eval()
        gen = eval_gen.manual_seed(cfg.seed + 12345)
        with torch.no_grad(), accelerator.autocast():
            pixels = eval_batch["pixels"].to(accelerator.device)
            latents = _encode_latents(vae, pixels, gen.manual_seed(cfg.seed + 1)).float()
            noise = torch.randn(latents.shape, generator=gen).to(latents.device)
            ts = torch.linspace(50, noise_scheduler.config.num_train_timesteps - 50, latents.shape[0]).long()
            ts = ts.to(latents.device)
            noisy = noise_scheduler.add_noise(latents, noise, ts)
            states = te(_tokenize(tokenizer, eval_batch["text"], accelerator.device))[0]
            pred = model(noisy, ts, encoder_hidden_states=states.to(model.dtype)).sample
            loss = torch.nn.functional.mse_loss(pred.float(), _target(noise_scheduler, latents, noise, ts).float())
        if was_training:
            model.train()
            if train_text:
                te.train()
        return float(loss.item())

    first_eval = eval_loss() if main else None
    if main:
        log.write(stage="unet", step=step, eval_loss=first_eval)

    bar = tqdm(total=cfg.max_steps, initial=step, desc=f"training ({kind})",
               disable=not (cfg.progress and main))
    clock = time.time()
    epoch = 0
    while step < cfg.max_steps:
        loader.set_epoch(epoch) if hasattr(loader, "set_epoch") else None
        epoch += 1
        for batch in loader:
            with accelerator.accumulate(unet):
                pixels = batch["pixels"]
                with torch.no_grad():
                    latents = _encode_latents(vae, pixels).float()  # (B, C, H/f, W/f)
                noise = torch.randn_like(latents)
                ts = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                                   device=latents.device).long()
                noisy = noise_scheduler.add_noise(latents, noise, ts)
                texts = ["" if torch.rand(()) < cfg.caption_dropout else t for t in batch["text"]]
                ids = _tokenize(tokenizer, texts, accelerator.device)
                with torch.set_grad_enabled(train_text):
                    states = text_encoder(ids)[0]  # (B, L, hidden)
                with accelerator.autocast():
                    pred = unet(noisy, ts, encoder_hidden_states=states).sample
                loss = torch.nn.functional.mse_loss(pred.float(), _target(noise_scheduler, latents, noise, ts).float())
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(trainable, cfg.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            if not accelerator.sync_gradients:
                continue
            step += 1
            if ema is not None:
                ema.step(trainable)
            bar.update()
            mean_loss = float(accelerator.gather(loss.detach()[None]).mean().item())
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            if step % cfg.log_every == 0:
                log.write(stage="unet", step=step, loss=mean_loss, lr=lr_scheduler.get_last_lr()[0],
                          time_s=round(time.time() - clock, 3))
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
                _save_state(accelerator, out, step, cfg.keep_checkpoints)
                log.plot()
            if cfg.validation_every and step % cfg.validation_every == 0 and step < cfg.max_steps:
                if main:
                    log.write(stage="unet", step=step, eval_loss=eval_loss())
                    _validate(cfg, accelerator, unet, vae, text_encoder, tokenizer, parts["scheduler"], params,
                              rows, height, width, out / "validation" / f"step-{step}")
                    log.plot()
                accelerator.wait_for_everyone()
            if step >= cfg.max_steps:
                break
    bar.close()
    accelerator.wait_for_everyone()

    last_eval = None
    if ema is not None:
        ema.store(trainable)
        ema.copy_to(trainable)
    if main:
        last_eval = eval_loss()
        log.write(stage="unet", step=step, eval_loss=last_eval)
        final = {
            "unet": accelerator.unwrap_model(unet).float(),
            "vae": vae.float(),
            "text_encoder": accelerator.unwrap_model(text_encoder).float(),
            "tokenizer": tokenizer,
            "scheduler": parts["scheduler"],
        }
        if cfg.lora:
            _save_lora(final["unet"], params, cfg, out)
        else:
            from sonogen.train.model import save_pipeline

            save_pipeline(final, params, out)
        _validate(cfg, accelerator, final["unet"], final["vae"], final["text_encoder"], tokenizer,
                  parts["scheduler"], params, rows, height, width, out / "validation" / f"step-{step}")
        log.plot()
    accelerator.wait_for_everyone()
    if cfg.checkpoint_every:
        if ema is not None:
            ema.restore(trainable)
        _save_state(accelerator, out, step, cfg.keep_checkpoints)
    accelerator.end_training()
    return TrainResult(out, step, first_eval, last_eval, kind, time.time() - started, main)


def _scratch_parts(cfg: TrainConfig, rows: list[dict[str, Any]], dataset: Any, accelerator: Any, log: LossLog,
                   height: int, out: Path) -> dict[str, Any]:
    """New parts for from-scratch training; stage 1 (the VAE) is trained or reused here."""
    from diffusers import AutoencoderKL

    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_schedulers, build_text_encoder, build_unet, build_vae
    from sonogen.train.tokenizer import train_clip_tokenizer

    assert cfg.model_config is not None
    model_cfg = load_model_config(cfg.model_config)
    te_cfg = model_cfg["text_encoder"]
    tokenizer = train_clip_tokenizer([r["text"] for r in rows], int(model_cfg["tokenizer"]["vocab_size"]),
                                     int(te_cfg["max_length"]))
    factor = 2 ** (len(model_cfg["vae"]["block_out_channels"]) - 1)
    torch.manual_seed(cfg.seed)
    stage_dir = out / VAE_STAGE
    if cfg.resume and (stage_dir / "config.json").is_file():
        vae = AutoencoderKL.from_pretrained(stage_dir)
    else:
        vae = build_vae(model_cfg["vae"])
        vt = model_cfg["vae_training"]
        if int(vt["steps"]) > 0:
            batch = int(vt["batch_size"]) or cfg.batch_size
            loader = torch.utils.data.DataLoader(
                dataset, batch_size=batch, shuffle=True, collate_fn=_collate(),
                drop_last=len(rows) >= batch, generator=torch.Generator().manual_seed(cfg.seed + 1),
            )
            vae = train_vae(vae, loader, accelerator, vt, log, cfg.progress)
        else:
            vae.register_to_config(scaling_factor=1.0)
        if accelerator.is_main_process:
            vae.save_pretrained(stage_dir, safe_serialization=True)
        accelerator.wait_for_everyone()
    torch.manual_seed(cfg.seed + 2)
    text_encoder = build_text_encoder(te_cfg, tokenizer)
    torch.manual_seed(cfg.seed + 3)
    unet = build_unet(model_cfg["unet"], int(model_cfg["vae"]["latent_channels"]), int(te_cfg["hidden_size"]),
                      height // factor)
    _, saved_scheduler = build_schedulers(model_cfg["scheduler"])
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "scheduler": saved_scheduler}


def _place(model: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Move a frozen model to ``device``, casting only when ``dtype`` is not float32."""
    return model.to(device, dtype=dtype) if dtype != torch.float32 else model.to(device)


def _collate() -> Any:
    from sonogen.train.data import collate

    return collate


def _trim_log(log: LossLog, step: int) -> None:
    """Drop UNet rows past ``step`` (written after the checkpoint we resume from)."""
    rows = [r for r in log.rows() if r.get("stage") != "unet" or r["step"] <= step]
    log.path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _save_state(accelerator: Any, out: Path, step: int, keep: int) -> None:
    """A resumable state in ``OUT/checkpoints/step-N``; older ones beyond ``keep`` are removed."""
    folder = out / CHECKPOINTS / f"step-{step}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        (folder / "sonogen_state.json").write_text(json.dumps({"step": step}), encoding="utf-8")
        states = sorted((p for p in (out / CHECKPOINTS).glob("step-*")), key=lambda p: int(p.name.split("-")[1]))
        for old in states[: max(0, len(states) - max(1, keep))]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _save_lora(unet: Any, params: Any, cfg: TrainConfig, out: Path) -> None:
    """``OUT/pytorch_lora_weights.safetensors`` (diffusers LoRA format) + ``lora.json`` + ``spectrogram.json``."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(str(out), unet_lora_layers=layers, safe_serialization=True,
                                              weight_name=LORA_WEIGHTS)
    info = {"base_checkpoint": cfg.checkpoint, "rank": cfg.lora_rank, "alpha": cfg.lora_alpha,
            "target_modules": LORA_TARGETS, "steps": cfg.max_steps}
    (out / "lora.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (out / "spectrogram.json").write_text(json.dumps(dict(params.__dict__), indent=2) + "\n", encoding="utf-8")


def _validate(cfg: TrainConfig, accelerator: Any, unet: Any, vae: Any, text_encoder: Any, tokenizer: Any,
              scheduler: Any, params: Any, rows: list[dict[str, Any]], height: int, width: int, folder: Path) -> None:
    """Render validation prompts to ``folder/<k>.png`` + ``folder/<k>.wav`` (+ ``prompts.json``)."""
    from sonogen.audio.io import save_audio
    from sonogen.pipeline.pipeline import SonogenPipeline
    from sonogen.spectrogram.image import save_image

    prompts = cfg.validation_prompts or list(dict.fromkeys(r["text"] for r in rows))[:2]
    model = accelerator.unwrap_model(unet)
    te = accelerator.unwrap_model(text_encoder)
    states = (model.training, te.training)
    model.eval()
    te.eval()
    pipe = SonogenPipeline(vae=vae, text_encoder=te, tokenizer=tokenizer, unet=model,
                           scheduler=type(scheduler).from_config(scheduler.config))
    pipe.spectrogram_params = params
    folder.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), accelerator.autocast():
        for k, prompt in enumerate(prompts):
            result = pipe(prompt, seed=cfg.seed + k, num_inference_steps=cfg.validation_steps, guidance_scale=7.0,
                          width=width, height=height, progress=False)
            save_image(result.images[0], str(folder / f"{k}.png"), "PNG")
            save_audio(folder / f"{k}.wav", result.waveforms[0], result.sample_rate)
    (folder / "prompts.json").write_text(json.dumps(prompts, indent=2) + "\n", encoding="utf-8")
    if states[0]:
        model.train()
    if states[1]:
        te.train()


def steps_per_epoch(num_rows: int, batch_size: int) -> int:
    """Optimiser steps in one pass over ``num_rows`` images (at least 1)."""
    return max(1, math.floor(num_rows / batch_size))
