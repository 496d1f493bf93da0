"""Prompt weighting ``(word:1.5)`` and text encoding of prompts longer than 77 tokens.

A prompt is split into ``(text, weight)`` pieces, tokenised without special tokens, cut
into chunks of ``max_length - 2`` tokens that each get their own begin/end tokens, encoded
chunk by chunk and concatenated along the sequence axis: ``(chunks * max_length, hidden)``.
Token weights scale the hidden states, then the whole is rescaled to keep its mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from sonogen.errors import SonogenError

_WEIGHTED = re.compile(r"\(([^():]+):\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*\)")


def parse_weighted_prompt(prompt: str) -> list[tuple[str, float]]:
    """Split ``prompt`` into ``(text, weight)`` pieces.

    ``(text:1.5)`` gives ``text`` weight 1.5; everything else has weight 1.0. Brackets
    that are not of that form are kept as text. Empty pieces are dropped.

    >>> parse_weighted_prompt("(caribbean:1.5) (jazz:0.3) drums")
    [('caribbean', 1.5), ('jazz', 0.3), ('drums', 1.0)]
    """
    pieces: list[tuple[str, float]] = []
    pos = 0
    for match in _WEIGHTED.finditer(prompt):
        before = prompt[pos : match.start()].strip()
        if before:
            pieces.append((before, 1.0))
        weight = float(match.group(2))
        if not -10.0 <= weight <= 10.0:
            raise SonogenError(f"prompt weight {weight} out of range [-10, 10] in {match.group(0)!r}")
        text = match.group(1).strip()
        if text:
            pieces.append((text, weight))
        pos = match.end()
    rest = prompt[pos:].strip()
    if rest:
        pieces.append((rest, 1.0))
    return pieces


@dataclass(frozen=True)
class TokenLayout:
    """How a tokenizer frames a chunk: begin/end/pad ids and the encoder's length."""

    bos: int | None
    eos: int | None
    pad: int
    max_length: int

    @property
    def chunk(self) -> int:
        """Content tokens per chunk (room left after the special tokens)."""
        return self.max_length - (self.bos is not None) - (self.eos is not None)


def token_layout(tokenizer: Any, text_encoder: Any) -> TokenLayout:
    """The chunk framing for ``tokenizer`` feeding ``text_encoder`` (any HF tokenizer class)."""
    limit = int(getattr(text_encoder.config, "max_position_embeddings", 77))
    model_max = getattr(tokenizer, "model_max_length", limit) or limit
    max_length = int(min(limit, model_max)) if model_max < 10**6 else limit
    bos = getattr(tokenizer, "bos_token_id", None)
    eos = getattr(tokenizer, "eos_token_id", None)
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        pad = eos if eos is not None else 0
    return TokenLayout(bos, eos, int(pad), max_length)


def tokenize_weighted(prompt: str, tokenizer: Any) -> tuple[list[int], list[float]]:
    """Token ids (no special tokens) and one weight per token for a weighted prompt."""
    ids: list[int] = []
    weights: list[float] = []
    for text, weight in parse_weighted_prompt(prompt):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids.extend(int(i) for i in piece)
        weights.extend([weight] * len(piece))
    return ids, weights


def chunk_tokens(
    ids: Sequence[int], weights: Sequence[float], layout: TokenLayout, num_chunks: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame tokens into ``num_chunks`` rows of ``layout.max_length``.

    Returns ``(ids (num_chunks, max_length) long, weights (num_chunks, max_length) float)``;
    special and padding tokens weigh 1.
    """
    n = layout.chunk
    rows_ids: list[list[int]] = []
    rows_w: list[list[float]] = []
    for c in range(num_chunks):
        part = list(ids[c * n : (c + 1) * n])
        part_w = list(weights[c * n : (c + 1) * n])
        row = ([layout.bos] if layout.bos is not None else []) + part
        row_w = ([1.0] if layout.bos is not None else []) + part_w
        if layout.eos is not None:
            row.append(layout.eos)
            row_w.append(1.0)
        row += [layout.pad] * (layout.max_length - len(row))
        row_w += [1.0] * (layout.max_length - len(row_w))
        rows_ids.append(row)  # type: ignore[arg-type]
        rows_w.append(row_w)
    return torch.tensor(rows_ids, dtype=torch.long), torch.tensor(rows_w, dtype=torch.float32)


def chunks_needed(prompt: str, tokenizer: Any, layout: TokenLayout) -> int:
    """Number of encoder windows ``prompt`` needs (at least 1)."""
    ids, _ = tokenize_weighted(prompt, tokenizer)
    return max(1, -(-len(ids) // layout.chunk))


@torch.no_grad()
def encode_prompts(
    prompts: Sequence[str],
    tokenizer: Any,
    text_encoder: Any,
    num_chunks: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Hidden states of weighted prompts: ``(len(prompts), num_chunks * max_length, hidden)``.

    ``num_chunks`` defaults to the most any prompt needs; shorter prompts are padded with
    empty windows so all rows share a length.
    """
    layout = token_layout(tokenizer, text_encoder)
    tokenized = [tokenize_weighted(p, tokenizer) for p in prompts]
    needed = max(max(1, -(-len(ids) // layout.chunk)) for ids, _ in tokenized)
    count = max(needed, num_chunks or 1)
    out = []
    for ids, weights in tokenized:
        chunk_ids, chunk_w = chunk_tokens(ids, weights, layout, count)
        hidden = text_encoder(chunk_ids.to(device))[0].float()  # (chunks, max_length, hidden)
        if not torch.all(chunk_w == 1.0):
            before = hidden.mean()
            hidden = hidden * chunk_w.to(hidden.device)[..., None]
            after = hidden.mean()
            if after.abs() > 1e-8:
                hidden = hidden * (before / after)
        out.append(hidden.reshape(-1, hidden.shape[-1]))
    return torch.stack(out).to(dtype)
