"""Model parts for training: a checkpoint's components, or new ones built from ``model.json``.

A base checkpoint is read by the one loader generation uses
(:func:`sonogen.pipeline.loading.load_checkpoint`): the same path rules, the same
``spectrogram.json`` reader, the same checks of a damaged folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError
from sonogen.pipeline.loading import PARTS as COMPONENTS


def load_components(checkpoint: str, bands: int | None = None) -> tuple[dict[str, Any], Any]:
    """The five SD 1.x parts of a checkpoint and the spectrogram format its images use.

    Args:
        checkpoint: a diffusers folder (``model_index.json`` + subfolders, as sonogen and
            Riffusion ship), a single ``.safetensors`` file or a Hub id, as
            :func:`sonogen.pipeline.load_pipeline` takes it.
        bands: when given, the image height the dataset has; a checkpoint whose
            ``spectrogram.json`` says otherwise is refused before its weights are read.

    Returns:
        ``({unet, vae, text_encoder, tokenizer, scheduler}, SpectrogramParams)``; all models
        in float32 on the CPU.
    """
    import torch

    from sonogen.pipeline.loading import load_checkpoint

    pipe = load_checkpoint(checkpoint, torch.float32, check_format=lambda params: _check_bands(params, bands))
    return {name: getattr(pipe, name) for name in COMPONENTS}, pipe.spectrogram_params


def _check_bands(params: Any, bands: int | None) -> None:
    if bands is not None and params.num_frequencies != bands:
        raise SonogenError(
            f"the checkpoint draws {params.num_frequencies}-band spectrograms but the dataset's images are "
            f"{bands} px high; rebuild the dataset with --num-frequencies {params.num_frequencies}"
        )


def build_vae(cfg: dict[str, Any]) -> Any:
    """A new ``AutoencoderKL`` from the ``vae`` section of ``model.json``."""
    from diffusers import AutoencoderKL

    levels = len(cfg["block_out_channels"])
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        block_out_channels=tuple(cfg["block_out_channels"]),
        layers_per_block=int(cfg["layers_per_block"]),
        latent_channels=int(cfg["latent_channels"]),
        norm_num_groups=int(cfg["norm_num_groups"]),
        scaling_factor=1.0,  # measured after stage 1
    )


def build_unet(cfg: dict[str, Any], latent_channels: int, cross_attention_dim: int, sample_size: int) -> Any:
    """A new ``UNet2DConditionModel``: a plain first level, cross-attention in the deeper ones."""
    from diffusers import UNet2DConditionModel

    levels = len(cfg["block_out_channels"])
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (levels - 1)
    up = ("CrossAttnUpBlock2D",) * (levels - 1) + ("UpBlock2D",)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=latent_channels,
        out_channels=latent_channels,
        layers_per_block=int(cfg["layers_per_block"]),
        block_out_channels=tuple(cfg["block_out_channels"]),
        down_block_types=down,
        up_block_types=up,
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=int(cfg["attention_head_dim"]),
        norm_num_groups=int(cfg["norm_num_groups"]),
    )


def build_text_encoder(cfg: dict[str, Any], tokenizer: Any) -> Any:
    """A new ``CLIPTextModel`` sized by the ``text_encoder`` section, for ``tokenizer``."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=int(cfg["hidden_size"]),
        intermediate_size=int(cfg["intermediate_size"]),
        num_hidden_layers=int(cfg["num_hidden_layers"]),
        num_attention_heads=int(cfg["num_attention_heads"]),
        max_position_embeddings=int(cfg["max_length"]),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        projection_dim=int(cfg["hidden_size"]),
    )
    return CLIPTextModel(config)


def build_schedulers(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """``(DDPMScheduler for training, DDIMScheduler saved with the model)`` from ``scheduler``."""
    from diffusers import DDIMScheduler, DDPMScheduler

    common = {
        "num_train_timesteps": int(cfg["num_train_timesteps"]),
        "beta_schedule": str(cfg["beta_schedule"]),
        "beta_start": float(cfg["beta_start"]),
        "beta_end": float(cfg["beta_end"]),
        "prediction_type": str(cfg["prediction_type"]),
    }
    return DDPMScheduler(**common), DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def save_pipeline(parts: dict[str, Any], params: Any, output: str | Path) -> None:
    """Write the parts as a diffusers folder (safetensors) plus ``spectrogram.json``."""
    from sonogen.pipeline.pipeline import SonogenPipeline

    pipe = SonogenPipeline(**{name: parts[name] for name in COMPONENTS})
    pipe.spectrogram_params = params
    pipe.save_pretrained(str(output), safe_serialization=True)
