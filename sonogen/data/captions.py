"""Captions of the synthetic corpus, and the full list of words they can contain.

A caption is written from :class:`CaptionFacts`, which the composer fills in *after*
dropping every part that has no note inside the clip, so a caption names only what
sounds: each instrument, percussion and scene effect it names was rendered, the style
names that mention an instrument ("piano house") are used only when that instrument
plays, and every place or era word belongs to the style ("detroit techno", "1970s
disco"). Wording varies by seed: several templates, synonyms per instrument (a style may
prefer its own: "fiddle" in bluegrass, "808 bass" in trap), tempo words, moods, keys
and meters.

:func:`caption_words` lists every lower-case word any caption can contain, read off
the same tables and templates the captions are written from; :func:`caption_tokens`
is the tokenizer both use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sonogen.data import gm
from sonogen.data.blends import LAYER_HAND, LAYERS, Layer
from sonogen.data.music import NOTE_NAMES, ROLES, Style

#: A caption word: letters and digits, possibly joined by ``& ' / . -`` (``r&b``,
#: ``lo-fi``, ``3/4``), or a note name with a sharp (``f#``).
WORD_RE = re.compile(r"[a-z0-9]+(?:[&'/.-][a-z0-9]+)*#?")

#: (word, lowest BPM, highest BPM + 1): how a caption says the tempo in words.
TEMPO_WORDS = (("slow", 0, 76), ("mid-tempo", 76, 100), ("upbeat", 100, 130), ("fast", 130, 1000))
#: Moods any style may get from its tempo and mode.
FAST_MOODS = ("energetic", "fast-paced")
SLOW_MOODS = ("calm", "unhurried")
MINOR_MOODS = ("melancholic", "dark")
MAJOR_MOODS = ("bright", "uplifting")
#: How a caption names a meter other than 4/4 (4/4 is never named).
METER_PHRASES: dict[tuple[int, int], tuple[str, ...]] = {
    (3, 4): ("in 3/4", "in three-four time"), (2, 3): ("in 6/8",), (4, 3): ("in 12/8", "with a 12/8 feel"),
    (2, 4): ("in 2/4",),
}

#: Templates of a caption; ``{head}`` is the style (with its place or era, or its blend).
PLAIN_TEMPLATES = (
    "{Mood} {head} at {tempo} BPM with {instruments}",
    "{A_mood} {head} piece in {key}, {tempo} BPM, featuring {instruments}",
    "{Tempo_word} {head} ({tempo} bpm): {instruments}; {mood} feel",
    "{Instruments} playing {head}, {mood} and {tempo_word}, {tempo} beats per minute",
    "{Head} in {key} at {tempo} BPM. Instruments: {instruments}. Mood: {mood}",
    "{A_tempo_word}, {mood} {head} track with {instruments} around {tempo} BPM",
    "{Mood} {tempo_word} {head} featuring {instruments} in {key}",
    "{head}, {instruments}, {tempo} bpm",
    "{Head} with {instruments}, {mood} and {tempo_word}",
)
BLEND_TEMPLATES = (
    "{Head} at {tempo} BPM: {instruments}, {mood}",
    "{Mood} {head}, {tempo} BPM, with {instruments}",
    "{Head}, {tempo_word}, in {key}: {instruments}",
    "{head}, {instruments}, {tempo} bpm",
    "{Mood} {tempo_word} {head} featuring {instruments}",
)
#: How a blend with a partner style is named: ``{a}`` the host, ``{b}`` the partner,
#: ``{inst}`` one of the partner's rendered instruments.
PARTNER_HEADS = ("{a} meets {b}", "{a} and {b} fusion", "{a} tinged with {b}", "{a} with {b} {inst}")
LAYER_HEAD = "{a} with {phrase}"
PLACE_HEADS = ("{place} {a}", "{a} from {place}")
ERA_HEAD = "{era} {a}"
SWUNG_HEAD = "swung {a}"
#: How a scene effect joins the end of a caption.
EFFECT_FORMS = (", with {effect} in the background", " over {effect}", ", plus {effect}", "; {effect} behind it")
ARTICLES = ("a", "an")
#: Style names ending in one of these are already a noun phrase ("waltz tune"), so a
#: template's "{head} piece" / "{head} track" drops its own noun for them.
HEAD_NOUNS = frozenset({"piece", "tune", "track", "groove", "beat", "music", "song", "anthem", "jam", "riff", "break",
                        "miniature", "hymn", "concerto", "sonata", "ballad", "breakdown", "picking", "jig", "shuffle",
                        "riddim", "raga", "jazz", "combo", "rag", "cakewalk", "bap", "chillhop", "slow jam"})
#: Joins the last two names of a list.
LIST_AND = "and"


def caption_tokens(text: str) -> list[str]:
    """The words of ``text`` as captions count them: lower case, :data:`WORD_RE` matches."""
    return WORD_RE.findall(text.lower())


def tempo_word(tempo: int) -> str:
    """``slow``, ``mid-tempo``, ``upbeat`` or ``fast`` for a tempo in BPM."""
    for word, low, high in TEMPO_WORDS:
        if low <= tempo < high:
            return word
    return TEMPO_WORDS[-1][0]


def pick_mood(style: Style, tempo: int, is_minor: bool, rng: np.random.Generator) -> str:
    """A mood from the style's moods plus those its tempo and mode suggest (never the tempo word)."""
    pool = list(style.moods)
    if tempo >= 128:
        pool += FAST_MOODS
    elif tempo <= 80:
        pool += SLOW_MOODS
    pool += MINOR_MOODS if is_minor else MAJOR_MOODS
    pool = [m for m in pool if m != tempo_word(tempo)]
    return str(pool[int(rng.integers(len(pool)))])


@dataclass(frozen=True)
class Sounding:
    """One melodic part that has notes in the clip.

    Attributes:
        role: its role (:data:`sonogen.data.music.ROLES`).
        program: 0-based GM program.
        origin: ``"style"``, ``"partner"`` or ``"layer"``.
    """

    role: str
    program: int
    origin: str = "style"


@dataclass
class CaptionFacts:
    """What a caption may say about a clip: only things that sound in it.

    Attributes:
        style: the host style.
        tempo: BPM.
        key: e.g. ``"F# minor"``.
        mood: one mood word.
        swing: 0..1.
        parts: the melodic parts with notes, in track order.
        kit: drum-kit preset if the kit has notes, else None.
        percussion: hand-percussion part names (keys of :data:`gm.PERCUSSION`) with notes.
        effect: the scene effect (key of :data:`gm.EFFECTS`) if it has notes, else None.
        partner: the blended style, if any.
        layer: the blend layer, if any.
    """

    style: Style
    tempo: int
    key: str
    mood: str
    swing: float = 0.0
    parts: list[Sounding] = field(default_factory=list)
    kit: int | None = None
    percussion: list[str] = field(default_factory=list)
    effect: str | None = None
    partner: Style | None = None
    layer: Layer | None = None

    @property
    def programs(self) -> set[int]:
        """The GM programs that sound."""
        return {p.program for p in self.parts}


def program_names(program: int, style: Style | None = None, layer: Layer | None = None) -> tuple[str, ...]:
    """Caption names of a program: the layer's, else the style's aliases, else the GM caption names."""
    if layer is not None and program in layer.names:
        return layer.names[program]
    if style is not None and program in style.aliases:
        return style.aliases[program]
    return gm.CAPTION_NAMES[program]


def style_words(style: Style, programs: set[int], kit: bool) -> list[str]:
    """Names of ``style`` a caption may use when ``programs`` sound (and a kit, if ``kit``)."""
    words = list(style.words)
    for gated, needs in style.gated_words:
        if any(p in programs for p in needs if p >= 0) or (kit and -1 in needs):
            words.extend(gated)
    return words


def _pick(rng: np.random.Generator, options: Iterable[Any]) -> Any:
    seq = list(options)
    return seq[int(rng.integers(len(seq)))]


def _article(word: str) -> str:
    return (ARTICLES[1] if word[:1].lower() in "aeiou" else ARTICLES[0]) + " " + word


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {LIST_AND} " + names[-1]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _instrument_names(facts: CaptionFacts, rng: np.random.Generator, skip_layer: bool) -> list[str]:
    """Names for the caption's instrument list, most prominent first (2-6 of what sounds)."""
    owner = {"style": facts.style, "partner": facts.partner, "layer": None}
    ranked = sorted(facts.parts, key=lambda s: (ROLES.index(s.role) if s.role in ROLES else len(ROLES)))
    candidates: list[str] = []
    seen: set[int] = set()
    for part in ranked:
        if (skip_layer and part.origin == "layer") or part.program in seen:
            continue
        seen.add(part.program)  # one name per program: two piano parts are one piano
        layer = facts.layer if part.origin == "layer" else None
        candidates.append(str(_pick(rng, program_names(part.program, owner[part.origin], layer))))
    if facts.kit is not None:
        candidates.append(str(_pick(rng, gm.KITS[facts.kit])))
    for name in facts.percussion:
        candidates.append(str(_pick(rng, gm.PERCUSSION[name].names)))
    unique: list[str] = []
    for name in candidates:
        if name.lower() not in {u.lower() for u in unique}:
            unique.append(name)
    if not unique and skip_layer:
        return _instrument_names(facts, rng, False)
    keep = int(rng.integers(2, 7))
    chosen = unique[:1] + [n for n in unique[1:] if rng.random() < 0.75]
    return chosen[:keep] or unique[:1]


def _head(facts: CaptionFacts, rng: np.random.Generator, allow_from: bool) -> tuple[str, dict[str, Any]]:
    """The style phrase: its name, with a place or era, a swing or meter note, or its blend."""
    st = facts.style
    kit = facts.kit is not None
    host_programs = {p.program for p in facts.parts if p.origin == "style"}
    word = str(_pick(rng, style_words(st, host_programs, kit)))
    info: dict[str, Any] = {"place": None, "era": None}
    if facts.layer is not None:
        return LAYER_HEAD.format(a=word, phrase=_pick(rng, facts.layer.phrases)), info
    if facts.partner is not None:
        partner_programs = {p.program for p in facts.parts if p.origin == "partner"}
        b = str(_pick(rng, style_words(facts.partner, partner_programs, False)))
        form = str(_pick(rng, PARTNER_HEADS))
        inst = ""
        if "{inst}" in form:  # "techno with bossa nova guitar": the partner's plain name before an instrument
            b = next((w for w in style_words(facts.partner, partner_programs, False)
                      if w.lower() == facts.partner.name), facts.partner.name)
            program = int(_pick(rng, sorted(partner_programs)))
            inst = str(_pick(rng, program_names(program, facts.partner)))
        return form.format(a=word, b=b, inst=inst), info
    roll = rng.random()
    if st.places and roll < 0.2:
        place = str(_pick(rng, st.places))
        info["place"] = place
        head = str(_pick(rng, PLACE_HEADS if allow_from else PLACE_HEADS[:1])).format(place=place, a=word)
    elif st.eras and roll < 0.4:
        era = str(_pick(rng, st.eras))
        info["era"] = era
        head = ERA_HEAD.format(era=era, a=word)
    elif facts.swing > 0.5 and "swing" not in word and "shuffle" not in word and rng.random() < 0.4:
        head = SWUNG_HEAD.format(a=word)
    else:
        head = word
    if st.meter in METER_PHRASES and rng.random() < 0.35:
        head = f"{head} {_pick(rng, METER_PHRASES[st.meter])}"
    return head, info


def make_caption(facts: CaptionFacts, rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    """A caption for a clip, in one of several wordings.

    Returns:
        ``(caption, {"place": str | None, "era": str | None})``: the place or era word
        used, if any (for the clip's metadata).
    """
    blend = facts.layer is not None or facts.partner is not None
    template = str(_pick(rng, BLEND_TEMPLATES if blend else PLAIN_TEMPLATES))
    allow_from = "{head} piece" not in template and "{head} track" not in template
    head, info = _head(facts, rng, allow_from)
    if head.split()[-1].lower() in HEAD_NOUNS:
        template = template.replace("{head} piece", "{head}").replace("{head} track", "{head}")
    names = _instrument_names(facts, rng, skip_layer=facts.layer is not None)
    values: dict[str, Any] = {
        "mood": facts.mood, "head": head, "tempo": facts.tempo, "key": facts.key,
        "instruments": _join(names), "tempo_word": tempo_word(facts.tempo),
    }
    values["a_mood"] = _article(facts.mood)
    values["a_tempo_word"] = _article(values["tempo_word"])
    values.update({k[:1].upper() + k[1:]: _upper_first(str(v)) for k, v in list(values.items())})
    text = template.format(**values)
    if facts.effect is not None:
        phrase = str(_pick(rng, gm.EFFECTS[facts.effect].phrases))
        text += str(_pick(rng, EFFECT_FORMS)).format(effect=phrase)
    return text, info


# ----------------------------------------------------------------------------- vocabulary


def _literal(template: str) -> str:
    """``template`` without its ``{placeholders}``."""
    return re.sub(r"\{[^}]*\}", " ", template)


def caption_words() -> set[str]:
    """Every lower-case word any caption can contain.

    Read off the tables captions are written from (templates, style names and their
    places, eras and moods, instrument names and synonyms, kits, percussion, effects,
    tempo words, keys, meters, and every BPM a style can have). A word joined by ``-``,
    ``&``, ``/``, ``'``, ``.`` or ending in ``#`` (``lo-fi``, ``r&b``, ``3/4``, ``f#``)
    is listed whole and in its pieces, so a benchmark that splits words more finely
    still finds them. Use :func:`caption_tokens` to split a prompt the same way.
    """
    from sonogen.data.styles import STYLE_TABLE

    texts: list[str] = []
    texts += [_literal(t) for t in PLAIN_TEMPLATES + BLEND_TEMPLATES + PARTNER_HEADS + PLACE_HEADS + EFFECT_FORMS]
    texts += [_literal(LAYER_HEAD), _literal(ERA_HEAD), _literal(SWUNG_HEAD), LIST_AND, *ARTICLES]
    texts += [w for w, _, _ in TEMPO_WORDS] + list(FAST_MOODS + SLOW_MOODS + MINOR_MOODS + MAJOR_MOODS)
    texts += [p for phrases in METER_PHRASES.values() for p in phrases]
    texts += [n for n in NOTE_NAMES]
    low, high = 1000, 0
    for st in STYLE_TABLE.values():
        texts += list(st.words) + [w for gated, _ in st.gated_words for w in gated]
        texts += list(st.places) + list(st.eras) + list(st.moods) + list(st.scales)
        for program in st.programs:
            texts += list(program_names(program, st))
        if st.drums:
            texts += [n for kit in st.kits for n in gm.KITS[kit]]
        for groove in st.drums + st.hand:
            texts += [n for part in groove for n in gm.PERCUSSION[part].names]
        for effect in st.effects:
            texts += list(gm.EFFECTS[effect].phrases)
        low, high = min(low, st.tempo[0]), max(high, st.tempo[1])
    for layer in LAYERS.values():
        texts += list(layer.phrases)
        for program in layer.programs:
            texts += list(program_names(program, None, layer))
    for grooves in LAYER_HAND.values():
        for groove in grooves.values():
            texts += [n for part in groove for n in gm.PERCUSSION[part].names]
    texts += [str(t) for t in range(low, high + 1)]
    words: set[str] = set()
    for text in texts:
        for token in caption_tokens(text):
            words.add(token)
            words.update(piece for piece in re.split(r"[&'/.#-]", token) if piece)
    return words
