"""The synthetic corpus's styles, composition, blends and rendering."""

from __future__ import annotations

import json
import unittest.mock

import numpy as np
import pytest

from sonogen.data import gm, synth
from sonogen.data.blends import LAYER_HAND, LAYERS
from sonogen.data.music import CHORD_TONES, SCALES
from sonogen.errors import SonogenError

#: Styles prompts reach for that the corpus must have, besides the first sixteen.
WANTED = ("blues", "country", "house", "disco", "salsa", "mambo", "bossa nova", "ska", "dancehall", "trance",
          "synthwave", "lo-fi hip hop", "ragtime", "baroque", "classical", "folk", "gospel", "punk", "soul", "r&b",
          "indian classical", "japanese traditional", "rock", "jazz swing", "funk", "techno", "hip hop", "reggae",
          "ambient", "solo piano", "string ensemble", "drums only", "metal")


def test_at_least_thirty_styles_each_with_its_own_signature() -> None:
    assert len(synth.STYLES) >= 30
    assert set(WANTED) <= set(synth.STYLES)
    table = synth.STYLE_TABLE
    grooves = [json.dumps(st.drums + st.hand, sort_keys=True) for st in table.values() if st.drums or st.hand]
    assert len(set(grooves)) == len(grooves)  # no two styles share their grooves
    signatures = {(st.tempo, st.meter, st.swing, tuple(sorted(st.programs))) for st in table.values()}
    assert len(signatures) == len(table)
    assert len({st.tempo for st in table.values()}) >= 25
    assert {st.meter for st in table.values()} >= {(4, 4), (3, 4), (2, 4), (4, 3), (2, 3), (8, 2)}
    assert not table["bluegrass"].drums and not table["tango"].drums and table["salsa"].hand  # grooves differ in kind
    assert 104 in table["indian classical"].programs and {106, 107} <= table["japanese traditional"].programs
    assert {52, 53} <= table["gospel"].programs and 110 in table["folk"].programs


def test_style_tables_are_well_formed() -> None:
    for st in synth.STYLE_TABLE.values():
        steps = st.steps_per_bar
        for groove in st.drums + st.hand:
            for part, pattern in groove.items():
                assert part in gm.PERCUSSION, (st.name, part)
                assert len(pattern) == steps and set(pattern) <= set("Xxo."), (st.name, part, pattern)
        for part in st.parts:
            assert part.programs and all(0 <= p < 120 for p in part.programs), (st.name, part)
            assert part.role == "lead" or any(p == "walk" or len(p) == steps for p in part.patterns), st.name
            for pattern in part.patterns:
                held = set(pattern[1:]) == {"-"}  # a held note fits any meter (pads and drones list several)
                assert pattern == "walk" or len(pattern) == steps or held, (st.name, part.role, pattern)
        assert set(st.kits) <= set(gm.KITS) and set(st.effects) <= set(gm.EFFECTS)
        assert set(st.scales) <= set(SCALES)
        for loops in st.progressions:
            for loop in loops:
                assert loop and all(q in CHORD_TONES for _, q in loop), st.name
        assert set(st.aliases) <= st.programs, st.name  # a synonym for something the style never plays is dead
        assert st.moods and (st.words or st.gated_words)
        names = {w.lower() for w in st.words} | {w.lower() for g, _ in st.gated_words for w in g}
        assert st.name in names, st.name  # a partner blend may name the style by its plain name
        assert all(m == m.lower() for m in st.moods)
    for layer in LAYERS.values():
        assert layer.parts or layer.name in LAYER_HAND
        for part in layer.parts:
            assert all(len(p) in (6, 8, 12, 16) for p in part.patterns), (layer.name, part)


def test_general_midi_is_covered() -> None:
    """Nearly every melodic program, the named percussion and the scene effects are used."""
    programs = set().union(*(st.programs for st in synth.STYLE_TABLE.values()), *(la.programs for la in LAYERS.values()))
    assert programs >= set(range(120))  # every melodic program (the rest are scene effects)
    percussion = {p for st in synth.STYLE_TABLE.values() for g in st.drums + st.hand for p in g}
    names = {n for p in percussion for n in gm.PERCUSSION[p].names}
    assert {"bongos", "congas", "maracas", "cowbell", "timbales", "claves", "guiro", "cuica", "agogo bells",
            "tambourine", "hand claps"} <= names
    effects = {e for st in synth.STYLE_TABLE.values() for e in st.effects}
    assert {"bird tweet", "seashore", "applause", "telephone ring", "helicopter", "breath noise"} <= effects


def test_compose_is_deterministic_and_seeds_vary() -> None:
    for style, blend in (("salsa", None), ("techno", "fiddle"), ("rock", "punk"), ("waltz", None)):
        a, b = synth.compose(style, 7, blend=blend), synth.compose(style, 7, blend=blend)
        assert a.caption == b.caption and a.meta == b.meta
        assert [(n.start, n.key, n.velocity) for n in a.notes] == [(n.start, n.key, n.velocity) for n in b.notes]
    comps = [synth.compose("funk", seed) for seed in range(12)]
    assert len({c.meta["tempo"] for c in comps}) > 3 and len({c.meta["key"] for c in comps}) > 3
    assert len({c.caption for c in comps}) == 12 and len({tuple(c.meta["instruments"]) for c in comps}) > 1


@pytest.mark.parametrize("seconds", [0.5, 5.12])
def test_every_track_sounds_inside_the_clip(seconds: float) -> None:
    for style in synth.STYLES:
        for seed in range(3):
            comp = synth.compose(style, seed, seconds, synth.pick_blend(style, seed, 0.5))
            assert comp.tracks, style
            for track in comp.tracks:
                assert track.notes and all(n.start < seconds for n in track.notes), (style, track.role)
                assert all(0 <= n.key < 128 and 1 <= n.velocity <= 127 for n in track.notes), (style, track.role)
            melodic = [t for t in comp.tracks if not t.drums and t.role != "effect"]
            assert comp.meta["instruments"] == list(dict.fromkeys(gm.GM_PROGRAMS[t.preset] for t in melodic))
            played = {n.key for t in comp.tracks if t.drums for n in t.notes}
            assert comp.meta["drums"] == sorted(p.gm for p in gm.PERCUSSION.values() if p.key in played)


def test_solo_styles_stay_solo() -> None:
    for seed in range(20):
        piano = synth.compose("solo piano", seed)
        assert {t.preset for t in piano.tracks} <= {0, 1} and not any(t.drums for t in piano.tracks)
        assert len({t.preset for t in piano.tracks}) == 1  # one piano for both hands
        assert all(t.drums for t in synth.compose("drums only", seed).tracks)
    for solo in ("solo piano", "drums only", "string ensemble"):
        assert all(synth.pick_blend(solo, s, 1.0) is None for s in range(30))
    with pytest.raises(SonogenError, match="cannot"):
        synth.compose("solo piano", 0, blend="fiddle")
    with pytest.raises(SonogenError, match="unknown blend"):
        synth.compose("rock", 0, blend="kazoo")


def test_blends_are_about_fifteen_percent_and_follow_the_style_list() -> None:
    plan = synth.clip_plan(1500, seed=3)
    share = sum(1 for *_, blend in plan if blend) / len(plan)
    assert 0.11 < share < 0.19
    kinds = {blend in synth.STYLE_TABLE for *_, blend in plan if blend}
    assert kinds == {True, False}  # both partner styles and layers
    assert not any(blend for *_, blend in synth.clip_plan(300, seed=3, blend_fraction=0.0))
    subset = ["techno", "salsa", "rock", "punk"]
    small = synth.clip_plan(400, seed=1, styles=subset, blend_fraction=0.5)
    assert {style for _, _, style, _ in small} == set(subset)
    assert all(b in subset or b in LAYERS for *_, b in small if b)
    assert sorted(s for _, _, s, _ in small[:4]) == sorted(subset)  # each round has every style once


def test_blend_metadata_names_the_second_part() -> None:
    comp = synth.compose("metal", 2, blend="string quartet")
    assert comp.meta["blend"] == "string quartet" and comp.meta["blend_kind"] == "layer"
    assert {"Violin", "Viola", "Cello"} <= set(comp.meta["instruments"])
    assert "a string quartet" in comp.caption.lower()
    mixed = synth.compose("techno", 5, blend="bossa nova")
    assert mixed.meta["blend"] == "bossa nova" and mixed.meta["blend_kind"] == "style"
    partner_programs = synth.STYLE_TABLE["bossa nova"].programs
    assert any(t.origin == "partner" and t.preset in partner_programs for t in mixed.tracks)
    assert any(t.role == "kit" for t in mixed.tracks)  # techno's groove stays
    congas = synth.compose("funk", 1, blend="congas")
    assert {"Low Conga", "Open Hi Conga"} <= set(congas.meta["drums"]) and "conga" in congas.caption.lower()


@pytest.mark.soundfont
def test_render_clip_is_deterministic_and_audible() -> None:
    wave, rate, caption, meta = synth.render_clip("house", 11, seconds=1.0)
    again = synth.render_clip("house", 11, seconds=1.0)
    assert rate == 44100 and wave.shape == (2, 44100) and wave.dtype == np.float32
    assert np.array_equal(wave, again[0]) and caption == again[2] and meta == again[3]
    assert meta["soundfont"] == synth.soundfont_label(synth.find_soundfont())
    assert 0.05 < float(np.sqrt(np.mean(wave**2))) and np.abs(wave).max() <= 0.91
    other = synth.render_clip("house", 12, seconds=1.0)[0]
    assert not np.array_equal(wave, other)


@pytest.mark.soundfont
def test_every_part_is_mixed_to_be_heard() -> None:
    """Each track of a clip reaches its level in the mix: no captioned part is buried."""
    comp = synth.compose("gospel", 4, 2.0)
    font = synth.find_soundfont()
    master = synth._load_font(font)
    total = int(2.0 * synth.SAMPLE_RATE)
    levels = [synth._active_db(synth._render_track(master, t, total, synth.SAMPLE_RATE, font)) for t in comp.tracks]
    assert len(comp.tracks) >= 4 and all(level > -90 for level in levels)
    wave = synth.render(comp, font)
    assert wave.shape == (2, total) and np.isfinite(wave).all()


@pytest.mark.soundfont
@pytest.mark.slow
def test_each_installed_font_renders_every_style(apt_fonts: list) -> None:
    """FluidR3_GM, MuseScore_General (an .sf2: Debian's MuseScore_General.sf3 is a link to it) and
    TimGM6mb all load in tinysoundfont and sound every part of every style."""
    for font in apt_fonts:
        for i, style in enumerate(synth.STYLES):
            comp = synth.compose(style, i, 1.0, synth.pick_blend(style, i, 0.3))
            wave = synth.render(comp, font)  # raises if any captioned part is silent
            assert float(np.sqrt(np.mean(wave**2))) > 0.01, (font.name, style)


def test_a_missing_preset_fails_instead_of_mislabelling() -> None:
    """A font without the captioned instrument must not silently play piano under that caption."""
    comp = synth.compose("rock", 3, seconds=0.5)
    assert any(not t.drums and 24 <= t.preset <= 31 for t in comp.tracks), "the rock clip should have a guitar"
    real = synth._has_preset

    def without_guitars(master: object, bank: int, preset: int) -> bool:
        return not (bank == 0 and 24 <= preset <= 31) and real(master, bank, preset)

    with unittest.mock.patch.object(synth, "_has_preset", without_guitars):
        with pytest.raises(SonogenError, match="has no preset for .*Guitar"):
            synth.render(comp)


@pytest.mark.soundfont
def test_a_silent_part_fails_instead_of_being_captioned() -> None:
    """A part the font leaves silent (here a piano at key 127, above TimGM6mb's samples) is an error."""
    comp = synth.compose("solo piano", 1, seconds=0.5)
    track = comp.tracks[0]
    track.notes = [synth.Note(0.1, 0.2, 127, 100, track.channel)]
    with pytest.raises(SonogenError, match="silent"):
        synth.render(comp, synth.bundled_soundfont())


def test_unknown_style_and_bad_length_are_errors() -> None:
    with pytest.raises(SonogenError, match="unknown style"):  # the CLI's one-line error type
        synth.compose("polkaa", 0)
    with pytest.raises(SonogenError, match="clip length"):
        synth.compose("rock", 0, seconds=0)
