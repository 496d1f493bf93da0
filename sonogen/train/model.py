"""Model parts for training: a checkpoint's components, or new ones built from ``model.json``.

A base checkpoint is read by the one loader generation uses
(:func:`sonogen.pipeline.loading.load_checkpoint`): the same path rules, the same
``spectrogram.json`` reader, the same checks of a damaged folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

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
    """A new autoencoder from the ``vae`` section of ``model.json``.

    ``type`` ``"autoencoder_kl"`` builds diffusers' ``AutoencoderKL`` (a square
    ``2 ** (levels - 1)`` downsampling); ``"spectrogram"`` builds
    :class:`~sonogen.models.autoencoder.SpectrogramAutoencoder` with its ``[mel, time]``
    strides (mono, no attention).
    """
    if cfg.get("type", "autoencoder_kl") == "spectrogram":
        from sonogen.models.autoencoder import SpectrogramAutoencoder

        return SpectrogramAutoencoder(
            block_out_channels=tuple(cfg["block_out_channels"]),
            decoder_block_out_channels=tuple(cfg["decoder_block_out_channels"] or cfg["block_out_channels"]),
            strides=tuple(tuple(int(v) for v in s) for s in cfg["strides"]),
            layers_per_block=int(cfg["layers_per_block"]),
            decoder_layers_per_block=tuple(int(n) for n in cfg["decoder_layers_per_block"] or ()) or None,
            latent_channels=int(cfg["latent_channels"]),
            norm_num_groups=int(cfg["norm_num_groups"]),
            scaling_factor=1.0,  # measured after the autoencoder stage
            decode_tile=cfg.get("decode_tile"),
        )
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
        scaling_factor=1.0,  # measured after the autoencoder stage
    )


def load_vae_folder(folder: str | Path) -> Any:
    """A saved autoencoder (``config.json`` + safetensors) of either kind, float32, eval mode."""
    from diffusers import AutoencoderKL

    from sonogen.models.autoencoder import SpectrogramAutoencoder

    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    cls = SpectrogramAutoencoder if config.get("_class_name") == "SpectrogramAutoencoder" else AutoencoderKL
    return cls.from_pretrained(str(folder), torch_dtype=torch.float32).eval()


def vae_factors(cfg: dict[str, Any]) -> tuple[int, int]:
    """``(mel, time)`` pixels per latent cell of the ``vae`` section's autoencoder."""
    if cfg.get("type", "autoencoder_kl") == "spectrogram":
        fh = fw = 1
        for sh, sw in cfg["strides"]:
            fh, fw = fh * int(sh), fw * int(sw)
        return fh, fw
    f = 2 ** (len(cfg["block_out_channels"]) - 1)
    return f, f


def build_unet(cfg: dict[str, Any], latent_channels: int, cross_attention_dim: int,
               sample_size: int | tuple[int, int]) -> Any:
    """A new ``UNet2DConditionModel``: a plain first level, cross-attention in the deeper ones.

    ``sample_size`` is the latent grid ``(rows, columns)`` of a whole image (or one side
    when square); the UNet itself runs on any size its levels divide.
    """
    from diffusers import UNet2DConditionModel

    levels = len(cfg["block_out_channels"])
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (levels - 1)
    up = ("CrossAttnUpBlock2D",) * (levels - 1) + ("UpBlock2D",)
    size = sample_size if isinstance(sample_size, int) or sample_size[0] != sample_size[1] else sample_size[0]
    return UNet2DConditionModel(
        sample_size=size,
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
    """The ``text_encoder`` section's encoder: type ``"clip"`` a new ``CLIPTextModel`` sized by
    the section, for ``tokenizer``; type ``"sentence"`` the frozen packaged sentence encoder
    (``tokenizer`` unused: :func:`build_sentence_parts` gives its own)."""
    if cfg.get("type", "clip") == "sentence":
        return build_sentence_parts(cfg)[0]
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


def build_sentence_parts(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """``(SentenceTextEncoder, its BertTokenizerFast)`` for a ``"sentence"`` ``text_encoder``
    section: the installed all-MiniLM-L6-v2, hash checked, framing ``max_length`` tokens.

    Raises:
        SonogenError: the package is not installed (naming the install command) or holds other weights.
    """
    from sonogen.models.text import PACKAGED, SentenceTextEncoder, packaged_tokenizer

    source = PACKAGED
    length = int(cfg["max_length"])
    encoder = SentenceTextEncoder(package=source.package, version=source.version, archive=source.archive,
                                  sha256=source.sha256, hidden_size=int(cfg["hidden_size"]),
                                  max_position_embeddings=length)
    return encoder, packaged_tokenizer(source, max_length=length)


def text_encoder_trains(asked: bool, from_scratch: bool, text_encoder: Any) -> bool:
    """Whether the UNet stage trains ``text_encoder``: when asked or from scratch, unless it is
    frozen (the sentence encoder), which asking for is an error.

    Raises:
        SonogenError: ``--train-text-encoder`` with a frozen encoder.
    """
    from sonogen.models.text import SentenceTextEncoder

    if isinstance(text_encoder, SentenceTextEncoder):
        if asked:
            raise SonogenError("this model's text encoder is the frozen pretrained sentence encoder: "
                               "leave out --train-text-encoder")
        return False
    return asked or from_scratch


def build_schedulers(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """``(DDPMScheduler for training, the sampler saved with the model)`` from ``scheduler``.

    Both share the betas, the prediction type and the zero-terminal-SNR rescaling; the
    sampler is DDIM or DPM-Solver++ (2M, ending on sigma 0) with the config's spacing.
    """
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    common = {
        "num_train_timesteps": int(cfg["num_train_timesteps"]),
        "beta_schedule": str(cfg["beta_schedule"]),
        "beta_start": float(cfg["beta_start"]),
        "beta_end": float(cfg["beta_end"]),
        "prediction_type": str(cfg["prediction_type"]),
        "rescale_betas_zero_snr": bool(cfg["rescale_betas_zero_snr"]),
        "timestep_spacing": str(cfg["timestep_spacing"]),
    }
    train = DDPMScheduler(**common, clip_sample=False)
    sampler: Any
    if cfg["sampler"] == "dpmsolver++":
        sampler = DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", final_sigmas_type="zero")
    else:
        offset = 1 if cfg["timestep_spacing"] == "leading" else 0
        sampler = DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=bool(cfg["rescale_betas_zero_snr"]),
                                steps_offset=offset)
    return train, sampler


#: Largest weights file of an exported model, bytes (the default model's shards).
EXPORT_SHARD = "15MB"


def save_pipeline(parts: dict[str, Any], params: Any, output: str | Path, sampling: dict[str, Any] | None = None,
                  fp16: bool = False) -> None:
    """Write the parts as a diffusers folder (safetensors) plus ``spectrogram.json``.

    Args:
        parts: the five parts (:data:`COMPONENTS`).
        params: the :class:`SpectrogramParams` the model draws.
        output: the folder.
        sampling: written as ``sampling.json`` (recommended steps and guidance) when given.
        fp16: half-precision weights in shards of at most :data:`EXPORT_SHARD`, written to
            a temporary folder beside ``output`` and swapped in whole, so a reader never
            sees half a model.
    """
    import shutil
    import tempfile

    from sonogen.pipeline.pipeline import SonogenPipeline

    pipe = SonogenPipeline(**{name: parts[name] for name in COMPONENTS})
    pipe.spectrogram_params = params
    target = Path(output)
    if not fp16:
        pipe.save_pretrained(str(target), safe_serialization=True)
        if sampling is not None:
            (target / "sampling.json").write_text(json.dumps(sampling, indent=2) + "\n", encoding="utf-8")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        pipe.to(torch.float16)
        pipe.save_pretrained(str(tmp), safe_serialization=True, max_shard_size=EXPORT_SHARD)
        if sampling is not None:
            (tmp / "sampling.json").write_text(json.dumps(sampling, indent=2) + "\n", encoding="utf-8")
        old = target.with_name(target.name + ".old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        pipe.to(torch.float32)
        shutil.rmtree(tmp, ignore_errors=True)
