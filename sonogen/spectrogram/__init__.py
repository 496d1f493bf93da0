"""The Riffusion spectrogram image format: parameters, mel filterbank, image mapping,
phase reconstruction and the audio <-> image converter."""

from sonogen.spectrogram.converter import SpectrogramConverter
from sonogen.spectrogram.params import SpectrogramParams

__all__ = ["SpectrogramConverter", "SpectrogramParams"]
