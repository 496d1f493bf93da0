"""The convolutional halves of :class:`~sonogen.models.autoencoder.SpectrogramAutoencoder`.

Plain torch modules (no diffusers), so that a decoder can run where diffusers is not
imported (:mod:`sonogen.lite`). Each level downsamples by its own ``(mel, time)`` stride.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with a skip; a 1x1 conv on the skip when widths differ."""

    def __init__(self, channels_in: int, channels_out: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Down(nn.Module):
    """A strided 3x3 conv: ``(B, C_in, H, W)`` -> ``(B, C_out, H / sh, W / sw)``."""

    def __init__(self, channels_in: int, channels_out: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Up(nn.Module):
    """Nearest-neighbour upsampling by ``(sh, sw)``, then a 3x3 conv to the finer level's width.

    Narrowing in the same conv keeps the cost at the finer grid to ``C_in * C_out``
    instead of ``C_in ** 2``.
    """

    def __init__(self, channels_in: int, channels_out: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels_in, channels_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.stride, mode="nearest"))


def _levels(widths: Sequence[int], layers: Sequence[int], groups: int) -> list[nn.Module]:
    """``layers[i]`` residual blocks at level ``i``, each at its level's width."""
    return [nn.Sequential(*(ResBlock(w, w, groups) for _ in range(n))) for w, n in zip(widths, layers, strict=True)]


class Encoder(nn.Module):
    """Pixels ``(B, in_channels, H, W)`` -> moments ``(B, 2 * latent, H / fh, W / fw)``."""

    def __init__(self, in_channels: int, widths: Sequence[int], strides: Sequence[tuple[int, int]],
                 layers: Sequence[int], latent_channels: int, groups: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.levels = nn.ModuleList(_levels(widths, layers, groups))
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1], strides[i]) for i in range(len(strides)))
        self.mid = ResBlock(widths[-1], widths[-1], groups)
        self.norm_out = nn.GroupNorm(groups, widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], 2 * latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for i, level in enumerate(self.levels):
            h = level(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latents ``(B, latent, h, w)`` -> pixels ``(B, out_channels, h * fh, w * fw)``."""

    def __init__(self, out_channels: int, widths: Sequence[int], strides: Sequence[tuple[int, int]],
                 layers: Sequence[int], latent_channels: int, groups: int) -> None:
        super().__init__()
        self.strides = list(strides)
        self.conv_in = nn.Conv2d(latent_channels, widths[-1], 3, padding=1)
        self.mid = ResBlock(widths[-1], widths[-1], groups)
        rev = list(reversed(widths))
        ups = list(reversed(strides))
        self.levels = nn.ModuleList(_levels(rev, list(reversed(layers)), groups))
        self.ups = nn.ModuleList(Up(rev[i], rev[i + 1], ups[i]) for i in range(len(ups)))
        self.norm_out = nn.GroupNorm(groups, widths[0])
        self.conv_out = nn.Conv2d(widths[0], out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for i, level in enumerate(self.levels):
            h = level(h)
            if i < len(self.ups):
                h = self.ups[i](h)
        return self.conv_out(F.silu(self.norm_out(h)))


def decoder_plan(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`Decoder` arguments of a spectrogram autoencoder's config (its ``config.json``).

    The decoder's widths and block counts default to the encoder's; ``strides`` become
    ``(mel, time)`` pairs.

    Raises:
        ValueError: the lists do not have one entry per level.
    """
    widths = list(config["block_out_channels"])
    strides = [(int(s[0]), int(s[1])) for s in config["strides"]]
    if len(strides) != len(widths) - 1:
        raise ValueError("strides needs one [mel, time] pair per level after the first")
    decoder_widths = list(config.get("decoder_block_out_channels") or widths)
    if len(decoder_widths) != len(widths):
        raise ValueError("decoder_block_out_channels needs one width per level")
    layers = list(config.get("decoder_layers_per_block") or [int(config.get("layers_per_block", 1))] * len(widths))
    if len(layers) != len(widths):
        raise ValueError("decoder_layers_per_block needs one count per level")
    return {"out_channels": int(config.get("in_channels", 1)), "widths": decoder_widths, "strides": strides,
            "layers": layers, "latent_channels": int(config["latent_channels"]),
            "groups": int(config.get("norm_num_groups", 16))}


def tiled_columns(decode: Callable[[torch.Tensor], torch.Tensor], latents: torch.Tensor, tile: int,
                  overlap: int) -> torch.Tensor:
    """``decode(latents)`` done ``tile`` latent columns at a time, for a decoder made for that width.

    With group norms a decoder's statistics depend on the width it sees, so one trained
    on images of a given width shades wider ones differently (darker, by about 10 grey
    levels at twice its width). Tiles of ``tile`` columns overlapping by ``overlap`` are
    decoded alone and joined with linear ramps across each overlap, so no seam shows.

    Args:
        decode: latents ``(B, C, h, w)`` -> pixels ``(B, C', H, w * f)``.
        latents: ``(B, C, h, W)``; at most ``tile`` columns are decoded in one call.
        tile, overlap: latent columns per tile and shared by neighbours (``0 <= overlap < tile``).

    Returns:
        Pixels ``(B, C', H, W * f)``, as ``decode`` returns them.
    """
    width = latents.shape[-1]
    if width <= tile:
        return decode(latents)
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, {tile}), got {overlap}")
    starts = list(range(0, width - tile, tile - overlap)) + [width - tile]
    total: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    for start in starts:
        piece = decode(latents[..., start:start + tile])
        f = piece.shape[-1] // tile
        ramp = torch.ones(tile * f, dtype=piece.dtype, device=piece.device)
        rise = (torch.arange(overlap * f, dtype=piece.dtype, device=piece.device) + 0.5) / max(overlap * f, 1)
        if start > 0 and overlap:
            ramp[: overlap * f] = rise
        if start + tile < width and overlap:
            ramp[tile * f - overlap * f:] = torch.minimum(ramp[tile * f - overlap * f:], rise.flip(0))
        if total is None or weight is None:
            total = piece.new_zeros((*piece.shape[:-1], width * f))
            weight = piece.new_zeros(width * f)
        total[..., start * f:(start + tile) * f] += piece * ramp
        weight[start * f:(start + tile) * f] += ramp
    assert total is not None and weight is not None
    return total / weight


def decode_columns(decode: Callable[[torch.Tensor], torch.Tensor], latents: torch.Tensor,
                   tile: int | None) -> torch.Tensor:
    """``decode(latents)``, in tiles of ``tile`` columns overlapping by a quarter when given
    (:func:`tiled_columns`), whole otherwise."""
    if not tile:
        return decode(latents)
    return tiled_columns(decode, latents, int(tile), int(tile) // 4)
