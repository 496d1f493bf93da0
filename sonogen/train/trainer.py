"""The training loop: fine-tuning, LoRA and from-scratch training of spectrogram diffusion.

One function, :func:`train`, driven by a :class:`~sonogen.train.config.TrainConfig`:

1. read the dataset (``metadata.jsonl`` + images) and its spectrogram format;
2. from scratch (``--config model.json``), the stages before the UNet: the autoencoder
   (:mod:`sonogen.train.autoencoder`), then the latent cache (:mod:`sonogen.train.latents`);
   the decoder-only stage runs when asked for;
3. the UNet stage: a checkpoint's UNet (fine-tune), its LoRA adapter, or a new UNet and
   text encoder (from scratch, on the cached latents, with the time-crop schedule) learn
   the denoising loss of the model's schedule (epsilon or v-prediction, optionally
   Min-SNR weighted) with accelerate: mixed precision, gradient accumulation, EMA
   (diffusers' ``EMAModel``), caption dropout, resumable states every N steps;
4. log the loss (``OUTPUT/loss.jsonl`` and ``OUTPUT/loss.png``), render validation
   spectrograms and audio (``OUTPUT/validation/step-N/``), and save the result: a
   diffusers model folder with ``spectrogram.json`` (and ``sampling.json`` from
   scratch), or ``pytorch_lora_weights.safetensors``; ``--export DIR`` also writes the
   model in fp16 shards.

Every stage stops cleanly at ``--minutes`` (saving a resumable state and, for the UNet,
the model so far) and continues with ``--resume``. Runs unchanged on one CPU, one GPU or
several GPUs under ``accelerate launch``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from diffusers import DDPMScheduler
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from tqdm import tqdm

from sonogen.audio.io import save_audio
from sonogen.data.dataset import read_dataset
from sonogen.errors import SonogenError
from sonogen.pipeline.pipeline import SonogenPipeline
from sonogen.spectrogram.image import save_image
from sonogen.train.autoencoder import autoencoder_done, load_autoencoder, train_autoencoder
from sonogen.train.config import TrainConfig, crop_width, load_model_config
from sonogen.train.data import SpectrogramImages, collate, inspect_images, tokenize
from sonogen.train.distill import distill
from sonogen.train.latents import (
    CACHE_DIR,
    CachedLatents,
    collate_latents,
    random_time_crop,
    update_cache,
)
from sonogen.train.losses import min_snr_weight, weighted_mse
from sonogen.train.model import (
    build_schedulers,
    build_sentence_parts,
    build_text_encoder,
    build_unet,
    load_components,
    save_pipeline,
    text_encoder_trains,
    vae_factors,
)
from sonogen.train.state import LossLog, latest_state, save_state, state_step
from sonogen.train.tokenizer import train_clip_tokenizer

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TOKENIZER_DIR = "tokenizer"

logger = logging.getLogger(__name__)

__all__ = ["LossLog", "TrainResult", "ema_weights", "train"]


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
        stage: the last stage this call ran.
        finished: False when the call stopped at ``--minutes`` before its steps were done.
    """

    output: Path
    steps: int
    first_eval_loss: float | None
    last_eval_loss: float | None
    kind: str
    seconds: float
    main_process: bool = True
    stage: str = "unet"
    finished: bool = True


# ----------------------------------------------------------------------------- main


def train(cfg: TrainConfig) -> TrainResult:
    """Run a training job as :class:`TrainConfig` describes; see the module docstring."""
    started = time.time()
    deadline = started + cfg.minutes * 60 if cfg.minutes else None
    cfg.check()
    out = Path(cfg.output)
    if cfg.stage == "export":
        return _export_only(cfg, out, started)
    rows = read_dataset(cfg.dataset)
    model_cfg = load_model_config(cfg.model_config) if cfg.model_config else None
    cfg = cfg.resolved(model_cfg)
    kind = "lora" if cfg.lora else ("full" if cfg.checkpoint else "scratch")
    data = _read_data(cfg, out, model_cfg, rows)
    accelerator, log = _start(cfg, out)

    def early(stage: str, finished: bool) -> TrainResult:
        accelerator.end_training()
        return TrainResult(out, 0, None, None, kind, time.time() - started, accelerator.is_main_process, stage,
                           finished)

    if cfg.stage == "distill":
        assert model_cfg is not None
        steps, done = distill(cfg, model_cfg["distill_training"], data.rows, data.width, accelerator, log, out,
                              deadline)
        accelerator.end_training()
        return TrainResult(out, steps, None, None, kind, time.time() - started, accelerator.is_main_process,
                           "distill", done)
    if model_cfg is not None:
        if cfg.stage == "decoder":
            if not autoencoder_done(out):
                raise SonogenError(f"no finished autoencoder in {out}: run --stage autoencoder first")
            done = train_autoencoder(cfg, model_cfg, data.rows, data.width, accelerator, log, out, deadline,
                                     decoder_only=True)
            return early("decoder", done)
        ae_steps = int(model_cfg["vae_training"]["steps"])
        if cfg.stage in ("all", "autoencoder") and not autoencoder_done(out, ae_steps):
            if not train_autoencoder(cfg, model_cfg, data.rows, data.width, accelerator, log, out, deadline):
                return early("autoencoder", False)
        if cfg.stage == "autoencoder":
            return early("autoencoder", True)
        if not autoencoder_done(out):
            raise SonogenError(f"no finished autoencoder in {out}: run --stage autoencoder first")
        if accelerator.is_main_process:
            update_cache(load_autoencoder(out).to(accelerator.device), data.rows, out / CACHE_DIR, data.width,
                         accelerator.device, progress=cfg.progress)
        accelerator.wait_for_everyone()
        if cfg.stage == "latents":
            return early("latents", True)

    run = _setup(cfg, model_cfg, data, accelerator, log, out)
    step = _resume(run, data.previous, log, cfg.resume)
    probe = _FixedBatch(cfg, data, run)
    first_eval = probe.measure(run, log, step) if accelerator.is_main_process else None

    bar = tqdm(total=cfg.max_steps, initial=step, desc=f"training ({run.kind})",
               disable=not (cfg.progress and accelerator.is_main_process))
    clock = time.time()
    batches = _endless(run.loader)
    assert cfg.max_steps is not None
    finished = True
    while step < cfg.max_steps:
        if deadline is not None and time.time() >= deadline:
            finished = False
            break
        loss = _training_step(cfg, run, next(batches), step)
        if not accelerator.sync_gradients:
            continue  # a micro-batch of gradient accumulation
        step += 1
        if run.ema is not None:
            run.ema.step(run.trainable)
        mean_loss = float(accelerator.gather(loss.detach()[None]).mean().item())
        bar.update()
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        if step % cfg.log_every == 0:
            log.write(stage="unet", step=step, loss=mean_loss, lr=run.lr_scheduler.get_last_lr()[0],
                      time_s=round(time.time() - clock, 3))
        if step >= cfg.max_steps:
            break
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save_state(accelerator, out, step, cfg.keep_checkpoints)
            log.plot()
        if cfg.validation_every and step % cfg.validation_every == 0:
            _validate_now(cfg, run, data, probe, log, step, out)
    bar.close()
    accelerator.wait_for_everyone()
    if not finished:
        logger.warning("stopped at the time limit after step %d of %d; run again with --resume", step, cfg.max_steps)

    last_eval = _finish(cfg, model_cfg, run, data, probe, log, step, out, save_resumable=not finished)
    accelerator.end_training()
    return TrainResult(out, step, first_eval, last_eval, run.kind, time.time() - started,
                       accelerator.is_main_process, "unet", finished)


# ----------------------------------------------------------------------------- the steps of train()


@dataclass
class _Data:
    """The dataset as training sees it."""

    rows: list[dict[str, Any]]
    params: Any  # SpectrogramParams of the images
    height: int
    width: int  # training width in pixels (the crop)
    previous: Path | None  # the newest resumable UNet state of an earlier run, if any


@dataclass
class _Run:
    """Everything the loop touches, prepared by accelerate (see :func:`_setup`)."""

    kind: str  # "full", "lora" or "scratch"
    accelerator: Any
    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any  # the scheduler saved with the model
    noise_scheduler: Any  # DDPM, for adding noise in training
    train_text: bool
    trainable: list[torch.nn.Parameter]
    optimizer: Any
    lr_scheduler: Any
    loader: Any
    ema: Any  # diffusers EMAModel or None
    cached: bool  # batches are cached latents (from scratch), not pixels
    min_snr_gamma: float
    min_snr_floor: float
    crop_schedule: list[list[Any]]


def _read_data(cfg: TrainConfig, out: Path, model_cfg: dict[str, dict[str, Any]] | None,
               rows: list[dict[str, Any]]) -> _Data:
    """The dataset's format and training width; refuse an output folder an earlier run owns without --resume."""
    if out.exists() and not out.is_dir():
        raise SonogenError(f"output exists and is not a folder: {cfg.output}")
    params, height, min_width = inspect_images(rows)
    if params.num_frequencies != height:
        raise SonogenError(
            f"dataset images are {height} px high but their EXIF says {params.num_frequencies} mel bands"
        )
    fh, fw = vae_factors(model_cfg["vae"]) if model_cfg is not None else (8, 8)
    width = cfg.resolution or (min_width // fw) * fw
    if model_cfg is not None and (height % fh or width % fw or width < fw):
        raise SonogenError(f"image size {width}x{height} must be a multiple of the autoencoder's "
                           f"{fw} columns x {fh} rows")
    previous = latest_state(out) if out.is_dir() else None
    earlier = [p for p in (previous, latest_state(out / "autoencoder"), latest_state(out / "decoder")) if p]
    if earlier and not cfg.resume:
        raise SonogenError(f"{cfg.output} holds checkpoints of an earlier run; pass --resume or use a new folder")
    return _Data(rows, params, height, width, previous)


def _start(cfg: TrainConfig, out: Path) -> tuple[Any, LossLog]:
    """The accelerator, the seed, ``train_config.json`` and the loss log (new for a new folder)."""
    accelerator = Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.gradient_accumulation,
        project_config=ProjectConfiguration(project_dir=str(out)),
    )
    main = accelerator.is_main_process
    log = LossLog(out, main)
    if main:
        if not cfg.resume and log.path.exists() and latest_state(out) is None and not (out / CACHE_DIR).exists():
            log.path.unlink()  # a fresh run over an old, finished one starts a fresh log
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    set_seed(cfg.seed)
    return accelerator, log


def _setup(cfg: TrainConfig, model_cfg: dict[str, dict[str, Any]] | None, data: _Data, accelerator: Any,
           log: LossLog, out: Path) -> _Run:
    """The data loader, the model parts, what trains, the optimiser and EMA; then accelerate's prepare."""
    kind = "lora" if cfg.lora else ("full" if cfg.checkpoint else "scratch")
    assert cfg.batch_size is not None
    if model_cfg is not None:
        parts = _scratch_parts(cfg, model_cfg, data, accelerator, out)
        vae = parts["vae"]
        dataset: Any = CachedLatents(out / CACHE_DIR, vae.config.scaling_factor,
                                     getattr(vae.config, "shift_factor", None),
                                     texts={r["file_name"]: r["text"] for r in data.rows})
        collate_fn = collate_latents
        training = model_cfg["unet_training"]
        gamma, floor, schedule = (float(training["min_snr_gamma"]), float(training["min_snr_floor"]),
                                  list(training["crop_schedule"]))
    else:
        assert cfg.checkpoint is not None
        parts, _ = load_components(cfg.checkpoint, bands=data.height)
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        if data.height % factor or data.width % factor:
            raise SonogenError(f"image size {data.width}x{data.height} must be a multiple of the VAE factor {factor}")
        dataset, collate_fn = SpectrogramImages(data.rows, data.width, random_crop=True), collate
        gamma, floor, schedule = 0.0, 0.0, []
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate_fn,
        drop_last=len(dataset) >= cfg.batch_size, num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    unet, text_encoder = parts["unet"], parts["text_encoder"]
    # a frozen (pretrained sentence) encoder never trains; _choose_trainable places it frozen
    train_text = text_encoder_trains(cfg.train_text_encoder, kind == "scratch", text_encoder)
    trainable = _choose_trainable(cfg, parts, accelerator, train_text)
    optimizer, lr_scheduler = _optimiser(cfg, trainable, accelerator.num_processes)
    ema = None
    if cfg.ema:
        assert cfg.ema_decay is not None
        ema = EMAModel(trainable, decay=cfg.ema_decay)
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)
    if train_text:
        unet, text_encoder, optimizer, loader, lr_scheduler = accelerator.prepare(
            unet, text_encoder, optimizer, loader, lr_scheduler
        )
    else:
        unet, optimizer, loader, lr_scheduler = accelerator.prepare(unet, optimizer, loader, lr_scheduler)
    return _Run(kind, accelerator, unet, parts["vae"], text_encoder, parts["tokenizer"], parts["scheduler"],
                DDPMScheduler.from_config(parts["scheduler"].config), train_text, trainable, optimizer,
                lr_scheduler, loader, ema, model_cfg is not None, gamma, floor, schedule)


def _choose_trainable(cfg: TrainConfig, parts: dict[str, Any], accelerator: Any,
                      train_text: bool) -> list[torch.nn.Parameter]:
    """Freeze the VAE (and the text encoder unless it trains), add the LoRA adapter; the trained parameters."""
    unet, vae, text_encoder = parts["unet"], parts["vae"], parts["text_encoder"]
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
    return trainable


def _optimiser(cfg: TrainConfig, trainable: list[torch.nn.Parameter], processes: int) -> tuple[Any, Any]:
    """AdamW and a constant learning rate after a linear warm-up."""
    assert cfg.learning_rate is not None and cfg.lr_warmup_steps is not None and cfg.max_steps is not None
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_scheduler = get_scheduler(
        "constant_with_warmup", optimizer=optimizer,
        num_warmup_steps=cfg.lr_warmup_steps * processes,
        num_training_steps=cfg.max_steps * processes,
    )
    return optimizer, lr_scheduler


def _resume(run: _Run, previous: Path | None, log: LossLog, resume: bool) -> int:
    """Load the newest resumable state (weights, optimiser, EMA, RNG); the step to continue from."""
    if previous is None or not resume:
        return 0
    run.accelerator.load_state(str(previous))
    step = state_step(previous)
    if run.ema is not None:
        run.ema.to(run.accelerator.device)
    log.trim("unet", step)
    return step


def _endless(loader: Any) -> Any:
    """The loader's batches, epoch after epoch (telling a distributed sampler the epoch)."""
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        epoch += 1
        yield from loader


def _encode_latents(vae: Any, pixels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scaled latents ``(B, C, h, w)`` of pixels ``(B, 3, H, W)`` in [-1, 1] (a posterior sample)."""
    posterior = vae.encode(pixels.to(vae.dtype)).latent_dist
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return (posterior.sample(generator=generator) - shift) * vae.config.scaling_factor


def _target(scheduler: Any, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet predicts: the velocity for v-prediction, else the noise."""
    if scheduler.config.prediction_type == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    return noise


def _batch_latents(run: _Run, batch: dict[str, Any], step: int) -> torch.Tensor:
    """The batch's scaled latents ``(B, C, h, w)``: cached ones cropped by the schedule, or pixels encoded now."""
    if run.cached:
        return random_time_crop(batch["latents"], crop_width(run.crop_schedule, step)).float()
    with torch.no_grad():
        return _encode_latents(run.vae, batch["pixels"]).float()


def denoising_loss(run: _Run, unet: Any, latents: torch.Tensor, states: torch.Tensor, noise: torch.Tensor,
                   timesteps: torch.Tensor) -> torch.Tensor:
    """The (optionally Min-SNR weighted) mean squared error of the UNet's prediction.

    Args:
        latents: clean scaled latents ``(B, C, h, w)``; noise: the same shape.
        states: text states ``(B, L, hidden)``; timesteps: ``(B,)`` training timesteps.
    """
    sched = run.noise_scheduler
    noisy = sched.add_noise(latents, noise, timesteps)
    pred = unet(noisy, timesteps, encoder_hidden_states=states).sample
    weight = None
    if run.min_snr_gamma > 0:
        alpha = sched.alphas_cumprod.to(latents.device)[timesteps].float()
        snr = alpha / (1.0 - alpha).clamp(min=1e-8)
        weight = min_snr_weight(snr, run.min_snr_gamma, sched.config.prediction_type, run.min_snr_floor)
    return weighted_mse(pred, _target(sched, latents, noise, timesteps), weight)


def _training_step(cfg: TrainConfig, run: _Run, batch: dict[str, Any], step: int) -> torch.Tensor:
    """One micro-batch: noise the latents, predict, step the optimiser when accumulation allows."""
    acc = run.accelerator
    with acc.accumulate(run.unet):
        latents = _batch_latents(run, batch, step)
        noise = torch.randn_like(latents)
        ts = torch.randint(0, run.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                           device=latents.device).long()
        texts = ["" if torch.rand(()) < (cfg.caption_dropout or 0.0) else t for t in batch["text"]]
        with torch.set_grad_enabled(run.train_text):
            states = run.text_encoder(tokenize(run.tokenizer, texts, acc.device))[0]  # (B, L, hidden)
        with acc.autocast():
            loss = denoising_loss(run, run.unet, latents, states, noise, ts)
        acc.backward(loss)
        if acc.sync_gradients and cfg.max_grad_norm > 0:
            acc.clip_grad_norm_(run.trainable, cfg.max_grad_norm)
        run.optimizer.step()
        run.lr_scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
    return loss


class _FixedBatch:
    """A fixed batch with fixed noise and timesteps: a loss that moves only with the weights."""

    def __init__(self, cfg: TrainConfig, data: _Data, run: _Run) -> None:
        n = max(1, min(4, len(data.rows)))
        if run.cached:
            dataset = run.loader.dataset
            self.batch = collate_latents([dataset[i] for i in range(min(n, len(dataset)))])
        else:
            images = SpectrogramImages(data.rows[:n], data.width, random_crop=False)
            self.batch = collate([images[i] for i in range(n)])
        self.seed = cfg.seed

    def loss(self, run: _Run) -> float:
        acc = run.accelerator
        model, te = acc.unwrap_model(run.unet), acc.unwrap_model(run.text_encoder)
        was_training = model.training
        model.eval()
        te.eval()
        gen = torch.Generator().manual_seed(self.seed + 12345)
        sched = run.noise_scheduler
        with torch.no_grad(), acc.autocast():
            if run.cached:
                latents = self.batch["latents"].to(acc.device)
            else:
                pixels = self.batch["pixels"].to(acc.device)
                latents = _encode_latents(run.vae, pixels, gen.manual_seed(self.seed + 1)).float()
            noise = torch.randn(latents.shape, generator=gen).to(latents.device)
            ts = torch.linspace(50, sched.config.num_train_timesteps - 50, latents.shape[0]).long()
            states = te(tokenize(run.tokenizer, self.batch["text"], acc.device))[0].to(model.dtype)
            value = denoising_loss(run, model, latents, states, noise, ts.to(latents.device))
        if was_training:
            model.train()
            if run.train_text:
                te.train()
        return float(value.item())

    def measure(self, run: _Run, log: LossLog, step: int) -> float:
        """The fixed-batch loss, logged at ``step`` (call on the main process only)."""
        value = self.loss(run)
        log.write(stage="unet", step=step, eval_loss=value)
        return value


def _validate_now(cfg: TrainConfig, run: _Run, data: _Data, probe: _FixedBatch, log: LossLog, step: int,
                  out: Path) -> None:
    """Mid-run validation: the fixed-batch loss and clips in ``OUT/validation/step-N`` (main process)."""
    if run.accelerator.is_main_process:
        probe.measure(run, log, step)
        _validate(cfg, run.accelerator, run.unet, run.vae, run.text_encoder, run.tokenizer, run.scheduler,
                  data.params, data.rows, data.height, data.width, out / "validation" / f"step-{step}")
        log.plot()
    run.accelerator.wait_for_everyone()


@contextlib.contextmanager
def ema_weights(ema: Any, parameters: list[torch.nn.Parameter]) -> Iterator[None]:
    """Inside: the EMA weights in ``parameters``; afterwards the trained (raw) weights again.

    The order matters: ``store`` the raw weights, ``copy_to`` the average, and ``restore``
    before a resumable state is saved, so a resumed run continues from the raw weights
    (the state holds the EMA separately). Without EMA this does nothing.
    """
    if ema is None:
        yield
        return
    ema.store(parameters)
    ema.copy_to(parameters)
    try:
        yield
    finally:
        ema.restore(parameters)


def _finish(cfg: TrainConfig, model_cfg: dict[str, dict[str, Any]] | None, run: _Run, data: _Data,
            probe: _FixedBatch, log: LossLog, step: int, out: Path, save_resumable: bool) -> float | None:
    """Measure, save and validate the final (EMA) weights; then a resumable state of the raw ones."""
    acc = run.accelerator
    last_eval = None
    sampling = dict(model_cfg["sampling"]) if model_cfg is not None else None
    with ema_weights(run.ema, run.trainable):
        if acc.is_main_process:
            last_eval = probe.measure(run, log, step)
            final = {
                "unet": acc.unwrap_model(run.unet).float(),
                "vae": run.vae.float(),
                "text_encoder": acc.unwrap_model(run.text_encoder).float(),
                "tokenizer": run.tokenizer,
                "scheduler": run.scheduler,
            }
            if cfg.lora:
                _save_lora(final["unet"], data.params, cfg, out)
            else:
                save_pipeline(final, data.params, out, sampling)
                if cfg.export:
                    save_pipeline(final, data.params, cfg.export, sampling, fp16=True)
            _validate(cfg, acc, final["unet"], final["vae"], final["text_encoder"], run.tokenizer, run.scheduler,
                      data.params, data.rows, data.height, data.width, out / "validation" / f"step-{step}")
            log.plot()
        acc.wait_for_everyone()
    if cfg.checkpoint_every or save_resumable:
        save_state(acc, out, step, cfg.keep_checkpoints)
    return last_eval


def _export_only(cfg: TrainConfig, out: Path, started: float) -> TrainResult:
    """``--stage export``: the model folder ``OUT`` written to ``--export`` in fp16 shards."""
    if not cfg.export:
        raise SonogenError("--stage export needs --export DIR")
    if not (out / "model_index.json").is_file():
        raise SonogenError(f"no trained model in {out} to export: run the unet stage first")
    parts, params = load_components(str(out))
    sampling_file = out / "sampling.json"
    sampling = json.loads(sampling_file.read_text(encoding="utf-8")) if sampling_file.is_file() else None
    save_pipeline(parts, params, cfg.export, sampling, fp16=True)
    return TrainResult(out, 0, None, None, "scratch", time.time() - started, True, "export", True)


def _scratch_parts(cfg: TrainConfig, model_cfg: dict[str, dict[str, Any]], data: _Data, accelerator: Any,
                   out: Path) -> dict[str, Any]:
    """New parts for the UNet stage from scratch: the finished autoencoder, a new UNet, and
    the text encoder with its tokenizer. Type ``clip``: a new CLIPTextModel on a tokenizer
    learnt on the captions once and kept in ``OUT/tokenizer``; type ``sentence``: the frozen
    packaged encoder and its own tokenizer, with the captions' vocabulary (words, styles,
    instruments) recorded for ``sonogen generate``'s unknown-words notice and the captions
    with the packaged style phrases for reading prompts (:mod:`sonogen.models.reading`)."""
    te_cfg = model_cfg["text_encoder"]
    if te_cfg.get("type", "clip") == "sentence":
        from sonogen.models.vocabulary import dataset_reading, dataset_vocabulary

        text_encoder, tokenizer = build_sentence_parts(te_cfg)
        text_encoder.set_vocabulary(dataset_vocabulary(cfg.dataset, data.rows))
        text_encoder.set_reading(dataset_reading(cfg.dataset, data.rows, tokenizer,
                                                 int(text_encoder.config["max_position_embeddings"])))
        # the captions come back every epoch: each is encoded once
        text_encoder.cache_states(entries=max(2048, len(data.rows) + 1))
    else:
        from transformers import CLIPTokenizer

        folder = out / TOKENIZER_DIR
        if not (folder / "tokenizer_config.json").is_file():
            tokenizer = train_clip_tokenizer([r["text"] for r in data.rows],
                                             int(model_cfg["tokenizer"]["vocab_size"]), int(te_cfg["max_length"]))
            if accelerator.is_main_process:
                tokenizer.save_pretrained(str(folder))
            accelerator.wait_for_everyone()
        tokenizer = CLIPTokenizer.from_pretrained(str(folder))
        torch.manual_seed(cfg.seed + 2)
        text_encoder = build_text_encoder(te_cfg, tokenizer)
    vae = load_autoencoder(out)
    fh, fw = vae_factors(model_cfg["vae"])
    torch.manual_seed(cfg.seed + 3)
    unet = build_unet(model_cfg["unet"], int(model_cfg["vae"]["latent_channels"]), int(te_cfg["hidden_size"]),
                      (data.height // fh, data.width // fw))
    _, saved_scheduler = build_schedulers(model_cfg["scheduler"])
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "scheduler": saved_scheduler}


def _place(model: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """Move a frozen model to ``device``, casting only when ``dtype`` is not float32."""
    return model.to(device, dtype=dtype) if dtype != torch.float32 else model.to(device)


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
