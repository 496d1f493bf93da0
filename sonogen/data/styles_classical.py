"""Styles of the synthetic corpus: jazz, ragtime and concert music (jazz swing, ragtime,
baroque, classical, waltz, solo piano, string ensemble).

See :mod:`sonogen.data.styles_popular` for how a style is written down.
"""

from __future__ import annotations

from sonogen.data.music import (
    HARMONIC_MINOR,
    JAZZ_MAJOR,
    JAZZ_MINOR,
    POP_MAJOR,
    POP_MINOR,
    Style,
    bass,
    chords,
    hits,
    lead,
    pad,
)

PIANOS = (0, 1)
STRINGS = (40, 41, 42, 43, 44, 45, 48, 49)

JAZZ_SWING = Style(
    name="jazz swing", tempo=(110, 200), swing=(0.55, 0.85), swing_unit=4,
    scales=("major", "minor"), progressions=(JAZZ_MAJOR, JAZZ_MINOR),
    drums=(
        {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "kick": "o.......o......."},
        {"ride": "x...x.x.x...x.x.", "pedal": "....x.......x...", "snare": "......o.......o."},
    ),
    kits=(32, 40), fills=0.15,
    parts=(
        bass((32,), "walk", level=-4.0),
        chords((0, 26, 11), "....C-.....C....", "C-....C.....C-..", "...C-.......C...", level=-6.0),
        lead((65, 66, 56, 57, 59, 71, 11), register=70, chance=0.8, density=0.55),
    ),
    aliases={32: ("upright bass", "walking bass", "double bass"), 11: ("vibes", "vibraphone")},
    effects=("applause",), effect_chance=0.12,
    words=("jazz swing", "swing jazz", "straight-ahead jazz", "jazz combo"),
    places=("New York", "Harlem", "Kansas City"), eras=("1930s", "1940s", "forties"),
    moods=("swinging", "sophisticated", "lively", "smoky", "late-night"), reverb=0.18,
)

RAGTIME = Style(
    name="ragtime", tempo=(80, 104), scales=("major",),
    progressions=((((0, "maj"), (9, "7"), (2, "7"), (7, "7")), ((0, "maj"), (0, "maj"), (7, "7"), (0, "maj")),
                   ((5, "maj"), (6, "dim7"), (0, "maj"), (7, "7"))), POP_MINOR),
    parts=(
        chords((0, 3), "B...C...B...C...", "B...C...L...C...", register=62, level=-5.0),
        lead((0, 3), register=74, density=0.75, lengths=(1, 2, 2, 3, 2, 4), level=-1.0),
        chords((105,), "..C...C...C...C.", chance=0.12, level=-10.0),
    ),
    aliases={0: ("piano", "upright piano"), 3: ("honky-tonk piano", "saloon piano", "tack piano")},
    effects=("applause",), effect_chance=0.05,
    words=("ragtime", "ragtime tune", "cakewalk"),
    gated_words=((("ragtime piano", "piano rag"), (0, 3)),),
    places=("St. Louis", "Sedalia"), eras=("1900s", "1910s", "1920s", "turn-of-the-century"),
    moods=("jaunty", "playful", "sprightly", "cheeky", "nostalgic"), reverb=0.1,
)

BAROQUE = Style(
    name="baroque", tempo=(70, 120), scales=("major", "harmonic minor"),
    progressions=((((0, "maj"), (5, "maj"), (11, "dim"), (4, "min"), (9, "min"), (2, "min"), (7, "maj"), (0, "maj")),
                   ((0, "maj"), (7, "maj"), (9, "min"), (4, "min"), (5, "maj"), (0, "maj"), (5, "maj"), (7, "maj"))),
                  HARMONIC_MINOR + (((0, "min"), (5, "min"), (10, "maj"), (3, "maj"), (8, "maj"), (2, "dim"),
                                     (7, "7"), (0, "min")),)),
    parts=(
        chords((6,), "1.2.3.2.1.2.3.2.", "C...C...C...C...", "1.3.2.3.1.3.2.3.", register=64, level=-6.0),
        bass((42, 70, 43), "R.F.O.F.R.3.F.3.", "R.R.F.F.O.O.F.F.", "R...F...O...F...", register=45, level=-5.0),
        lead((40, 68, 74, 73, 56), register=74, density=0.9, lengths=(1, 1, 1, 1, 2, 2), ornament=0.12, level=-2.0),
        pad((48, 19), "C-------C-------", chance=0.3, level=-11.0),
    ),
    aliases={56: ("baroque trumpet", "trumpet"), 74: ("recorder", "alto recorder")},
    words=("baroque", "baroque concerto", "baroque chamber music"),
    places=("Leipzig", "Venice"), eras=("1700s", "18th-century"),
    moods=("stately", "ornate", "elegant", "spirited", "courtly"), reverb=0.3,
)

CLASSICAL = Style(
    name="classical", tempo=(72, 132), scales=("major", "minor"),
    progressions=((((0, "maj"), (5, "maj"), (7, "7"), (0, "maj")), ((0, "maj"), (9, "min"), (2, "min"), (7, "7")),
                   ((0, "maj"), (7, "7"), (7, "7"), (0, "maj"))),
                  (((0, "min"), (5, "min"), (7, "7"), (0, "min")), ((0, "min"), (8, "maj"), (2, "dim"), (7, "7")))),
    parts=(
        chords((0,), "1.3.2.3.1.3.2.3.", "1323132313231323", register=55, group="accompaniment", chance=0.45,
               level=-6.0),
        chords((48, 49), "C---C---C---C---", "C.C.C.C.C.C.C.C.", group="accompaniment", level=-7.0),
        bass((70, 42, 45), "R...F...R...F...", "R.......F.......", register=43, level=-6.0),
        lead((40, 73, 68, 71, 69, 0, 72), register=74, density=0.55, lengths=(2, 2, 4, 4, 6), level=-2.0),
        pad((60,), "C-------C-------", chance=0.25, level=-12.0),
        hits((47,), "X.......x.......", "X...............", register=43, chance=0.2, level=-9.0),
        chords((14, 8, 9), "1...............", chance=0.1, register=76, level=-12.0),
    ),
    aliases={60: ("French horns", "horns")},
    effects=("applause",), effect_chance=0.06,
    words=("classical", "classical-era piece", "viennese classical", "classical sonata"),
    places=("Vienna", "Salzburg"), eras=("1780s", "18th-century"),
    moods=("graceful", "elegant", "poised", "bright", "refined"), reverb=0.32,
)

WALTZ = Style(
    name="waltz", tempo=(140, 180), meter=(3, 4), scales=("major", "minor"),
    progressions=((((0, "maj"), (0, "maj"), (7, "7"), (7, "7")), ((0, "maj"), (5, "maj"), (7, "7"), (0, "maj"))),
                  (((0, "min"), (0, "min"), (7, "7"), (7, "7")), ((0, "min"), (5, "min"), (7, "7"), (0, "min")))),
    drums=({"kick": "X...........", "snare": "....o...o..."},), kits=(40,), fills=0.0,
    parts=(
        bass((32, 42, 58), "R-----------", "R.......F...", register=40, level=-5.0),
        chords((48, 0, 21, 45), "....C...C...", "....C-..C-..", register=64, level=-6.0),
        lead((40, 73, 21, 9), register=74, density=0.45, lengths=(4, 4, 8, 2, 12), level=-2.0),
        chords((46,), "1...2...3...", chance=0.2, register=62, level=-9.0),
    ),
    aliases={21: ("accordion", "musette accordion")},
    words=("waltz", "viennese waltz", "waltz tune"),
    places=("Vienna", "Paris"), eras=("19th-century", "1800s"),
    moods=("graceful", "swirling", "romantic", "elegant", "wistful"), reverb=0.28,
)

SOLO_PIANO = Style(
    name="solo piano", tempo=(60, 120), scales=("major", "minor"),
    progressions=(POP_MAJOR + JAZZ_MAJOR, POP_MINOR),
    parts=(
        chords(PIANOS, "..1.2.3.4.3.2.1.", "1.2.3.4.3.2.3.4.", "C-------C-------", register=58, level=-5.0),
        bass(PIANOS, "R.......F.......", "R...F...O...F...", "R-------O-------", register=40, level=-5.0),
        lead(PIANOS, register=74, density=0.45, chance=0.85, level=-1.0),
    ),
    aliases={0: ("grand piano", "acoustic piano", "piano"), 1: ("bright piano", "piano")},
    gated_words=((("solo piano", "piano solo", "solo piano piece", "piano miniature", "piano piece"), PIANOS),),
    moods=("gentle", "reflective", "tender", "melancholic", "nostalgic"), reverb=0.28, solo=True,
)

STRING_ENSEMBLE = Style(
    name="string ensemble", tempo=(60, 110), scales=("major", "minor"),
    progressions=(POP_MAJOR, POP_MINOR + (((0, "min"), (7, "maj"), (8, "maj"), (7, "maj")),)),
    parts=(
        bass((42, 43), "R-------F-------", "R---R---R---R---", "R-R-R-R-R-R-R-R-", register=40, level=-5.0),
        chords((48, 49, 44), "C---------------", "C-------C-------", "C---C---C---C---", level=-5.0),
        chords((45,), "C...C...C...C...", chance=0.15, level=-9.0),
        lead((40, 41), register=74, chance=0.75, density=0.35, level=-2.0),
    ),
    aliases={48: ("strings", "string section", "string orchestra"), 49: ("slow strings", "string section")},
    words=("chamber piece",),
    gated_words=((("string ensemble", "string orchestra", "orchestral strings", "chamber strings"), STRINGS),),
    moods=("cinematic", "lush", "sweeping", "solemn", "romantic"), reverb=0.32, solo=True,
)

#: The styles of this module, in corpus order.
CLASSICAL_STYLES: tuple[Style, ...] = (JAZZ_SWING, RAGTIME, BAROQUE, CLASSICAL, WALTZ, SOLO_PIANO, STRING_ENSEMBLE)
