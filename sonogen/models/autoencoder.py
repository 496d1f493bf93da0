"""An autoencoder for spectrogram images that compresses time harder than frequency.

A spectrogram's music lives along the mel axis: harmonics are thin horizontal lines a
few bands apart, while along time most rows change slowly between onsets. A square 8x or
16x autoencoder (Stable Diffusion's shape) blurs the lines away. This one downsamples
each level by its own ``(mel, time)`` stride, so a 512 x 512 image can become, say, a
64 x 16 grid of 32-channel latents: 8x fewer rows, 32x fewer columns, and channels
that carry the detail the grid drops.

It is a drop-in for diffusers' ``AutoencoderKL`` where sonogen's pipeline uses one:
``encode(pixels).latent_dist`` (a diagonal Gaussian), ``decode(latents).sample``, a
``scaling_factor`` in its config, a ``decoder`` attribute, and ``save_pretrained`` /
``from_pretrained`` folders (config.json + safetensors). Its input and output are the
pipeline's ``(B, 3, H, W)`` images in [-1, 1]; a mono model reads the mean of the three
channels and writes the same picture to all three. It is fully convolutional (no
attention), so it trains on crops and runs on any size that its strides divide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn import functional as F


@dataclass
class EncoderOutput:
    """What :meth:`SpectrogramAutoencoder.encode` returns (as ``AutoencoderKL`` does)."""

    latent_dist: DiagonalGaussianDistribution


@dataclass
class DecoderOutput:
    """What :meth:`SpectrogramAutoencoder.decode` returns: ``sample`` ``(B, 3, H, W)`` in about [-1, 1]."""

    sample: torch.Tensor


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


class SpectrogramAutoencoder(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """A KL autoencoder with a ``(mel, time)`` stride per level.

    Args:
        image_channels: channels of the images it reads and writes (3, as the pipeline's).
        in_channels: channels it models: 1 (mono: the mean of the image channels) or 3.
        block_out_channels: encoder widths per level, fine to coarse.
        decoder_block_out_channels: decoder widths per level, fine to coarse (default:
            the encoder's); a wider decoder draws sharper detail at little training cost.
        strides: ``[mel, time]`` downsampling between consecutive levels
            (``len(block_out_channels) - 1`` pairs).
        layers_per_block: residual blocks per level.
        decoder_layers_per_block: the decoder's residual blocks per level, fine to coarse
            (default: ``layers_per_block`` everywhere). The finest level runs on every
            pixel, so a decoder without blocks there (its upsampling conv and output conv
            still work at full resolution) decodes much faster.
        latent_channels: channels of the latent grid.
        norm_num_groups: GroupNorm groups (every width must be a multiple).
        scaling_factor, shift_factor: latents for the UNet are ``(z - shift) * scaling``.
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        image_channels: int = 3,
        in_channels: int = 1,
        block_out_channels: Sequence[int] = (32, 64, 128, 128),
        decoder_block_out_channels: Sequence[int] | None = None,
        strides: Sequence[Sequence[int]] = ((1, 2), (2, 2), (2, 2)),
        layers_per_block: int = 1,
        decoder_layers_per_block: Sequence[int] | None = None,
        latent_channels: int = 16,
        norm_num_groups: int = 16,
        scaling_factor: float = 1.0,
        shift_factor: float | None = None,
    ) -> None:
        super().__init__()
        if len(strides) != len(block_out_channels) - 1:
            raise ValueError("strides needs one [mel, time] pair per level after the first")
        pairs = [(int(s[0]), int(s[1])) for s in strides]
        dec = list(decoder_block_out_channels or block_out_channels)
        if len(dec) != len(block_out_channels):
            raise ValueError("decoder_block_out_channels needs one width per level")
        levels = len(block_out_channels)
        dec_layers = list(decoder_layers_per_block or [layers_per_block] * levels)
        if len(dec_layers) != levels:
            raise ValueError("decoder_layers_per_block needs one count per level")
        self.encoder = Encoder(in_channels, list(block_out_channels), pairs, [layers_per_block] * levels,
                               latent_channels, norm_num_groups)
        self.decoder = Decoder(in_channels, dec, pairs, dec_layers, latent_channels, norm_num_groups)

    @property
    def latent_factors(self) -> tuple[int, int]:
        """Pixels per latent cell: ``(mel rows, time columns)``."""
        fh = fw = 1
        for sh, sw in self.config["strides"]:
            fh, fw = fh * int(sh), fw * int(sw)
        return fh, fw

    def _to_model(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.config["in_channels"] == 1 and pixels.shape[1] != 1:
            return pixels.mean(dim=1, keepdim=True)
        return pixels

    def encode(self, pixels: torch.Tensor, return_dict: bool = True) -> EncoderOutput:
        """Pixels ``(B, image_channels, H, W)`` in [-1, 1] -> the latent distribution ``(B, C, H/fh, W/fw)``."""
        return EncoderOutput(DiagonalGaussianDistribution(self.encoder(self._to_model(pixels))))

    def decode(self, latents: torch.Tensor, return_dict: bool = True) -> DecoderOutput:
        """Latents ``(B, C, h, w)`` (unscaled) -> pixels ``(B, image_channels, h * fh, w * fw)``."""
        out = self.decoder(latents)
        channels = int(self.config["image_channels"])
        if out.shape[1] != channels:
            out = out.expand(-1, channels, -1, -1)
        return DecoderOutput(out)

    def forward(self, pixels: torch.Tensor, sample_posterior: bool = True) -> DecoderOutput:
        dist = self.encode(pixels).latent_dist
        return self.decode(dist.sample() if sample_posterior else dist.mode())


def latent_factors(vae: nn.Module) -> tuple[int, int]:
    """``(mel, time)`` pixels per latent cell of any sonogen or diffusers autoencoder."""
    factors = getattr(vae, "latent_factors", None)
    if factors is not None:
        return int(factors[0]), int(factors[1])
    config: Any = vae.config
    f = 2 ** (len(config.block_out_channels) - 1)
    return f, f
