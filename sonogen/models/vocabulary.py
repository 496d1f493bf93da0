"""What a model's training captions said, and which words of a prompt lie outside it.

A model conditioned on a pretrained sentence encoder (:mod:`sonogen.models.text`) can
follow a word its captions never used when the encoder places it near words they did
use ("fiddle" near "violin"); a word far from all of them ("spaceship") reaches the UNet
as a direction it never learnt to draw, and is in effect ignored. Training records the
captions' words, styles and instruments in ``text_encoder/vocabulary.json``;
:func:`unknown_words_message` names a prompt's words that are not in it and whose
sentence embedding is below :data:`SIMILARITY_THRESHOLD` cosine to every known word.

The threshold was calibrated with ``benchmarks/unknown_words.py`` on all-MiniLM-L6-v2
and the synthetic corpus's caption vocabulary (:func:`sonogen.data.captions.caption_words`,
660 words of letters): each test word is embedded alone and scored by its highest cosine
with a known word. 60 unseen words with a close known counterpart (inflections,
synonyms, players of known instruments: "violins", "drummer", "cathedral", "quick")
score 0.46 to 0.94; 40 everyday words with none ("spreadsheet", "giraffe", "spaceship")
0.32 to 0.72. The sets overlap (a word's embedding alone is partly spelling:
"cucumber" lands near "cuica"), so no threshold separates them; at 0.55 (13 errors of
100; the least, 11, is at 0.56) 7 of the 60 are named although the model could follow them ("sad",
"tranquil", "spooky", "cellist", ...) and 6 of the 40 are not named ("penguin",
"laptop", "umbrella", ...). A named word is always one the captions never used, so a
false alarm still says something true. Musical words the corpus never renders
("theremin", "dubstep", "gamelan", "kazoo": 9 of 12) score below it and are named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError

#: Prompts whose reading a text encoder keeps (:func:`read_prompt`).
READS_KEPT = 256
#: Where a sentence encoder keeps the vocabulary, inside its part folder.
VOCABULARY_FILE = "vocabulary.json"
#: Beside it: the unit embeddings of its words, styles and instruments (float16), made
#: once when the model is saved so that a check at generation time embeds only the prompt.
EMBEDDINGS_FILE = "vocabulary.safetensors"
#: The lists of a vocabulary that are embedded.
KINDS = ("words", "styles", "instruments")
#: A prompt word counts as known when its embedding has at least this cosine with a known word's.
SIMILARITY_THRESHOLD = 0.55
#: A word: letters (any script), possibly joined by ``'`` or ``-`` (``lo-fi``, ``rock'n'roll``).
WORD_RE = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
#: Function words: never reported (they carry no sound of their own).
STOP_WORDS = frozenset(
    "a an the and or but nor of in on at to for from with without by as into onto over under behind between "
    "through like than then so very some any this that these those it its is are was were be been being has have "
    "had do does did my your our their his her i you we they he she me us them just more most less few much many "
    "no not only also too really quite rather all both each every other such own same can could would should will "
    "may might must about above below up down out off again once here there when where why how what which who "
    "whom while if because until during before after".split()
)
#: Styles and instruments named as examples in the message.
EXAMPLES = 4


@dataclass(frozen=True)
class Vocabulary:
    """The words a model's training captions used, and the styles and instruments they covered.

    Attributes:
        words: every caption word (:func:`words_of`), sorted.
        styles: style names from the dataset's ``style`` metadata, most frequent first.
        instruments: instrument names from its ``instruments`` metadata, most frequent first.
    """

    words: tuple[str, ...]
    styles: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()

    def knows(self, word: str) -> bool:
        """``word`` or, for a joined word (``jazz-funk``), each of its parts is a caption word."""
        known = set(self.words)
        return word in known or all(part in known for part in re.split(r"['-]", word))


def words_of(text: str) -> list[str]:
    """The lower-case words of ``text`` (:data:`WORD_RE`), in order, repeats kept."""
    return WORD_RE.findall(text.lower())


def _by_count(names: Iterable[str]) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return tuple(sorted(counts, key=lambda n: (-counts[n], n)))


def build_vocabulary(texts: Iterable[str], metadata: Iterable[dict[str, Any]] = ()) -> Vocabulary:
    """The vocabulary of captions ``texts`` and their metadata rows (``style``, ``instruments``).

    Joined words count whole and by their parts; style and instrument names add their
    words too (a prompt may name a style its captions spelled otherwise).
    """
    styles: list[str] = []
    instruments: list[str] = []
    for row in metadata:
        style = row.get("style")
        if isinstance(style, str) and style.strip():
            styles.append(style.strip().lower())
        names = row.get("instruments")
        if isinstance(names, list):
            instruments += [n.strip().lower() for n in names if isinstance(n, str) and n.strip()]
    words: set[str] = set()
    for text in [*texts, *styles, *instruments]:
        for word in words_of(text):
            words.add(word)
            words.update(p for p in re.split(r"['-]", word) if p)
    return Vocabulary(tuple(sorted(words)), _by_count(styles), _by_count(instruments))


def dataset_vocabulary(dataset: str | Path, rows: Sequence[dict[str, Any]]) -> Vocabulary:
    """The vocabulary of a training set: the rows' captions, with the ``style`` and
    ``instruments`` fields that ``dataset/metadata.jsonl`` gives those rows (when it has them)."""
    return build_vocabulary([str(r["text"]) for r in rows], dataset_metadata(dataset, rows))


def dataset_metadata(dataset: str | Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``dataset/metadata.jsonl`` rows of the training rows ``rows`` (by ``file_name``);
    none when the file is missing."""
    used = {str(r["file_name"]) for r in rows}
    metadata: list[dict[str, Any]] = []
    meta = Path(dataset) / "metadata.jsonl"
    if meta.is_file():
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # read_dataset has reported malformed rows already
            if isinstance(row, dict) and str(row.get("file_name")) in used:
                metadata.append(row)
    return metadata


def write_vocabulary(vocabulary: Vocabulary, path: Path) -> None:
    """``path`` as JSON: ``{"words": [...], "styles": [...], "instruments": [...]}``."""
    data = {"words": list(vocabulary.words), "styles": list(vocabulary.styles),
            "instruments": list(vocabulary.instruments)}
    path.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")


def read_vocabulary(path: Path) -> Vocabulary | None:
    """The vocabulary at ``path``; None when there is no such file.

    Raises:
        SonogenError: the file is not a vocabulary (JSON with lists of text).
    """
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SonogenError(f"{path} is not readable JSON ({type(exc).__name__})") from None
    keys = ("words", "styles", "instruments")
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k, []), list) and all(isinstance(w, str) for w in data.get(k, [])) for k in keys):
        raise SonogenError(f"{path} must hold lists of text under {', '.join(keys)}")
    return Vocabulary(tuple(data.get("words", [])), tuple(data.get("styles", [])), tuple(data.get("instruments", [])))


def embeddings_key(encoder_sha256: str, vocabulary: Vocabulary) -> str:
    """What saved embeddings must have been made from: the encoder's weights and these lists."""
    import hashlib

    text = "\n".join("\t".join(getattr(vocabulary, kind)) for kind in KINDS)
    return f"{encoder_sha256}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def embed_vocabulary(vocabulary: Vocabulary, embed: Callable[[list[str]], torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{kind: (len(names), H) unit rows}`` of each of :data:`KINDS` through ``embed``."""
    return {kind: embed(list(getattr(vocabulary, kind))) for kind in KINDS}


def write_embeddings(embeddings: dict[str, torch.Tensor], path: Path, key: str) -> None:
    """``embeddings`` as float16 safetensors at ``path``, tagged with ``key`` (:func:`embeddings_key`)."""
    from safetensors.torch import save_file

    tensors = {kind: rows.to(torch.float16).contiguous() for kind, rows in embeddings.items()}
    save_file(tensors, str(path), metadata={"key": key})


def read_embeddings(path: Path, key: str, kinds: Sequence[str] = KINDS) -> dict[str, torch.Tensor] | None:
    """Embeddings ``kinds`` saved at ``path`` for ``key`` (float32); None when missing,
    unreadable or made for another key."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            if (handle.metadata() or {}).get("key") != key or set(handle.keys()) != set(kinds):
                return None
            return {kind: handle.get_tensor(kind).float() for kind in kinds}
    except Exception:  # a damaged cache is only a cache: embed again
        return None


def candidates(prompt: str, vocabulary: Vocabulary) -> list[str]:
    """Words of ``prompt`` (weights syntax and all) that the vocabulary does not hold, once each,
    in order; function words and single letters are left out."""
    seen: dict[str, None] = {}
    for word in words_of(prompt):
        if len(word) > 1 and word not in STOP_WORDS and not vocabulary.knows(word):
            seen.setdefault(word, None)
    return list(seen)


def nearest_similarity(words: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Highest cosine of each word with any known one: unit rows ``(N, H)``, ``(K, H)`` -> ``(N,)``."""
    if known.shape[0] == 0:
        return torch.full((words.shape[0],), -1.0)
    return (words @ known.T).max(dim=1).values


def ranked(query: torch.Tensor, names: Sequence[str], embeddings: torch.Tensor, count: int) -> list[str]:
    """The ``count`` names nearest ``query``: unit ``(H,)`` and ``(len(names), H)``."""
    if not names:
        return []
    order = torch.argsort(embeddings @ query, descending=True)[:count]
    return [names[int(i)] for i in order]


def unknown_words(prompt: str, vocabulary: Vocabulary, embed: Callable[[list[str]], torch.Tensor],
                  known: torch.Tensor, threshold: float = SIMILARITY_THRESHOLD) -> list[str]:
    """Words of ``prompt`` outside ``vocabulary`` whose embedding is below ``threshold``
    cosine to every known word; ``embed`` maps texts to unit rows ``(N, H)`` and
    ``known`` ``(len(vocabulary.words), H)`` holds the known words' rows."""
    unseen = candidates(prompt, vocabulary)
    if not unseen:
        return []
    similarity = nearest_similarity(embed(unseen), known)
    return [w for w, s in zip(unseen, similarity.tolist(), strict=True) if s < threshold]


class KnowsVocabulary:
    """What a sentence encoder keeps of its model's training captions.

    A subclass provides ``embed(texts) -> (N, H)`` unit embeddings; this holds the
    :class:`Vocabulary` and the embeddings of its names, made once (or read from the
    model folder, when saved for the same encoder weights and words).
    """

    vocabulary: Vocabulary | None = None
    _known: dict[str, torch.Tensor] | None = None
    #: texts a prompt with unknown words is read against (:mod:`sonogen.models.reading`)
    reading: Any = None
    _reading_rows: dict[str, torch.Tensor] | None = None
    #: prompts already read (:func:`read_prompt`) and their captions: a streamed morph or a
    #: generate call with its notice reads the same prompt again and again
    _reads: dict[str, str | None] | None = None

    def embed(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def set_vocabulary(self, vocabulary: Vocabulary | None) -> None:
        """Record what the training captions said (None: nothing); its embeddings are made when needed."""
        self.vocabulary = vocabulary
        self._known = None
        self._reads = None

    def set_reading(self, reading: Any) -> None:
        """Read prompts with unknown words against ``reading`` (a
        :class:`~sonogen.models.reading.Reading`; None: draw every prompt as written)."""
        self.reading = reading
        self._reading_rows = None
        self._reads = None

    def read_vocabulary_from(self, folder: Path, encoder_sha256: str) -> None:
        """Take the vocabulary and the prompt reading saved in ``folder`` and, where they
        fit, their saved embeddings."""
        from sonogen.models.reading import (
            PARTS,
            READING_EMBEDDINGS,
            READING_FILE,
            read_reading,
            reading_key,
        )

        self.set_vocabulary(read_vocabulary(folder / VOCABULARY_FILE))
        if self.vocabulary is not None:  # embeddings saved for other weights or words are made anew
            self._known = read_embeddings(folder / EMBEDDINGS_FILE, embeddings_key(encoder_sha256, self.vocabulary))
        self.set_reading(read_reading(folder / READING_FILE))
        if self.reading is not None:
            self._reading_rows = read_embeddings(folder / READING_EMBEDDINGS, reading_key(encoder_sha256, self.reading),
                                                 PARTS)

    def reading_embeddings(self) -> dict[str, torch.Tensor]:
        """Unit embeddings of the reading's ``captions`` and ``phrases`` (float32), computed once."""
        from sonogen.models.reading import embed_reading

        if self.reading is None:
            return {}
        if self._reading_rows is None:
            self._reading_rows = embed_reading(self.reading, self.embed)
        return self._reading_rows

    def known_embeddings(self) -> dict[str, torch.Tensor]:
        """Unit embeddings of the vocabulary's ``words``, ``styles`` and ``instruments``
        (``(N, H)`` float32 each), computed once."""
        if self.vocabulary is None:
            return {}
        if self._known is None:
            self._known = embed_vocabulary(self.vocabulary, self.embed)
        return self._known


def unknown_words_message(text_encoder: Any, prompt: str, reads_as: str | None = None) -> str | None:
    """The line telling a user which words of ``prompt`` the model has not learnt, or None.

    None for a text encoder without a vocabulary (any CLIP checkpoint, or a sentence
    model saved without one) and for a prompt whose words are all known or near known
    ones. Otherwise it names those words and the known styles and instruments nearest the
    prompt (or, without style and instrument metadata, the nearest known words); with
    ``reads_as``, the training caption drawn instead (:mod:`sonogen.models.reading`).
    """
    vocabulary = getattr(text_encoder, "vocabulary", None)
    if not isinstance(vocabulary, Vocabulary) or not vocabulary.words:
        return None
    known = text_encoder.known_embeddings()
    words = unknown_words(prompt, vocabulary, text_encoder.embed, known["words"])
    if not words:
        return None
    named = ", ".join(f'"{w}"' for w in words)
    if reads_as:
        return (f'sonogen: the model has not learnt {named}; it draws the caption nearest the prompt\'s meaning: '
                f'"{reads_as}" (--literal draws the words as written)')
    query = text_encoder.embed([" ".join(words_of(prompt))])[0]
    if vocabulary.styles or vocabulary.instruments:
        parts = [f"{kind} such as {', '.join(ranked(query, getattr(vocabulary, kind), known[kind], EXAMPLES))}"
                 for kind in ("styles", "instruments") if getattr(vocabulary, kind)]
        knows = " and ".join(parts)
    else:
        knows = "words such as " + ", ".join(ranked(query, vocabulary.words, known["words"], EXAMPLES * 2))
    return f"sonogen: the model has not learnt {named}; it knows {knows}"


def dataset_reading(dataset: str | Path, rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int) -> Any:
    """The reading of a training set: its captions with the styles ``dataset/metadata.jsonl``
    gives them, those that fit one ``max_length``-token window of ``tokenizer`` (a Hugging
    Face tokenizer), and the packaged :func:`style_phrases` of their styles."""
    from sonogen.models.reading import build_reading, style_phrases

    def fits(text: str) -> bool:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= max_length - 2

    return build_reading(dataset_metadata(dataset, rows), style_phrases(), fits)


def read_prompt(text_encoder: Any, prompt: str) -> str | None:
    """The training caption the model draws for ``prompt``, or None to draw it as written.

    None for an encoder without reading data or vocabulary, for a weighted prompt and for
    a prompt without words the model has not learnt (:mod:`sonogen.models.reading` says how
    the caption is chosen).
    """
    from sonogen.models.reading import WEIGHTED, Reading

    reading = getattr(text_encoder, "reading", None)
    vocabulary = getattr(text_encoder, "vocabulary", None)
    if not isinstance(reading, Reading) or vocabulary is None or not prompt.strip() or WEIGHTED.search(prompt):
        return None
    reads = text_encoder._reads if isinstance(text_encoder._reads, dict) else {}
    if prompt not in reads:
        if len(reads) >= READS_KEPT:
            reads.pop(next(iter(reads)))
        reads[prompt] = _read_anew(text_encoder, reading, vocabulary, prompt)
        text_encoder._reads = reads
    return reads[prompt]


def _read_anew(text_encoder: Any, reading: Any, vocabulary: Vocabulary, prompt: str) -> str | None:
    """:func:`read_prompt` without its cache."""
    from sonogen.models.reading import read_as_caption

    if not unknown_words(prompt, vocabulary, text_encoder.embed, text_encoder.known_embeddings()["words"]):
        return None
    return read_as_caption(reading, text_encoder.reading_embeddings(), text_encoder.embed([prompt])[0])


def read_prompts(text_encoder: Any, prompts: Sequence[str]) -> list[str]:
    """Each prompt, or the caption :func:`read_prompt` reads it as."""
    out = []
    for prompt in prompts:
        caption = read_prompt(text_encoder, prompt)
        out.append(prompt if caption is None else caption)
    return out
