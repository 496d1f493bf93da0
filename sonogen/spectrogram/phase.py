"""Phase reconstruction: turning a linear STFT magnitude back into a waveform.

Two paths:

* :func:`griffin_lim` - fast Griffin-Lim (Perraudin et al. 2013) with momentum, batched
  over channels, from random or given initial phase.
* :func:`pghi_phase` - a phase estimate from the magnitude alone (phase-gradient
  integration, after Prusa et al. 2017), used as the starting point so that far fewer
  Griffin-Lim iterations reach the same quality.
"""

from __future__ import annotations

import math

import torch
from tqdm import tqdm


def stft(
    waveform: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor
) -> torch.Tensor:
    """Complex one-sided STFT, ``center=True`` with reflect padding, not normalised.

    Args:
        waveform: shape ``(channels, samples)``.
        window: shape ``(win_length,)``; centred in the ``n_fft``-point frame.

    Returns:
        Complex tensor ``(channels, n_fft // 2 + 1, 1 + samples // hop_length)``.
    """
    return torch.stft(
        waveform,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=window.shape[-1],
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )


def istft(
    spec: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor, length: int
) -> torch.Tensor:
    """Inverse of :func:`stft` by weighted overlap-add; returns ``(channels, length)``."""
    return torch.istft(
        spec,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=window.shape[-1],
        window=window,
        center=True,
        normalized=False,
        onesided=True,
        length=length,
    )


def random_phase(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Unit complex numbers with uniform random angles, shape ``shape``."""
    angles = torch.rand(shape, generator=generator, device="cpu", dtype=torch.float32).to(device)
    return torch.polar(torch.ones_like(angles), angles * (2.0 * math.pi))


def pghi_phase(magnitude: torch.Tensor, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    """Phase estimate from a magnitude by integrating its time derivative.

    For a window of Gaussian-like shape (Prusa et al. 2017), the phase of bin ``k``
    advances per frame by the bin's own frequency plus a correction proportional to
    the frequency slope of the log magnitude: a partial between two bins pulls both
    towards its true frequency. The advance is integrated along frames (trapezoid
    rule), which places every partial coherently in time. (Integrating along
    frequency as well, from a fixed bin, is left out: without the full heap-ordered
    integration it gives worse reconstructions.)

    Args:
        magnitude: shape ``(channels, bins, frames)``, ``bins = n_fft // 2 + 1``.
        n_fft: FFT length in samples.
        hop_length: hop in samples.
        win_length: Hann window length in samples (sets the Gaussian equivalent width).

    Returns:
        Unit complex tensor of the same shape.
    """
    gamma = 0.25645 * win_length**2  # time-frequency spread of a Hann window's Gaussian twin
    floor = magnitude.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30) * 1e-5  # per channel
    slog = torch.log(magnitude.clamp_min(floor))  # (C, bins, frames)
    slope = torch.zeros_like(slog)
    slope[:, 1:-1] = 0.5 * (slog[:, 2:] - slog[:, :-2])  # d log|S| / d bin
    bins = torch.arange(magnitude.shape[-2], device=magnitude.device, dtype=slog.dtype)[None, :, None]
    advance = 2.0 * math.pi * hop_length * bins / n_fft + (hop_length * n_fft / gamma) * slope  # rad/frame
    steps = 0.5 * (advance[..., 1:] + advance[..., :-1])
    phase = torch.cat([torch.zeros_like(advance[..., :1]), torch.cumsum(steps, dim=-1)], dim=-1)
    return torch.polar(torch.ones_like(phase), phase)


def griffin_lim(
    magnitude: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    *,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    init: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Fast Griffin-Lim: a waveform whose STFT magnitude approaches ``magnitude``.

    Args:
        magnitude: linear magnitude ``(channels, n_fft // 2 + 1, frames)``.
        window: analysis/synthesis window ``(win_length,)`` on the same device.
        n_iter: projection iterations.
        momentum: FGLA acceleration in [0, 1).
        length: output samples; ``(frames - 1) * hop_length`` when None.
        init: unit complex initial phase of the magnitude's shape; random when None.
        generator: RNG for the random initial phase.
        progress: show a progress bar over the iterations (for long pieces).

    Returns:
        Waveform ``(channels, length)``.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    frames = magnitude.shape[-1]
    length = (frames - 1) * hop_length if length is None else length
    phase = init if init is not None else random_phase(magnitude.shape, generator, magnitude.device)
    spec = magnitude * phase
    previous: torch.Tensor | None = None
    factor = momentum / (1.0 + momentum)
    for _ in tqdm(range(n_iter), desc="phase", unit="iter", disable=not progress):
        rebuilt = stft(istft(spec, n_fft, hop_length, window, length), n_fft, hop_length, window)
        # accelerated projection: step past the new estimate, away from the previous one
        target = rebuilt if previous is None or factor == 0 else previous.mul_(-factor).add_(rebuilt)
        spec = torch.sgn(target).mul_(magnitude)
        previous = rebuilt
    return istft(spec, n_fft, hop_length, window, length)
