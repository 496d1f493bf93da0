"""Training settings (:class:`TrainConfig`) and the from-scratch model description (``model.json``).

``model.json`` schema (every key optional; defaults are those of
``sonogen/train/configs/tiny.json``)::

    {
      "vae": {                               # diffusers AutoencoderKL
        "block_out_channels": [32, 64, 128, 128],   # one entry per level; 2**(levels-1) = downsampling
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 16
      },
      "unet": {                              # diffusers UNet2DConditionModel
        "block_out_channels": [64, 128, 256],       # CrossAttn down blocks except the first (plain)
        "layers_per_block": 1,
        "attention_head_dim": 8,
        "norm_num_groups": 16
      },
      "text_encoder": {                      # transformers CLIPTextModel
        "hidden_size": 256,                  # also the UNet's cross_attention_dim
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
        "max_length": 77                     # token positions (tokenizer model_max_length)
      },
      "tokenizer": {"vocab_size": 4096},     # BPE vocabulary learnt on the dataset's captions
      "scheduler": {                         # noise schedule (DDPM in training, DDIM saved)
        "num_train_timesteps": 1000,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "prediction_type": "epsilon"         # or "v_prediction"
      },
      "vae_training": {                      # stage 1 of from-scratch training
        "steps": 2000,                       # VAE steps before the UNet stage (0: keep the random VAE)
        "learning_rate": 1e-4,
        "kl_weight": 1e-6,                   # weight of the KL term next to the L1 reconstruction
        "batch_size": 0                      # 0: the UNet stage's batch size
      }
    }

From-scratch training runs in two stages inside one ``sonogen train --config`` call:
stage 1 trains the VAE to reconstruct the dataset's images (L1 + a small KL), then
measures the latents' spread and stores ``scaling_factor = 1 / std`` in its config;
stage 2 freezes the VAE and trains the UNet and the text encoder on its latents. A tokenizer
is learnt from the captions before both. With ``--resume`` a finished stage 1 is reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError

DEFAULT_MODEL: dict[str, dict[str, Any]] = {
    "vae": {"block_out_channels": [32, 64, 128, 128], "layers_per_block": 1, "latent_channels": 4,
            "norm_num_groups": 16},
    "unet": {"block_out_channels": [64, 128, 256], "layers_per_block": 1, "attention_head_dim": 8,
             "norm_num_groups": 16},
    "text_encoder": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                     "intermediate_size": 1024, "max_length": 77},
    "tokenizer": {"vocab_size": 4096},
    "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                  "beta_end": 0.012, "prediction_type": "epsilon"},
    "vae_training": {"steps": 2000, "learning_rate": 1e-4, "kl_weight": 1e-6, "batch_size": 0},
}


def load_model_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read ``model.json`` and fill missing keys from :data:`DEFAULT_MODEL`.

    Raises:
        SonogenError: missing file, invalid JSON, unknown sections or keys, bad values.
    """
    p = Path(path)
    if not p.is_file():
        raise SonogenError(f"model config not found: {path}")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SonogenError(f"model config {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise SonogenError(f"model config {path} must be a JSON object")
    merged: dict[str, dict[str, Any]] = {}
    for section, defaults in DEFAULT_MODEL.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise SonogenError(f"model config section {section!r} must be an object")
        unknown = set(given) - set(defaults)
        if unknown:
            raise SonogenError(f"model config section {section!r} has unknown keys: {', '.join(sorted(unknown))}")
        merged[section] = {**defaults, **given}
    unknown_sections = set(raw) - set(DEFAULT_MODEL) - {"comment", "_comment"}
    if unknown_sections:
        raise SonogenError(f"model config has unknown sections: {', '.join(sorted(unknown_sections))}")
    _check_model(merged)
    return merged


def _check_model(cfg: dict[str, dict[str, Any]]) -> None:
    te, unet, vae = cfg["text_encoder"], cfg["unet"], cfg["vae"]
    if te["hidden_size"] % te["num_attention_heads"]:
        raise SonogenError("text_encoder.hidden_size must be a multiple of num_attention_heads")
    for name, section in (("vae", vae), ("unet", unet)):
        widths = section["block_out_channels"]
        if not widths or any(int(w) % int(section["norm_num_groups"]) for w in widths):
            raise SonogenError(f"{name}.block_out_channels must be non-empty multiples of norm_num_groups")
    if cfg["tokenizer"]["vocab_size"] < 520:
        raise SonogenError("tokenizer.vocab_size must be at least 520 (256 bytes twice, specials, some merges)")
    if cfg["scheduler"]["prediction_type"] not in ("epsilon", "v_prediction"):
        raise SonogenError("scheduler.prediction_type must be 'epsilon' or 'v_prediction'")


@dataclass
class TrainConfig:
    """Everything ``sonogen train`` needs; CLI flags map one to one onto these fields."""

    dataset: str = ""  # folder with metadata.jsonl + spectrogram images (sonogen build-dataset)
    output: str = ""  # output folder: final model (diffusers layout) or LoRA, logs, checkpoints
    checkpoint: str | None = None  # SD 1.x / sonogen checkpoint to fine-tune (folder or .safetensors)
    model_config: str | None = None  # model.json for from-scratch training (instead of checkpoint)
    lora: bool = False  # train a LoRA adapter on the UNet attention instead of the full UNet
    lora_rank: int = 8  # LoRA rank r
    lora_alpha: int = 8  # LoRA scale numerator (effective scale alpha / r)
    train_text_encoder: bool = False  # also train the text encoder (always on from scratch)
    max_steps: int = 1000  # optimiser steps of the (UNet) stage
    batch_size: int = 4  # images per device per step
    gradient_accumulation: int = 1  # micro-batches summed per optimiser step
    learning_rate: float = 1e-5  # peak learning rate (LoRA and from scratch like ~1e-4)
    lr_warmup_steps: int = 0  # linear warm-up steps, then constant
    weight_decay: float = 1e-2  # AdamW weight decay
    max_grad_norm: float = 1.0  # gradient clipping norm (0 disables)
    mixed_precision: str = "no"  # "no", "fp16" or "bf16" (accelerate)
    gradient_checkpointing: bool = False  # recompute activations to save memory
    ema: bool = False  # keep an exponential moving average of trained weights and save it
    ema_decay: float = 0.999  # EMA decay per step
    caption_dropout: float = 0.1  # probability of training on the empty caption (for CFG)
    resolution: int | None = None  # crop width in pixels (random time offset); None: whole image width
    seed: int = 0  # seed for data order, noise and validation
    num_workers: int = 0  # DataLoader worker processes
    checkpoint_every: int = 500  # save a resumable state every N steps (0: only at the end)
    keep_checkpoints: int = 2  # how many resumable states to keep
    resume: bool = False  # continue from the newest state in OUTPUT/checkpoints
    validation_every: int = 0  # render validation clips every N steps (0: only at the end)
    validation_prompts: list[str] = field(default_factory=list)  # prompts; default: 2 dataset captions
    validation_steps: int = 20  # inference steps of validation clips
    log_every: int = 1  # write a loss row every N steps
    progress: bool = True  # show a progress bar

    def check(self) -> None:
        """Raise :class:`SonogenError` for contradictory or out-of-range settings."""
        if not self.dataset:
            raise SonogenError("--dataset is required")
        if not self.output:
            raise SonogenError("--output is required")
        if bool(self.checkpoint) == bool(self.model_config):
            raise SonogenError("give exactly one of --checkpoint (fine-tune) or --config (train from scratch)")
        if self.lora and not self.checkpoint:
            raise SonogenError("--lora needs a base model: pass --checkpoint")
        for name in ("max_steps", "batch_size", "gradient_accumulation", "lora_rank", "validation_steps", "log_every"):
            if getattr(self, name) < 1:
                raise SonogenError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.caption_dropout < 1:
            raise SonogenError(f"--caption-dropout must be in [0, 1), got {self.caption_dropout}")
        if not 0 < self.ema_decay < 1:
            raise SonogenError(f"--ema-decay must be in (0, 1), got {self.ema_decay}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise SonogenError(f"--mixed-precision must be no, fp16 or bf16, got {self.mixed_precision}")
        if self.learning_rate <= 0:
            raise SonogenError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.resolution is not None and (self.resolution < 8 or self.resolution % 8):
            raise SonogenError(f"--resolution must be a positive multiple of 8, got {self.resolution}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
