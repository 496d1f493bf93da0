"""The SD 1.x conditional UNet, without diffusers, read from a diffusers ``config.json``.

It covers the layouts sonogen's own models use (and SD 1.x's): positional timestep
embedding, ``DownBlock2D`` / ``CrossAttnDownBlock2D`` down, ``UNetMidBlock2DCrossAttn``,
``UpBlock2D`` / ``CrossAttnUpBlock2D`` up, no class or added embeddings. :func:`unet_supports`
says whether a config is one of them; the weights load under diffusers' own names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sonogen.lite.layers import (
    Downsample,
    ResnetBlock,
    SpatialTransformer,
    TimestepMLP,
    Upsample,
    timestep_embedding,
)

DOWN_BLOCKS = ("DownBlock2D", "CrossAttnDownBlock2D")
UP_BLOCKS = ("UpBlock2D", "CrossAttnUpBlock2D")

#: config keys that must hold these values (the diffusers defaults) for this UNet to apply
_REQUIRED: dict[str, Any] = {
    "act_fn": "silu",
    "addition_embed_type": None,
    "class_embed_type": None,
    "num_class_embeds": None,
    "encoder_hid_dim": None,
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "time_cond_proj_dim": None,
    "timestep_post_act": None,
    "center_input_sample": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "only_cross_attention": False,
    "dual_cross_attention": False,
    "resnet_time_scale_shift": "default",
    "resnet_skip_time_act": False,
    "resnet_out_scale_factor": 1.0,
    "mid_block_scale_factor": 1,
    "attention_type": "default",
    "cross_attention_norm": None,
    "downsample_padding": 1,
    "transformer_layers_per_block": 1,
    "reverse_transformer_layers_per_block": None,
}


def unet_supports(config: Mapping[str, Any]) -> str | None:
    """None when :class:`LiteUNet` can run ``config``, else the reason it cannot."""
    for key, value in _REQUIRED.items():
        if config.get(key, value) != value:
            return f"unet {key}={config.get(key)!r}"
    if any(t not in DOWN_BLOCKS for t in config.get("down_block_types", ())):
        return f"unet down blocks {config.get('down_block_types')}"
    if any(t not in UP_BLOCKS for t in config.get("up_block_types", ())):
        return f"unet up blocks {config.get('up_block_types')}"
    for key in ("layers_per_block", "attention_head_dim", "cross_attention_dim"):
        if not isinstance(config.get(key), int):
            return f"unet {key}={config.get(key)!r} (one number for every block)"
    if config.get("num_attention_heads") not in (None, config.get("attention_head_dim")):
        return "unet num_attention_heads differs from attention_head_dim"
    return None


class DownBlock(nn.Module):
    """Resnets (each followed by a text transformer when ``attentions``), then a downsampler."""

    def __init__(self, resnets: list[ResnetBlock], attentions: list[SpatialTransformer] | None,
                 downsample: Downsample | None) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions) if attentions else None
        self.downsamplers = nn.ModuleList([downsample]) if downsample else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor,
                skips: list[torch.Tensor]) -> torch.Tensor:
        """``x`` through the block; every intermediate map is appended to ``skips``."""
        for j, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x


class UpBlock(nn.Module):
    """Resnets on ``x`` joined with the matching skip (each followed by a text transformer
    when ``attentions``), then an upsampler."""

    def __init__(self, resnets: list[ResnetBlock], attentions: list[SpatialTransformer] | None,
                 upsample: Upsample | None) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions) if attentions else None
        self.upsamplers = nn.ModuleList([upsample]) if upsample else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor,
                skips: list[torch.Tensor]) -> torch.Tensor:
        """``x`` through the block, taking its skips from the end of ``skips``."""
        for j, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
        if self.upsamplers is not None:
            # to the next skip's size, so odd latent sizes line up with the way down
            x = self.upsamplers[0](x, size=tuple(skips[-1].shape[-2:]))
        return x


class MidBlock(nn.Module):
    """Resnet, text transformer, resnet at the lowest resolution."""

    def __init__(self, channels: int, temb: int, groups: int, eps: float, transformer: SpatialTransformer) -> None:
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(channels, channels, temb, groups, eps) for _ in range(2)])
        self.attentions = nn.ModuleList([transformer])

    def forward(self, x: torch.Tensor, temb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class LiteUNet(nn.Module):
    """Noise prediction ``(B, C, h, w)`` from latents, a timestep and text states.

    Args:
        config: a diffusers ``UNet2DConditionModel`` config that :func:`unet_supports`.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        reason = unet_supports(config)
        if reason:
            raise ValueError(f"unsupported UNet layout: {reason}")
        channels: Sequence[int] = config["block_out_channels"]
        layers = int(config["layers_per_block"])
        # SD 1.x configs name the head count "attention_head_dim"
        heads = int(config.get("num_attention_heads") or config["attention_head_dim"])
        context = int(config["cross_attention_dim"])
        groups = int(config.get("norm_num_groups", 32))
        eps = float(config.get("norm_eps", 1e-5))
        linear = bool(config.get("use_linear_projection", False))
        temb = channels[0] * 4
        last = len(channels) - 1
        self.flip_sin_to_cos = bool(config.get("flip_sin_to_cos", True))
        self.freq_shift = float(config.get("freq_shift", 0))
        self.time_channels = channels[0]

        self.conv_in = nn.Conv2d(int(config["in_channels"]), channels[0], 3, padding=1)
        self.time_embedding = TimestepMLP(channels[0], temb)

        def transformers(ch: int, count: int, kind: str) -> list[SpatialTransformer] | None:
            if not kind.startswith("CrossAttn"):
                return None
            return [SpatialTransformer(ch, heads, context, groups, layers=1, linear=linear) for _ in range(count)]

        self.down_blocks = nn.ModuleList()
        cin = channels[0]
        for i, (kind, cout) in enumerate(zip(config["down_block_types"], channels, strict=True)):
            resnets = [ResnetBlock(cin if j == 0 else cout, cout, temb, groups, eps) for j in range(layers)]
            self.down_blocks.append(
                DownBlock(resnets, transformers(cout, layers, kind), Downsample(cout) if i < last else None)
            )
            cin = cout

        self.mid_block = MidBlock(
            cin, temb, groups, eps, SpatialTransformer(cin, heads, context, groups, layers=1, linear=linear)
        )

        self.up_blocks = nn.ModuleList()
        reversed_channels = list(reversed(channels))
        prev = reversed_channels[0]
        for i, (kind, cout) in enumerate(zip(config["up_block_types"], reversed_channels, strict=True)):
            skip_in = reversed_channels[min(i + 1, last)]
            resnets = [
                ResnetBlock((prev if j == 0 else cout) + (skip_in if j == layers else cout), cout, temb, groups, eps)
                for j in range(layers + 1)
            ]
            self.up_blocks.append(
                UpBlock(resnets, transformers(cout, layers + 1, kind), Upsample(cout) if i < last else None)
            )
            prev = cout

        self.conv_norm_out = nn.GroupNorm(groups, channels[0], eps=eps)
        self.conv_out = nn.Conv2d(channels[0], int(config["out_channels"]), 3, padding=1)

    @property
    def dtype(self) -> torch.dtype:
        return self.conv_in.weight.dtype

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``sample (B, C, h, w)``, ``timestep`` scalar or ``(B,)``, ``context (B, L, dim)``
        -> the prediction ``(B, C_out, h, w)`` in the weights' dtype."""
        t = timestep.reshape(-1).expand(sample.shape[0]).to(sample.device)
        t_emb = timestep_embedding(t, self.time_channels, flip_sin_to_cos=self.flip_sin_to_cos, shift=self.freq_shift)
        temb = self.time_embedding(t_emb.to(sample.dtype))
        x = self.conv_in(sample)
        skips = [x]
        for down in self.down_blocks:
            x = down(x, temb, context, skips)
        x = self.mid_block(x, temb, context)
        for up in self.up_blocks:
            x = up(x, temb, context, skips)
        return self.conv_out(F.silu(self.conv_norm_out(x)))
