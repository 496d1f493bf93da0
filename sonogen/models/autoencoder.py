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

from sonogen.models.autoencoder_layers import Decoder, Encoder, decode_columns, decoder_plan


@dataclass
class EncoderOutput:
    """What :meth:`SpectrogramAutoencoder.encode` returns (as ``AutoencoderKL`` does)."""

    latent_dist: DiagonalGaussianDistribution


@dataclass
class DecoderOutput:
    """What :meth:`SpectrogramAutoencoder.decode` returns: ``sample`` ``(B, 3, H, W)`` in about [-1, 1]."""

    sample: torch.Tensor


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
        decode_tile: decode wider latents this many columns at a time, overlapping by a
            quarter (:func:`~sonogen.models.autoencoder_layers.tiled_columns`): the width
            the decoder learnt (None: decode whole).
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
        decode_tile: int | None = None,
    ) -> None:
        super().__init__()
        plan = decoder_plan({
            "block_out_channels": block_out_channels, "decoder_block_out_channels": decoder_block_out_channels,
            "strides": strides, "layers_per_block": layers_per_block,
            "decoder_layers_per_block": decoder_layers_per_block, "in_channels": in_channels,
            "latent_channels": latent_channels, "norm_num_groups": norm_num_groups,
        })
        levels = len(block_out_channels)
        self.encoder = Encoder(in_channels, list(block_out_channels), plan["strides"], [layers_per_block] * levels,
                               latent_channels, norm_num_groups)
        self.decoder = Decoder(**plan)

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
        out = decode_columns(self.decoder, latents, self.config.get("decode_tile"))
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
