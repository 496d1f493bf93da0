"""Music theory and the shape of a style for the synthetic corpus.

A :class:`Style` is plain data: tempo range, meter, swing, scales, chord loops, drum and
hand-percussion grooves, and its melodic :class:`Part` s (who may play, in which
register, with which rhythm patterns). :mod:`sonogen.data.synth` turns a style and a seed
into notes; the style tables themselves live in ``styles_*.py`` and are collected by
:mod:`sonogen.data.styles`.

Time is counted in *steps*: a beat has ``steps_per_beat`` of them (4 for sixteenth notes
in simple meters, 3 for the eighth-note triplets of 12/8 and 6/8), a bar has
``beats * steps_per_beat``. Every pattern is a string with one character per step of a
bar:

* drums and hand percussion: ``X`` accent, ``x`` hit, ``o`` ghost note, ``.`` rest;
* ``bass`` and ``drone`` parts: ``R`` root, ``F`` fifth, ``L`` the fifth below the root,
  ``O`` octave, ``3`` third, ``7`` seventh, ``A`` chromatic approach to the next chord's
  root, ``N`` the next chord's root played early (a Latin anticipation), ``-`` hold,
  ``.`` rest; or the single word ``walk`` for a walking line in quarter notes;
* ``chords`` parts: ``C`` the whole chord, ``L`` its lower half, ``H`` its upper half,
  ``1``-``5`` one chord tone counted from the bottom (arpeggios, montunos), ``B`` the
  root an octave below the voicing (stride and oom-pah left hands), ``-`` hold, ``.``
  rest;
* ``riff`` parts: ``x`` a note of a one-bar motif chosen once per clip and moved with
  the chords, ``X`` the same note accented, ``-`` hold, ``.`` rest;
* ``hits`` parts (taiko, timpani, steel-drum strokes...): ``X``/``x``/``o`` strikes on
  the chord root (or on a fixed key), ``-`` hold, ``.`` rest.

``lead`` parts ignore patterns: they improvise a melody from the scale (see
``Part.density`` and ``Part.lengths``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Chord = tuple[int, str]  # (root in semitones above the key's tonic, quality)
Loop = tuple[Chord, ...]  # one chord per bar

#: Chord quality -> intervals in semitones above the root.
CHORD_TONES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "9": (0, 4, 7, 10, 14),
    "min9": (0, 3, 7, 10, 14), "maj9": (0, 4, 7, 11, 14), "sus2": (0, 2, 7), "sus4": (0, 5, 7),
    "5": (0, 7, 12), "6": (0, 4, 7, 9), "add9": (0, 4, 7, 14), "m7b5": (0, 3, 6, 10),
    "min6": (0, 3, 7, 9), "dim7": (0, 3, 6, 9), "13": (0, 4, 10, 14, 21), "7#9": (0, 4, 10, 15),
    "minmaj7": (0, 3, 7, 11), "11": (0, 7, 10, 14, 17),
}

#: Scale name -> pitch classes above the tonic. The names are also the words a
#: caption's key uses ("D dorian", "E hirajoshi").
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    # North Indian thaats (the raga families) used by the sitar style
    "bhairav": (0, 1, 4, 5, 7, 8, 11),
    "yaman": (0, 2, 4, 6, 7, 9, 11),
    "kafi": (0, 2, 3, 5, 7, 9, 10),
    # Japanese pentatonic scales
    "hirajoshi": (0, 2, 3, 7, 8),
    "yo": (0, 2, 5, 7, 9),
}
#: Scales whose third is minor (for the key's name, chord loops and moods).
MINOR_SCALES = frozenset({"minor", "harmonic minor", "dorian", "phrygian", "blues", "minor pentatonic", "kafi",
                          "hirajoshi"})

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Part roles, in the order a caption prefers to name them.
ROLES = ("lead", "riff", "chords", "hits", "bass", "drone")


@dataclass(frozen=True)
class Part:
    """One melodic part of a style.

    Attributes:
        role: how its notes are made: ``lead`` (a melody), ``riff`` (a repeated motif),
            ``chords``, ``bass``, ``drone`` (a bass pattern held on the tonic) or
            ``hits`` (strikes on the chord root); see the module doc for the patterns.
        programs: 0-based General MIDI programs it may be played on (one per clip).
        patterns: rhythm patterns (one char per step of a bar), one chosen per clip.
        chance: probability the part plays at all in a clip.
        register: MIDI key around which it sits (middle C = 60).
        level: mix level in dB relative to the loudest part (0 = as loud as the drums).
        density: ``lead``: probability that a note starts where one may.
        lengths: ``lead``: note lengths in steps to choose from.
        ornament: ``lead``: probability of a grace note before a note (sitar, koto, fiddle).
        group: parts sharing a non-empty group are alternatives: at most one plays.
        fixed_key: ``hits``: always strike this key (a drum tuned to one pitch).
        pan: (low, high) MIDI pan range, 64 = centre.
        octaves: ``chords``: double the voicing an octave up (piano montunos, strings).
    """

    role: str
    programs: tuple[int, ...]
    patterns: tuple[str, ...] = ()
    chance: float = 1.0
    register: int = 60
    level: float = -3.0
    density: float = 0.5
    lengths: tuple[int, ...] = (2, 2, 4, 4, 6, 8)
    ornament: float = 0.0
    group: str = ""
    fixed_key: int | None = None
    pan: tuple[int, int] = (44, 84)
    octaves: bool = False


@dataclass(frozen=True)
class Style:
    """Everything that makes a style; the seed varies it within these bounds.

    Attributes:
        name: the style's name (key of ``STYLE_TABLE``; also a caption word).
        tempo: (low, high) beats per minute (dotted quarters in 6/8 and 12/8).
        meter: (beats per bar, steps per beat): (4, 4) is 4/4, (3, 4) 3/4, (2, 4) 2/4,
            (4, 3) 12/8 and (2, 3) 6/8.
        swing: (low, high) swing amount in [0, 1] (0 = straight).
        swing_unit: 2 (sixteenth off-beats swing) or 4 (eighth off-beats swing).
        scales: scales the key may use (names in :data:`SCALES`).
        progressions: (loops for major scales, loops for minor scales); one chord a bar.
        drums: alternative drum-kit grooves, each ``{part: pattern}`` with parts named as
            in :data:`sonogen.data.gm.PERCUSSION`; empty: no drum kit.
        kits: drum-kit presets (bank 128) to choose from.
        hand: alternative hand-percussion grooves (congas, claves, shakers...).
        hand_chance: probability that a hand groove plays.
        parts: the melodic parts.
        fills: probability of a tom fill in the last bar of each four.
        effects: scene effects (:data:`sonogen.data.gm.EFFECTS` names) that fit the style.
        effect_chance: probability of one scene effect in a clip.
        aliases: program -> caption names this style prefers ("fiddle" for a violin).
        words: names of the style for captions.
        gated_words: ``(words, programs)``: style names that mention an instrument,
            used only when one of ``programs`` plays ("piano house").
        places / eras: places and times the style belongs to ("kingston", "1970s").
        moods: mood words the style leans towards.
        reverb: wet level of the room reverb, 0..1.
        lofi: darken and saturate the mix (a worn-tape sound).
        solo: the style's words say its instruments are all there is ("solo piano",
            "drums only"), so it never takes part in a blend.
    """

    name: str
    tempo: tuple[int, int]
    meter: tuple[int, int] = (4, 4)
    swing: tuple[float, float] = (0.0, 0.0)
    swing_unit: int = 4
    scales: tuple[str, ...] = ("major", "minor")
    progressions: tuple[tuple[Loop, ...], tuple[Loop, ...]] = ((), ())
    drums: tuple[dict[str, str], ...] = ()
    kits: tuple[int, ...] = (0,)
    hand: tuple[dict[str, str], ...] = ()
    hand_chance: float = 1.0
    parts: tuple[Part, ...] = ()
    fills: float = 0.3
    effects: tuple[str, ...] = ()
    effect_chance: float = 0.15
    aliases: dict[int, tuple[str, ...]] = field(default_factory=dict)
    words: tuple[str, ...] = ()
    gated_words: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = ()
    places: tuple[str, ...] = ()
    eras: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    reverb: float = 0.15
    lofi: bool = False
    solo: bool = False

    @property
    def steps_per_bar(self) -> int:
        """Steps in one bar (16 for 4/4 in sixteenths, 12 for 3/4 or 12/8, 6 for 6/8)."""
        return self.meter[0] * self.meter[1]

    @property
    def programs(self) -> set[int]:
        """Every GM program any of the style's parts may play."""
        return {p for part in self.parts for p in part.programs}


# ----------------------------------------------------------------------------- chord loops

POP_MAJOR: tuple[Loop, ...] = (
    ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
    ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),
    ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
    ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),
)
POP_MINOR: tuple[Loop, ...] = (
    ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
    ((0, "min"), (5, "min"), (8, "maj"), (7, "maj")),
    ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj")),
)
JAZZ_MAJOR: tuple[Loop, ...] = (
    ((2, "min7"), (7, "7"), (0, "maj7"), (0, "maj7")),
    ((0, "maj7"), (9, "7"), (2, "min7"), (7, "7")),
    ((4, "min7"), (9, "7"), (2, "min7"), (7, "7")),
)
JAZZ_MINOR: tuple[Loop, ...] = (
    ((2, "m7b5"), (7, "7"), (0, "min7"), (0, "min7")),
    ((0, "min7"), (5, "min7"), (10, "7"), (3, "maj7")),
)
BLUES_12: Loop = ((0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"),
                  (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"), (7, "7"))
#: Three chords and the truth: I-IV-V loops of country, folk, bluegrass and polka.
THREE_CHORD: tuple[Loop, ...] = (
    ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
    ((0, "maj"), (0, "maj"), (5, "maj"), (7, "7")),
    ((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")),
)
#: Minor loops with the major dominant of harmonic minor (tango, baroque, klezmer-ish).
HARMONIC_MINOR: tuple[Loop, ...] = (
    ((0, "min"), (5, "min"), (7, "7"), (0, "min")),
    ((0, "min"), (7, "7"), (7, "7"), (0, "min")),
    ((0, "min"), (8, "maj"), (5, "min"), (7, "7")),
)
#: One chord held throughout: drones, vamps and modal grooves.
ONE_MAJOR: tuple[Loop, ...] = (((0, "maj"),),)
ONE_MINOR: tuple[Loop, ...] = (((0, "min"),),)
ONE_FIFTH: tuple[Loop, ...] = (((0, "5"),),)


def chord_pitch_classes(tonic: int, chord: Chord) -> set[int]:
    """Pitch classes (0-11) of ``chord`` in the key of ``tonic`` (any MIDI key)."""
    root, quality = chord
    return {(tonic + root + iv) % 12 for iv in CHORD_TONES[quality]}


def key_name(tonic_pc: int, scale: str) -> str:
    """A key as a caption writes it: ``"F# minor"``, ``"D dorian"``, ``"E hirajoshi"``."""
    return f"{NOTE_NAMES[tonic_pc % 12]} {scale}"


# ----------------------------------------------------------------------------- part constructors
# Short spellings for the style tables, each with the register and mix level its role
# usually has (levels are dB below the loudest part; bass sits lower in RMS than it
# sounds, pads and drones sit under everything).


def bass(programs: tuple[int, ...], *patterns: str, register: int = 40, level: float = -4.0, **kw: object) -> Part:
    """A bass part (patterns in the bass alphabet, or ``"walk"``)."""
    return Part("bass", programs, patterns, register=register, level=level, **kw)  # type: ignore[arg-type]


def chords(programs: tuple[int, ...], *patterns: str, register: int = 62, level: float = -6.0,
           **kw: object) -> Part:
    """A comping, arpeggio or pad part (patterns in the chord alphabet)."""
    return Part("chords", programs, patterns, register=register, level=level, **kw)  # type: ignore[arg-type]


def pad(programs: tuple[int, ...], *patterns: str, register: int = 64, level: float = -10.0, **kw: object) -> Part:
    """A sustained chord part; the default holds each bar's chord (16 steps; 12-step bars hold too)."""
    pats = patterns or ("C---------------", "C-----------", "C-------", "C-----")
    return Part("chords", programs, pats, register=register, level=level, **kw)  # type: ignore[arg-type]


def lead(programs: tuple[int, ...], register: int = 72, level: float = -3.0, **kw: object) -> Part:
    """A melody part (improvised from the scale)."""
    return Part("lead", programs, (), register=register, level=level, **kw)  # type: ignore[arg-type]


def riff(programs: tuple[int, ...], *patterns: str, register: int = 67, level: float = -5.0, **kw: object) -> Part:
    """A repeated one-bar motif that follows the chords (horn stabs, synth riffs)."""
    return Part("riff", programs, patterns, register=register, level=level, **kw)  # type: ignore[arg-type]


def hits(programs: tuple[int, ...], *patterns: str, register: int = 48, level: float = -7.0, **kw: object) -> Part:
    """Strikes on the chord root or a fixed key (taiko, timpani, steel drums, syndrums)."""
    return Part("hits", programs, patterns, register=register, level=level, **kw)  # type: ignore[arg-type]


def drone(programs: tuple[int, ...], *patterns: str, register: int = 45, level: float = -9.0, **kw: object) -> Part:
    """A pedal on the tonic (tanpura, bagpipe drones, ambient beds)."""
    pats = patterns or ("R---------------", "R-----------", "R-------", "R-----")
    return Part("drone", programs, pats, register=register, level=level, **kw)  # type: ignore[arg-type]
