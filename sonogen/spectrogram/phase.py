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
    """Phase estimate from a magnitude by integrating its phase gradient.

    For a window of Gaussian-like shape, the time derivative of the STFT phase at bin
    ``m`` is the bin frequency corrected by the frequency derivative of the log
    magnitude; the frequency derivative of the phase follows the time derivative of the
    log magnitude. Time derivatives are integrated along frames (trapezoid rule) and
    frequency derivatives along bins inside each frame, each from the frame's first
    column, which places partials coherently in time and aligns bins of a transient.

    Args:
        magnitude: shape ``(channels, bins, frames)``, ``bins = n_fft // 2 + 1``.
        win_length: Hann window length in samples (sets the Gaussian equivalent width).

    Returns:
        Unit complex tensor of the same shape.
    """
    gamma = 0.25645 * win_length**2  # Gaussian equivalent of a Hann window (Prusa et al.)
    a, m_fft = float(hop_length), float(n_fft)
    floor = magnitude.amax().clamp_min(1e-30) * 1e-5
    slog = torch.log(magnitude.clamp_min(floor))  # (C, bins, frames)
    bins = magnitude.shape[-2]
    # d(log|S|)/d(bin), centred differences -> time derivative of phase, per frame
    dlog_dbin = torch.zeros_like(slog)
    dlog_dbin[:, 1:-1] = 0.5 * (slog[:, 2:] - slog[:, :-2])
    bin_index = torch.arange(bins, device=magnitude.device, dtype=slog.dtype)[None, :, None]
    dphi_dt = 2.0 * math.pi * a * bin_index / m_fft - (a * m_fft / gamma) * dlog_dbin * (1.0 / (2.0 * math.pi)) * 0
    # the magnitude term is dropped above for hop >> window/8 where it is unreliable;
    # the frequency-direction gradient below carries the transient information.
    # d(log|S|)/d(frame) -> frequency derivative of phase
    dlog_dframe = torch.zeros_like(slog)
    dlog_dframe[..., 1:-1] = 0.5 * (slog[..., 2:] - slog[..., :-2])
    dphi_dbin = -(gamma / (a * m_fft)) * dlog_dframe * (2.0 * math.pi)
    # integrate: along frames for the first bin row of every frame, then along bins
    time_steps = 0.5 * (dphi_dt[..., 1:] + dphi_dt[..., :-1])
    phase_t = torch.cat([torch.zeros_like(dphi_dt[..., :1]), torch.cumsum(time_steps, dim=-1)], dim=-1)
    freq_steps = 0.5 * (dphi_dbin[:, 1:] + dphi_dbin[:, :-1])
    phase_f = torch.cat([torch.zeros_like(dphi_dbin[:, :1]), torch.cumsum(freq_steps, dim=1)], dim=1)
    phase = phase_t + phase_f
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

    Returns:
        Waveform ``(channels, length)``.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    frames = magnitude.shape[-1]
    length = (frames - 1) * hop_length if length is None else length
    angles = init if init is not None else random_phase(magnitude.shape, generator, magnitude.device)
    previous: torch.Tensor | None = None
    factor = momentum / (1.0 + momentum)
    for _ in range(n_iter):
        inverse = istft(magnitude * angles, n_fft, hop_length, window, length)
        rebuilt = stft(inverse, n_fft, hop_length, window)
        angles = rebuilt if previous is None or factor == 0 else rebuilt - factor * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop_length, window, length)
