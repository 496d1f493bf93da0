"""Building blocks of the diffusers-free networks, named as diffusers names their weights.

Each module's parameter names are those of the matching diffusers module, so a
diffusers ``state_dict`` loads into them unchanged (strictly: a missing or extra key is
an error, which is how a layout this code does not know is caught).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(timesteps: torch.Tensor, dim: int, *, flip_sin_to_cos: bool, shift: float) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` float32 of timesteps ``(B,)`` (DDPM / SD 1.x layout).

    Frequencies ``exp(-ln(10000) * k / (dim / 2 - shift))``; the sines come first unless
    ``flip_sin_to_cos``.
    """
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
    freqs = torch.exp(exponent / (half - shift))
    angles = timesteps[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class Table(nn.Module):
    """A lookup table ``weight (rows, dim)``: ids ``(...)`` -> rows ``(..., dim)``.

    Left uninitialised, for loaded weights: ``nn.Embedding``'s random initialisation,
    run on the meta device, imports torch's compiler (seconds).
    """

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class TimestepMLP(nn.Module):
    """Two linear layers with a SiLU between: the timestep embedding's projection."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the timestep added between, and a 1x1 shortcut
    when the channel count changes. ``(B, cin, H, W)`` -> ``(B, cout, H, W)``."""

    def __init__(self, cin: int, cout: int, temb: int | None, groups: int, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class Downsample(nn.Module):
    """A stride-2 3x3 convolution: ``(B, C, H, W)`` -> ``(B, C, ceil(H/2), ceil(W/2))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling (to ``size``, else 2x) then a 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention on token sequences ``(B, N, dim)``.

    ``context`` (``(B, M, context_dim)``) makes it cross-attention. ``to_out`` is a list
    so that its linear layer is named ``to_out.0``, as diffusers saves it.
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, *, bias: bool = False) -> None:
        super().__init__()
        self.heads = heads
        kv = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_k = nn.Linear(kv, dim, bias=bias)
        self.to_v = nn.Linear(kv, dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        src = x if context is None else context
        b, n, d = x.shape
        q = self.to_q(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
        k = self.to_k(src).view(b, src.shape[1], self.heads, d // self.heads).transpose(1, 2)
        v = self.to_v(src).view(b, src.shape[1], self.heads, d // self.heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out[0](out.transpose(1, 2).reshape(b, n, d))


class GEGLU(nn.Module):
    """``x -> a * gelu(g)`` where ``[a, g]`` is one linear projection split in two."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU to four times the width and back; ``net`` indices match diffusers' (1 is dropout)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Identity(), nn.Linear(dim * 4, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class TransformerBlock(nn.Module):
    """Pre-norm self-attention, cross-attention on the text states, then feed-forward."""

    def __init__(self, dim: int, heads: int, context_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """Feature map ``(B, C, H, W)`` as ``H*W`` tokens through transformer blocks, plus the input.

    ``linear`` projects tokens with linear layers (SD 2.x style), else with 1x1 convolutions.
    """

    def __init__(self, channels: int, heads: int, context_dim: int, groups: int, *, layers: int, linear: bool) -> None:
        super().__init__()
        self.linear = linear
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in: nn.Module = nn.Linear(channels, channels) if linear else nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList(
            [TransformerBlock(channels, heads, context_dim) for _ in range(layers)]
        )
        self.proj_out: nn.Module = nn.Linear(channels, channels) if linear else nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.norm(x)
        if self.linear:
            tokens = self.proj_in(y.permute(0, 2, 3, 1).reshape(b, h * w, c))
        else:
            tokens = self.proj_in(y).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            tokens = block(tokens, context)
        if self.linear:
            y = self.proj_out(tokens).reshape(b, h, w, c).permute(0, 3, 1, 2)
        else:
            y = self.proj_out(tokens.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous())
        return y + x
