"""Spectrogram parameters and their EXIF round trip (format "v1").

The EXIF tags and defaults are those of the public Riffusion model's images; see
``docs/spectrogram-format.md``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PIL import Image

from sonogen.errors import SonogenError

logger = logging.getLogger(__name__)


class ExifTag(IntEnum):
    """Integer EXIF tags under which the parameters are stored."""

    SAMPLE_RATE = 11000
    STEREO = 11005
    STEP_SIZE_MS = 11010
    WINDOW_DURATION_MS = 11020
    PADDED_DURATION_MS = 11030
    NUM_FREQUENCIES = 11040
    MIN_FREQUENCY = 11050
    MAX_FREQUENCY = 11060
    POWER_FOR_IMAGE = 11070
    MAX_VALUE = 11080


_FIELD_TAGS: dict[str, ExifTag] = {
    "sample_rate": ExifTag.SAMPLE_RATE,
    "stereo": ExifTag.STEREO,
    "step_size_ms": ExifTag.STEP_SIZE_MS,
    "window_duration_ms": ExifTag.WINDOW_DURATION_MS,
    "padded_duration_ms": ExifTag.PADDED_DURATION_MS,
    "num_frequencies": ExifTag.NUM_FREQUENCIES,
    "min_frequency": ExifTag.MIN_FREQUENCY,
    "max_frequency": ExifTag.MAX_FREQUENCY,
    "power_for_image": ExifTag.POWER_FOR_IMAGE,
}

#: Stand-in peak for images that carry no ``max_value`` tag (e.g. drawn by the model).
#: Any positive constant works because reconstructed audio is normalised.
DEFAULT_MAX_VALUE = 1.0e7


@dataclass(frozen=True)
class SpectrogramParams:
    """How audio maps to a spectrogram image. Defaults are Riffusion's "v1" format.

    Attributes:
        stereo: two channels (left in G, right in B) instead of one grey plane.
        sample_rate: audio rate in Hz; audio is resampled to it first.
        step_size_ms: hop between STFT frames in ms (one image column).
        window_duration_ms: Hann window length in ms.
        padded_duration_ms: FFT length in ms (window zero-padded and centred).
        num_frequencies: number of mel bands (image height in pixels).
        min_frequency: lowest mel band edge in Hz.
        max_frequency: highest mel band edge in Hz.
        power_for_image: contrast exponent applied to the normalised mel magnitude.
    """

    stereo: bool = False
    sample_rate: int = 44100
    step_size_ms: int = 10
    window_duration_ms: int = 100
    padded_duration_ms: int = 400
    num_frequencies: int = 512
    min_frequency: int = 0
    max_frequency: int = 10000
    power_for_image: float = 0.25

    def __post_init__(self) -> None:
        problems = []
        if not 1000 <= self.sample_rate <= 384000:
            problems.append(f"sample_rate {self.sample_rate} Hz is outside 1000..384000")
        for name in ("step_size_ms", "window_duration_ms", "padded_duration_ms", "num_frequencies"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.padded_duration_ms < self.window_duration_ms:
            problems.append("padded_duration_ms must be at least window_duration_ms")
        if self.min_frequency < 0:
            problems.append(f"min_frequency must be >= 0 Hz, got {self.min_frequency}")
        if self.max_frequency <= self.min_frequency:
            problems.append(
                f"max_frequency ({self.max_frequency} Hz) must be above min_frequency ({self.min_frequency} Hz)"
            )
        if self.max_frequency > self.sample_rate / 2:
            problems.append(
                f"max_frequency {self.max_frequency} Hz is above the Nyquist frequency "
                f"{self.sample_rate / 2:g} Hz of sample_rate {self.sample_rate}"
            )
        if not 0 < self.power_for_image <= 4:
            problems.append(f"power_for_image must be in (0, 4], got {self.power_for_image}")
        if problems:
            raise SonogenError("invalid spectrogram parameters: " + "; ".join(problems))
        if self.hop_length < 1 or self.win_length < 2:
            raise SonogenError("invalid spectrogram parameters: step or window shorter than one sample")

    # Sizes follow from milliseconds by int(ms / 1000 * sample_rate), as in the spec.
    @property
    def hop_length(self) -> int:
        """Samples between frames (441 for v1)."""
        return int(self.step_size_ms / 1000.0 * self.sample_rate)

    @property
    def win_length(self) -> int:
        """Window length in samples (4410 for v1)."""
        return int(self.window_duration_ms / 1000.0 * self.sample_rate)

    @property
    def n_fft(self) -> int:
        """FFT length in samples (17640 for v1)."""
        return int(self.padded_duration_ms / 1000.0 * self.sample_rate)

    @property
    def num_channels(self) -> int:
        """Audio channels the format carries: 2 when stereo, else 1."""
        return 2 if self.stereo else 1

    def frames_for_samples(self, num_samples: int) -> int:
        """Number of STFT frames (image columns) for ``num_samples`` samples."""
        return 1 + num_samples // self.hop_length

    def samples_for_width(self, width: int) -> int:
        """Number of audio samples an image ``width`` pixels wide decodes to."""
        return max(0, (width - 1) * self.hop_length)

    def seconds_for_width(self, width: int) -> float:
        """Duration in seconds of an image ``width`` pixels wide (5.12 s for 512)."""
        return width * self.step_size_ms / 1000.0

    def width_for_seconds(self, seconds: float) -> int:
        """Image width in pixels for ``seconds`` of audio (rounded to a whole column)."""
        return int(round(seconds * 1000.0 / self.step_size_ms))

    def replace(self, **changes: Any) -> SpectrogramParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_exif_dict(self, max_value: float) -> dict[int, int | float]:
        """EXIF tag -> value, including ``max_value`` (the spectrogram's peak)."""
        out: dict[int, int | float] = {}
        for name, tag in _FIELD_TAGS.items():
            value = getattr(self, name)
            out[int(tag)] = float(value) if name == "power_for_image" else int(value)
        out[int(ExifTag.MAX_VALUE)] = float(max_value)
        return out

    def to_exif(self, max_value: float) -> Image.Exif:
        """A PIL EXIF block holding the parameters and ``max_value``."""
        exif = Image.Exif()
        for tag, value in self.to_exif_dict(max_value).items():
            exif[tag] = value
        return exif

    @classmethod
    def from_exif(cls, exif: Any, *, warn: bool = True) -> tuple[SpectrogramParams, float]:
        """Parameters and ``max_value`` read from an EXIF mapping.

        Missing or unreadable tags fall back to the defaults (and ``DEFAULT_MAX_VALUE``)
        with a warning, never to zeros. Returns ``(params, max_value)``.
        """
        defaults = cls()
        kwargs: dict[str, Any] = {}
        missing: list[str] = []
        mapping = exif if exif is not None else {}
        for name, tag in _FIELD_TAGS.items():
            raw = mapping.get(int(tag)) if hasattr(mapping, "get") else None
            value = _coerce(raw, float if name == "power_for_image" else int)
            if value is None:
                missing.append(name)
                value = getattr(defaults, name)
            kwargs[name] = bool(value) if name == "stereo" else value
        raw_max = mapping.get(int(ExifTag.MAX_VALUE)) if hasattr(mapping, "get") else None
        max_value = _coerce(raw_max, float)
        if max_value is None or not max_value > 0:
            missing.append("max_value")
            max_value = DEFAULT_MAX_VALUE
        if missing and warn:
            if len(missing) == len(_FIELD_TAGS) + 1:
                logger.warning("image carries no spectrogram EXIF tags; using the v1 defaults")
            else:
                logger.warning("image EXIF lacks %s; using defaults for them", ", ".join(missing))
        return cls(**kwargs), float(max_value)

    @classmethod
    def from_image(cls, image: Image.Image, *, warn: bool = True) -> tuple[SpectrogramParams, float]:
        """Parameters and ``max_value`` stored in ``image``'s EXIF block."""
        try:
            exif = image.getexif()
        except Exception:  # a malformed EXIF block is treated as missing
            exif = None
        return cls.from_exif(exif, warn=warn)


def _coerce(raw: Any, kind: type) -> Any:
    """``raw`` converted to ``kind``, or None when absent or not a finite number."""
    if raw is None:
        return None
    try:
        if isinstance(raw, tuple) and len(raw) == 2 and raw[1]:  # EXIF rational
            raw = raw[0] / raw[1]
        value = kind(float(raw))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value
