"""Built-in seed images and masks, made by sonogen itself.

Seed images are spectrograms of short loops synthesised here with numpy (drums, riffs,
pads; fixed random generators, so they are identical everywhere) and converted with the
foundation converter. Masks are drawn from their names: white repaints, black keeps.
Both are cached in memory. An id is only ever a dictionary key, never part of a path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams

RATE = 44100


# ---------------------------------------------------------------------- instruments
def _time(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * RATE)), dtype=np.float64) / RATE


def kick(seconds: float = 0.35) -> np.ndarray:
    """A sine whose pitch falls from 150 to 45 Hz under a fast decay."""
    t = _time(seconds)
    freq = 45.0 + 105.0 * np.exp(-t * 30.0)
    phase = 2.0 * np.pi * np.cumsum(freq) / RATE
    return np.sin(phase) * np.exp(-t * 9.0)


def snare(rng: np.random.Generator, seconds: float = 0.2) -> np.ndarray:
    """Noise with a 190 Hz body, decaying in about 0.1 s."""
    t = _time(seconds)
    body = 0.5 * np.sin(2.0 * np.pi * 190.0 * t) * np.exp(-t * 25.0)
    noise = rng.standard_normal(t.size) * np.exp(-t * 18.0)
    noise = np.diff(noise, prepend=0.0)  # tilt towards the highs
    return 0.6 * body + 0.4 * noise


def hat(rng: np.random.Generator, seconds: float = 0.05) -> np.ndarray:
    """A short burst of high-passed noise."""
    t = _time(seconds)
    noise = np.diff(rng.standard_normal(t.size + 2), n=2)
    return 0.15 * noise * np.exp(-t * 80.0)


def tone(freq: float, seconds: float, partials: tuple[float, ...] = (1.0,), decay: float = 3.0, attack: float = 0.005) -> np.ndarray:
    """A note of harmonic (or given-ratio) partials, amplitude 1/k, exponential decay."""
    t = _time(seconds)
    wave = sum(np.sin(2.0 * np.pi * freq * ratio * t) / (k + 1) for k, ratio in enumerate(partials))
    envelope = np.minimum(t / attack, 1.0) * np.exp(-t * decay)
    return np.asarray(wave) * envelope


def midi(note: float) -> float:
    """Frequency in Hz of a MIDI note number."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
    start = int(round(at_s * RATE))
    if start >= track.size:
        return
    end = min(track.size, start + sound.size)
    track[start:end] += gain * sound[: end - start]


def _beat_grid(seconds: float, bpm: float, per_beat: int) -> list[tuple[int, float]]:
    step = 60.0 / bpm / per_beat
    return [(i, i * step) for i in range(int(seconds / step) + 1)]


# ---------------------------------------------------------------------- the loops
def og_beat(seconds: float) -> np.ndarray:
    """Straight 4/4 drums at 120 bpm: kick on 1 and 3, snare on 2 and 4, eighth hats."""
    rng = np.random.default_rng(1)
    track = np.zeros(_time(seconds).size)
    for i, at in _beat_grid(seconds, 120.0, 2):
        _place(track, hat(rng), at, 0.8)
        if i % 4 == 0:
            _place(track, kick(), at)
        elif i % 4 == 2:
            _place(track, snare(rng), at, 0.8)
    return track


def agile(seconds: float) -> np.ndarray:
    """A quick sixteenth-note minor arpeggio (saw-like) over hats at 140 bpm."""
    rng = np.random.default_rng(2)
    track = np.zeros(_time(seconds).size)
    notes = (57, 60, 64, 69, 67, 64, 60, 62)
    for i, at in _beat_grid(seconds, 140.0, 4):
        _place(track, tone(midi(notes[i % len(notes)]), 0.2, (1, 2, 3, 4, 5), decay=12.0), at, 0.35)
        if i % 2 == 0:
            _place(track, hat(rng), at, 0.6)
        if i % 8 == 0:
            _place(track, kick(), at, 0.8)
    return track


def marim(seconds: float) -> np.ndarray:
    """Marimba-like pentatonic notes (fundamental + 4x partial, fast decay) at 110 bpm."""
    track = np.zeros(_time(seconds).size)
    notes = (72, 74, 76, 79, 81, 79, 76, 74, 69, 72)
    for i, at in _beat_grid(seconds, 110.0, 2):
        _place(track, tone(midi(notes[i % len(notes)]), 0.6, (1.0, 3.93, 9.2), decay=7.0), at, 0.45)
    return track


def motorway(seconds: float) -> np.ndarray:
    """A driving octave bass riff (square-like) with four-on-the-floor kicks at 128 bpm."""
    rng = np.random.default_rng(4)
    track = np.zeros(_time(seconds).size)
    bass = (40, 52, 40, 52, 43, 55, 38, 50)
    for i, at in _beat_grid(seconds, 128.0, 2):
        _place(track, tone(midi(bass[i % len(bass)]), 0.22, (1, 3, 5, 7), decay=6.0), at, 0.45)
        if i % 2 == 0:
            _place(track, kick(), at)
        else:
            _place(track, hat(rng), at, 0.7)
    return track


def vibes(seconds: float) -> np.ndarray:
    """Soft seventh-chord pads with a slow attack over a laid-back beat at 90 bpm."""
    rng = np.random.default_rng(5)
    track = np.zeros(_time(seconds).size)
    chords = ((62, 65, 69, 72), (55, 59, 62, 65), (60, 64, 67, 71))
    bar = 4 * 60.0 / 90.0
    for c in range(int(seconds / bar) + 2):
        for note in chords[c % len(chords)]:
            _place(track, tone(midi(note), bar, (1, 2), decay=0.8, attack=0.15), c * bar, 0.18)
    for i, at in _beat_grid(seconds, 90.0, 1):
        _place(track, kick() if i % 2 == 0 else snare(rng), at, 0.6)
    return track


SEED_SOURCES: dict[str, Callable[[float], np.ndarray]] = {
    "og_beat": og_beat,
    "agile": agile,
    "marim": marim,
    "motorway": motorway,
    "vibes": vibes,
}
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
    from sonogen.audio.io import resample

    wave32 = (0.9 * wave / max(float(np.abs(wave).max()), 1e-9)).astype(np.float32)[None]
    if params.sample_rate != RATE:
        wave32 = resample(wave32, RATE, params.sample_rate)
    samples = params.samples_for_width(width)
    out = np.zeros((1, samples), dtype=np.float32)
    out[:, : min(samples, wave32.shape[1])] = wave32[:, :samples]
    return out, params.sample_rate


@functools.lru_cache(maxsize=64)
def _seed_image(seed_id: str, width: int, params: SpectrogramParams) -> Image.Image:
    from sonogen.spectrogram.converter import get_converter

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
