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

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
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

logger = logging.getLogger(__name__)


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
    """Appends rows to ``loss.jsonl`` and redraws ``loss.png`` (main process only; the picture
    needs matplotlib, the optional ``plot`` extra)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.path = folder / "loss.jsonl"
        self.picture = folder / "loss.png"
        self.enabled = enabled
        self.no_plot = False  # set when matplotlib (the "plot" extra) is missing

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
        if not self.enabled or self.no_plot:
            return
        try:
            import matplotlib
        except ImportError:
            self.no_plot = True  # say it once per run
            logger.warning("%s not drawn: matplotlib is not installed (pip install 'sonogen[plot]'); "
                           "the losses are in %s", self.picture.name, self.path)
            return
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
    from tqdm import tqdm

    cfg.check()
    started = time.time()
    out = Path(cfg.output)
    data = _read_data(cfg, out)
    accelerator, log = _start(cfg, out, resuming=data.previous is not None)
    run = _setup(cfg, data, accelerator, log, out)
    step = _resume(run, data.previous, log)
    probe = _FixedBatch(cfg, data)
    first_eval = probe.measure(run, log, step) if accelerator.is_main_process else None

    bar = tqdm(total=cfg.max_steps, initial=step, desc=f"training ({run.kind})",
               disable=not (cfg.progress and accelerator.is_main_process))
    clock = time.time()
    batches = _endless(run.loader)
    while step < cfg.max_steps:
        loss = _training_step(cfg, run, next(batches))
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
            _save_state(accelerator, out, step, cfg.keep_checkpoints)
            log.plot()
        if cfg.validation_every and step % cfg.validation_every == 0:
            _validate_now(cfg, run, data, probe, log, step, out)
    bar.close()
    accelerator.wait_for_everyone()

    last_eval = _finish(cfg, run, data, probe, log, step, out)
    accelerator.end_training()
    return TrainResult(out, step, first_eval, last_eval, run.kind, time.time() - started,
                       accelerator.is_main_process)


# ----------------------------------------------------------------------------- the steps of train()


@dataclass
class _Data:
    """The dataset as training sees it."""

    rows: list[dict[str, Any]]
    params: Any  # SpectrogramParams of the images
    height: int
    width: int  # training width in pixels (the crop)
    previous: Path | None  # the newest resumable state of an earlier run, if any


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


def _read_data(cfg: TrainConfig, out: Path) -> _Data:
    """Read the dataset and its format; refuse an output folder an earlier run owns without --resume."""
    from sonogen.data.dataset import read_dataset
    from sonogen.train.data import inspect_images

    if out.exists() and not out.is_dir():
        raise SonogenError(f"output exists and is not a folder: {cfg.output}")
    rows = read_dataset(cfg.dataset)
    params, height, min_width = inspect_images(rows)
    if params.num_frequencies != height:
        raise SonogenError(
            f"dataset images are {height} px high but their EXIF says {params.num_frequencies} mel bands"
        )
    previous = _latest_checkpoint(out) if out.is_dir() else None
    if previous is not None and not cfg.resume:
        raise SonogenError(f"{cfg.output} holds checkpoints of an earlier run; pass --resume or use a new folder")
    return _Data(rows, params, height, cfg.resolution or (min_width // 8) * 8, previous)


def _start(cfg: TrainConfig, out: Path, resuming: bool) -> tuple[Any, LossLog]:
    """The accelerator, the seed, ``train_config.json`` and the loss log (emptied for a fresh run)."""
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

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
    if not resuming and main and log.path.exists():
        log.path.unlink()  # a fresh run starts a fresh log
    return accelerator, log


def _setup(cfg: TrainConfig, data: _Data, accelerator: Any, log: LossLog, out: Path) -> _Run:
    """The data loader, the model parts, what trains, the optimiser and EMA; then accelerate's prepare."""
    from diffusers import DDPMScheduler

    from sonogen.train.data import SpectrogramImages, collate

    dataset = SpectrogramImages(data.rows, data.width, random_crop=True)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate,
        drop_last=len(data.rows) >= cfg.batch_size, num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    kind = "lora" if cfg.lora else ("full" if cfg.checkpoint else "scratch")
    train_text = cfg.train_text_encoder or kind == "scratch"
    parts = _model_parts(cfg, data, dataset, accelerator, log, out)
    unet, text_encoder = parts["unet"], parts["text_encoder"]
    trainable = _choose_trainable(cfg, parts, accelerator, train_text)
    optimizer, lr_scheduler = _optimiser(cfg, trainable, accelerator.num_processes)
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
    return _Run(kind, accelerator, unet, parts["vae"], text_encoder, parts["tokenizer"], parts["scheduler"],
                DDPMScheduler.from_config(parts["scheduler"].config), train_text, trainable, optimizer,
                lr_scheduler, loader, ema)


def _model_parts(cfg: TrainConfig, data: _Data, dataset: Any, accelerator: Any, log: LossLog,
                 out: Path) -> dict[str, Any]:
    """A checkpoint's parts (fine-tune, LoRA) or new ones (from scratch); the image size must suit the VAE."""
    if cfg.checkpoint:
        from sonogen.train.model import load_components

        parts, _ = load_components(cfg.checkpoint, bands=data.height)
    else:
        parts = _scratch_parts(cfg, data.rows, dataset, accelerator, log, data.height, out)
    factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
    if data.height % factor or data.width % factor:
        raise SonogenError(f"image size {data.width}x{data.height} must be a multiple of the VAE factor {factor}")
    return parts


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
    from diffusers.optimization import get_scheduler

    assert cfg.learning_rate is not None  # TrainConfig fills it in
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_scheduler = get_scheduler(
        "constant_with_warmup", optimizer=optimizer,
        num_warmup_steps=cfg.lr_warmup_steps * processes,
        num_training_steps=cfg.max_steps * processes,
    )
    return optimizer, lr_scheduler


def _resume(run: _Run, previous: Path | None, log: LossLog) -> int:
    """Load the newest resumable state (weights, optimiser, EMA, RNG); the step to continue from."""
    if previous is None:
        return 0
    run.accelerator.load_state(str(previous))
    step = int(json.loads((previous / "sonogen_state.json").read_text())["step"])
    if run.ema is not None:
        run.ema.to(run.accelerator.device)
    if run.accelerator.is_main_process:
        _trim_log(log, step)
    return step


def _endless(loader: Any) -> Any:
    """The loader's batches, epoch after epoch (telling a distributed sampler the epoch)."""
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        epoch += 1
        yield from loader


def _training_step(cfg: TrainConfig, run: _Run, batch: dict[str, Any]) -> torch.Tensor:
    """One micro-batch: noise the latents, predict the noise, step the optimiser when accumulation allows."""
    acc = run.accelerator
    with acc.accumulate(run.unet):
        with torch.no_grad():
            latents = _encode_latents(run.vae, batch["pixels"]).float()  # (B, C, H/f, W/f)
        noise = torch.randn_like(latents)
        ts = torch.randint(0, run.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                           device=latents.device).long()
        noisy = run.noise_scheduler.add_noise(latents, noise, ts)
        texts = ["" if torch.rand(()) < cfg.caption_dropout else t for t in batch["text"]]
        with torch.set_grad_enabled(run.train_text):
            states = run.text_encoder(_tokenize(run.tokenizer, texts, acc.device))[0]  # (B, L, hidden)
        with acc.autocast():
            pred = run.unet(noisy, ts, encoder_hidden_states=states).sample
        loss = torch.nn.functional.mse_loss(pred.float(), _target(run.noise_scheduler, latents, noise, ts).float())
        acc.backward(loss)
        if acc.sync_gradients and cfg.max_grad_norm > 0:
            acc.clip_grad_norm_(run.trainable, cfg.max_grad_norm)
        run.optimizer.step()
        run.lr_scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
    return loss


class _FixedBatch:
    """A fixed batch with fixed noise and timesteps: a loss that moves only with the weights."""

    def __init__(self, cfg: TrainConfig, data: _Data) -> None:
        from sonogen.train.data import SpectrogramImages, collate

        n = min(4, len(data.rows))
        images = SpectrogramImages(data.rows[: max(1, n)], data.width, random_crop=False)
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
            pixels = self.batch["pixels"].to(acc.device)
            latents = _encode_latents(run.vae, pixels, gen.manual_seed(self.seed + 1)).float()
            noise = torch.randn(latents.shape, generator=gen).to(latents.device)
            ts = torch.linspace(50, sched.config.num_train_timesteps - 50, latents.shape[0]).long()
            ts = ts.to(latents.device)
            noisy = sched.add_noise(latents, noise, ts)
            states = te(_tokenize(run.tokenizer, self.batch["text"], acc.device))[0]
            pred = model(noisy, ts, encoder_hidden_states=states.to(model.dtype)).sample
            loss = torch.nn.functional.mse_loss(pred.float(), _target(sched, latents, noise, ts).float())
        if was_training:
            model.train()
            if run.train_text:
                te.train()
        return float(loss.item())

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


def _finish(cfg: TrainConfig, run: _Run, data: _Data, probe: _FixedBatch, log: LossLog, step: int,
            out: Path) -> float | None:
    """Measure, save and validate the final (EMA) weights; then a resumable state of the raw ones."""
    acc = run.accelerator
    last_eval = None
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
                from sonogen.train.model import save_pipeline

                save_pipeline(final, data.params, out)
            _validate(cfg, acc, final["unet"], final["vae"], final["text_encoder"], run.tokenizer, run.scheduler,
                      data.params, data.rows, data.height, data.width, out / "validation" / f"step-{step}")
            log.plot()
        acc.wait_for_everyone()
    if cfg.checkpoint_every:
        _save_state(acc, out, step, cfg.keep_checkpoints)
    return last_eval


def _scratch_parts(cfg: TrainConfig, rows: list[dict[str, Any]], dataset: Any, accelerator: Any, log: LossLog,
                   height: int, out: Path) -> dict[str, Any]:
    """New parts for from-scratch training; stage 1 (the VAE) is trained or reused here."""
    from diffusers import AutoencoderKL

    from sonogen.train.config import load_model_config
    from sonogen.train.data import collate
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
                dataset, batch_size=batch, shuffle=True, collate_fn=collate,
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

