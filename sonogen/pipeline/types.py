"""Inputs and outputs of the pipeline (plain dataclasses) and the checks of an interpolation request."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams

if TYPE_CHECKING:
    import torch

#: What a pipeline call makes (diffusers' ``output_type``): ``"latent"`` the denoised
#: latents only (no VAE decode, no phase reconstruction); ``"pil"`` the spectrogram
#: images (no phase reconstruction); ``"audio"`` the images and their waveforms.
OutputType = Literal["latent", "pil", "audio"]
OUTPUT_TYPES: tuple[str, ...] = ("latent", "pil", "audio")


@dataclass
class PromptInput:
    """One end of an interpolation, as the Riffusion API's ``start``/``end`` objects.

    Attributes:
        prompt: text, with optional ``(word:1.5)`` weights.
        seed: noise seed.
        negative_prompt: text to steer away from (None: unconditional).
        denoising: img2img strength in [0, 1] (1 ignores the seed image).
        guidance: classifier-free guidance scale.
    """

    prompt: str
    seed: int = 0
    negative_prompt: str | None = None
    denoising: float = 0.75
    guidance: float = 7.0


@dataclass
class InferenceInput:
    """One ``/run_inference`` request: two ends, ``alpha`` in [0, 1] and built-in image ids."""

    start: PromptInput
    end: PromptInput
    alpha: float
    num_inference_steps: int | None = None  # None: the pipeline's default_steps
    seed_image_id: str = "og_beat"
    mask_image_id: str | None = None


def check_alpha(alpha: float) -> None:
    """Refuse an interpolation position outside [0, 1] (or NaN)."""
    if not 0.0 <= alpha <= 1.0 or math.isnan(alpha):
        raise SonogenError(f"alpha must be in [0, 1], got {alpha}")


def interpolation_texts(start: PromptInput, end: PromptInput) -> list[str]:
    """The four texts an interpolation encodes: both prompts, then both negative prompts."""
    return [start.prompt, end.prompt, start.negative_prompt or "", end.negative_prompt or ""]


@dataclass
class SonogenOutput:
    """What a pipeline call returns; what is filled depends on its ``output_type``.

    Attributes:
        images: spectrogram images (RGB, ``params.num_frequencies`` high, EXIF attached);
            empty for ``output_type="latent"``.
        waveforms: one ``(channels, samples)`` float32 array per image, peak-normalised;
            empty unless ``output_type="audio"`` (the default).
        sample_rate: rate of the waveforms in Hz.
        params: the spectrogram format used to decode.
        seeds: the seed behind each image.
        latents: the denoised float32 latents ``(B, C, h, w)`` for ``output_type="latent"``
            (``pipe.decode_latents`` turns them into pixels), else None.
    """

    images: list[Image.Image]
    waveforms: list[np.ndarray]
    sample_rate: int
    params: SpectrogramParams
    seeds: list[int] = field(default_factory=list)
    latents: torch.Tensor | None = None

    def item(self, index: int) -> SonogenOutput:
        """A one-item output holding item ``index`` of each filled field."""

        def pick(values: Any) -> Any:
            return values[index : index + 1] if values is not None and len(values) else values

        return SonogenOutput(
            pick(self.images), pick(self.waveforms), self.sample_rate, self.params, pick(self.seeds), pick(self.latents)
        )
