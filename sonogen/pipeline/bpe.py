"""The byte table of byte-level BPE (GPT-2 / CLIP): each byte stands for one printable character.

It lives here, in the pipeline layer, because the tiny test tokenizer
(:mod:`sonogen.pipeline.tiny`) and the tokenizer trainer (:mod:`sonogen.train.tokenizer`)
both build vocabularies on it, and the pipeline must not import from ``train``.
"""

from __future__ import annotations


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
