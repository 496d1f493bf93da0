"""A procedural music generator: short multi-instrument clips with captions, rendered from a SoundFont.

Each clip is composed from a *style* (drum patterns on General MIDI channel 10, a bass
line, a chord progression with its comping rhythm, an optional melody, a tempo range and
the instruments that may play each part), then varied by a seed: key, mode, tempo,
swing, instruments, drum kit, pattern variants, mood and mix. The score is rendered with
``tinysoundfont`` and a General MIDI SoundFont (Debian ``timgm6mb-soundfont``), giving
stereo float audio at 44.1 kHz. Everything is derived from ``(style, seed)`` through one
``numpy`` generator, so a seed always gives the same notes, caption and audio bytes.

Time is counted in sixteenth-note *steps* (16 to a 4/4 bar). Patterns are strings with
one character per step:

* drums: ``X`` accent, ``x`` hit, ``o`` ghost note, ``.`` rest;
* bass: ``R`` root, ``F`` fifth, ``O`` octave, ``3`` third, ``7`` seventh, ``A``
  chromatic approach to the next chord's root, ``-`` hold, ``.`` rest;
* comping: ``C`` whole chord, ``L`` low half of it, ``H`` upper half, ``1``-``4`` a
  single chord tone (arpeggios), ``-`` hold, ``.`` rest.

Public API: :data:`STYLES`, :func:`compose`, :func:`render`, :func:`render_clip`,
:func:`find_soundfont`.

This is one of sonogen's two synthesisers, on purpose: it needs a SoundFont and
``tinysoundfont`` and aims at realistic, varied, captioned training music. The other,
:mod:`sonogen.audio.demo`, needs only numpy and makes the fixed sounds (the round-trip
test clip, the seed images) that must be the same on every install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

#: Output rate of the renderer in Hz.
SAMPLE_RATE = 44100
#: Debian package providing the default General MIDI SoundFont.
SOUNDFONT_PACKAGE = "timgm6mb-soundfont"
#: Where Debian's GM SoundFont packages install their files, searched in order.
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
)
#: Environment variable that may name a SoundFont file.
SOUNDFONT_ENV = "SONOGEN_SOUNDFONT"

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
STEPS_PER_BAR = 16

# ----------------------------------------------------------------------------- vocabulary

#: General MIDI program (0-based) -> a name fit for a caption.
PROGRAM_NAMES: dict[int, str] = {
    0: "grand piano", 1: "bright piano", 4: "Rhodes electric piano", 5: "electric piano",
    7: "clavinet", 8: "celesta", 10: "music box", 11: "vibraphone", 16: "drawbar organ",
    17: "percussive organ", 19: "church organ", 21: "accordion", 22: "harmonica",
    24: "nylon-string guitar", 25: "steel-string acoustic guitar", 26: "jazz guitar",
    27: "clean electric guitar", 28: "muted electric guitar", 29: "overdriven guitar",
    30: "distorted guitar", 32: "upright bass", 33: "fingered electric bass",
    34: "picked bass", 35: "fretless bass", 36: "slap bass", 38: "synth bass",
    39: "analog synth bass", 40: "violin", 41: "viola", 42: "cello", 43: "contrabass",
    45: "pizzicato strings", 46: "harp", 48: "string ensemble", 49: "slow strings",
    50: "synth strings", 52: "choir", 56: "trumpet", 57: "trombone", 61: "brass section",
    62: "synth brass", 64: "soprano sax", 65: "alto sax", 66: "tenor sax", 68: "oboe",
    71: "clarinet", 73: "flute", 75: "pan flute", 80: "square-wave lead", 81: "sawtooth lead",
    88: "new age pad", 89: "warm pad", 90: "polysynth pad", 91: "choir pad", 92: "bowed pad",
    94: "halo pad", 95: "sweep pad",
}

#: Drum kit preset (bank 128) -> caption name.
KIT_NAMES = {0: "drum kit", 8: "roomy drum kit", 16: "big rock drum kit", 24: "electronic drums",
             32: "jazz drum kit", 40: "brushed drums"}

#: Drum part letter -> GM percussion key.
DRUM_KEYS = {
    "kick": 36, "kick2": 35, "snare": 38, "rim": 37, "clap": 39, "esnare": 40, "hat": 42,
    "pedal": 44, "open": 46, "crash": 49, "ride": 51, "bell": 53, "tamb": 54, "cowbell": 56,
    "bongo": 60, "bongo_lo": 61, "conga": 63, "conga_lo": 64, "shaker": 70, "clave": 75,
    "tom_hi": 50, "tom_mid": 47, "tom_lo": 45,
}

CHORD_TONES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10), "9": (0, 4, 7, 10, 14), "min9": (0, 3, 7, 10, 14),
    "sus4": (0, 5, 7), "5": (0, 7, 12), "6": (0, 4, 7, 9), "add9": (0, 4, 7, 14),
    "m7b5": (0, 3, 6, 10), "min6": (0, 3, 7, 9),
}

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
}
#: Scales whose third is minor (for key names and moods).
MINOR_SCALES = {"minor", "dorian", "blues", "minor pentatonic"}

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

Chord = tuple[int, str]  # (root in semitones above the key, quality)


# ----------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class Style:
    """Everything that makes a style; variation within it comes from the seed.

    Attributes:
        name: caption name (also the key in :data:`STYLE_TABLE`).
        tempo: (low, high) beats per minute.
        swing: (low, high) swing amount in [0, 1] applied to ``swing_unit`` off-beats.
        swing_unit: 2 (sixteenths) or 4 (eighths): which off-beats swing delays.
        scales: scales the key may use.
        progressions: major-ish and minor-ish chord loops, one chord per bar
            (``(semitones above the key, quality)``); picked by the scale's third.
        drums: alternative drum grooves, each ``{part: 16-char pattern}``; empty: no drums.
        kits: drum kit presets (bank 128) to choose from.
        bass: alternative bass patterns (16 chars), or ``("walk",)`` for a walking line;
            empty: no bass part.
        comp: alternative comping patterns (16 chars); empty: no chord part.
        bass_programs / comp_programs / lead_programs / pad_programs: GM programs to pick from.
        lead_chance: probability of a melody part.
        pad_chance: probability of a sustained pad under the chords.
        lead_density: probability that a melody step starts a note, on eighths.
        moods: mood words this style leans towards.
        words: alternative names for the style in captions.
    """

    name: str
    tempo: tuple[int, int]
    swing: tuple[float, float] = (0.0, 0.0)
    swing_unit: int = 4
    scales: tuple[str, ...] = ("major", "minor")
    progressions: tuple[tuple[tuple[Chord, ...], ...], tuple[tuple[Chord, ...], ...]] = ((), ())
    drums: tuple[dict[str, str], ...] = ()
    kits: tuple[int, ...] = (0,)
    bass: tuple[str, ...] = ()
    comp: tuple[str, ...] = ()
    bass_programs: tuple[int, ...] = (33,)
    comp_programs: tuple[int, ...] = (0,)
    lead_programs: tuple[int, ...] = ()
    pad_programs: tuple[int, ...] = ()
    lead_chance: float = 0.5
    pad_chance: float = 0.0
    lead_density: float = 0.5
    moods: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default_factory=tuple)


POP_MAJOR: tuple[tuple[Chord, ...], ...] = (
    ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
    ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),
    ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
    ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),
)
POP_MINOR: tuple[tuple[Chord, ...], ...] = (
    ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),
    ((0, "min"), (5, "min"), (8, "maj"), (7, "maj")),
    ((0, "min"), (10, "maj"), (8, "maj"), (10, "maj")),
)
JAZZ_MAJOR: tuple[tuple[Chord, ...], ...] = (
    ((2, "min7"), (7, "7"), (0, "maj7"), (0, "maj7")),
    ((0, "maj7"), (9, "7"), (2, "min7"), (7, "7")),
    ((4, "min7"), (9, "7"), (2, "min7"), (7, "7")),
)
JAZZ_MINOR: tuple[tuple[Chord, ...], ...] = (
    ((2, "m7b5"), (7, "7"), (0, "min7"), (0, "min7")),
    ((0, "min7"), (5, "min7"), (10, "7"), (3, "maj7")),
)
BLUES_12: tuple[Chord, ...] = ((0, "7"), (5, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"),
                               (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"), (7, "7"))

STYLE_TABLE: dict[str, Style] = {}


def _style(style: Style) -> None:
    STYLE_TABLE[style.name] = style


_style(Style(
    name="rock", tempo=(100, 150), scales=("major", "minor", "mixolydian"),
    progressions=(POP_MAJOR, POP_MINOR),
    drums=(
        {"kick": "X.......x.x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.....x.X.......", "snare": "....X.......X..o", "hat": "x.x.x.x.x.x.x.x.",
         "crash": "x..............."},
        {"kick": "X.x.....X.x.....", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8, 16), bass=("R.R.R.R.R.R.R.R.", "R-R-R-R-F-F-O-R-", "R...R.R.R...R.R."),
    comp=("C-.CC-.CC-.CC-.C", "C-------C-------", "C.C.C.C.C.C.C.C."),
    bass_programs=(33, 34), comp_programs=(29, 30, 29, 27), lead_programs=(29, 30, 16),
    lead_chance=0.4, moods=("energetic", "driving", "gritty", "anthemic", "rebellious"),
    words=("rock", "rock song", "guitar rock", "rock tune"),
))
_style(Style(
    name="jazz swing", tempo=(110, 200), swing=(0.55, 0.85), swing_unit=4,
    scales=("major", "minor"), progressions=(JAZZ_MAJOR, JAZZ_MINOR),
    drums=(
        {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "kick": "o.......o......."},
        {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "snare": "......o.......o."},
    ),
    kits=(32, 40), bass=("walk",),
    comp=("....C-.....C....", "C-....C.....C-..", "...C-.......C..."),
    bass_programs=(32,), comp_programs=(0, 26, 11), lead_programs=(65, 66, 56, 11, 57),
    lead_chance=0.8, lead_density=0.55,
    moods=("swinging", "sophisticated", "lively", "smoky", "late-night"),
    words=("jazz swing", "swing jazz", "straight-ahead jazz", "jazz combo"),
))
_style(Style(
    name="bossa nova", tempo=(120, 145), scales=("major", "minor"),
    progressions=(JAZZ_MAJOR + (((0, "maj7"), (0, "6"), (2, "min7"), (7, "7")),), JAZZ_MINOR),
    drums=(
        {"rim": "x..x..x...x..x..", "hat": "x.x.x.x.x.x.x.x.", "kick": "x..xx..xx..xx..x"},
        {"rim": "x..x..x...x..x..", "shaker": "xxxxxxxxxxxxxxxx", "kick": "x.....x.x.....x."},
    ),
    kits=(40, 0), bass=("R.....F-R.....F-", "R-....F.R-....F."),
    comp=("C.CC.C.CC.C.C.CC", "L.HL.H.L.HL.H.HL", "C..C..C...C..C.."),
    bass_programs=(32, 35), comp_programs=(24,), lead_programs=(73, 66, 64, 11),
    lead_chance=0.6, lead_density=0.4,
    moods=("breezy", "relaxed", "warm", "romantic", "sunny"),
    words=("bossa nova", "Brazilian bossa nova", "bossa"),
))
_style(Style(
    name="funk", tempo=(92, 118), swing=(0.0, 0.3), swing_unit=2,
    scales=("dorian", "mixolydian", "minor"),
    progressions=((((0, "9"), (0, "9"), (5, "9"), (0, "9")), ((0, "7"), (0, "7"), (0, "7"), (10, "7"))),
                  (((0, "min7"), (0, "min7"), (5, "7"), (0, "min7")), ((0, "min9"), (5, "9"), (0, "min9"), (5, "9")))),
    drums=(
        {"kick": "X..x..x...X..x..", "snare": "....X..o.o..X..o", "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "X.x....xX.x.....", "snare": "....X.o.....X.o.", "hat": "x.xxx.xxx.xxx.xx",
         "open": "..............x."},
    ),
    kits=(0, 8), bass=("R..O.RR.F..R.O.7", "R.RO..R.R..O7.R.", "R...O.R..RF.O.R."),
    comp=(".C.C..C..C.C..C.", "..C...C...C...CC", "C.C..C.CC.C..C.C"),
    bass_programs=(36, 33), comp_programs=(7, 28, 27), lead_programs=(61, 65, 62),
    lead_chance=0.5, lead_density=0.5,
    moods=("groovy", "bouncy", "tight", "playful", "sweaty"),
    words=("funk", "funk groove", "slap funk", "funky jam"),
))
_style(Style(
    name="techno", tempo=(124, 140), scales=("minor", "dorian"),
    progressions=((((0, "min"), (0, "min"), (0, "min"), (0, "min")),),
                  (((0, "min"), (0, "min"), (8, "maj"), (10, "maj")), ((0, "min7"), (0, "min7"), (5, "min7"), (5, "min7")))),
    drums=(
        {"kick": "x...x...x...x...", "open": "..x...x...x...x.", "clap": "....x.......x...",
         "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "x...x...x...x...", "open": "..x...x...x...x.", "rim": "...x..x...x..x.."},
    ),
    kits=(24,), bass=("RRORRFRORRORRFRO", ".RR.RR.RR.RR.RR.", "R.RRR.RRR.RRR.RR"),
    comp=("1.2.3.1.2.3.1.2.", "C..C..C...C..C..", "1324132413241324"),
    bass_programs=(38, 39), comp_programs=(81, 80, 90), lead_programs=(),
    pad_programs=(95, 94), lead_chance=0.0, pad_chance=0.4,
    moods=("hypnotic", "dark", "pounding", "relentless", "driving"),
    words=("techno", "minimal techno", "warehouse techno", "techno track"),
))
_style(Style(
    name="house", tempo=(118, 128), scales=("minor", "dorian", "major"),
    progressions=((((0, "maj7"), (9, "min7"), (2, "min7"), (7, "7")), ((5, "maj7"), (4, "min7"), (2, "min7"), (0, "maj7"))),
                  (((0, "min7"), (5, "min7"), (10, "7"), (3, "maj7")), ((0, "min9"), (0, "min9"), (8, "maj7"), (10, "7")))),
    drums=(
        {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x.",
         "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x.",
         "shaker": "xxxxxxxxxxxxxxxx"},
    ),
    kits=(24, 0), bass=("..R...R...R...R.", "..R-..O-..R-..F-", "R..R..R...R..R.."),
    comp=("..C...C...C..C..", "C..C..C...C..C..", "..C-..C-..C-..C-"),
    bass_programs=(38, 33), comp_programs=(0, 4, 16), lead_programs=(81, 61), pad_programs=(89, 50),
    lead_chance=0.3, pad_chance=0.5,
    moods=("uplifting", "soulful", "danceable", "euphoric", "warm"),
    words=("house", "deep house", "house music", "piano house"),
))
_style(Style(
    name="hip hop", tempo=(80, 98), swing=(0.3, 0.6), swing_unit=2, scales=("minor", "dorian"),
    progressions=((((0, "maj7"), (0, "maj7"), (5, "maj7"), (5, "maj7")),),
                  (((0, "min7"), (0, "min7"), (5, "min7"), (7, "min7")), ((0, "min9"), (8, "maj7"), (0, "min9"), (8, "maj7")))),
    drums=(
        {"kick": "X......x..x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.x.......X..x..", "snare": "....X.......X...", "hat": "xxx.x.xxx.x.x.xx"},
    ),
    kits=(0, 8, 24), bass=("R-------..R-F---", "R-----R-....O-R-", "R-----------F---"),
    comp=("C-------C-------", "C-....C-....C---", "C---------C-----"),
    bass_programs=(33, 38, 35), comp_programs=(4, 5, 0), lead_programs=(73, 49, 11, 46),
    lead_chance=0.5, lead_density=0.3,
    moods=("laid-back", "moody", "head-nodding", "chill", "gritty"),
    words=("hip hop", "boom bap hip hop", "hip hop beat", "lo-fi hip hop"),
))
_style(Style(
    name="reggae", tempo=(70, 90), swing=(0.2, 0.5), swing_unit=2, scales=("major", "minor"),
    progressions=((((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")), ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
                  (((0, "min"), (5, "min"), (0, "min"), (5, "min")), ((0, "min"), (10, "maj"), (0, "min"), (10, "maj")))),
    drums=(
        {"kick": "........X.......", "rim": "........x.......", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.......X.......", "rim": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8), bass=("R--.R...F-.O....", "R-.F-.R-..O.F...", "..R-.R..F-..R-.."),
    comp=("....C.......C...", "..C...C...C...C.", "....C-......C-.."),
    bass_programs=(33, 35), comp_programs=(27, 16, 28), lead_programs=(16, 73, 61),
    lead_chance=0.4, lead_density=0.35,
    moods=("easygoing", "sunny", "laid-back", "rootsy", "positive"),
    words=("reggae", "roots reggae", "one-drop reggae", "reggae groove"),
))
_style(Style(
    name="blues", tempo=(70, 125), swing=(0.6, 0.85), swing_unit=4, scales=("blues",),
    progressions=((BLUES_12,), (BLUES_12,)),
    drums=(
        {"kick": "X.......X.......", "snare": "....X.......X...", "hat": "x.xxx.xxx.xxx.xx"},
        {"kick": "X.......X.......", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8, 40), bass=("R.3.F.6.O.6.F.3.".replace("6", "F"), "R.R.3.3.F.F.3.3.", "R...F...O...F..."),
    comp=("C.C.C.C.C.C.C.C.", "L.H.L.H.L.H.L.H.", "C-..C-..C-..C-.."),
    bass_programs=(33, 32), comp_programs=(0, 29, 27), lead_programs=(22, 29, 65, 26),
    lead_chance=0.7, lead_density=0.45,
    moods=("soulful", "weary", "gritty", "shuffling", "bluesy"),
    words=("blues", "twelve-bar blues", "shuffle blues", "electric blues"),
))
_style(Style(
    name="ambient", tempo=(60, 85), scales=("major", "minor", "pentatonic"),
    progressions=((((0, "add9"), (5, "maj7"), (0, "add9"), (7, "sus4")), ((0, "maj7"), (9, "min7"), (5, "maj7"), (5, "maj7"))),
                  (((0, "min9"), (8, "maj7"), (3, "maj7"), (10, "add9")), ((0, "min7"), (0, "min7"), (8, "maj7"), (8, "maj7")))),
    drums=(), bass=("R---------------",), comp=("C---------------", "C-------C-------"),
    bass_programs=(89, 92, 35), comp_programs=(88, 89, 94, 92, 91), lead_programs=(8, 10, 11, 46, 75),
    lead_chance=0.7, lead_density=0.2,
    moods=("dreamy", "calm", "meditative", "spacious", "ethereal"),
    words=("ambient", "ambient soundscape", "ambient drone", "atmospheric ambient"),
))
_style(Style(
    name="solo piano", tempo=(60, 120), scales=("major", "minor"),
    progressions=(POP_MAJOR + JAZZ_MAJOR, POP_MINOR),
    drums=(), bass=("R.......F.......", "R...F...O...F...", "R-------O-------"),
    comp=("..1.2.3.O.3.2.1.".replace("O", "4"), "1.2.3.4.3.2.3.4.", "C-------C-------"),
    bass_programs=(0,), comp_programs=(0,), lead_programs=(0,),
    lead_chance=0.85, lead_density=0.45,
    moods=("gentle", "reflective", "tender", "melancholic", "nostalgic"),
    words=("solo piano", "piano solo", "solo piano piece", "piano miniature"),
))
_style(Style(
    name="string ensemble", tempo=(60, 110), scales=("major", "minor"),
    progressions=(POP_MAJOR, POP_MINOR + (((0, "min"), (7, "maj"), (8, "maj"), (7, "maj")),)),
    drums=(), bass=("R-------F-------", "R---R---R---R---", "R-R-R-R-R-R-R-R-"),
    comp=("C---------------", "C-------C-------", "C---C---C---C---"),
    bass_programs=(42, 43), comp_programs=(48, 49), lead_programs=(40, 41, 68, 73),
    lead_chance=0.75, lead_density=0.35,
    moods=("cinematic", "lush", "sweeping", "solemn", "romantic"),
    words=("string ensemble", "string orchestra", "orchestral strings", "chamber strings"),
))
_style(Style(
    name="drums only", tempo=(80, 160), swing=(0.0, 0.4), swing_unit=2, scales=("major",),
    progressions=((((0, "maj"),),), (((0, "maj"),),)),
    drums=(
        {"kick": "X.......x.x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.x.......X.....", "snare": "....X..o.o..X...", "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x."},
        {"kick": "X.....x...X.....", "snare": "....X.......X.o.", "ride": "x.x.x.x.x.x.x.x.",
         "tom_hi": "............x...", "tom_lo": ".............xx."},
        {"conga": "x..x..x.x..x.x..", "conga_lo": "..x.....x.....x.", "bongo": "x.x...x.x.x...x.",
         "shaker": "xxxxxxxxxxxxxxxx", "clave": "x..x..x...x.x..."},
    ),
    kits=(0, 8, 16, 24, 32), bass=(), comp=(), lead_chance=0.0,
    moods=("punchy", "driving", "raw", "tight", "energetic"),
    words=("drums only", "solo drums", "drum groove", "percussion-only beat"),
))
_style(Style(
    name="disco", tempo=(110, 126), scales=("minor", "dorian", "major"),
    progressions=((((0, "maj7"), (2, "min7"), (4, "min7"), (2, "min7")),),
                  (((0, "min7"), (5, "7"), (0, "min7"), (5, "7")), ((0, "min7"), (10, "maj"), (8, "maj7"), (7, "7")))),
    drums=({"kick": "x...x...x...x...", "snare": "....x.......x...", "open": "..x...x...x...x.",
            "hat": "x.x.x.x.x.x.x.x."},),
    kits=(0,), bass=("R.O.R.O.R.O.R.O.", "ROROROROFOFOROR."),
    comp=("..C...C...C...C.", "C.C.C.C.C.C.C.C."),
    bass_programs=(33, 38), comp_programs=(28, 27, 48), lead_programs=(48, 61, 50),
    lead_chance=0.6, lead_density=0.35,
    moods=("glittering", "danceable", "joyful", "upbeat", "glamorous"),
    words=("disco", "disco track", "seventies disco", "disco groove"),
))
_style(Style(
    name="metal", tempo=(130, 180), scales=("minor",),
    progressions=((), (((0, "5"), (0, "5"), (8, "5"), (10, "5")), ((0, "5"), (1, "5"), (0, "5"), (7, "5")))),
    drums=({"kick": "XxXxXxXxXxXxXxXx", "snare": "....X.......X...", "crash": "x.......x......."},
           {"kick": "X.x.X.x.X.x.X.x.", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."}),
    kits=(16, 0), bass=("RRRRRRRRRRRRRRRR", "R.R.RRR.R.R.RRR."),
    comp=("CCCCCCCCCCCCCCCC", "C.CCC.C.C.CCC.CC", "C---C---C-C-C---"),
    bass_programs=(34, 33), comp_programs=(30,), lead_programs=(30,),
    lead_chance=0.3, lead_density=0.7,
    moods=("aggressive", "heavy", "furious", "dark", "intense"),
    words=("heavy metal", "metal", "thrash metal", "metal riff"),
))
_style(Style(
    name="country", tempo=(90, 140), scales=("major",),
    progressions=((((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((0, "maj"), (0, "maj"), (5, "maj"), (7, "7"))), POP_MINOR),
    drums=({"kick": "X.......X.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.......X.......", "rim": "....x.......x...", "shaker": "x.x.x.x.x.x.x.x."}),
    kits=(0, 40), bass=("R...F...R...F...", "R...F...O...A..."),
    comp=("C.C.C.C.C.C.C.C.", "L.H.L.H.L.H.L.H."),
    bass_programs=(33, 32), comp_programs=(25, 24), lead_programs=(40, 22, 27),
    lead_chance=0.6, lead_density=0.45,
    moods=("homey", "cheerful", "rustic", "easygoing", "wistful"),
    words=("country", "country tune", "Americana", "country and western"),
))

#: Style names in a fixed order (the corpus cycles through them).
STYLES: list[str] = list(STYLE_TABLE)


# ----------------------------------------------------------------------------- composition


@dataclass
class Note:
    """One note: onset and length in seconds, MIDI key 0-127, velocity 1-127, channel 0-15."""

    start: float
    duration: float
    key: int
    velocity: int
    channel: int


@dataclass
class Composition:
    """A composed clip before rendering.

    Attributes:
        notes: all notes, unsorted.
        programs: channel -> (bank, preset); channel 9 is the drum kit.
        volumes / pans: channel -> MIDI CC7 / CC10 value.
        seconds: clip length in seconds.
        caption: the text describing it.
        meta: ``style``, ``tempo``, ``key``, ``instruments``, ``mood``, ``seed``.
    """

    notes: list[Note]
    programs: dict[int, tuple[int, int]]
    volumes: dict[int, int]
    pans: dict[int, int]
    seconds: float
    caption: str
    meta: dict[str, Any]


class _Clock:
    """Maps (bar, step) to seconds with swing and a little human timing jitter."""

    def __init__(self, tempo: float, swing: float, swing_unit: int, rng: np.random.Generator):
        self.step = 60.0 / tempo / 4.0  # seconds per sixteenth
        self.swing = swing
        self.unit = swing_unit
        self.rng = rng

    def time(self, bar: int, step: float, jitter: float = 0.004) -> float:
        """Onset in seconds of ``step`` (sixteenths, may be fractional) of ``bar``."""
        shift = 0.0
        if self.swing > 0 and float(step).is_integer():
            s = int(step)
            if self.unit == 4 and s % 4 == 2:
                shift = self.swing * (2.0 / 3.0)  # towards the last triplet eighth
            elif self.unit == 2 and s % 2 == 1:
                shift = self.swing * (1.0 / 3.0)
        t = (bar * STEPS_PER_BAR + step + shift) * self.step
        return max(0.0, t + float(self.rng.normal(0.0, jitter)))


def _pattern_hits(pattern: str) -> list[tuple[int, int, str]]:
    """``(step, length in steps, symbol)`` for each onset in a 16-char pattern (holds extend it)."""
    hits = []
    for i, ch in enumerate(pattern):
        if ch in ".-":
            continue
        length = 1
        while i + length < len(pattern) and pattern[i + length] == "-":
            length += 1
        hits.append((i, length, ch))
    return hits


def _nearest(key: int, target: int) -> int:
    """``key`` moved by octaves to lie within a tritone of ``target``."""
    while key - target > 6:
        key -= 12
    while target - key > 6:
        key += 12
    return key


def _voicing(tonic: int, chord: Chord, centre: int) -> list[int]:
    """MIDI keys of ``chord`` in ``tonic``'s key, voiced close around ``centre``."""
    root, quality = chord
    base = _nearest(tonic + root, centre - 5)
    return sorted(base + iv for iv in CHORD_TONES[quality])


def _bass_key(symbol: str, tonic: int, chord: Chord, next_chord: Chord, low: int) -> int:
    root = _nearest(tonic + chord[0], low + 6)
    tones = CHORD_TONES[chord[1]]
    if symbol == "F":
        return root + 7
    if symbol == "O":
        return root + 12
    if symbol == "3":
        return root + tones[1]
    if symbol == "7":
        return root + (tones[3] if len(tones) > 3 else 10)
    if symbol == "A":
        nxt = _nearest(tonic + next_chord[0], root)
        return nxt - 1 if nxt > root else nxt + 1
    return root


def _walking_bar(tonic: int, chord: Chord, next_chord: Chord, low: int, rng: np.random.Generator,
                 scale: tuple[int, ...]) -> list[int]:
    """Four quarter-note keys: root, two chord/scale tones, a chromatic approach to the next root."""
    root = _nearest(tonic + chord[0], low + 7)
    tones = CHORD_TONES[chord[1]]
    second = root + int(rng.choice(tones[1:]))
    third = root + int(rng.choice([tones[min(2, len(tones) - 1)], 12, 5 if 5 in scale else 7]))
    nxt = _nearest(tonic + next_chord[0], third)
    approach = nxt + (1 if rng.random() < 0.5 else -1)
    return [root, second, third, approach]


def _melody(style: Style, tonic: int, scale: tuple[int, ...], chords: list[Chord], bars: int,
            clock: _Clock, channel: int, rng: np.random.Generator, density: float) -> list[Note]:
    """A stepwise melody on eighths that favours chord tones on strong beats."""
    pitches = [k for k in range(60, 87) if (k - tonic) % 12 in scale]
    idx = int(rng.integers(len(pitches) // 3, 2 * len(pitches) // 3))
    notes: list[Note] = []
    for bar in range(bars):
        chord = chords[bar % len(chords)]
        chord_pcs = {(tonic + chord[0] + iv) % 12 for iv in CHORD_TONES[chord[1]]}
        step = 0
        while step < STEPS_PER_BAR:
            length = int(rng.choice([2, 2, 4, 4, 6, 8]))
            if rng.random() < density or step == 0 and bar == 0:
                move = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
                idx = int(np.clip(idx + move, 0, len(pitches) - 1))
                if step % 8 == 0:  # strong beat: snap to a chord tone nearby
                    for delta in (0, 1, -1, 2, -2):
                        j = int(np.clip(idx + delta, 0, len(pitches) - 1))
                        if pitches[j] % 12 in chord_pcs:
                            idx = j
                            break
                velocity = int(np.clip(rng.normal(88 if step % 4 == 0 else 76, 8), 40, 120))
                start = clock.time(bar, step)
                end = clock.time(bar, step + length, jitter=0.0)
                notes.append(Note(start, max(0.05, (end - start) * 0.92), pitches[idx], velocity, channel))
            step += length
    return notes


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _pick(rng: np.random.Generator, options: tuple[Any, ...] | list[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def compose(style: str, seed: int, seconds: float = 5.12) -> Composition:
    """Compose a clip of ``style`` (one of :data:`STYLES`) for ``seed``; no audio yet.

    Returns:
        A :class:`Composition` whose notes cover ``seconds`` (plus a bar of slack) and
        whose caption and ``meta`` say what plays.
    """
    if style not in STYLE_TABLE:
        raise SonogenError(f"unknown style {style!r}; choose from: {', '.join(STYLES)}")
    if not 0 < seconds <= 120:
        raise SonogenError(f"clip length must be in (0, 120] seconds, got {seconds}")
    st = STYLE_TABLE[style]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, STYLES.index(style)]))
    tempo = int(rng.integers(st.tempo[0], st.tempo[1] + 1))
    swing = float(rng.uniform(*st.swing)) if st.swing[1] > 0 else 0.0
    clock = _Clock(tempo, swing, st.swing_unit, rng)
    bar_seconds = clock.step * STEPS_PER_BAR
    bars = int(np.ceil(seconds / bar_seconds)) + 1
    tonic_pc = int(rng.integers(12))
    scale_name = str(_pick(rng, st.scales))
    scale = SCALES[scale_name]
    is_minor = scale_name in MINOR_SCALES
    loops = st.progressions[1] if is_minor and st.progressions[1] else st.progressions[0] or st.progressions[1]
    chords = list(_pick(rng, loops))
    start_bar = int(rng.integers(len(chords)))  # the clip may begin anywhere in the loop
    chords = chords[start_bar:] + chords[:start_bar]
    tonic = 48 + tonic_pc  # C3..B3 reference

    notes: list[Note] = []
    programs: dict[int, tuple[int, int]] = {}
    volumes: dict[int, int] = {}
    pans: dict[int, int] = {}
    instruments: list[str] = []
    energy = float(rng.uniform(0.75, 1.0))

    # drums
    if st.drums:
        groove = _pick(rng, st.drums)
        kit = int(_pick(rng, st.kits))
        programs[DRUM_CHANNEL] = (128, kit)
        volumes[DRUM_CHANNEL] = int(rng.integers(95, 118))
        pans[DRUM_CHANNEL] = 64
        instruments.append(KIT_NAMES.get(kit, "drum kit"))
        for bar in range(bars):
            fill = bar % 4 == 3 and rng.random() < 0.35
            for part, pattern in groove.items():
                if part == "crash" and bar % 4 != 0:
                    continue
                for step, _length, ch in _pattern_hits(pattern):
                    if fill and step >= 12 and part in ("hat", "ride", "open"):
                        continue
                    base = {"X": 112, "x": 92, "o": 45}.get(ch, 90)
                    vel = int(np.clip(rng.normal(base * energy, 6), 20, 127))
                    if rng.random() < 0.04 and ch != "X":
                        continue  # an occasional dropped hit
                    notes.append(Note(clock.time(bar, step), 0.1, DRUM_KEYS[part], vel, DRUM_CHANNEL))
            if fill:
                toms = ("tom_hi", "tom_hi", "tom_mid", "tom_lo")
                for i, step in enumerate((12, 13, 14, 15)):
                    notes.append(Note(clock.time(bar, step), 0.1, DRUM_KEYS[toms[i]],
                                      int(rng.integers(80, 115)), DRUM_CHANNEL))

    # bass
    if st.bass:
        program = int(_pick(rng, st.bass_programs))
        programs[1] = (0, program)
        volumes[1] = int(rng.integers(96, 120))
        pans[1] = 64
        _add(instruments, PROGRAM_NAMES.get(program, f"GM program {program + 1}"))
        low = 28 if program not in (0, 89, 92) else 36
        pattern = str(_pick(rng, st.bass))
        for bar in range(bars):
            chord, nxt = chords[bar % len(chords)], chords[(bar + 1) % len(chords)]
            if pattern == "walk":
                keys = _walking_bar(tonic, chord, nxt, low, rng, scale)
                for beat, key in enumerate(keys):
                    start = clock.time(bar, beat * 4)
                    notes.append(Note(start, clock.step * 3.6, key, int(rng.integers(80, 105)), 1))
                continue
            for step, length, ch in _pattern_hits(pattern):
                key = _bass_key(ch, tonic, chord, nxt, low)
                start = clock.time(bar, step)
                notes.append(Note(start, clock.step * length * 0.9, key, int(rng.integers(82, 112)), 1))

    # chords
    if st.comp:
        program = int(_pick(rng, st.comp_programs))
        programs[0] = (0, program)
        volumes[0] = int(rng.integers(78, 105))
        pans[0] = int(rng.integers(40, 88))
        _add(instruments, PROGRAM_NAMES.get(program, f"GM program {program + 1}"))
        pattern = str(_pick(rng, st.comp))
        centre = int(rng.integers(60, 67)) if program not in (29, 30) else 55
        for bar in range(bars):
            chord = chords[bar % len(chords)]
            voicing = _voicing(tonic, chord, centre)
            if program in (29, 30) and chord[1] != "5":
                voicing = [voicing[0] - 12, voicing[0] - 5, voicing[0]]  # power chord
            for step, length, ch in _pattern_hits(pattern):
                if ch == "C":
                    keys = voicing
                elif ch == "L":
                    keys = voicing[: max(1, len(voicing) // 2)]
                elif ch == "H":
                    keys = voicing[len(voicing) // 2:]
                else:
                    keys = [voicing[(int(ch) - 1) % len(voicing)]]
                start = clock.time(bar, step)
                vel = int(np.clip(rng.normal(80 * energy + (8 if step % 4 == 0 else 0), 6), 30, 120))
                for key in keys:
                    notes.append(Note(start, clock.step * length * 0.95, key, vel, 0))

    # pad
    if st.pad_programs and rng.random() < st.pad_chance:
        program = int(_pick(rng, st.pad_programs))
        programs[3] = (0, program)
        volumes[3] = int(rng.integers(60, 85))
        pans[3] = 64
        _add(instruments, PROGRAM_NAMES.get(program, f"GM program {program + 1}"))
        for bar in range(bars):
            for key in _voicing(tonic, chords[bar % len(chords)], 64):
                notes.append(Note(clock.time(bar, 0, 0.0), bar_seconds * 0.98, key, 60, 3))

    # melody
    if st.lead_programs and rng.random() < st.lead_chance:
        program = int(_pick(rng, st.lead_programs))
        programs[2] = (0, program)
        volumes[2] = int(rng.integers(92, 120))
        pans[2] = int(rng.integers(44, 84))
        _add(instruments, PROGRAM_NAMES.get(program, f"GM program {program + 1}"))
        density = float(np.clip(st.lead_density + rng.normal(0, 0.1), 0.1, 0.9))
        notes.extend(_melody(st, tonic + 12, scale, chords, bars, clock, 2, rng, density))

    key_name = f"{NOTE_NAMES[tonic_pc]} {'minor' if is_minor else 'major'}"
    if scale_name not in ("major", "minor"):
        key_name = f"{NOTE_NAMES[tonic_pc]} {scale_name}"
    mood = _mood(st, tempo, is_minor, rng)
    meta = {
        "style": st.name,
        "tempo": tempo,
        "key": key_name,
        "instruments": instruments,
        "mood": mood,
        "seed": int(seed),
    }
    caption = make_caption(st, tempo, key_name, instruments, mood, swing, rng)
    return Composition(notes, programs, volumes, pans, float(seconds), caption, meta)


def _mood(st: Style, tempo: int, is_minor: bool, rng: np.random.Generator) -> str:
    """A mood word drawn from the style's moods and the tempo and mode."""
    pool = list(st.moods)
    if tempo >= 128:
        pool += ["energetic", "fast-paced"]
    elif tempo <= 80:
        pool += ["slow", "calm"]
    pool += ["melancholic", "dark"] if is_minor else ["bright", "uplifting"]
    pool = [m for m in pool if m != _tempo_word(tempo)] or ["steady"]
    return str(_pick(rng, pool))


def _tempo_word(tempo: int) -> str:
    if tempo < 76:
        return "slow"
    if tempo < 100:
        return "mid-tempo"
    if tempo < 130:
        return "upbeat"
    return "fast"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


_TEMPLATES = (
    "{Mood} {style} at {tempo} BPM with {instruments}",
    "{A_mood} {style} piece in {key}, {tempo} BPM, featuring {instruments}",
    "{Tempo_word} {style} groove ({tempo} bpm): {instruments}; {mood} feel",
    "{Instruments} playing {style}, {mood} and {tempo_word}, {tempo} beats per minute",
    "{Style} in {key} at {tempo} BPM. Instruments: {instruments}. Mood: {mood}",
    "{A_tempo_word}, {mood} {style} track with {instruments} around {tempo} BPM",
    "{Mood} {tempo_word} {style} featuring {instruments} in {key}",
)


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def make_caption(st: Style, tempo: int, key: str, instruments: list[str], mood: str, swing: float,
                 rng: np.random.Generator) -> str:
    """A caption naming the style, instruments, tempo and mood, in one of several wordings."""
    style_word = str(_pick(rng, st.words or (st.name,)))
    if swing > 0.5 and "swing" not in style_word and "shuffle" not in style_word and rng.random() < 0.5:
        style_word = f"swung {style_word}"
    names = list(instruments) or ["synth"]
    template = str(_pick(rng, _TEMPLATES))
    values: dict[str, Any] = {
        "mood": mood, "style": style_word, "tempo": tempo, "key": key,
        "instruments": _join(names), "tempo_word": _tempo_word(tempo),
    }
    values["a_mood"] = _article(mood)
    values["a_tempo_word"] = _article(values["tempo_word"])
    values.update({k.capitalize(): str(v)[:1].upper() + str(v)[1:] for k, v in values.items()})
    return template.format(**values)


# ----------------------------------------------------------------------------- rendering


def bundled_soundfont() -> Path | None:
    """The TimGM6mb General MIDI SoundFont that the ``pretty_midi`` wheel (a dependency) ships.

    Found without importing ``pretty_midi``; None when the package or the file is absent.
    """
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        font = Path(folder) / "TimGM6mb.sf2"
        if font.is_file():
            return font
    return None


def find_soundfont(path: str | os.PathLike[str] | None = None) -> Path:
    """The SoundFont to render with: ``path``, ``$SONOGEN_SOUNDFONT``, the TimGM6mb font
    that the ``pretty_midi`` dependency ships (the same everywhere, so a seed renders the
    same bytes on every machine), or a Debian GM font.

    Raises:
        SonogenError: the given file is missing, or no GM SoundFont is installed (the
            message says how to get one).
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SonogenError(f"SoundFont not found: {path}")
        return p
    env = os.environ.get(SOUNDFONT_ENV)
    if env:
        if not Path(env).is_file():
            raise SonogenError(f"${SOUNDFONT_ENV} names a missing SoundFont: {env}")
        return Path(env)
    bundled = bundled_soundfont()
    if bundled is not None:
        return bundled
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise SonogenError(
        "no General MIDI SoundFont found; `pip install pretty_midi` (it ships TimGM6mb), "
        f"`apt-get install {SOUNDFONT_PACKAGE}`, or pass --soundfont PATH"
    )


def render(comp: Composition, soundfont: str | os.PathLike[str] | None = None,
           sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render a composition with tinysoundfont.

    Returns:
        float32 ``(2, round(seconds * sample_rate))`` stereo audio, peak-normalised to 0.9
        (silent stays silent).
    """
    import tinysoundfont

    font = find_soundfont(soundfont)
    synth = tinysoundfont.Synth(gain=-6.0, samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(font))
    except Exception as exc:
        raise SonogenError(f"cannot load SoundFont {font}: {exc}") from None
    for channel, (bank, preset) in sorted(comp.programs.items()):
        drums = channel == DRUM_CHANNEL
        if synth.sfpreset_name(sfid, bank, preset) is None:
            # the caption names this instrument: playing another one would mislabel the clip
            wanted = KIT_NAMES.get(preset, "drum kit") if drums else PROGRAM_NAMES.get(preset, f"program {preset}")
            raise SonogenError(
                f"SoundFont {font} has no preset for {wanted} (bank {bank}, preset {preset}); "
                "use a complete General MIDI SoundFont such as TimGM6mb"
            )
        synth.program_select(channel, sfid, bank, preset, is_drums=drums)
        synth.control_change(channel, 7, int(comp.volumes.get(channel, 100)))
        synth.control_change(channel, 10, int(comp.pans.get(channel, 64)))
    total = int(round(comp.seconds * sample_rate))
    events: list[tuple[int, int, int, int, int]] = []  # (sample, order, channel, key, velocity)
    for note in comp.notes:
        on = int(round(note.start * sample_rate))
        off = int(round((note.start + note.duration) * sample_rate))
        if on >= total:
            continue
        events.append((off, 0, note.channel, note.key, 0))
        events.append((on, 1, note.channel, note.key, note.velocity))
    events.sort()
    out = np.zeros((total, 2), dtype=np.float32)
    pos = 0
    for sample, _order, channel, key, velocity in events:
        sample = min(sample, total)
        if sample > pos:
            out[pos:sample] = np.frombuffer(synth.generate(sample - pos), dtype=np.float32).reshape(-1, 2)
            pos = sample
        if velocity:
            synth.noteon(channel, key, velocity)
        else:
            synth.noteoff(channel, key)
    if pos < total:
        out[pos:] = np.frombuffer(synth.generate(total - pos), dtype=np.float32).reshape(-1, 2)
    wave = np.ascontiguousarray(out.T)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak > 0:
        wave *= 0.9 / peak
    return wave


def render_clip(style: str, seed: int, seconds: float = 5.12,
                soundfont: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, int, str, dict[str, Any]]:
    """Compose and render one clip.

    Returns:
        ``(wave, rate, caption, meta)``: float32 ``(2, samples)`` stereo at 44.1 kHz, the
        rate, the caption and ``{style, tempo, key, instruments, mood, seed}``.
    """
    comp = compose(style, seed, seconds)
    return render(comp, soundfont), SAMPLE_RATE, comp.caption, dict(comp.meta)


# ----------------------------------------------------------------------------- corpus


def clip_plan(num_clips: int, seed: int) -> list[tuple[str, int, str]]:
    """``(clip id, clip seed, style)`` for a corpus: styles balanced in shuffled rounds."""
    plan: list[tuple[str, int, str]] = []
    rounds = -(-num_clips // len(STYLES))
    for r in range(rounds):
        order = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, r, 7])).permutation(len(STYLES))
        for j in order:
            i = len(plan)
            if i >= num_clips:
                break
            clip_seed = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, i]).generate_state(1)[0])
            plan.append((f"{i:06d}", clip_seed, STYLES[int(j)]))
    return plan


def _render_job(job: tuple[str, int, str, float, str, str]) -> dict[str, Any]:
    """Worker: compose and render one clip to ``out/<id>.wav`` (skipped if present)."""
    from sonogen.audio.io import save_audio

    clip_id, clip_seed, style, seconds, soundfont, out = job
    comp = compose(style, clip_seed, seconds)
    target = Path(out) / f"{clip_id}.wav"
    if not target.exists():
        save_audio(target, render(comp, soundfont), SAMPLE_RATE)
    meta = comp.meta
    return {
        "file_name": target.name, "text": comp.caption, "style": meta["style"], "tempo": meta["tempo"],
        "key": meta["key"], "instruments": meta["instruments"], "mood": meta["mood"], "seed": clip_seed,
    }


def write_corpus(out: str | os.PathLike[str], clips: int, seed: int = 0, workers: int = 1,
                 soundfont: str | os.PathLike[str] | None = None, seconds: float = 5.12,
                 progress: bool = True) -> list[dict[str, Any]]:
    """Render ``clips`` clips into ``out`` (``<id>.wav`` + ``metadata.jsonl``); resumable.

    Returns:
        The metadata rows, in clip order.
    """
    import json

    from sonogen.utils import atomic_path, map_jobs

    if clips < 1:
        raise SonogenError(f"--clips must be at least 1, got {clips}")
    font = str(find_soundfont(soundfont))
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SonogenError(f"output exists and is not a folder: {out}")
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(cid, cseed, style, float(seconds), font, str(folder)) for cid, cseed, style in clip_plan(clips, seed)]
    rows = list(map_jobs(_render_job, jobs, workers, desc="synth-corpus", unit="clip", progress=progress,
                         chunksize=max(1, len(jobs) // (workers * 8))))
    with atomic_path(folder / "metadata.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows
