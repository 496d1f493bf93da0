"""Quality measures for reconstructed audio."""

from __future__ import annotations

import torch

from sonogen.spectrogram.converter import SpectrogramConverter


def spectral_convergence(target: torch.Tensor, wave: torch.Tensor, reference: SpectrogramConverter) -> float:
    """Scale-invariant mel-domain spectral convergence of ``wave`` against ``target``.

    ``||M - c * mel(y)||_F / ||M||_F`` with the least-squares scale ``c`` (output audio is
    normalised, so its level carries no information).

    Args:
        target: mel magnitude ``(channels, bands, frames)``.
        wave: waveform ``(channels, samples)`` at the format's rate.
        reference: converter whose (exact, format-defined) analysis measures ``wave``.
    """
    mel = reference.spectrogram_from_waveform(wave.cpu())[..., : target.shape[-1]]
    target = target.cpu()[..., : mel.shape[-1]]
    scale = (mel * target).sum() / (mel * mel).sum().clamp_min(1e-30)
    return float((target - scale * mel).norm() / target.norm().clamp_min(1e-30))
