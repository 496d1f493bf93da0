"""The frozen prompt sets of ``benchmarks/prompt_sets.json``: what they hold and a mechanical check.

Three sets, each a list of objects:

* ``unseen_words``: ``{"prompt", "style"}``: prompts written in words the synthetic
  corpus's captions never use (nicknames, places, eras, scenes, moods), each labelled with
  the corpus style a person would hear in it;
* ``instruments``: ``{"prompt", "instrument"}`` (+ optional ``"accept"``): prompts naming
  one General MIDI instrument, by its GM program name; ``accept`` lists GM programs that
  sound alike enough to count as the same answer (a violin for a fiddle);
* ``two_part``: ``{"prompt", "style", "instrument"}``: "style A with instrument B", B an
  instrument style A never plays in the corpus.

The check (run it, or ``tests/models/test_prompt_sets.py`` does)::

    python benchmarks/prompt_sets.py

* every ``unseen_words`` prompt holds at least one content word (not in :data:`STOPWORDS`)
  that no caption can contain (:func:`sonogen.data.captions.caption_words`, words split
  as :func:`~sonogen.data.captions.caption_tokens` splits them; a joined word such as
  ``four-on-the-floor`` counts as unseen only if one of its pieces is), and names no
  corpus style (no style's name or caption name, e.g. "techno" or "deep house", occurs
  in it as a run of words);
* styles are corpus styles; instruments (and ``accept``) are GM program names some style
  or blend layer of the corpus renders; an ``instruments`` prompt names its instrument by
  one of the caption names of it (or of an accepted one) and no style; a ``two_part``
  prompt names its style and its instrument, and the style never renders that instrument;
* no prompt appears twice in a set.

It prints a summary: prompts per set, styles covered, the share of unseen content words.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The frozen prompt sets.
PROMPT_SETS_PATH = Path(__file__).resolve().parent / "prompt_sets.json"
#: The sets the file must hold.
SET_NAMES = ("unseen_words", "instruments", "two_part")
#: Words that carry no meaning of their own: not counted as content words.
STOPWORDS = frozenset(
    "a an the of in on at to for with and or by from into over under through up down out off as like that this "
    "other its it is are be was till until no not nothing else just only all any some each every while who whom "
    "you your their other his her our my s about after before during around".split()
)
#: Minimum sizes of the sets, and of the styles the unseen-words set covers.
MIN_UNSEEN_PROMPTS = 100
MIN_UNSEEN_STYLES = 30


def load_prompt_sets(path: Path = PROMPT_SETS_PATH) -> dict[str, Any]:
    """The prompt-set file as a dict (the three sets and notes)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def content_words(prompt: str) -> list[str]:
    """The words of ``prompt`` (as captions split them) that are not :data:`STOPWORDS`."""
    from sonogen.data.captions import caption_tokens

    return [w for w in caption_tokens(prompt) if w not in STOPWORDS]


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Every word a corpus caption can contain (cached)."""
    from sonogen.data.captions import caption_words

    return frozenset(caption_words())


def pieces(word: str) -> list[str]:
    """The parts of ``word`` between ``&'/.#-`` that are not :data:`STOPWORDS`."""
    return [p for p in re.split(r"[&'/.#-]", word) if p and p not in STOPWORDS]


def is_unseen(word: str, known: frozenset[str]) -> bool:
    """Whether no caption holds ``word``: it is not known, and neither are all its pieces
    (``four-on-the-floor`` is unseen because ``floor`` is; ``late-night`` would not be)."""
    if word in known:
        return False
    parts = pieces(word)
    return not parts or any(p not in known for p in parts)


def word_pieces(word: str, known: frozenset[str]) -> set[str]:
    """``word`` and those of its pieces (split at ``&'/.#-``) that are neither in ``known``
    nor :data:`STOPWORDS`: ``word_pieces("hitsville-era", known)`` holds "hitsville" too."""
    return {word} | {p for p in pieces(word) if p not in known}


def unseen_words(prompt: str) -> list[str]:
    """The content words of ``prompt`` that no caption contains."""
    known = known_words()
    return [w for w in content_words(prompt) if is_unseen(w, known)]


@lru_cache(maxsize=1)
def style_phrases() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per corpus style, the word runs that name it: its name and its caption names."""
    from sonogen.data.captions import caption_tokens
    from sonogen.data.styles import STYLE_TABLE

    out = {}
    for name, style in STYLE_TABLE.items():
        names = [name, *style.words, *(w for gated, _ in style.gated_words for w in gated)]
        out[name] = tuple(dict.fromkeys(tuple(caption_tokens(n)) for n in names if caption_tokens(n)))
    return out


def _holds(tokens: Sequence[str], run: Sequence[str]) -> bool:
    """Whether ``run`` occurs in ``tokens`` as consecutive items."""
    n = len(run)
    return any(tuple(tokens[i:i + n]) == tuple(run) for i in range(len(tokens) - n + 1))


def named_styles(prompt: str) -> list[str]:
    """Corpus styles whose name or a caption name of which occurs in ``prompt`` as a run of words."""
    from sonogen.data.captions import caption_tokens

    tokens = caption_tokens(prompt)
    return [s for s, runs in style_phrases().items() if any(_holds(tokens, r) for r in runs)]


@lru_cache(maxsize=1)
def corpus_instruments() -> dict[str, tuple[str, ...]]:
    """GM program name -> every caption name of it, for the programs some style or blend layer renders."""
    from sonogen.data import gm
    from sonogen.data.blends import LAYERS
    from sonogen.data.captions import program_names
    from sonogen.data.styles import STYLE_TABLE

    names: dict[str, list[str]] = {}
    for style in STYLE_TABLE.values():
        for program in style.programs:
            names.setdefault(gm.GM_PROGRAMS[program], []).extend(
                [*gm.CAPTION_NAMES.get(program, ()), *program_names(program, style)])
    for layer in LAYERS.values():
        for program in layer.programs:
            names.setdefault(gm.GM_PROGRAMS[program], []).extend(
                [*gm.CAPTION_NAMES.get(program, ()), *program_names(program, None, layer)])
    return {k: tuple(dict.fromkeys(n.lower() for n in v)) for k, v in names.items()}


def style_programs(style: str) -> set[str]:
    """GM program names a corpus style renders (its own parts, not blends)."""
    from sonogen.data import gm
    from sonogen.data.styles import STYLE_TABLE

    return {gm.GM_PROGRAMS[p] for p in STYLE_TABLE[style].programs}


def names_instrument(prompt: str, instruments: Sequence[str]) -> bool:
    """Whether ``prompt`` holds a caption name of one of ``instruments`` (GM names) as a run of words."""
    from sonogen.data.captions import caption_tokens

    tokens = caption_tokens(prompt)
    table = corpus_instruments()
    return any(_holds(tokens, caption_tokens(n)) for i in instruments for n in table.get(i, ()))


def check(sets: dict[str, Any]) -> list[str]:
    """Every problem of a prompt-set dict, one line each (empty: the file is sound)."""
    from sonogen.data.styles import STYLE_TABLE

    problems: list[str] = []
    instruments = corpus_instruments()
    for name in SET_NAMES:
        items = sets.get(name)
        if not isinstance(items, list) or not items:
            problems.append(f"{name}: missing or empty")
            continue
        for prompt, count in Counter(str(i.get("prompt", "")).lower() for i in items).items():
            if count > 1:
                problems.append(f"{name}: {prompt!r} appears {count} times")
    for item in sets.get("unseen_words") or []:
        prompt, style = item.get("prompt", ""), item.get("style")
        if style not in STYLE_TABLE:
            problems.append(f"unseen_words: {prompt!r}: {style!r} is no corpus style")
        if not unseen_words(prompt):
            problems.append(f"unseen_words: {prompt!r}: every content word is a caption word")
        if named_styles(prompt):
            problems.append(f"unseen_words: {prompt!r}: names the style(s) {named_styles(prompt)}")
    unseen = sets.get("unseen_words") or []
    if len(unseen) < MIN_UNSEEN_PROMPTS:
        problems.append(f"unseen_words: {len(unseen)} prompts, fewer than {MIN_UNSEEN_PROMPTS}")
    if len({i.get("style") for i in unseen}) < MIN_UNSEEN_STYLES:
        problems.append(f"unseen_words: fewer than {MIN_UNSEEN_STYLES} styles")
    for item in sets.get("instruments") or []:
        prompt, inst = item.get("prompt", ""), item.get("instrument")
        accepted = [inst, *item.get("accept", [])]
        bad = [a for a in accepted if a not in instruments]
        if bad:
            problems.append(f"instruments: {prompt!r}: {bad} not GM programs the corpus renders")
        elif not names_instrument(prompt, accepted):
            problems.append(f"instruments: {prompt!r}: names none of {accepted} by a caption name")
        if named_styles(prompt):
            problems.append(f"instruments: {prompt!r}: names the style(s) {named_styles(prompt)}")
    for item in sets.get("two_part") or []:
        prompt, style, inst = item.get("prompt", ""), item.get("style"), item.get("instrument")
        accepted = [inst, *item.get("accept", [])]
        if style not in STYLE_TABLE:
            problems.append(f"two_part: {prompt!r}: {style!r} is no corpus style")
            continue
        if any(a not in instruments for a in accepted):
            problems.append(f"two_part: {prompt!r}: {accepted} not all GM programs the corpus renders")
            continue
        if style not in named_styles(prompt):
            problems.append(f"two_part: {prompt!r}: does not name {style!r}")
        if not names_instrument(prompt, accepted):
            problems.append(f"two_part: {prompt!r}: names none of {accepted} by a caption name")
        native = style_programs(style) & set(accepted)
        if native:
            problems.append(f"two_part: {prompt!r}: {style!r} already plays {sorted(native)}")
    return problems


def summary(sets: dict[str, Any]) -> str:
    """A few lines: prompts per set, styles and instruments covered, unseen-word shares."""
    unseen = sets.get("unseen_words") or []
    shares = [len(unseen_words(i["prompt"])) / max(1, len(content_words(i["prompt"]))) for i in unseen]
    all_unseen = sum(s == 1.0 for s in shares)
    lines = [
        f"unseen_words: {len(unseen)} prompts over {len({i['style'] for i in unseen})} styles; "
        f"unseen content words per prompt {100 * sum(shares) / max(1, len(shares)):.0f}% on average "
        f"(min {100 * min(shares, default=0):.0f}%), {all_unseen} prompts with every content word unseen",
    ]
    inst = sets.get("instruments") or []
    lines.append(f"instruments: {len(inst)} prompts over {len({i['instrument'] for i in inst})} instruments: "
                 + ", ".join(sorted({i['instrument'] for i in inst})))
    two = sets.get("two_part") or []
    lines.append(f"two_part: {len(two)} prompts over {len({i['style'] for i in two})} styles and "
                 f"{len({i['instrument'] for i in two})} instruments")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=PROMPT_SETS_PATH)
    parser.add_argument("--words", action="store_true", help="list each unseen-words prompt's unseen words")
    args = parser.parse_args(argv)
    sets = load_prompt_sets(args.path)
    if args.words:
        for item in sets.get("unseen_words") or []:
            print(f"{item['style']:>20} | {item['prompt']}  ->  {', '.join(unseen_words(item['prompt']))}")
    print(summary(sets))
    problems = check(sets)
    for line in problems:
        print("PROBLEM", line)
    print("check: " + ("passed" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
