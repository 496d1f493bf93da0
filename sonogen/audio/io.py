"""Reading and writing audio files with soundfile (libsndfile: WAV, FLAC, OGG, MP3).

Waveforms are float32 numpy arrays of shape ``(channels, samples)`` in [-1, 1].
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sonogen.errors import SonogenError
from sonogen.utils import atomic_path

#: file extension -> (soundfile format, subtype)
FORMATS: dict[str, tuple[str, str | None]] = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}

AUDIO_EXTENSIONS = tuple(FORMATS) + (".oga", ".aif", ".aiff")


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr VHQ) of ``(channels, samples)`` float audio."""
    if rate_in <= 0 or rate_out <= 0:
        raise SonogenError(f"sample rates must be positive, got {rate_in} and {rate_out}")
    wave = np.asarray(wave, dtype=np.float32)
    if rate_in == rate_out or wave.shape[-1] == 0:
        return wave
    out = soxr.resample(np.ascontiguousarray(wave.T), rate_in, rate_out, quality="VHQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).T.reshape(wave.shape[0], -1))


def load_audio(
    source: str | os.PathLike[str] | bytes,
    sample_rate: int | None = None,
    *,
    mono: bool = False,
) -> tuple[np.ndarray, int]:
    """Decode an audio file (path or bytes) of any rate and channel count.

    Args:
        source: a path or the file's bytes.
        sample_rate: resample to this rate (Hz) when given.
        mono: average the channels into one.

    Returns:
        ``(waveform, rate)`` with waveform float32 ``(channels, samples)``.

    Raises:
        SonogenError: missing file, unreadable or empty audio.
    """
    name = "<upload>" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.exists():
            raise SonogenError(f"audio file not found: {name}")
        if path.is_dir():
            raise SonogenError(f"expected an audio file but got a folder: {name}")
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
        data, rate = sf.read(handle, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types for corrupt input
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SonogenError(f"cannot decode audio {name}: {detail}") from None
    if data.shape[0] == 0:
        raise SonogenError(f"audio {name} holds no samples")
    if not np.all(np.isfinite(data)):
        raise SonogenError(f"audio {name} holds non-finite samples")
    wave = np.ascontiguousarray(data.T)  # (channels, samples)
    if mono and wave.shape[0] > 1:
        wave = wave.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != rate:
        wave = resample(wave, int(rate), int(sample_rate))
        rate = sample_rate
    return wave, int(rate)


def format_for(path: str | os.PathLike[str]) -> tuple[str, str | None]:
    """soundfile ``(format, subtype)`` for a path's extension, or a clear error."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise SonogenError(f"unsupported audio extension {ext or '(none)'!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[ext]


def _prepare_for_write(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2:
        raise SonogenError(f"expected audio of shape (channels, samples), got {wave.shape}")
    return np.clip(wave, -1.0, 1.0).T  # (samples, channels)


def save_audio(path: str | os.PathLike[str], wave: np.ndarray, sample_rate: int) -> Path:
    """Write ``(channels, samples)`` audio; format from the extension; atomic.

    MP3 and OGG are written at the rate given (MP3 needs 8-48 kHz). The file appears
    only once complete.
    """
    fmt, subtype = format_for(path)
    data = _prepare_for_write(wave)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sample_rate), format=fmt, subtype=subtype)
    return Path(path)


def encode_audio(wave: np.ndarray, sample_rate: int, fmt: str = "mp3") -> bytes:
    """Encode ``(channels, samples)`` audio to bytes in ``fmt`` (mp3, wav, ogg, flac)."""
    sf_format, subtype = format_for(f"x.{fmt.lower().lstrip('.')}")
    buffer = io.BytesIO()
    sf.write(buffer, _prepare_for_write(wave), int(sample_rate), format=sf_format, subtype=subtype)
    return buffer.getvalue()
