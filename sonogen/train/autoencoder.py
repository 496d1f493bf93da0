"""The autoencoder stages of from-scratch training: the whole autoencoder, or its decoder alone.

Both run the same loop (:func:`train_autoencoder`) on random crops of the dataset's
images, with the reconstruction terms of :mod:`sonogen.train.losses` weighted by the
model config, an optional patch discriminator, resumable accelerate states every
``--checkpoint-every`` steps and a clean stop at the wall-clock deadline.

- ``autoencoder``: encoder and decoder, plus a small KL term; when finished the latents'
  spread and mean set ``scaling_factor`` and ``shift_factor`` (so the UNet sees latents
  of unit spread around zero) and the model is saved in ``OUT/autoencoder``.
- ``decoder``: the encoder frozen, so cached latents and a trained UNet stay valid;
  the decoder learns to draw from the encoder's mean latents, as generation decodes
  them. When finished it replaces the decoder in ``OUT/autoencoder`` (and in the model
  folder ``OUT`` when there is one).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from sonogen.train.config import TrainConfig
from sonogen.train.data import SpectrogramImages, collate
from sonogen.train.losses import (
    PatchDiscriminator,
    discriminator_hinge_loss,
    generator_adversarial_loss,
    kl_loss,
    reconstruction_loss,
)
from sonogen.train.model import build_vae, load_vae_folder
from sonogen.train.state import LossLog, latest_state, save_state, state_step

logger = logging.getLogger(__name__)

AUTOENCODER_DIR = "autoencoder"
DECODER_DIR = "decoder"


class _Step(torch.nn.Module):
    """One forward of the autoencoder for training: ``pixels -> (reconstruction, KL)``.

    A single module call, so a distributed run synchronises the gradients of both halves.
    With ``decoder_only`` the encoder runs without gradients and its mean latent is decoded.
    """

    def __init__(self, vae: Any, decoder_only: bool) -> None:
        super().__init__()
        self.vae = vae
        self.decoder_only = decoder_only

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.decoder_only:
            with torch.no_grad():
                z = self.vae.encode(pixels).latent_dist.mean
            return self.vae.decode(z).sample, pixels.new_zeros(())
        posterior = self.vae.encode(pixels).latent_dist
        return self.vae.decode(posterior.sample()).sample, kl_loss(posterior)


def _freeze_encoder(vae: Any) -> list[torch.nn.Parameter]:
    """Freeze everything but the decoder (and diffusers' post-quant conv); the trainable parameters."""
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True)
    if getattr(vae, "post_quant_conv", None) is not None:
        vae.post_quant_conv.requires_grad_(True)
    return [p for p in vae.parameters() if p.requires_grad]


def autoencoder_done(out: Path, steps: int | None = None) -> bool:
    """True when ``OUT/autoencoder`` holds a finished autoencoder (of at least ``steps`` steps,
    when given: a config that asks for more steps continues the training)."""
    if not (out / AUTOENCODER_DIR / "config.json").is_file():
        return False
    return steps is None or _done_steps(out / AUTOENCODER_DIR) >= steps


def load_autoencoder(out: Path) -> Any:
    """The finished autoencoder of ``OUT/autoencoder`` (float32, CPU, eval mode)."""
    return load_vae_folder(out / AUTOENCODER_DIR)


def train_autoencoder(cfg: TrainConfig, model_cfg: dict[str, dict[str, Any]], rows: list[dict[str, Any]],
                      width: int, accelerator: Any, log: LossLog, out: Path, deadline: float | None,
                      decoder_only: bool = False) -> bool:
    """Run the ``autoencoder`` (or ``decoder``) stage until its steps are done or ``deadline``.

    Args:
        cfg: the training settings (seed, checkpointing, progress, resume).
        model_cfg: the model config (``vae``, ``vae_training`` / ``decoder_training``).
        rows: the dataset rows; ``width``: the image width to crop from (pixels).
        deadline: ``time.time()`` value to stop at (None: no limit).

    Returns:
        True when the stage finished (the model is saved), False when it stopped at the
        deadline (a resumable state is saved).
    """
    section = model_cfg["decoder_training" if decoder_only else "vae_training"]
    steps = int(section["steps"])
    name = "decoder" if decoder_only else "autoencoder"
    folder = out / (DECODER_DIR if decoder_only else AUTOENCODER_DIR)
    if decoder_only and (steps == 0 or _done_steps(folder) >= steps):
        logger.info("decoder: nothing to do (%d steps asked for, %d done)", steps, _done_steps(folder))
        return True
    if decoder_only:
        vae = load_autoencoder(out).train()
        trainable = _freeze_encoder(vae)
    else:
        torch.manual_seed(cfg.seed)
        vae = build_vae(model_cfg["vae"]).train()
        trainable = list(vae.parameters())
    batch = int(section["batch_size"]) or int(cfg.batch_size or 4)
    crop = section["crop"]
    crop_h, crop_w = (int(crop[0]), min(int(crop[1]), width)) if crop else (None, width)
    images = SpectrogramImages(rows, crop_w, random_crop=True, height=crop_h)
    loader = torch.utils.data.DataLoader(
        images, batch_size=batch, shuffle=True, collate_fn=collate, drop_last=len(rows) >= batch,
        num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed + 1),
    )
    model = _Step(vae, decoder_only)
    optimizer = torch.optim.AdamW(trainable, lr=float(section["learning_rate"]), weight_decay=0.0)
    adversarial = float(section.get("adversarial_weight", 0.0))
    start_adv = int(section.get("adversarial_start", 0))
    prepared: list[Any] = [model, optimizer, loader]
    if adversarial > 0:
        judge = PatchDiscriminator()
        prepared += [judge, torch.optim.AdamW(judge.parameters(), lr=float(section["learning_rate"]), betas=(0.5, 0.9))]
    ready: list[Any] = list(accelerator.prepare(*prepared))
    model, optimizer, loader = ready[0], ready[1], ready[2]
    critic: Any = ready[3] if adversarial > 0 else None
    critic_opt: Any = ready[4] if adversarial > 0 else None

    step = 0
    previous = latest_state(folder) if cfg.resume else None
    if previous is not None:
        accelerator.load_state(str(previous))
        step = state_step(previous)
        log.trim(name, step)
        logger.info("%s: resumed at step %d of %d", name, step, steps)
    weights = {k: float(v) for k, v in section["losses"].items()}
    kl_weight = 0.0 if decoder_only else float(section.get("kl_weight", 0.0))
    bar = tqdm(total=steps, initial=step, desc=f"stage: {name}", disable=not (cfg.progress and accelerator.is_main_process))
    clock = time.time()
    timed_out = False
    while step < steps:
        for batch_ in loader:
            if deadline is not None and time.time() >= deadline:
                timed_out = True
                break
            x = batch_["pixels"]
            rec, kl = model(x)
            loss, parts = reconstruction_loss(rec, x, weights)
            loss = loss + kl_weight * kl
            use_critic = critic is not None and step >= start_adv
            if use_critic:
                adv = generator_adversarial_loss(critic(rec))
                loss = loss + adversarial * adv
                parts["adversarial"] = float(adv.detach())
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if use_critic:
                critic_loss = discriminator_hinge_loss(critic(x), critic(rec.detach()))
                accelerator.backward(critic_loss)
                critic_opt.step()
                critic_opt.zero_grad(set_to_none=True)
                parts["critic"] = float(critic_loss.detach())
            step += 1
            bar.update()
            bar.set_postfix(l1=f"{parts.get('l1', 0.0):.4f}")
            if step % cfg.log_every == 0:
                log.write(stage=name, step=step, loss=float(loss.detach()), kl=float(kl.detach()),
                          time_s=round(time.time() - clock, 3), **parts)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < steps:
                save_state(accelerator, folder, step, cfg.keep_checkpoints)
                log.plot()
            if step >= steps:
                break
        if timed_out:
            break
    bar.close()
    if timed_out:
        save_state(accelerator, folder, step, cfg.keep_checkpoints)
        log.plot()
        logger.warning("%s: stopped at the time limit after step %d of %d; run again with --resume", name, step, steps)
        return False
    if not decoder_only:
        save_state(accelerator, folder, step, cfg.keep_checkpoints)  # so more steps can follow later
    vae = accelerator.unwrap_model(model).vae.float().eval()
    accelerator.free_memory()
    if accelerator.is_main_process:
        if decoder_only:
            _save_decoder(vae, out)
        else:
            measure_latent_scale(vae, images, accelerator.device)
            vae.save_pretrained(str(folder), safe_serialization=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "done.json").write_text(json.dumps({"step": step}), encoding="utf-8")
        log.plot()
    accelerator.wait_for_everyone()
    return True


def _done_steps(folder: Path) -> int:
    """Steps of a finished stage in ``folder`` (0 when it has not finished)."""
    done = folder / "done.json"
    return int(json.loads(done.read_text(encoding="utf-8"))["step"]) if done.is_file() else 0


def measure_latent_scale(vae: Any, images: Any, device: torch.device, count: int = 32) -> None:
    """Set ``scaling_factor = 1 / std`` and ``shift_factor = mean`` of the mean latents of
    up to ``count`` whole images (evenly spread over the dataset) in ``vae``'s config."""
    full = SpectrogramImages(images.rows, images.width, random_crop=False)
    step = max(1, len(full) // count)
    picks = list(range(0, len(full), step))[:count]
    samples = []
    with torch.no_grad():
        for i in range(0, len(picks), 8):
            pixels = torch.stack([full[j]["pixels"] for j in picks[i:i + 8]]).to(device)
            samples.append(vae.encode(pixels).latent_dist.mean.float().cpu())
    latents = torch.cat(samples)
    vae.register_to_config(scaling_factor=1.0 / max(float(latents.std()), 1e-4), shift_factor=float(latents.mean()))


def _save_decoder(vae: Any, out: Path) -> None:
    """Write the fine-tuned autoencoder over ``OUT/autoencoder`` and, when ``OUT`` is a model
    folder already, over its ``vae`` part (the encoder and the latent scale are unchanged)."""
    targets = [out / AUTOENCODER_DIR]
    if (out / "model_index.json").is_file():
        targets.append(out / "vae")
    for target in targets:
        tmp = target.with_name(target.name + ".new")
        shutil.rmtree(tmp, ignore_errors=True)
        vae.save_pretrained(str(tmp), safe_serialization=True)
        for file in tmp.iterdir():
            file.replace(target / file.name)
        shutil.rmtree(tmp, ignore_errors=True)
