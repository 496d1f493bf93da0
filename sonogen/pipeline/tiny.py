"""Tiny random SD-1.x-shaped components for tests, benchmarks and demos.

Everything is built offline under ``torch.manual_seed(seed)``: the same seed gives the
same weights on every machine. Shapes follow Stable Diffusion 1.x (8x VAE, 4 latent
channels, a cross-attention UNet conditioned on a CLIP text encoder) with tiny widths,
so a 512x512 image costs milliseconds per step on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sonogen.pipeline.bpe import build_clip_tokenizer, clip_vocab
from sonogen.pipeline.ldm import SD1_SCHEDULER
from sonogen.pipeline.pipeline import SonogenPipeline
from sonogen.pipeline.single_file import save_single_file
from sonogen.spectrogram.params import SpectrogramParams

#: Hidden size of the tiny text encoder (= UNet cross-attention width).
TINY_HIDDEN = 32
#: Words given whole tokens in the tiny vocabulary (anything else is spelled by bytes).
_TINY_WORDS = ("jazz", "piano", "drums", "beat", "rock", "guitar", "church", "bells", "funk", "loop")



def tiny_vocab() -> tuple[dict[str, int], list[str]]:
    """A small CLIP-style byte-level BPE vocabulary and its merges.

    Returns:
        ``(vocab, merges)``: every byte alone and as a word end (``</w>``), a handful
        of whole words, then the two special tokens; merges spell those words.
    """
    merges: list[str] = []
    for word in _TINY_WORDS:  # merged left to right: j a -> ja, ja z -> jaz, jaz z</w> -> jazz</w>
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            parts = [parts[0] + parts[1]] + parts[2:]
    merges = list(dict.fromkeys(merges))
    return clip_vocab(merges), merges


def build_tiny_tokenizer() -> Any:
    """A CLIPTokenizer over :func:`tiny_vocab` (no download)."""
    return build_clip_tokenizer(*tiny_vocab())


def build_tiny_components(seed: int = 0) -> dict[str, Any]:
    """Tiny random SD-1.x components: ``unet, vae, text_encoder, tokenizer, scheduler``.

    * VAE: 4 down blocks (3 downsamplings, 8x), 4 latent channels, widths (8, 8, 16, 16).
    * UNet: 2 levels of widths (16, 32), cross-attention width 32, ``sample_size`` 64
      (= 512 px / 8), one layer per block.
    * Text encoder: CLIP, 2 layers of width 32, 77 positions.
    * Scheduler: PNDM with ``skip_prk_steps`` as the Riffusion checkpoint ships.
    """
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TINY_HIDDEN,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=512,
        scaling_factor=0.18215,
    )
    torch.manual_seed(seed + 2)
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        projection_dim=TINY_HIDDEN,
    )
    text_encoder = CLIPTextModel(text_config)
    scheduler = PNDMScheduler(**SD1_SCHEDULER)
    models: tuple[Any, ...] = (unet, vae, text_encoder)
    for model in models:
        model.eval()
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


def build_tiny_pipeline(
    seed: int = 0, device: str = "cpu", spectrogram_params: SpectrogramParams | None = None
) -> SonogenPipeline:
    """A :class:`~sonogen.pipeline.SonogenPipeline` over :func:`build_tiny_components` (fp32).

    ``spectrogram_params`` sets the format it decodes with (v1 defaults: 512 mel bands;
    tests use fewer bands for speed, the image height follows ``num_frequencies``).
    """
    pipe = SonogenPipeline(**build_tiny_components(seed))
    if spectrogram_params is not None:
        pipe.spectrogram_params = spectrogram_params
    return pipe.to(device)


def save_tiny_checkpoint(
    path: str | Path, seed: int = 0, spectrogram_params: SpectrogramParams | None = None
) -> Path:
    """Write the tiny pipeline as a diffusers folder (``model_index.json``, parts, ``spectrogram.json``)."""
    out = Path(path)
    build_tiny_pipeline(seed, spectrogram_params=spectrogram_params).save_pretrained(str(out), safe_serialization=True)
    return out


def save_tiny_single_file(
    path: str | Path, seed: int = 0, spectrogram_params: SpectrogramParams | None = None
) -> Path:
    """Write the tiny pipeline as one sonogen single file (:func:`~sonogen.pipeline.single_file.save_single_file`).

    Keys are ``unet.*``, ``vae.*`` and ``text_encoder.*`` with the configs, tokenizer and
    spectrogram format in the metadata. Original SD 1.x files (LDM keys) are a different
    kind; ``tests/pipeline/test_ldm_single_file.py`` writes a tiny one of those.
    """
    out = Path(path)
    save_single_file(build_tiny_pipeline(seed, spectrogram_params=spectrogram_params), out)
    return out
