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

import argparse
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sonogen.argtypes import positive_float, positive_int
from sonogen.errors import SonogenError

#: Packaged ``model.json`` files: ``tiny.json`` (a small real model) and ``micro.json``
#: (the test-size model tests and benchmarks train).
CONFIGS = Path(__file__).with_name("configs")

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


def _option(default: Any = None, help: str = "", *, factory: Any = None, **cli: Any) -> Any:
    """A :class:`TrainConfig` field: its default, its ``--help`` text and any argparse extras.

    ``cli`` may hold ``flag`` (default ``--name-with-dashes``), ``type``, ``metavar``,
    ``choices``, ``required``, ``group`` (fields sharing a group are a required either-or)
    and ``cli=False`` for settings the command line does not offer.
    """
    meta = {"help": help, **cli}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Everything ``sonogen train`` needs. Each field is one ``sonogen train`` option:
    :meth:`add_arguments` builds the parser from these fields and :meth:`from_args` reads it back."""

    dataset: str = _option("", "folder with metadata.jsonl and images (sonogen build-dataset)", required=True)
    output: str = _option("", "output folder (model or LoRA, logs, checkpoints)", required=True)
    checkpoint: str | None = _option(None, "model to fine-tune (diffusers folder or .safetensors)", group="base")
    model_config: str | None = _option(
        None, "model.json for training from scratch (see sonogen/train/configs/tiny.json)",
        flag="--config", metavar="MODEL_JSON", group="base")
    lora: bool = _option(False, "train a LoRA adapter on the UNet attention")
    lora_rank: int = _option(8, "LoRA rank r", type=positive_int)
    lora_alpha: int = _option(8, "LoRA scale numerator (effective scale alpha / r)", type=positive_int)
    train_text_encoder: bool = _option(False, "also fine-tune the text encoder (always on from scratch)")
    max_steps: int = _option(1000, "optimiser steps of the (UNet) stage", type=positive_int)
    batch_size: int = _option(4, "images per device per step", type=positive_int)
    gradient_accumulation: int = _option(1, "micro-batches summed per optimiser step", type=positive_int)
    learning_rate: float | None = _option(
        None, "peak learning rate; default 1e-5 for full fine-tuning, 1e-4 for LoRA and from scratch",
        type=positive_float)
    lr_warmup_steps: int = _option(0, "linear warm-up steps, then constant")
    weight_decay: float = _option(1e-2, "AdamW weight decay", cli=False)
    max_grad_norm: float = _option(1.0, "gradient clipping norm (0 disables)", cli=False)
    mixed_precision: str = _option("no", "mixed precision (accelerate)", choices=("no", "fp16", "bf16"))
    gradient_checkpointing: bool = _option(False, "recompute activations to save memory")
    ema: bool = _option(False, "save an exponential moving average of the weights")
    ema_decay: float = _option(0.999, "EMA decay per step")
    caption_dropout: float = _option(0.1, "empty-caption probability for CFG (0.1)")
    resolution: int | None = _option(
        None, "random time crop of this many columns (multiple of 8); default: whole width",
        type=positive_int, metavar="PX")
    seed: int = _option(0, "seed for data order, noise and validation")
    num_workers: int = _option(0, "DataLoader workers")
    checkpoint_every: int = _option(500, "resumable state every N steps (0: only at the end)", metavar="N")
    keep_checkpoints: int = _option(2, "how many resumable states to keep", type=positive_int)
    resume: bool = _option(False, "continue from the newest state in OUTPUT/checkpoints")
    validation_every: int = _option(0, "render validation clips every N steps (always at the end)", metavar="N")
    validation_prompts: list[str] = _option(
        help="prompt for validation clips (repeatable; default: two dataset captions)", factory=list,
        flag="--validation-prompt")
    validation_steps: int = _option(20, "inference steps of validation clips", type=positive_int)
    log_every: int = _option(1, "write a loss row every N steps", cli=False)
    progress: bool = _option(True, "no progress bar", flag="--no-progress")

    def __post_init__(self) -> None:
        if self.learning_rate is None:
            self.learning_rate = 1e-5 if self.checkpoint and not self.lora else 1e-4

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add one option per field (those with ``cli=False`` excepted) to ``parser``."""
        groups: dict[str, Any] = {}
        for f in fields(cls):
            meta = dict(f.metadata)
            if not meta.pop("cli", True):
                continue
            flag = meta.pop("flag", "--" + f.name.replace("_", "-"))
            kw: dict[str, Any] = {"dest": f.name, **meta}
            group = kw.pop("group", None)
            if f.type in ("bool", bool):
                kw["action"] = "store_false" if f.default else "store_true"
            elif f.name == "validation_prompts":
                kw.update(action="append", default=None)
            else:
                base = str(f.type).removesuffix(" | None")
                kw.setdefault("type", {"int": int, "float": float}.get(base, str))
                if not kw.get("required"):
                    kw["default"] = f.default
            target = parser
            if group is not None:
                if group not in groups:
                    groups[group] = parser.add_mutually_exclusive_group(required=True)
                target = groups[group]
            target.add_argument(flag, **kw)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainConfig:
        """The config that :meth:`add_arguments`' options parsed into ``args``."""
        values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        values["validation_prompts"] = list(values.get("validation_prompts") or [])
        return cls(**values)

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
        if self.checkpoint_every < 0 or self.validation_every < 0:
            raise SonogenError("--checkpoint-every and --validation-every must be >= 0")
        if self.learning_rate is None or self.learning_rate <= 0:
            raise SonogenError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.resolution is not None and (self.resolution < 8 or self.resolution % 8):
            raise SonogenError(f"--resolution must be a positive multiple of 8, got {self.resolution}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
