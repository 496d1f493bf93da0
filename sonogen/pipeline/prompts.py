"""Prompt weighting ``(word:1.5)`` and text encoding of prompts longer than 77 tokens.

A prompt is split into ``(text, weight)`` pieces, tokenised without special tokens, cut
into chunks of ``max_length - 2`` tokens that each get their own begin/end tokens, encoded
chunk by chunk and concatenated along the sequence axis: ``(chunks * max_length, hidden)``.
Token weights scale the hidden states, then the whole is rescaled to keep its mean.

CLIP frames a chunk as ``<|startoftext|> ... <|endoftext|>``, BERT-style tokenizers (the
sentence encoder of :mod:`sonogen.models.text`) as ``[CLS] ... [SEP]``; both are padded
to ``max_length``. An encoder whose config sets ``use_attention_mask`` (diffusers'
convention) also gets the mask of real tokens, so its states do not attend to padding;
CLIP is called without one, as Stable Diffusion was trained. An encoder may return more
states than tokens (the sentence encoder puts the sentence embedding first): the extra
leading states weigh 1, and a chunk is then ``(extra + max_length, hidden)``.
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
    """The chunk framing for ``tokenizer`` feeding ``text_encoder`` (any HF tokenizer class).

    Begin/end are the tokenizer's BOS/EOS (CLIP), else its CLS/SEP (BERT).
    """
    limit = int(getattr(text_encoder.config, "max_position_embeddings", 77))
    model_max = getattr(tokenizer, "model_max_length", limit) or limit
    max_length = int(min(limit, model_max)) if model_max < 10**6 else limit
    bos = getattr(tokenizer, "bos_token_id", None)
    eos = getattr(tokenizer, "eos_token_id", None)
    if bos is None and eos is None:
        bos = getattr(tokenizer, "cls_token_id", None)
        eos = getattr(tokenizer, "sep_token_id", None)
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


def chunk_mask(num_tokens: int, layout: TokenLayout, num_chunks: int) -> torch.Tensor:
    """Which positions of :func:`chunk_tokens`' rows hold a token (1) rather than padding (0).

    ``num_tokens`` content tokens framed into ``num_chunks`` rows: ``(num_chunks, max_length)`` long.
    """
    specials = (layout.bos is not None) + (layout.eos is not None)
    rows = []
    for c in range(num_chunks):
        filled = specials + max(0, min(layout.chunk, num_tokens - c * layout.chunk))
        rows.append([1] * filled + [0] * (layout.max_length - filled))
    return torch.tensor(rows, dtype=torch.long)


def lead_weights(weights: torch.Tensor, states: int) -> torch.Tensor:
    """Token weights ``(chunks, max_length)`` widened with leading 1s to ``(chunks, states)``
    for an encoder that returns ``states - max_length`` extra states first."""
    extra = states - weights.shape[1]
    if extra <= 0:
        return weights
    return torch.cat([torch.ones(weights.shape[0], extra, dtype=weights.dtype), weights], dim=1)


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
    """Hidden states of weighted prompts: ``(len(prompts), num_chunks * (extra + max_length), hidden)``.

    ``extra`` is 0 for CLIP, 1 for the sentence encoder (its sentence embedding).

    ``num_chunks`` defaults to the most any prompt needs; shorter prompts are padded with
    empty windows so all rows share a length.
    """
    layout = token_layout(tokenizer, text_encoder)
    masked = bool(getattr(text_encoder.config, "use_attention_mask", False))
    tokenized = [tokenize_weighted(p, tokenizer) for p in prompts]
    needed = max(max(1, -(-len(ids) // layout.chunk)) for ids, _ in tokenized)
    count = max(needed, num_chunks or 1)
    out = []
    for ids, weights in tokenized:
        chunk_ids, chunk_w = chunk_tokens(ids, weights, layout, count)
        if masked:
            mask = chunk_mask(len(ids), layout, count).to(device)
            hidden = text_encoder(chunk_ids.to(device), attention_mask=mask)[0].float()
        else:
            hidden = text_encoder(chunk_ids.to(device))[0].float()  # (chunks, max_length, hidden)
        chunk_w = lead_weights(chunk_w, hidden.shape[1])
        if not torch.all(chunk_w == 1.0):
            before = hidden.mean()
            hidden = hidden * chunk_w.to(hidden.device)[..., None]
            after = hidden.mean()
            if after.abs() > 1e-8:
                hidden = hidden * (before / after)
        out.append(hidden.reshape(-1, hidden.shape[-1]))
    return torch.stack(out).to(dtype)
