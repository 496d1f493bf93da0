"""The decoding half of SD 1.x's ``AutoencoderKL``, without diffusers.

Only what generation needs: ``post_quant_conv`` and the decoder, whose weights load
under diffusers' names (the encoder's are skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sonogen.lite.layers import ResnetBlock, Upsample
from sonogen.models.autoencoder_layers import Decoder as SpectrogramDecoder
from sonogen.models.autoencoder_layers import decode_columns, decoder_plan

_REQUIRED: dict[str, Any] = {
    "act_fn": "silu",
    "mid_block_add_attention": True,
    "use_post_quant_conv": True,
    "shift_factor": None,
    "latents_mean": None,
    "latents_std": None,
}


def vae_supports(config: Mapping[str, Any]) -> str | None:
    """None when :func:`lite_decoder` can run ``config``, else the reason it cannot."""
    if config.get("_class_name") == "SpectrogramAutoencoder":
        try:
            decoder_plan(config)
        except (KeyError, TypeError, ValueError) as exc:
            return f"vae: {exc}"
        return None
    for key, value in _REQUIRED.items():
        if config.get(key, value) != value:
            return f"vae {key}={config.get(key)!r}"
    if any(t != "UpDecoderBlock2D" for t in config.get("up_block_types", ())):
        return f"vae up blocks {config.get('up_block_types')}"
    return None


def vae_factors(config: Mapping[str, Any]) -> tuple[int, int]:
    """Pixels per latent cell ``(mel rows, time columns)``: the product of a spectrogram
    autoencoder's strides, else 2 to the number of upsampling stages on each axis."""
    if config.get("_class_name") == "SpectrogramAutoencoder":
        fh = fw = 1
        for mel, time in decoder_plan(config)["strides"]:
            fh, fw = fh * mel, fw * time
        return fh, fw
    f = int(2 ** (len(config["block_out_channels"]) - 1))
    return f, f


class MidAttention(nn.Module):
    """Single-head self-attention over all positions of ``(B, C, H, W)``, plus the input."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)
        q, k, v = (proj(tokens)[:, None] for proj in (self.to_q, self.to_k, self.to_v))
        out = self.to_out[0](F.scaled_dot_product_attention(q, k, v)[:, 0])
        return out.transpose(1, 2).reshape(b, c, h, w) + x


class DecoderMid(nn.Module):
    """Resnet, self-attention, resnet at the lowest resolution."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(channels, channels, None, groups, 1e-6) for _ in range(2)])
        self.attentions = nn.ModuleList([MidAttention(channels, groups)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class DecoderUp(nn.Module):
    """Resnets, then (except at full resolution) a 2x upsampler."""

    def __init__(self, cin: int, cout: int, count: int, groups: int, upsample: bool) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock(cin if j == 0 else cout, cout, None, groups, 1e-6) for j in range(count)]
        )
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for resnet in self.resnets:
            x = resnet(x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class Decoder(nn.Module):
    """Latents ``(B, C, h, w)`` -> pixels ``(B, out, h*f, w*f)``."""

    def __init__(self, channels: list[int], latent: int, out: int, layers: int, groups: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(latent, channels[-1], 3, padding=1)
        self.mid_block = DecoderMid(channels[-1], groups)
        widths = list(reversed(channels))
        self.up_blocks = nn.ModuleList([
            DecoderUp(widths[max(i - 1, 0)], cout, layers + 1, groups, i < len(widths) - 1)
            for i, cout in enumerate(widths)
        ])
        self.conv_norm_out = nn.GroupNorm(groups, channels[0], eps=1e-6)
        self.conv_out = nn.Conv2d(channels[0], out, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class LiteDecoder(nn.Module):
    """Scaled-back latents ``(B, C, h, w)`` -> pixels ``(B, 3, h*f, w*f)`` in about [-1, 1].

    Args:
        config: a diffusers ``AutoencoderKL`` config that :func:`vae_supports`.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        reason = vae_supports(config)
        if reason:
            raise ValueError(f"unsupported autoencoder layout: {reason}")
        latent = int(config["latent_channels"])
        self.scaling_factor = float(config.get("scaling_factor", 0.18215))
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)
        self.decoder = Decoder(
            list(config["block_out_channels"]), latent, int(config.get("out_channels", 3)),
            int(config.get("layers_per_block", 2)), int(config.get("norm_num_groups", 32)),
        )

    @property
    def dtype(self) -> torch.dtype:
        return self.post_quant_conv.weight.dtype

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents as the autoencoder's encoder made them (not scaled) -> pixels."""
        return self.decoder(self.post_quant_conv(latents))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Sampler latents (scaled by ``scaling_factor``) -> images ``(B, 3, H, W)`` in [0, 1], float32."""
        pixels = self(latents.to(self.dtype) / self.scaling_factor)
        return ((pixels.float() + 1.0) / 2.0).clamp(0.0, 1.0)


class LiteSpectrogramDecoder(nn.Module):
    """The decoder of a :class:`~sonogen.models.autoencoder.SpectrogramAutoencoder`, alone.

    Args:
        config: the autoencoder's ``config.json``.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        self.decoder = SpectrogramDecoder(**decoder_plan(config))
        self.scaling_factor = float(config.get("scaling_factor", 1.0))
        self.shift_factor = float(config.get("shift_factor") or 0.0)
        self.image_channels = int(config.get("image_channels", 3))
        self.decode_tile = config.get("decode_tile")

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.conv_in.weight.dtype

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Sampler latents ``(B, C, h, w)`` -> images ``(B, image_channels, H, W)`` in [0, 1], float32."""
        pixels = decode_columns(self.decoder, latents.to(self.dtype) / self.scaling_factor + self.shift_factor,
                                self.decode_tile)
        pixels = pixels.expand(-1, self.image_channels, -1, -1)
        return ((pixels.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def lite_decoder(config: Mapping[str, Any]) -> nn.Module:
    """The decoder module for an autoencoder ``config`` (built where it is called: the meta device)."""
    if config.get("_class_name") == "SpectrogramAutoencoder":
        return LiteSpectrogramDecoder(config)
    return LiteDecoder(config)
