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

from sonogen.audio.io import resample
from sonogen.audio.ops import equal_power_curves
from sonogen.errors import SonogenError
from sonogen.pipeline.noise import lerp
from sonogen.pipeline.types import PromptInput
from sonogen.spectrogram.converter import get_converter

#: Image columns per window (one SD 1.x image, ~5.1 s) and columns kept from the past.
WINDOW = 512
OVERLAP = 256


def to_model_channels(wave: np.ndarray, rate: int, params: Any) -> np.ndarray:
    """``(C, S)`` audio at ``rate`` -> the format's rate and channel count, float32."""
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
    chunks = pipe.chunks_for((prompt, negative_prompt or ""))
    cond = pipe.encode([prompt], chunks)
    uncond = pipe.encode_negative([negative_prompt or ""], chunks)
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
    with tqdm(total=windows, desc="extend", unit="window", disable=not progress) as bar:
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
    chunks = pipe.chunks_for(prompts)
    states = torch.cat([pipe.encode(prompts[:-1], chunks), pipe.encode_negative(prompts[-1:], chunks)])
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


# ---------------------------------------------------------------------- whole songs
def clip_plan(columns: int, clip: int, overlap: int, step: int) -> list[tuple[int, int]]:
    """``(x, width)`` of the clips covering an image ``columns`` wide.

    Clips are ``clip`` columns wide (the last one shorter), start every ``clip - overlap``
    columns and have widths that are multiples of ``step`` (the VAE factor); columns past
    the last multiple of ``step`` are dropped.
    """
    usable = (columns // step) * step
    if usable < step:
        return []
    if not step <= clip or clip % step or not 0 <= overlap < clip:
        raise SonogenError(f"clip width {clip} and overlap {overlap} do not fit the model (multiples of {step})")
    plan: list[tuple[int, int]] = []
    x = 0
    while True:
        width = min(clip, ((usable - x) // step) * step)
        if width < step:
            break
        plan.append((x, width))
        if usable - (x + width) < step:  # what is left is less than a model step
            break
        x += clip - overlap
    return plan


def overlap_join(pieces: Sequence[np.ndarray], offsets: Sequence[int], crossfade: int) -> np.ndarray:
    """Place ``(C, S)`` pieces at sample ``offsets``; each overlaps the one before.

    Within each overlap an equal-power crossfade of ``crossfade`` samples (at most the
    overlap) is centred; before it the earlier piece plays, after it the later one.
    """
    out = np.asarray(pieces[0], dtype=np.float32)
    for piece, offset in zip(pieces[1:], offsets[1:], strict=True):
        piece = np.asarray(piece, dtype=np.float32)
        if offset >= out.shape[1]:  # a gap (should not happen): pad with silence
            out = np.concatenate([out, np.zeros((out.shape[0], offset - out.shape[1]), np.float32), piece], axis=1)
            continue
        overlap = min(out.shape[1] - offset, piece.shape[1])
        n = max(0, min(crossfade, overlap))
        start = offset + (overlap - n) // 2  # where the fade begins, in output samples
        fade_out, fade_in = equal_power_curves(n)
        local = start - offset
        mixed = out[:, start : start + n] * fade_out + piece[:, local : local + n] * fade_in
        out = np.concatenate([out[:, :start], mixed, piece[:, local + n :]], axis=1)
    return out


def transform_long(
    pipe: Any,
    wave: np.ndarray,
    rate: int,
    prompt: str,
    *,
    to_prompt: str | None = None,
    negative_prompt: str | None = None,
    seed: int = 0,
    to_seed: int | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    strength: float = 0.6,
    clip_s: float = 5.12,
    overlap_s: float = 0.2,
    crossfade_s: float | None = None,
    match_level: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """Audio-to-audio on a whole file: overlapping clips, each transformed, crossfaded back.

    The input is cut into clips ``clip_s`` long that overlap by ``overlap_s``; each is
    re-drawn from its spectrogram with ``strength``. With ``to_prompt`` the text moves
    from ``prompt`` (first clip) to ``to_prompt`` (last clip) and the noise from ``seed``
    to ``to_seed`` (default: ``seed``), as Riffusion's interpolation does. Neighbours are
    joined with an equal-power crossfade of ``crossfade_s`` (default: the whole overlap)
    centred in their overlap. With ``match_level`` each clip keeps the loudness of the
    part of the input it replaces (quiet passages stay quiet).

    Returns ``(wave (C, S), rate)`` at the model format's rate and channel count, as long
    as the input (to within one model width step).
    """
    from tqdm import tqdm

    params = pipe.spectrogram_params
    f = pipe.vae_scale_factor
    crossfade_s = overlap_s if crossfade_s is None else crossfade_s
    if clip_s <= 0 or overlap_s < 0 or crossfade_s < 0:
        raise SonogenError("clip length must be positive, overlap and crossfade must be >= 0")
    if crossfade_s > overlap_s:
        raise SonogenError(f"the crossfade ({crossfade_s} s) cannot be longer than the overlap ({overlap_s} s)")
    if overlap_s >= clip_s / 2:
        raise SonogenError(f"the overlap ({overlap_s} s) must be shorter than half a clip ({clip_s} s)")
    if not 0.0 <= strength <= 1.0:
        raise SonogenError(f"strength must be in [0, 1], got {strength}")
    source = to_model_channels(wave, rate, params)
    clip = max(f, int(round(params.width_for_seconds(clip_s) / f)) * f)
    overlap = int(round(params.width_for_seconds(overlap_s)))
    image = get_converter(params).audio_to_image(source, params.sample_rate)
    plan = clip_plan(image.width, clip, min(overlap, clip - f), f)
    if not plan:
        raise SonogenError(f"audio is too short to transform ({source.shape[1] / params.sample_rate:.3f} s)")
    guidance = pipe.default_guidance if guidance_scale is None else float(guidance_scale)
    start = PromptInput(prompt, seed, negative_prompt, strength, guidance)
    end = PromptInput(to_prompt if to_prompt else prompt, seed if to_seed is None else to_seed, negative_prompt, strength, guidance)
    hop = params.hop_length
    pieces, offsets = [], []
    for k, (x, width) in enumerate(tqdm(plan, desc="transform", unit="clip", disable=not progress, leave=False)):
        crop = image.crop((x, 0, x + width, image.height))
        alpha = k / (len(plan) - 1) if (to_prompt and len(plan) > 1) else 0.0
        out = pipe.interpolate(
            start, end, alpha, num_inference_steps=num_inference_steps, init_image=crop, progress=False
        )
        piece = out.waveforms[0]
        if match_level:
            reference = _rms(source[:, x * hop : x * hop + piece.shape[1]])
            level = _rms(piece)
            if level > 0:  # a silent passage stays silent
                piece = piece * (reference / level)
        pieces.append(piece)
        offsets.append(x * hop)
    joined = overlap_join(pieces, offsets, int(round(crossfade_s * params.sample_rate)))
    peak = float(np.abs(joined).max()) if joined.size else 0.0
    if peak > 0.98:
        joined = joined * (0.98 / peak)
    return joined.astype(np.float32), params.sample_rate
