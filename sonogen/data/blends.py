"""Blends: one style's groove with a foreign instrument layer, or with another style's parts.

A corpus renders about one clip in seven as a blend, so that prompts such as "techno
with a fiddle" or "salsa meets synthwave" have something to learn from. Two kinds:

* a *layer* (:data:`LAYERS`): an instrument family added to the host style, possibly in
  place of one of its roles ("metal with a string quartet": the quartet takes over the
  lead). The caption says "<style> with <phrase>";
* a *partner style*: the host keeps its drums, hand percussion, bass, tempo, key and
  chords; the partner's other parts (its comping, riffs, leads) play over them. The
  caption names both styles ("techno meets bossa nova").

Solo styles ("solo piano", "drums only") never blend: their names say nothing else plays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sonogen.data.music import Part, Style, chords, drone, lead, pad, riff

#: Roles a partner style contributes; the host keeps the rest (bass, drones, drums).
PARTNER_ROLES = ("lead", "riff", "chords", "hits")


@dataclass(frozen=True)
class Layer:
    """An instrument family that can be laid over another style.

    Attributes:
        name: the family's name in metadata (``blend`` field), e.g. ``"fiddle"``.
        phrases: how a caption names it after "with" ("a fiddle"); each names
            only instruments every one of the layer's parts plays.
        parts: the parts it adds (patterns of several bar lengths; the engine uses those
            that fit the host's meter, else holds each bar).
        replaces: host roles it takes the place of (a lead layer silences the host's lead).
        names: caption names for its programs in the instrument list.
        native: styles where this family is at home (never a blend there).
    """

    name: str
    phrases: tuple[str, ...]
    parts: tuple[Part, ...]
    replaces: tuple[str, ...] = ()
    names: dict[int, tuple[str, ...]] = field(default_factory=dict)
    native: tuple[str, ...] = ()

    @property
    def programs(self) -> set[int]:
        """The GM programs the layer's parts may play."""
        return {p for part in self.parts for p in part.programs}


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (
    Layer("fiddle", ("a fiddle", "fiddle"), (lead((110,), register=72, level=-2.0, density=0.5, ornament=0.2),), ("lead",),
          {110: ("fiddle",)}, ("country", "bluegrass", "folk", "celtic")),
    Layer("string quartet", ("a string quartet",),
          (lead((40,), register=76, level=-3.0, density=0.45),
           chords((41,), "3-------2-------", "3-----------", "3-----", register=64, level=-8.0),
           chords((42,), "B-------B-------", "B-----------", "B-----", register=62, level=-7.0)),
          ("lead",), {40: ("violin",), 41: ("viola",), 42: ("cello",)}, ("string ensemble", "classical", "baroque")),
    Layer("synthesizers", ("synthesizers", "synths", "analog synths"),
          (pad((90, 50, 89), level=-6.0),
           lead((81, 80, 84), register=72, level=-3.0, density=0.45)),
          ("lead", "riff"), {90: ("polysynth", "synth pad"), 50: ("synth strings",), 89: ("warm synth pad",),
                             81: ("saw synth lead", "synth lead"), 80: ("square synth lead", "synth lead"),
                             84: ("synth lead",)},
          ("techno", "house", "trance", "synthwave", "chiptune", "drum and bass", "dancehall")),
    Layer("strings", ("lush strings", "a string section", "orchestral strings"),
          (pad((48, 49), level=-6.0),), (), {48: ("strings",), 49: ("strings",)},
          ("string ensemble", "classical", "baroque", "waltz", "disco", "tango")),
    Layer("horn section", ("a horn section", "brass stabs"),
          (riff((61,), "X..x......X.x...", "X..x..x.....", "X.x...", "X...x.x.", register=68, level=-3.0),),
          ("riff",), {61: ("horns", "brass section")},
          ("soul", "funk", "ska", "salsa", "mambo", "afrobeat", "samba")),
    Layer("choir", ("a choir", "choir voices"), (pad((52, 53), level=-5.0),), (),
          {52: ("choir",), 53: ("vocal oohs", "voices")}, ("gospel",)),
    Layer("sitar", ("a sitar", "sitar"), (lead((104,), ornament=0.35, register=67, level=-2.0, density=0.55),),
          ("lead",), {104: ("sitar",)}, ("indian classical",)),
    Layer("koto", ("a koto", "koto"),
          (chords((107,), "1.2.3.2.1.2.3.2.", "1.2.3.2.1.2.", "1.2.3.", "1.2.3.2.", register=66, level=-3.0),),
          ("chords",), {107: ("koto",)}, ("japanese traditional",)),
    Layer("shamisen", ("a shamisen", "shamisen"), (lead((106,), ornament=0.3, register=66, level=-2.0, density=0.6),),
          ("lead",), {106: ("shamisen",)}, ("japanese traditional",)),
    Layer("steel drums", ("steel drums", "a steelpan"), (lead((114,), register=74, level=-2.0, density=0.6),),
          ("lead",), {114: ("steel drums",)}, ("calypso",)),
    Layer("bagpipes", ("bagpipes",),
          (lead((109,), register=72, level=-3.0, density=0.6), drone((109,), register=45, level=-10.0)),
          ("lead",), {109: ("bagpipes",)}, ("celtic",)),
    Layer("banjo", ("a banjo", "banjo"),
          (chords((105,), "1.2.3.1.2.3.1.2.", "1.2.3.1.2.3.", "1.2.3.", "1.2.3.1.", register=64, level=-4.0),),
          (), {105: ("banjo",)}, ("bluegrass", "country", "folk", "ragtime")),
    Layer("church organ", ("a church organ", "a pipe organ"), (pad((19,), level=-6.0),), (),
          {19: ("church organ", "pipe organ")}, ("gospel", "baroque")),
    Layer("harpsichord", ("a harpsichord",),
          (chords((6,), "1.2.3.2.1.2.3.2.", "1.2.3.2.1.2.", "1.2.3.", "1.2.3.2.", register=64, level=-4.0),),
          ("chords",), {6: ("harpsichord",)}, ("baroque",)),
    Layer("accordion", ("an accordion", "accordion"),
          (chords((21,), "..C...C...C...C.", "....C...C...", "..C..C", "..C...C.", register=64, level=-4.0),),
          ("chords",), {21: ("accordion",)}, ("polka", "tango", "celtic", "folk", "waltz")),
    Layer("saxophone", ("a saxophone", "a sax solo"), (lead((65, 66), register=68, level=-2.0, density=0.5),),
          ("lead",), {65: ("alto sax",), 66: ("tenor sax",)},
          ("jazz swing", "soul", "funk", "ska", "afrobeat", "r&b", "mambo", "blues", "gospel")),
    Layer("distorted guitars", ("heavy guitars", "distorted guitars"),
          (chords((30,), "C.C.C.C.C.C.C.C.", "C.C.C.C.C.C.", "C.C.C.", "C.C.C.C.", register=52, level=-3.0),),
          ("chords",), {30: ("distorted guitar", "heavy guitar")}, ("metal", "punk", "rock")),
    Layer("flute", ("a flute", "flute"), (lead((73,), register=76, level=-3.0, density=0.45),), ("lead",),
          {73: ("flute",)}, ("bossa nova", "classical", "baroque", "celtic", "samba", "hip hop")),
    Layer("harp", ("a harp", "harp arpeggios"),
          (chords((46,), "1.2.3.4.3.2.1.2.", "1.2.3.2.1.2.", "1.2.3.", "1.2.3.2.", register=66, level=-5.0),),
          (), {46: ("harp",)}, ("classical", "waltz", "celtic", "ambient")),
    Layer("kalimba", ("a kalimba", "thumb piano"),
          (riff((108,), "x.x..x.x..x.x...", "x.x..x.x..x.", "x.xx.x", "x.x..x.x", register=72, level=-4.0),),
          ("riff",), {108: ("kalimba",)}, ("lo-fi hip hop",)),
    Layer("music box", ("a music box",),
          (riff((10,), "x..x..x.x..x..x.", "x..x..x.x...", "x..x.x", "x..x.x..", register=76, level=-5.0),),
          ("riff",), {10: ("music box",)}, ("lo-fi hip hop", "trap")),
    Layer("piano", ("a piano", "piano"),
          (chords((0,), "C...C...C...C...", "C...C...C...", "C..C..", "C...C...", register=62, level=-4.0),),
          ("chords",), {0: ("piano",)}, ("solo piano", "ragtime", "salsa", "mambo", "house", "gospel", "classical")),
    Layer("congas", ("congas", "conga drums"), (), (), {}, ("salsa", "mambo", "afrobeat", "indian classical")),
)}

#: Hand-percussion grooves of layers that bring percussion rather than a melodic part,
#: one pattern per bar length (16, 12, 8 and 6 steps).
LAYER_HAND: dict[str, dict[int, dict[str, str]]] = {
    "congas": {
        16: {"conga_hi": "..x..xx...x..xx.", "conga_lo": "x.......x.......", "conga_mute": "....x.......x..."},
        12: {"conga_hi": "..x..x...xx.", "conga_lo": "x.....x.....", "conga_mute": "...x.....x.."},
        8: {"conga_hi": "..x..xx.", "conga_lo": "x.......", "conga_mute": "....x..."},
        6: {"conga_hi": "..x..x", "conga_lo": "x.....", "conga_mute": "...x.."},
    },
}


def layers_for(style: Style) -> list[Layer]:
    """Layers that may blend into ``style``: foreign to it (not native) and not a solo style."""
    if style.solo:
        return []
    return [layer for layer in LAYERS.values() if style.name not in layer.native]


def blend_partners(style: Style, table: dict[str, Style]) -> list[Style]:
    """Styles whose parts may play over ``style``'s groove.

    A partner has the same meter (its patterns must fit the bar), at least one part in
    :data:`PARTNER_ROLES`, is not a solo style, and is not ``style``. The host needs a
    groove of its own (drums or hand percussion) for the blend to be its.
    """
    if style.solo or not (style.drums or style.hand):
        return []
    return [other for name, other in table.items()
            if name != style.name and not other.solo and other.meter == style.meter
            and any(p.role in PARTNER_ROLES for p in other.parts)]
