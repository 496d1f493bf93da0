"""Seeded noise and spherical interpolation: the one place random latents come from."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def seeded_noise(
    shape: Sequence[int],
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gaussian noise of ``(len(seeds), *shape)``, one independent stream per seed.

    Drawn in float32 on the CPU from ``torch.Generator().manual_seed(seed)`` and then
    moved, so a seed gives the same noise on every device, dtype and batch size.
    """
    parts = [
        torch.randn(tuple(shape), generator=torch.Generator("cpu").manual_seed(int(s)), dtype=torch.float32)
        for s in seeds
    ]
    return torch.stack(parts).to(device=device, dtype=dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, alpha: float, dot_threshold: float = 0.9995) -> torch.Tensor:
    """Spherical interpolation between same-shaped tensors ``a`` (alpha 0) and ``b`` (alpha 1).

    Falls back to linear interpolation when the two are nearly parallel. ``alpha`` 0 and
    1 return exact copies of the ends.
    """
    if alpha <= 0.0:
        return a.clone()
    if alpha >= 1.0:
        return b.clone()
    a32, b32 = a.double(), b.double()
    dot = torch.sum(a32 * b32) / (torch.linalg.vector_norm(a32) * torch.linalg.vector_norm(b32))
    if torch.abs(dot) > dot_threshold:
        mixed = (1.0 - alpha) * a32 + alpha * b32
    else:
        theta = torch.arccos(dot)
        sin_theta = torch.sin(theta)
        mixed = (torch.sin((1.0 - alpha) * theta) / sin_theta) * a32 + (torch.sin(alpha * theta) / sin_theta) * b32
    return mixed.to(a.dtype)


def lerp(a: torch.Tensor | float, b: torch.Tensor | float, alpha: float) -> torch.Tensor | float:
    """Linear interpolation; alpha 0 and 1 return the ends themselves."""
    if alpha <= 0.0:
        return a
    if alpha >= 1.0:
        return b
    return a * (1.0 - alpha) + b * alpha  # type: ignore[operator]
