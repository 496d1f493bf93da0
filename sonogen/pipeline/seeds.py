"""Built-in seed images and masks, made by sonogen itself.

Seed images are spectrograms of short loops synthesised with numpy by
:mod:`sonogen.audio.demo` (drums, riffs, pads; fixed random generators, so they are
identical everywhere) and converted with the foundation converter. Masks are drawn from their names: white repaints, black keeps.
Both are cached in memory. An id is only ever a dictionary key, never part of a path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

from sonogen.audio.demo import RATE, SEED_SOURCES
from sonogen.audio.io import resample
from sonogen.errors import SonogenError
from sonogen.spectrogram.converter import get_converter
from sonogen.spectrogram.params import SpectrogramParams

#: Seed image ids of the Riffusion web app.
SEED_IMAGE_IDS: tuple[str, ...] = tuple(SEED_SOURCES)


def seed_audio(seed_id: str, width: int = 512, params: SpectrogramParams | None = None) -> tuple[np.ndarray, int]:
    """The synthesised loop behind a seed id: ``(1, samples)`` float32 at ``params.sample_rate``,
    exactly long enough for an image ``width`` columns wide."""
    make = SEED_SOURCES.get(seed_id) if isinstance(seed_id, str) else None
    if make is None:
        raise SonogenError(f"unknown seed image id {seed_id!r}; choose one of {', '.join(SEED_IMAGE_IDS)}")
    params = params or SpectrogramParams()
    seconds = params.samples_for_width(width) / params.sample_rate
    wave = make(seconds)
    wave32 = (0.9 * wave / max(float(np.abs(wave).max()), 1e-9)).astype(np.float32)[None]
    if params.sample_rate != RATE:
        wave32 = resample(wave32, RATE, params.sample_rate)
    samples = params.samples_for_width(width)
    out = np.zeros((1, samples), dtype=np.float32)
    out[:, : min(samples, wave32.shape[1])] = wave32[:, :samples]
    return out, params.sample_rate


@functools.lru_cache(maxsize=64)
def _seed_image(seed_id: str, width: int, params: SpectrogramParams) -> Image.Image:
    wave, rate = seed_audio(seed_id, width, params)
    image = get_converter(params).audio_to_image(wave, rate)
    if image.width != width:  # guard: the converter makes 1 + samples // hop columns
        image = image.crop((0, 0, width, image.height))
    return image


def get_seed_image(seed_id: str, width: int = 512, params: SpectrogramParams | None = None) -> Image.Image:
    """The built-in seed spectrogram ``seed_id`` (RGB, EXIF-tagged), ``width`` columns wide."""
    _check_width(width)
    if not isinstance(seed_id, str) or seed_id not in SEED_SOURCES:
        raise SonogenError(f"unknown seed image id {seed_id!r}; choose one of {', '.join(SEED_IMAGE_IDS)}")
    return _seed_image(seed_id, int(width), params or SpectrogramParams()).copy()


# ---------------------------------------------------------------------- masks
def _rows(height: int) -> np.ndarray:
    """Row position from 0 (top) to 1 (bottom), ``(height, 1)``."""
    return (np.arange(height, dtype=np.float64)[:, None] + 0.5) / height


def _mask_beat_lines(width: int, height: int) -> np.ndarray:
    """Vertical lines at 80% white on each beat at 120 bpm (every 0.5 s = 50 columns), 8 columns wide."""
    cols = np.arange(width)
    lines = (cols % 50) < 8
    return np.repeat((0.8 * lines)[None, :], height, axis=0)


def _gradient(top: float, bottom: float, stop: float = 1.0) -> Callable[[int, int], np.ndarray]:
    def draw(width: int, height: int) -> np.ndarray:
        pos = np.clip(_rows(height) / stop, 0.0, 1.0)
        values = np.where(_rows(height) <= stop, top + (bottom - top) * pos, bottom)
        return np.repeat(values, width, axis=1)

    return draw


def _band(fraction: float, level: float) -> Callable[[int, int], np.ndarray]:
    def draw(width: int, height: int) -> np.ndarray:
        return np.repeat(np.where(_rows(height) <= fraction, level, 0.0), width, axis=1)

    return draw


MASK_SOURCES: dict[str, Callable[[int, int], np.ndarray]] = {
    # lines on the beat: repaint thin slices in time, keep the rest
    "mask_beat_lines_80": _mask_beat_lines,
    # a dark vertical gradient: repaint at most half, more at the top (high frequencies)
    "mask_gradient_dark": _gradient(0.5, 0.0),
    # 70% at the top fading to 0 at the bottom
    "mask_gradient_top_70": _gradient(0.7, 0.0),
    # 75% at the top fading to 0 by a fifth of the way down
    "mask_gradient_top_fifth_75": _gradient(0.75, 0.0, stop=0.2),
    # top third repainted at 75% / 95%, the rest kept
    "mask_top_third_75": _band(1.0 / 3.0, 0.75),
    "mask_top_third_95": _band(1.0 / 3.0, 0.95),
}
#: Mask ids of the Riffusion web app.
MASK_IMAGE_IDS: tuple[str, ...] = tuple(MASK_SOURCES)


@functools.lru_cache(maxsize=64)
def _mask_image(mask_id: str, width: int, height: int) -> Image.Image:
    values = MASK_SOURCES[mask_id](width, height)
    return Image.fromarray(np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8), mode="L")


def get_mask_image(mask_id: str, width: int = 512, height: int = 512) -> Image.Image:
    """The built-in mask ``mask_id`` (greyscale "L": 255 repaints, 0 keeps), ``width`` x ``height``."""
    _check_width(width)
    if not isinstance(mask_id, str) or mask_id not in MASK_SOURCES:
        raise SonogenError(f"unknown mask image id {mask_id!r}; choose one of {', '.join(MASK_IMAGE_IDS)}")
    return _mask_image(mask_id, int(width), int(height)).copy()


def _check_width(width: int) -> None:
    if not isinstance(width, (int, np.integer)) or not 8 <= width <= 8192:
        raise SonogenError(f"width must be a whole number of columns in [8, 8192], got {width!r}")
