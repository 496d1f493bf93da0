"""Reading a prompt the model cannot follow as the training caption nearest its meaning.

A small UNet conditioned on a frozen sentence encoder draws its training captions well,
but a prompt in other words (a scene, a place, an era, a nickname: "bongos on a havana
street") lands between captions, where the UNet has learnt little, and comes out as
some generic clip. The sentence encoder still places such a prompt near texts that share
its meaning. Reading uses that: when a prompt holds words the model has not learnt
(:func:`sonogen.models.vocabulary.unknown_words`), it

1. votes for a style among the :data:`NEIGHBOURS` texts nearest the prompt's sentence
   embedding, each text's vote weighted by its cosine: the training captions, and
   everyday phrases written for each style (``sonogen/data/style_phrases.json``), which
   vote but are never drawn;
2. takes that style's training caption nearest the prompt (so a named instrument or mood
   survives when a caption of the style has it);
3. has the model draw that caption instead of the prompt's words.

This module holds the data and the vote; :func:`sonogen.models.vocabulary.read_prompt`
applies them to a text encoder (it needs the vocabulary's unknown-words test).

A prompt whose words the model knows, a weighted prompt (``(word:1.5)``) and a negative
prompt are drawn as written; so is every prompt of a model without reading data (any
CLIP checkpoint). The model folder's ``text_encoder/reading.json`` holds the captions and
phrases with their styles; ``reading.safetensors`` their embeddings, tagged with the
encoder weights' hash and a hash of the texts (made again when they do not match).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError

#: The texts and styles, inside a sentence encoder's part folder.
READING_FILE = "reading.json"
#: Their embeddings (float16 safetensors, ``captions`` and ``phrases``).
READING_EMBEDDINGS = "reading.safetensors"
#: Texts in the style vote. On the frozen unseen-words prompts with all-MiniLM-L6-v2 and
#: corpus v2's captions, 5 to 10 neighbours picked the labelled style most often.
NEIGHBOURS = 10
#: The packaged phrases, in ``sonogen/data``.
STYLE_PHRASES = "style_phrases.json"
#: The two lists of :class:`Reading` that have embeddings.
PARTS = ("captions", "phrases")

#: A prompt with weights (``(word:1.5)``): the user chose its words; never read.
WEIGHTED = re.compile(r"\([^():]+:\s*[-+]?(?:\d+\.?\d*|\.\d+)\s*\)")


@dataclass(frozen=True)
class Reading:
    """Texts a prompt is read against: ``captions`` (drawable) and ``phrases`` (vote only),
    each with the style of the same index."""

    captions: tuple[str, ...]
    caption_styles: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    phrase_styles: tuple[str, ...] = ()
    neighbours: int = NEIGHBOURS


def build_reading(rows: Iterable[Mapping[str, Any]], phrases: Mapping[str, Sequence[str]] | None = None,
                  fits: Callable[[str], bool] | None = None, neighbours: int = NEIGHBOURS) -> Reading:
    """A :class:`Reading` of caption rows (``text``, ``style``) and per-style ``phrases``.

    Captions are kept once each, in order; rows without a text or style, and captions for
    which ``fits`` is false (longer than the encoder's window), are left out. Phrases of
    styles no caption has are left out: nothing could be drawn for them.
    """
    seen: dict[str, str] = {}
    for row in rows:
        text, style = row.get("text"), row.get("style")
        if isinstance(text, str) and text.strip() and isinstance(style, str) and style.strip():
            if fits is None or fits(text.strip()):
                seen.setdefault(text.strip(), style.strip())
    styles = set(seen.values())
    kept = [(style, text.strip()) for style, texts in (phrases or {}).items() if style in styles
            for text in texts if isinstance(text, str) and text.strip()]
    return Reading(tuple(seen), tuple(seen.values()), tuple(t for _, t in kept), tuple(s for s, _ in kept),
                   int(neighbours))


def style_phrases(path: Path | None = None) -> dict[str, list[str]]:
    """Everyday phrases per corpus style (``sonogen/data/style_phrases.json``, or ``path``)."""
    file = path or Path(__file__).resolve().parents[1] / "data" / STYLE_PHRASES
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SonogenError(f"{file} is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise SonogenError(f"{file} must map each style to a list of phrases")
    return {str(k): [str(t) for t in v] for k, v in data.items()}


def write_reading(reading: Reading, path: Path) -> None:
    """``reading`` as JSON at ``path``."""
    data = {"neighbours": reading.neighbours,
            "captions": [{"text": t, "style": s} for t, s in zip(reading.captions, reading.caption_styles, strict=True)],
            "phrases": [{"text": t, "style": s} for t, s in zip(reading.phrases, reading.phrase_styles, strict=True)]}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_reading(path: Path) -> Reading | None:
    """The :class:`Reading` saved at ``path``; None when there is no such file.

    Raises:
        SonogenError: the file is not a reading.
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        parts = {}
        for part in PARTS:
            items = data.get(part, [])
            if not all(isinstance(i.get("text"), str) and isinstance(i.get("style"), str) for i in items):
                raise ValueError(f"{part} need a text and a style each")
            parts[part] = (tuple(i["text"] for i in items), tuple(i["style"] for i in items))
        neighbours = int(data.get("neighbours", NEIGHBOURS))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise SonogenError(f"{path} is not a prompt reading ({exc})") from None
    if neighbours < 1 or not parts["captions"][0]:
        raise SonogenError(f"{path} is not a prompt reading (no captions, or neighbours < 1)")
    return Reading(*parts["captions"], *parts["phrases"], neighbours)


def reading_key(encoder_sha256: str, reading: Reading) -> str:
    """What saved embeddings must have been made from: the encoder's weights and these texts."""
    text = "\n".join(("\t".join(reading.captions), "\t".join(reading.phrases)))
    return f"{encoder_sha256}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def embed_reading(reading: Reading, embed: Callable[[list[str]], torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{"captions": (C, H), "phrases": (P, H)}`` unit rows through ``embed``."""
    captions = embed(list(reading.captions))
    phrases = embed(list(reading.phrases)) if reading.phrases else captions[:0]
    return {"captions": captions, "phrases": phrases}


def style_vote(query: torch.Tensor, bank: torch.Tensor, styles: Sequence[str], neighbours: int) -> str:
    """The style with the highest summed cosine among the ``neighbours`` rows nearest ``query``.

    Args:
        query: ``(H,)`` unit embedding; bank: ``(N, H)`` unit rows, ``styles[n]`` the style
            of row ``n`` (N >= 1).
    """
    similarity = bank.float() @ query.float()
    top = similarity.topk(min(neighbours, len(styles)))
    scores: dict[str, float] = {}
    for value, index in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        scores[styles[index]] = scores.get(styles[index], 0.0) + value
    return max(scores, key=lambda s: scores[s])


def read_as_caption(reading: Reading, rows: Mapping[str, torch.Tensor], query: torch.Tensor,
                    phrases: Sequence[int] | None = None) -> str:
    """The caption of the voted style nearest ``query``.

    Args:
        reading: the texts; rows: their unit embeddings (:func:`embed_reading`);
        query: ``(H,)`` unit embedding of the prompt; phrases: indices of the phrases that
            vote (None: all of them).
    """
    if phrases is None:  # every phrase votes: the bank as it is, no gathered copy
        voters, voter_styles = rows["phrases"], list(reading.phrase_styles)
    else:
        keep = list(phrases)
        voters, voter_styles = rows["phrases"][keep], [reading.phrase_styles[i] for i in keep]
    bank = torch.cat([rows["captions"], voters])
    styles = [*reading.caption_styles, *voter_styles]
    style = style_vote(query, bank, styles, reading.neighbours)
    return reading.captions[nearest_of_style(query, rows["captions"], reading.caption_styles, style)]


def nearest_of_style(query: torch.Tensor, captions: torch.Tensor, styles: Sequence[str], style: str) -> int:
    """Index of the caption of ``style`` nearest ``query`` (``(H,)``; ``captions`` ``(C, H)``)."""
    rows = [i for i, s in enumerate(styles) if s == style]
    similarity = captions[rows].float() @ query.float()
    return rows[int(similarity.argmax())]
