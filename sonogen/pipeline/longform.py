"""Long pieces by continuation: repaint the next window while keeping an overlap.

A window is an image ``window`` columns wide whose left ``overlap`` columns are the
spectrogram of the audio so far (kept by an inpainting mask) and whose right part is
repainted. Its audio after the overlap is appended with an equal-power crossfade, so the
given audio is kept sample for sample except its last ``fade_s`` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.pipeline.noise import lerp

#: Image columns per window (one SD 1.x image, ~5.1 s) and columns kept from the past.
WINDOW = 512
OVERLAP = 256


def to_model_channels(wave: np.ndarray, rate: int, params: Any) -> np.ndarray:
    """``(C, S)`` audio at ``rate`` -> the format's rate and channel count, float32."""
    from sonogen.audio.io import resample

    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    if rate != params.sample_rate:
        wave = resample(wave, rate, params.sample_rate)
    channels = 2 if params.stereo else 1
    if wave.shape[0] > channels:
        wave = wave.mean(axis=0, keepdims=True) if channels == 1 else wave[:2]
    elif wave.shape[0] < channels:
        wave = np.repeat(wave, channels, axis=0)
    return np.ascontiguousarray(wave, dtype=np.float32)


def continuation_mask(window: int, overlap: int, height: int) -> Image.Image:
    """Mask ``window`` x ``height``: black (keep) left ``overlap`` columns, white (repaint) after."""
    array = np.full((height, window), 255, dtype=np.uint8)
    array[:, :overlap] = 0
    return Image.fromarray(array, mode="L")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _continue_once(
    pipe: Any,
    wave: np.ndarray,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    guidance: float,
    seed: int,
    num_inference_steps: int,
    strength: float,
    fade: int,
    window: int,
    overlap: int,
) -> np.ndarray:
    """``wave`` (model channels/rate) extended by one window's new part; returns the longer wave."""
    from sonogen.audio.ops import equal_power_curves
    from sonogen.spectrogram.converter import get_converter

    params = pipe.spectrogram_params
    hop = params.hop_length
    keep = (overlap - 1) * hop  # samples of context: an image exactly `overlap` columns wide
    context = wave[:, -keep:] if wave.shape[1] >= keep else np.pad(wave, ((0, 0), (keep - wave.shape[1], 0)))
    context_image = get_converter(params).audio_to_image(context, params.sample_rate)
    init = Image.new("RGB", (window, context_image.height))
    for x in range(0, window, overlap):  # the context, repeated: a rhythmic starting point
        init.paste(context_image, (x, 0))
    mask = continuation_mask(window, overlap, context_image.height)
    noise = pipe.noise([seed], window)
    out = pipe.generate(
        cond,
        uncond,
        noise,
        torch.tensor([float(guidance)]),
        seeds=[seed],
        num_inference_steps=num_inference_steps,
        init_image=init,
        strength=strength,
        mask_image=mask,
        progress=False,
    )
    generated = out.waveforms[0]
    reference = _rms(context)
    level = _rms(generated[:, :keep])
    if reference > 0 and level > 0:
        generated = generated * (reference / level)  # match the level of the kept overlap
    fade = min(fade, keep, wave.shape[1])
    fade_out, fade_in = equal_power_curves(fade)
    joint = wave[:, wave.shape[1] - fade :] * fade_out + generated[:, keep - fade : keep] * fade_in
    return np.concatenate([wave[:, : wave.shape[1] - fade], joint, generated[:, keep:]], axis=1).astype(np.float32)


def extend_audio(
    pipe: Any,
    wave: np.ndarray,
    rate: int,
    prompt: str,
    seconds: float,
    *,
    negative_prompt: str | None = None,
    seed: int = 0,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    strength: float = 1.0,
    fade_s: float = 0.1,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """Continue ``wave`` ``(C, S)`` at ``rate`` to ``seconds`` long, keeping it as the opening.

    Returns ``(wave, sample_rate)`` at the model format's rate and channel count; the first
    ``S - fade_s * rate`` samples equal the input (after conversion to that format).
    Steps and guidance default to the checkpoint's recommended ones.
    """
    num_inference_steps = num_inference_steps or pipe.default_steps
    guidance_scale = pipe.default_guidance if guidance_scale is None else guidance_scale
    params = pipe.spectrogram_params
    source = to_model_channels(wave, rate, params)
    target = int(round(seconds * params.sample_rate))
    have = source.shape[1] / params.sample_rate
    if target <= source.shape[1]:
        raise SonogenError(f"the audio is already {have:.2f} s long; ask for more than that")
    if source.shape[1] < 2 * int(fade_s * params.sample_rate) + params.hop_length:
        raise SonogenError(f"audio to extend is too short ({have:.3f} s)")
    from sonogen.pipeline.prompts import chunks_needed

    chunks = max(chunks_needed(p, pipe.tokenizer, pipe._layout()) for p in (prompt, negative_prompt or ""))
    cond = pipe.encode([prompt], chunks)
    uncond = pipe.encode([negative_prompt or ""], chunks)
    return _grow(
        pipe, source, target, lambda t: (cond, uncond), guidance_scale, seed, num_inference_steps, strength, fade_s, progress
    ), params.sample_rate


def _grow(
    pipe: Any,
    wave: np.ndarray,
    target: int,
    texts_at: Any,
    guidance: float,
    seed: int,
    steps: int,
    strength: float,
    fade_s: float,
    progress: bool,
) -> np.ndarray:
    from tqdm import tqdm

    params = pipe.spectrogram_params
    fade = int(round(fade_s * params.sample_rate))
    per_window = (WINDOW - OVERLAP) * params.hop_length
    windows = int(np.ceil(max(0, target - wave.shape[1]) / per_window))
    with tqdm(total=windows, desc="extend", unit="window", disable=not progress, leave=False) as bar:
        index = 0
        while wave.shape[1] < target:
            cond, uncond = texts_at(wave.shape[1] / params.sample_rate)
            wave = _continue_once(
                pipe, wave, cond, uncond, guidance, seed + 1 + index, steps, strength, fade, WINDOW, OVERLAP
            )
            index += 1
            bar.update()
    return wave[:, :target]


def generate_long(
    pipe: Any,
    segments: str | Sequence[tuple[str, float]],
    seconds: float | None = None,
    *,
    negative_prompt: str | None = None,
    seed: int = 0,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    transition_s: float = 5.0,
    strength: float = 1.0,
    fade_s: float = 0.1,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """Minutes of music from a prompt, or from ``[(prompt, seconds), ...]`` segments.

    The first window is drawn from noise, each later one continues the audio so far.
    Between segments the text embeddings move linearly from one prompt to the next over
    ``transition_s`` seconds centred on the boundary. Returns ``(wave (C, S), rate)``.
    Steps and guidance default to the checkpoint's recommended ones.
    """
    num_inference_steps = num_inference_steps or pipe.default_steps
    guidance_scale = pipe.default_guidance if guidance_scale is None else guidance_scale
    if isinstance(segments, str):
        if not seconds or seconds <= 0:
            raise SonogenError("a single prompt needs a positive length in seconds")
        segments = [(segments, float(seconds))]
    plan = [(str(p), float(s)) for p, s in segments]
    if not plan or any(s <= 0 for _, s in plan):
        raise SonogenError("segments need a prompt and a positive length each")
    params = pipe.spectrogram_params
    total = sum(s for _, s in plan)
    prompts = [p for p, _ in plan] + [negative_prompt or ""]
    layout = pipe._layout()
    from sonogen.pipeline.prompts import chunks_needed

    chunks = max(chunks_needed(p, pipe.tokenizer, layout) for p in prompts)
    states = pipe.encode(prompts, chunks)
    uncond = states[-1:]
    bounds = np.cumsum([s for _, s in plan])

    def texts_at(t: float) -> tuple[torch.Tensor, torch.Tensor]:
        i = int(np.searchsorted(bounds, t, side="right"))
        i = min(i, len(plan) - 1)
        cond = states[i : i + 1]
        if i + 1 < len(plan) and transition_s > 0:
            start = bounds[i] - transition_s / 2
            if t >= start:
                alpha = min(1.0, (t - start) / transition_s)
                cond = lerp(cond, states[i + 1 : i + 2], alpha)  # type: ignore[assignment]
        if i > 0 and transition_s > 0 and t < bounds[i - 1] + transition_s / 2:
            alpha = 0.5 + (t - bounds[i - 1]) / transition_s
            cond = lerp(states[i - 1 : i], cond, min(1.0, alpha))  # type: ignore[assignment]
        return cond, uncond

    first_cond, _ = texts_at(0.0)
    width = WINDOW
    first = pipe.generate(
        first_cond,
        uncond,
        pipe.noise([seed], width),
        torch.tensor([float(guidance_scale)]),
        seeds=[seed],
        num_inference_steps=num_inference_steps,
        progress=progress,
    )
    wave = first.waveforms[0]
    target = int(round(total * params.sample_rate))
    if wave.shape[1] >= target:
        return wave[:, :target], params.sample_rate
    return _grow(
        pipe, wave, target, texts_at, guidance_scale, seed, num_inference_steps, strength, fade_s, progress
    ), params.sample_rate
