"""sonogen: Riffusion-style music generation with spectrogram diffusion."""

from sonogen.errors import SonogenError

__version__ = "0.1.0"

__all__ = ["SonogenError", "__version__"]
