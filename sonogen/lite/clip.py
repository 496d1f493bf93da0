"""CLIP's text transformer, and the tokenizer of any text encoder, without transformers.

The encoder reads a transformers ``CLIPTextModel`` config and its weights (with or
without the ``text_model.`` prefix); the tokenizer reads the ``tokenizer.json`` of a fast
tokenizer through the ``tokenizers`` library. Both answer the calls that
:func:`sonogen.pipeline.prompts.encode_prompts` makes, so weighted and long prompts work
as in the full pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sonogen.lite.layers import Table


def clip_supports(config: Mapping[str, Any]) -> str | None:
    """None when :class:`LiteCLIPText` can run ``config``, else the reason it cannot."""
    if config.get("model_type", "clip_text_model") != "clip_text_model":
        return f"text encoder {config.get('model_type')!r}"
    if config.get("hidden_act", "quick_gelu") not in ("quick_gelu", "gelu"):
        return f"text encoder activation {config.get('hidden_act')!r}"
    return None


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    return F.gelu(x)


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (p(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class _MLP(nn.Module):
    def __init__(self, dim: int, inner: int, act: str) -> None:
        super().__init__()
        self.act = act
        self.fc1 = nn.Linear(dim, inner)
        self.fc2 = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(_activation(self.act, self.fc1(x)))


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int, inner: int, act: str, eps: float) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.self_attn = _SelfAttention(dim, heads)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = _MLP(dim, inner, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, positions: int, dim: int) -> None:
        super().__init__()
        self.token_embedding = Table(vocab, dim)
        self.position_embedding = Table(positions, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.token_embedding(ids) + self.position_embedding(positions)[None]


class _Encoder(nn.Module):
    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class LiteCLIPText(nn.Module):
    """Token ids ``(B, L)`` -> ``(last hidden states (B, L, hidden),)``: causal pre-norm
    transformer layers and a final layer norm, as CLIP's text tower.

    Args:
        config: a transformers ``CLIPTextModel`` config (``config.json`` as a dict).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        reason = clip_supports(config)
        if reason:
            raise ValueError(f"unsupported text encoder: {reason}")
        dim = int(config["hidden_size"])
        eps = float(config.get("layer_norm_eps", 1e-5))
        act = str(config.get("hidden_act", "quick_gelu"))
        positions = int(config.get("max_position_embeddings", 77))
        #: what :func:`~sonogen.pipeline.prompts.token_layout` reads of a text encoder
        self.config = SimpleNamespace(max_position_embeddings=positions, use_attention_mask=False)
        self.embeddings = _Embeddings(int(config["vocab_size"]), positions, dim)
        self.encoder = _Encoder([
            _Layer(dim, int(config["num_attention_heads"]), int(config["intermediate_size"]), act, eps)
            for _ in range(int(config["num_hidden_layers"]))
        ])
        self.final_layer_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.final_layer_norm(self.encoder(self.embeddings(ids))),)


@dataclass
class LiteTokenizer:
    """A ``tokenizer.json`` tokenizer with the special-token ids from ``tokenizer_config.json``.

    Called as ``tokenizer(text, add_special_tokens=False)`` it returns ``{"input_ids": [...]}``,
    as a transformers tokenizer does.
    """

    backend: Any
    bos_token_id: int | None
    eos_token_id: int | None
    pad_token_id: int | None
    model_max_length: int
    cls_token_id: int | None = None
    sep_token_id: int | None = None

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": list(self.backend.encode(text, add_special_tokens=add_special_tokens).ids)}


def _token_name(entry: Any) -> str | None:
    """A special token as ``tokenizer_config.json`` writes it: a string or ``{"content": ...}``."""
    if isinstance(entry, Mapping):
        return str(entry.get("content"))
    return None if entry is None else str(entry)


def load_tokenizer(folder: Path) -> LiteTokenizer:
    """The tokenizer saved in ``folder`` (``tokenizer.json`` and ``tokenizer_config.json``)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # prompts are framed into windows by the caller: never cut or padded here
    backend.no_truncation()
    backend.no_padding()
    config = json.loads((folder / "tokenizer_config.json").read_text())

    def token_id(key: str) -> int | None:
        name = _token_name(config.get(key))
        return None if name is None else backend.token_to_id(name)

    return LiteTokenizer(
        backend=backend,
        bos_token_id=token_id("bos_token"),
        eos_token_id=token_id("eos_token"),
        pad_token_id=token_id("pad_token"),
        model_max_length=int(config.get("model_max_length", 77)),
        cls_token_id=token_id("cls_token"),
        sep_token_id=token_id("sep_token"),
    )
