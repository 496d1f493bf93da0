"""Mel spectrogram <-> spectrogram image mapping (Riffusion format)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams


def spectrogram_to_pixels(mel: np.ndarray | torch.Tensor, power: float, max_value: float | None = None) -> tuple[np.ndarray, float]:
    """Grey levels of a mel spectrogram, before flipping and channel packing.

    Args:
        mel: non-negative mel magnitude, shape ``(channels, bands, frames)``.
        power: ``power_for_image`` contrast exponent.
        max_value: peak used for normalisation; the maximum of ``mel`` when None.

    Returns:
        ``(pixels, max_value)``: uint8 array ``(channels, bands, frames)`` where loud
        is dark (0) and silence white (255), and the peak used.
    """
    data = mel.detach().cpu().double().numpy() if isinstance(mel, torch.Tensor) else np.asarray(mel, np.float64)
    peak = float(data.max()) if max_value is None else float(max_value)
    if not np.isfinite(peak) or peak <= 0:
        peak = 1.0  # silent input: an all-white image
    scaled = np.power(np.clip(data / peak, 0.0, None), power) * 255.0
    pixels = np.clip(255.0 - scaled, 0, 255).astype(np.uint8)  # truncation, as the original
    return pixels, peak


def spectrogram_to_image(
    mel: np.ndarray | torch.Tensor, params: SpectrogramParams, max_value: float | None = None
) -> Image.Image:
    """RGB spectrogram image with the parameters in its EXIF block.

    Args:
        mel: mel magnitude, shape ``(channels, bands, frames)``; 1 channel for mono,
            2 (left, right) for stereo.
        params: format parameters (stored in EXIF).

    Returns:
        PIL RGB image of size ``(frames, bands)``; top row is the highest band.
        Mono fills R, G and B with the same plane; stereo puts left in G, right in B
        and zeros in R.
    """
    pixels, peak = spectrogram_to_pixels(mel, params.power_for_image, max_value)
    pixels = pixels[:, ::-1, :]  # top row = highest band
    if pixels.shape[0] == 1:
        rgb = np.repeat(pixels, 3, axis=0)
    elif pixels.shape[0] == 2:
        rgb = np.stack([np.zeros_like(pixels[0]), pixels[0], pixels[1]])
    else:
        raise SonogenError(f"a spectrogram image holds 1 or 2 channels, got {pixels.shape[0]}")
    image = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0)), mode="RGB")
    _attach_exif(image, params, peak)
    return image


def pixels_to_image(pixels: torch.Tensor, params: SpectrogramParams, max_value: float) -> Image.Image:
    """A drawn spectrogram ``(3, H, W)`` in [0, 1] as an RGB image with the format in its EXIF.

    ``max_value`` is the peak the image's grey levels stand for (the model's images use a
    fixed one).
    """
    array = (pixels.permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    image = Image.fromarray(array, mode="RGB")
    _attach_exif(image, params, max_value)
    return image


def _attach_exif(image: Image.Image, params: SpectrogramParams, peak: float) -> None:
    """Make ``image.getexif()`` return the parameters, so saving with ``exif=`` is not needed."""
    exif = image.getexif()
    for tag, value in params.to_exif_dict(peak).items():
        exif[tag] = value


def image_to_spectrogram(image: Image.Image, params: SpectrogramParams, max_value: float) -> torch.Tensor:
    """Mel magnitude from a spectrogram image.

    Args:
        image: spectrogram image, height ``params.num_frequencies``.
        params: format parameters (stereo decides which planes are read).
        max_value: the peak to scale by (the ``max_value`` EXIF tag).

    Returns:
        float32 tensor ``(channels, bands, frames)``, bands from lowest to highest.
    """
    if image.height != params.num_frequencies:
        raise SonogenError(
            f"image is {image.height} pixels high but the parameters say {params.num_frequencies} "
            "mel bands; resize it or pass matching parameters"
        )
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64).transpose(2, 0, 1)  # (3, bands, frames)
    if params.stereo:
        data = rgb[1:3]
    elif _is_stereo_packed(rgb):
        data = rgb[1:3].mean(axis=0, keepdims=True)
    else:
        data = rgb.mean(axis=0, keepdims=True)  # model images have three nearly equal planes
    data = data[:, ::-1, :]
    mel = np.power((255.0 - data) / 255.0, 1.0 / params.power_for_image) * max_value
    return torch.from_numpy(np.ascontiguousarray(mel)).float()


def _is_stereo_packed(rgb: np.ndarray) -> bool:
    """True when R is all zero (white would be 255) while G/B carry content: a stereo image."""
    return bool(rgb[0].max() == 0 and (rgb[1].min() < 255 or rgb[2].min() < 255) and rgb[1:].max() > 0)


def save_image(image: Image.Image, path: str, fmt: str | None = None) -> None:
    """Save ``image`` with its EXIF block (PNG, JPEG or WebP by extension or ``fmt``)."""
    image.save(path, format=fmt, exif=image.getexif())


def load_image(path: str) -> Image.Image:
    """Open an image file fully (EXIF included) with a clear error when it is not one."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise SonogenError(f"image file not found: {path}")
    if p.is_dir():
        raise SonogenError(f"expected an image file but got a folder: {path}")
    try:
        with Image.open(p) as handle:
            handle.load()
            image = handle.copy()
            exif = handle.getexif()
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SonogenError(f"cannot read image {path}: {detail}") from None
    target = image.getexif()
    for tag, value in exif.items():
        target[tag] = value
    return image
