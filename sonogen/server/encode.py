"""Turning pipeline outputs into HTTP payloads: encoded audio, pictures, data URIs."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from sonogen.audio.io import encode_audio
from sonogen.server.schemas import MEDIA_TYPES


def data_uri(payload: bytes, media_type: str) -> str:
    """``data:<media_type>;base64,<payload>``."""
    return f"data:{media_type};base64,{base64.b64encode(payload).decode('ascii')}"


def encode_image(image: Image.Image, fmt: str = "png") -> bytes:
    """Encode a PIL image as ``png`` (keeps EXIF) or ``jpeg`` (RGB, quality 90)."""
    buffer = io.BytesIO()
    exif = image.info.get("exif") or image.getexif()
    if fmt == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=90, exif=exif)
    elif fmt == "png":
        image.save(buffer, format="PNG", exif=exif)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buffer.getvalue()


@dataclass(frozen=True)
class EncodedClip:
    """One clip ready to send.

    Attributes:
        audio: encoded audio bytes in ``audio_format``.
        image: encoded spectrogram picture in ``image_format``.
        duration_s: clip length in seconds.
        sample_rate: audio rate in Hz.
    """

    audio: bytes
    audio_format: str
    image: bytes
    image_format: str
    duration_s: float
    sample_rate: int

    @property
    def audio_uri(self) -> str:
        return data_uri(self.audio, MEDIA_TYPES[self.audio_format])

    @property
    def image_uri(self) -> str:
        return data_uri(self.image, MEDIA_TYPES[self.image_format])


def encode_clip(
    wave: np.ndarray,
    sample_rate: int,
    image: Image.Image,
    audio_format: str = "mp3",
    image_format: str = "png",
) -> EncodedClip:
    """Encode a ``(channels, samples)`` float waveform and its spectrogram picture."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    return EncodedClip(
        audio=encode_audio(wave, int(sample_rate), audio_format),
        audio_format=audio_format,
        image=encode_image(image, image_format),
        image_format=image_format,
        duration_s=round(wave.shape[-1] / float(sample_rate), 4),
        sample_rate=int(sample_rate),
    )


def encode_output(output: Any, audio_format: str, image_format: str, index: int = 0) -> EncodedClip:
    """Encode item ``index`` of a ``SonogenOutput`` (images, waveforms, sample_rate)."""
    return encode_clip(output.waveforms[index], output.sample_rate, output.images[index], audio_format, image_format)
