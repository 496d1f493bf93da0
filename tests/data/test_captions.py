"""Captions of the synthetic corpus are honest, and caption_words() lists every word they use.

Honesty is checked from the outside: a scanner finds every sound a caption names (by
longest match over all instrument, kit, percussion and effect names and every style's
words, places and eras) and each must be in the clip's metadata, which lists what the
composer actually wrote notes for.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from sonogen.data import gm, synth
from sonogen.data.blends import LAYER_HAND, LAYERS
from sonogen.data.captions import caption_tokens, caption_words

Evidence = tuple[str, Any]


@cache
def phrase_table() -> dict[str, frozenset[Evidence]]:
    """Every phrase a caption may name a sound with -> what would make it true.

    Style words map to the programs that gate them (or to nothing: a neutral phrase
    that merely hides the instrument words inside it, like "drum and bass").
    """
    table: dict[str, set[Evidence]] = defaultdict(set)
    for program, names in gm.CAPTION_NAMES.items():
        for n in names:
            table[n.lower()].add(("program", program))
    for st in synth.STYLE_TABLE.values():
        for program, names in st.aliases.items():
            for n in names:
                table[n.lower()].add(("program", program))
        for gated, needs in st.gated_words:
            for w in gated:
                table[w.lower()].add(("gate", needs))
    for layer in LAYERS.values():
        for program, names in layer.names.items():
            for n in names:
                table[n.lower()].add(("program", program))
        for phrase in layer.phrases:
            table[phrase.lower()].add(("layer", layer.name))
    for kit, names in gm.KITS.items():
        for n in names:
            table[n.lower()].add(("kit", kit))
    for perc in gm.PERCUSSION.values():
        for n in perc.names:
            table[n.lower()].add(("percussion", perc.gm))
    for effect in gm.EFFECTS.values():
        for n in effect.phrases:
            table[n.lower()].add(("effect", gm.GM_PROGRAMS[effect.program]))
    neutral = {w.lower() for st in synth.STYLE_TABLE.values() for w in st.words}
    neutral |= {w.lower() for st in synth.STYLE_TABLE.values() for w in st.places + st.eras}
    for phrase in neutral:
        table.setdefault(phrase, set())
    return {k: frozenset(v) for k, v in table.items()}


@cache
def _scanner() -> re.Pattern[str]:
    """All phrases as one pattern, longest first, so each position matches its longest phrase."""
    phrases = sorted(phrase_table(), key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(p) for p in phrases) + r")(?![a-z0-9])")


def named(caption: str) -> list[tuple[str, frozenset[Evidence]]]:
    """The phrases of ``caption`` that name sounds: leftmost-longest matches at word boundaries."""
    found = []
    for m in _scanner().finditer(caption.lower()):
        evidence = phrase_table()[m.group(1)]
        if evidence:
            found.append((m.group(1), evidence))
    return found


def satisfied(evidence: Evidence, meta: dict[str, Any]) -> bool:
    """Whether the clip's metadata shows the sound ``evidence`` stands for."""
    kind, value = evidence
    programs = {gm.GM_PROGRAMS.index(n) for n in meta["instruments"]}
    if kind == "program":
        return value in programs
    if kind == "gate":
        return any(p in programs for p in value if p >= 0) or (-1 in value and meta["kit"] is not None)
    if kind == "layer":
        if meta["blend"] != value:
            return False
        layer = LAYERS[value]
        hand_ok = value not in LAYER_HAND or any("Conga" in d for d in meta["drums"])
        return hand_ok and all(set(part.programs) & programs for part in layer.parts)
    if kind == "kit":
        return meta["kit"] == gm.KIT_GM_NAMES[value]
    if kind == "percussion":
        return value in meta["drums"]
    return value in meta["effects"]


def corpus_like(count_per_style: int = 12, seconds: float = 5.12) -> list[synth.Composition]:
    """Compositions over every style and many seeds, a third of them blends."""
    comps = []
    for i, style in enumerate(synth.STYLES):
        for k in range(count_per_style):
            seed = 1000 * i + k
            comps.append(synth.compose(style, seed, seconds, synth.pick_blend(style, seed, 0.35)))
    return comps


@pytest.fixture(scope="module")
def corpus() -> list[synth.Composition]:
    """Twelve 5.12 s clips of every style, a third of them blends (composed once for these tests)."""
    return corpus_like(12)


@pytest.mark.parametrize("seconds", [5.12, 0.6])
def test_a_caption_names_only_what_was_rendered(seconds: float, corpus: list[synth.Composition]) -> None:
    comps = corpus if seconds == 5.12 else corpus_like(6, seconds)
    assert sum(1 for c in comps if c.meta["blend"]) > 25
    for comp in comps:
        phrases = named(comp.caption)
        assert phrases, comp.caption  # every caption names at least one sound
        for phrase, evidence in phrases:
            assert any(satisfied(e, comp.meta) for e in evidence), (phrase, comp.caption, comp.meta)


def test_places_and_eras_belong_to_the_style(corpus: list[synth.Composition]) -> None:
    places = {p.lower() for st in synth.STYLE_TABLE.values() for p in st.places}
    eras = {e.lower() for st in synth.STYLE_TABLE.values() for e in st.eras}
    seen = 0
    for comp in corpus:
        st = synth.STYLE_TABLE[comp.meta["style"]]
        text = comp.caption.lower()
        for word in places | eras:
            if re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", text):
                own = {p.lower() for p in st.places + st.eras}
                assert word in own or any(word in p for p in own), (word, comp.caption)
                seen += 1
        if comp.meta["place"]:
            assert comp.meta["place"] in st.places and comp.meta["place"].lower() in text
        if comp.meta["era"]:
            assert comp.meta["era"] in st.eras and comp.meta["era"].lower() in text
    assert seen > 40


def test_style_words_that_name_an_instrument_are_gated() -> None:
    """A style name like "piano house" may only be used when a piano plays."""
    instrument_table = {k: v for k, v in phrase_table().items() if any(e[0] != "gate" for e in v)}
    for st in synth.STYLE_TABLE.values():
        for word in st.words:
            text = word.lower()
            for phrase in instrument_table:
                hit = re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", text)
                assert not hit, (st.name, word, phrase)


def test_blend_captions_name_both_parts() -> None:
    found = {"layer": 0, "style": 0}
    for i, style in enumerate(synth.STYLES):
        for seed in range(12):
            blend = synth.pick_blend(style, seed * 31 + i, 1.0)
            if blend is None:
                continue
            comp = synth.compose(style, seed * 31 + i, 5.12, blend)
            text = comp.caption.lower()
            host = synth.STYLE_TABLE[style]
            host_words = [w.lower() for w in host.words] + [w.lower() for g, _ in host.gated_words for w in g]
            assert any(w in text for w in host_words), comp.caption
            if blend in LAYERS:
                assert any(p.lower() in text for p in LAYERS[blend].phrases), comp.caption
                found["layer"] += 1
            else:
                other = synth.STYLE_TABLE[blend]
                other_words = [w.lower() for w in other.words] + [w.lower() for g, _ in other.gated_words for w in g]
                assert any(w in text for w in other_words), comp.caption
                found["style"] += 1
            assert comp.meta["blend"] == blend
    assert found["layer"] > 150 and found["style"] > 150


def test_caption_words_cover_every_caption(corpus: list[synth.Composition]) -> None:
    words = caption_words()
    assert all(w == w.lower() and w for w in words)
    for comp in corpus:
        missing = [t for t in caption_tokens(comp.caption) if t not in words]
        assert not missing, (missing, comp.caption)
    for word in ("salsa", "fiddle", "kingston", "1970s", "808", "sax", "bpm", "r&b", "lo-fi", "lo", "f#", "congas",
                 "birdsong", "3/4", "120", "upright"):
        assert word in words, word
    for word in ("zydeco", "guzheng", "dubstep", "theremin", "kazoo", "didgeridoo", "vaporwave", "erhu"):
        assert word not in words, word  # prompts with these words ask for something the corpus never has


def test_caption_tokens_split_like_the_vocabulary() -> None:
    assert caption_tokens("Lo-fi R&B in F# minor, 3/4 at 90 BPM; St. Louis ragtime.") == [
        "lo-fi", "r&b", "in", "f#", "minor", "3/4", "at", "90", "bpm", "st", "louis", "ragtime"]
