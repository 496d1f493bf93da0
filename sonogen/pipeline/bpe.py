"""Byte-level BPE (GPT-2 / CLIP) pieces shared by every CLIP tokenizer sonogen builds.

The byte table (each byte stands for one printable character), CLIP's vocabulary layout
and the ``CLIPTokenizer`` built from a vocabulary and merges without any download. They
live here, in the pipeline layer, because CLIP's own tokenizer (:mod:`sonogen.pipeline.ldm`),
the tiny test tokenizer (:mod:`sonogen.pipeline.tiny`) and the tokenizer trainer
(:mod:`sonogen.train.tokenizer`) all build on them, and the pipeline must not import
from ``train``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


def byte_table() -> dict[int, str]:
    """Byte -> printable stand-in character used by byte-level BPE (printable bytes first)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def clip_vocab(merges: Iterable[str], symbols: Sequence[str] | None = None) -> dict[str, int]:
    """CLIP's vocabulary layout for BPE ``merges`` (``"a b"`` lines), token -> id.

    Each byte symbol alone, then each as a word end (``</w>``), then each merge's result
    in merge order, then :data:`BOS` and :data:`EOS`; a token already listed keeps its
    first id. ``symbols``: the 256 byte stand-ins in vocabulary order (default CLIP's:
    :func:`byte_table`'s order, printable bytes first).
    """
    chars = list(byte_table().values()) if symbols is None else list(symbols)
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges] + [BOS, EOS]
    return {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}


def build_clip_tokenizer(vocab: dict[str, int], merges: Sequence[str], max_length: int = 77, **options: Any) -> Any:
    """A ``transformers.CLIPTokenizer`` over ``vocab`` and ``merges`` (no download).

    They are written as ``vocab.json`` + ``merges.txt`` to a temporary folder, the files
    ``CLIPTokenizer`` reads; ``options`` go to its constructor (``pad_token=...``).
    """
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory(prefix="sonogen-tok-") as tmp:
        vocab_file, merges_file = Path(tmp) / "vocab.json", Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n" + "".join(f"{m}\n" for m in merges), encoding="utf-8")
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=max_length, **options)
