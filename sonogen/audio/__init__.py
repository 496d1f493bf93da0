"""Audio I/O and editing: load/save without ffmpeg, resampling, clips, crossfades, loudness."""

from sonogen.audio.io import load_audio, resample, save_audio
from sonogen.audio.ops import (
    crossfade_join,
    cut_clip,
    normalize_loudness,
    normalize_peak,
)

__all__ = [
    "crossfade_join",
    "cut_clip",
    "load_audio",
    "normalize_loudness",
    "normalize_peak",
    "resample",
    "save_audio",
]
