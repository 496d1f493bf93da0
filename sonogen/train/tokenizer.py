"""A CLIP-style byte-level BPE tokenizer trained on a dataset's captions.

The merges are learnt with the ``tokenizers`` library using CLIP's own text handling
(lower case, whitespace collapsed, CLIP's word-splitting pattern, bytes mapped to
printable characters, ``</w>`` marking word ends). The result is written as the
``vocab.json`` + ``merges.txt`` pair that ``transformers.CLIPTokenizer`` reads, so a
model trained from scratch saves and loads through diffusers' ``model_index.json``
exactly like a Stable Diffusion checkpoint.

The vocabulary is: the 256 byte symbols, the same with ``</w>``, one token per learnt
merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (also used for padding).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sonogen.pipeline.bpe import EOS, build_clip_tokenizer, byte_table, clip_vocab

#: CLIP's pre-tokenisation pattern: special tokens, contractions, letter runs, single digits, symbol runs.
CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins for bytes, in byte order."""
    table = byte_table()
    return [table[b] for b in range(256)]


def learn_merges(captions: Iterable[str], vocab_size: int) -> list[tuple[str, str]]:
    """BPE merges learnt from ``captions`` for a vocabulary of at most ``vocab_size`` tokens.

    Returns:
        Merge pairs in priority order; the byte symbols and specials come on top of them.
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

    symbols = _byte_symbols()
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    budget = max(0, vocab_size - 2 * len(symbols) - 2)
    trainer = trainers.BpeTrainer(
        vocab_size=len(symbols) * 2 + budget,
        min_frequency=2,
        initial_alphabet=symbols,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    tok.train_from_iterator(list(captions), trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    return [(str(a), str(b)) for a, b in pairs][:budget]


def train_clip_tokenizer(captions: Iterable[str], vocab_size: int = 4096, max_length: int = 77) -> Any:
    """A ``transformers.CLIPTokenizer`` whose merges were learnt on ``captions``.

    Args:
        captions: training texts.
        vocab_size: upper bound on the vocabulary (at least 514 = bytes + specials).
        max_length: ``model_max_length`` (token positions the text encoder has).
    """
    lines = [f"{a} {b}" for a, b in learn_merges(captions, vocab_size)]
    vocab = clip_vocab(lines, _byte_symbols())  # byte order, unlike CLIP's: trained models rely on it
    return build_clip_tokenizer(vocab, lines, max_length, pad_token=EOS)
