"""What the worker runs for each endpoint, and the CPU work around it.

Functions here build :class:`~sonogen.server.engine.Job` objects (or the callables they
run with the pipeline) from validated request models, and do the non-model work
(decoding uploads, encoding answers) that request handlers run in the thread pool so the
model thread only runs the model.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sonogen.audio.io import load_audio
from sonogen.errors import SonogenError
from sonogen.pipeline.longform import generate_long
from sonogen.pipeline.seeds import SEED_IMAGE_IDS, get_mask_image, get_seed_image
from sonogen.pipeline.types import InferenceInput, PromptInput
from sonogen.server.batching import batch_key
from sonogen.server.encode import EncodedClip, encode_output
from sonogen.server.engine import Job
from sonogen.server.schemas import (
    MIN_CLIP_S,
    GenerateIn,
    InferenceIn,
    LongIn,
    PromptIn,
    TransformIn,
)
from sonogen.spectrogram.converter import get_converter
from sonogen.spectrogram.params import SpectrogramParams

#: Image width step for pipelines that do not say (SD 1.x's 8x VAE).
WIDTH_STEP = 8
#: Steps and guidance of a pipeline that names none (the pipeline's own fallbacks).
FALLBACK_STEPS = 50
FALLBACK_GUIDANCE = 7.0


def default_steps(pipe: Any) -> int:
    """The model's recommended denoising steps (its ``sampling.json``; 50 when it names none)."""
    value = getattr(pipe, "default_steps", None)
    return int(value) if isinstance(value, int | float) and value >= 1 else FALLBACK_STEPS


def default_guidance(pipe: Any) -> float:
    """The model's recommended guidance scale (its ``sampling.json``; 7 when it names none)."""
    value = getattr(pipe, "default_guidance", None)
    return float(value) if isinstance(value, int | float) else FALLBACK_GUIDANCE


def resolve_steps(pipe: Any, asked: int | None, cap: int | None) -> int:
    """The steps a clip is really drawn with: those asked for (else the model's), at most ``cap``."""
    steps = asked if asked is not None else default_steps(pipe)
    return min(steps, cap) if cap is not None else steps


def resolve_guidance(pipe: Any, asked: float | None) -> float:
    """The guidance a clip is really drawn with: the one asked for, else the model's."""
    return float(asked) if asked is not None else default_guidance(pipe)


def clip_step_s(pipe: Any) -> float:
    """Clip lengths are whole multiples of this many seconds (one latent column)."""
    return float(pipeline_params(pipe).seconds_for_width(width_step(pipe)))


def width_step(pipe: Any) -> int:
    """Pixels per latent column: image widths are multiples of it (the VAE's factor: 8, or 16...)."""
    step = getattr(pipe, "vae_scale_factor", WIDTH_STEP)
    return int(step) if isinstance(step, int) and step > 0 else WIDTH_STEP


def pipeline_params(pipe: Any) -> Any:
    """The pipeline's ``SpectrogramParams`` (v1 defaults when it does not say)."""
    for name in ("spectrogram_params", "params"):
        value = getattr(pipe, name, None)
        if value is not None and hasattr(value, "width_for_seconds"):
            return value
    return SpectrogramParams()


def width_for(pipe: Any, seconds: float | None) -> int:
    """Image width (pixels, a multiple of the VAE factor, at least one step) for ``seconds`` (None: 512)."""
    if seconds is None:
        return 512
    step = width_step(pipe)
    width = int(pipeline_params(pipe).width_for_seconds(seconds))
    return max(step, int(round(width / step)) * step)


def _prompt_input(p: PromptIn) -> Any:
    return PromptInput(
        prompt=p.prompt,
        seed=p.seed,
        negative_prompt=p.negative_prompt,
        denoising=float(p.denoising),
        guidance=float(p.guidance),
    )


def inference_job(body: InferenceIn) -> Job:
    """A batchable job for one ``/run_inference/``-style request."""
    item = InferenceInput(
        start=_prompt_input(body.start),
        end=_prompt_input(body.end),
        alpha=float(body.alpha),
        num_inference_steps=body.num_inference_steps,
        seed_image_id=body.seed_image_id,
        mask_image_id=body.mask_image_id,
    )
    return Job(item=item, batch_key=batch_key(item))


def encode_first(output: Any, audio_format: str, image_format: str) -> EncodedClip:
    """Encode the first clip of a ``SonogenOutput``."""
    return encode_output(output, audio_format, image_format, 0)


def generate_fn(body: GenerateIn) -> Callable[[Any], Any]:
    """The worker callable for ``/v1/generate``."""

    def run(pipe: Any) -> Any:
        params = pipeline_params(pipe)
        width = width_for(pipe, body.duration_s)
        init_image = mask_image = None
        if body.seed_image_id is not None or body.mask_image_id is not None:
            init_image = get_seed_image(body.seed_image_id or "og_beat", width=width, params=params)
        if body.mask_image_id is not None:
            mask_image = get_mask_image(body.mask_image_id, width=width, height=params.num_frequencies)
        return sample(
            pipe, body, width=width, init_image=init_image, strength=float(body.denoising),
            mask_image=mask_image, loop=body.loop,
        )

    return run


def sample(pipe: Any, body: GenerateIn | TransformIn, **image: Any) -> Any:
    """``pipe`` called with the request's prompt and sampling fields (seed, negative prompt,
    steps, guidance; steps and guidance the model's when None); ``image``: the call's
    ``width``, ``init_image``, ``strength``, ``mask_image``, ``loop``."""
    return pipe(
        body.prompt,
        negative_prompt=body.negative_prompt,
        seed=body.seed,
        num_inference_steps=body.num_inference_steps,
        guidance_scale=body.guidance,
        progress=False,
        **image,
    )


def upload_to_image(pipe: Any, data: bytes, offset_s: float, duration_s: float | None, max_s: float) -> Any:
    """Decode uploaded audio bytes and draw the clip's spectrogram for img2img.

    The clip starts ``offset_s`` seconds in and lasts ``duration_s`` (default: the rest,
    at most ``max_s``); its width is cut down to a multiple of 8 pixels.

    Raises:
        SonogenError: undecodable audio, or nothing left after ``offset_s``.
    """
    params = pipeline_params(pipe)
    wave, rate = load_audio(data, params.sample_rate)
    start = int(round(offset_s * rate))
    if start >= wave.shape[-1]:
        total = wave.shape[-1] / rate
        raise SonogenError(f"offset_s {offset_s} is past the end of the upload ({total:.2f} s)")
    length = wave.shape[-1] - start
    limit = duration_s if duration_s is not None else max_s
    length = min(length, int(round(min(limit, max_s) * rate)))
    clip = np.ascontiguousarray(wave[:, start : start + length])
    step = width_step(pipe)
    columns = max(step, params.width_for_seconds(MIN_CLIP_S))  # fewer cannot be rebuilt into sound
    if clip.shape[-1] < params.samples_for_width(columns + step):
        shortest = params.samples_for_width(columns + step) / params.sample_rate
        raise SonogenError(f"the uploaded audio is too short: send at least {shortest:.2f} s after offset_s")
    image = get_converter(params).audio_to_image(clip, rate)
    width = (image.width // step) * step
    return image.crop((0, 0, width, image.height))


def transform_fn(init_image: Any, body: TransformIn) -> Callable[[Any], Any]:
    """The worker callable for ``/v1/transform`` (img2img from the upload's spectrogram)."""

    def run(pipe: Any) -> Any:
        return sample(pipe, body, width=init_image.width, init_image=init_image, strength=float(body.strength))

    return run


@dataclass
class LongPiece:
    """What ``/v1/long`` and ``/v1/transform-song`` make: one long waveform and its (wide)
    spectrogram picture.

    Shaped like a one-item ``SonogenOutput`` so the same encoder serves it.
    """

    images: list[Any]
    waveforms: list[np.ndarray]
    sample_rate: int

    @classmethod
    def of(cls, pipe: Any, wave: np.ndarray, rate: int) -> LongPiece:
        """``wave`` at ``rate`` with the spectrogram picture drawn in the pipeline's format."""
        return cls([get_converter(pipeline_params(pipe)).audio_to_image(wave, rate)], [wave], int(rate))


def long_fn(body: LongIn) -> Callable[[Any], Any]:
    """The worker callable for ``/v1/long``: ``generate_long`` over equal-length segments."""

    def run(pipe: Any) -> LongPiece:
        assert body.duration_s is not None, "the route sets the piece's length"
        each = body.duration_s / len(body.prompts)
        wave, rate = generate_long(
            pipe,
            [(prompt, each) for prompt in body.prompts],
            negative_prompt=body.negative_prompt,
            seed=body.seed,
            num_inference_steps=body.num_inference_steps,
            guidance_scale=body.guidance,
            transition_s=min(5.0, each),
            progress=False,
        )
        return LongPiece.of(pipe, wave, rate)

    return run


def builtin_image_png(image_id: str) -> bytes:
    """PNG bytes of a built-in seed or mask image (id already validated)."""
    image = get_seed_image(image_id) if image_id in SEED_IMAGE_IDS else get_mask_image(image_id)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
