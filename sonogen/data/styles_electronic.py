"""Styles of the synthetic corpus: electronic, hip hop and beat-based (techno, house, trance,
synthwave, drum and bass, trap, hip hop, lo-fi hip hop, ambient, chiptune, drums only).

See :mod:`sonogen.data.styles_popular` for how a style is written down.
"""

from __future__ import annotations

from sonogen.data.music import (
    JAZZ_MAJOR,
    JAZZ_MINOR,
    Style,
    bass,
    chords,
    drone,
    hits,
    lead,
    pad,
    riff,
)

#: The drum kit plays (for gated style words such as "drums only").
KIT_PLAYS = (-1,)

TECHNO = Style(
    name="techno", tempo=(124, 140), scales=("minor", "dorian", "phrygian"),
    progressions=((((0, "min"), (0, "min"), (0, "min"), (0, "min")),),
                  (((0, "min"), (0, "min"), (8, "maj"), (10, "maj")), ((0, "min7"), (0, "min7"), (5, "min7"), (5, "min7")),
                   ((0, "min"),),)),
    drums=(
        {"kick": "X...X...X...X...", "open": "..x...x...x...x.", "clap": "....x.......x...",
         "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "X...X...X...X...", "open": "..x...x...x...x.", "rim": "...x..x...x..x.."},
        {"kick": "X...X...X...X...", "hat": "..x...x...x...x.", "ride": "x.x.x.x.x.x.x.x.", "esnare": "....x.......x..."},
    ),
    kits=(24, 25), fills=0.0,
    parts=(
        bass((38, 39), "RRORRFRORRORRFRO", ".RR.RR.RR.RR.RR.", "R.RRR.RRR.RRR.RR", register=36, level=-5.0),
        riff((81, 80, 86, 87), "X..x..x...x..x..", "x.x..x.x..x.x...", "X...x...X..x..x.", register=60, level=-6.0),
        pad((95, 94, 99), chance=0.4, level=-12.0),
    ),
    aliases={38: ("synth bass", "acid bass"), 81: ("sawtooth synth", "saw synth")},
    words=("techno", "minimal techno", "warehouse techno", "techno track"),
    places=("Detroit", "Berlin"), eras=("1990s", "nineties"),
    moods=("hypnotic", "dark", "pounding", "relentless", "driving"), reverb=0.2,
)

HOUSE = Style(
    name="house", tempo=(118, 128), scales=("minor", "dorian", "major"),
    progressions=((((0, "maj7"), (9, "min7"), (2, "min7"), (7, "7")), ((5, "maj7"), (4, "min7"), (2, "min7"), (0, "maj7"))),
                  (((0, "min7"), (5, "min7"), (10, "7"), (3, "maj7")), ((0, "min9"), (0, "min9"), (8, "maj7"), (10, "7")))),
    drums=(
        {"kick": "X...X...X...X...", "clap": "....x.......x...", "open": "..x...x...x...x.",
         "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X...X...X...X...", "clap": "....x.......x...", "open": "..x...x...x...x.",
         "maracas": "xxxxxxxxxxxxxxxx"},
    ),
    kits=(24, 25, 0), hand=({"conga_hi": "..x..x....x..x..", "conga_lo": "x.......x..x...."},), hand_chance=0.3,
    fills=0.0,
    parts=(
        bass((38, 33), "..R...R...R...R.", "..R-..O-..R-..F-", "R..R..R...R..R..", register=38),
        chords((0, 1, 4, 16), "..C...C...C..C..", "C..C..C...C..C..", "..C-..C-..C-..C-", level=-4.0),
        pad((89, 50), chance=0.45),
        lead((81, 61), register=72, chance=0.2, density=0.35),
    ),
    words=("house", "deep house", "house music", "house groove"),
    gated_words=((("piano house",), (0, 1)), (("organ house",), (16,))),
    places=("Chicago",), eras=("late eighties", "1990s"),
    moods=("uplifting", "soulful", "danceable", "euphoric", "warm"), reverb=0.18,
)

TRANCE = Style(
    name="trance", tempo=(132, 140), scales=("minor", "harmonic minor"),
    progressions=((((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),),
                  (((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")), ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),
                   ((8, "maj"), (10, "maj"), (0, "min"), (0, "min")))),
    drums=({"kick": "X...X...X...X...", "open": "..x...x...x...x.", "clap": "....x.......x...",
            "hat": "xxxxxxxxxxxxxxxx"},
           {"kick": "X...X...X...X...", "open": "..x...x...x...x.", "clap": "....x.......x..."}),
    kits=(24, 25), fills=0.0,
    parts=(
        bass((38, 39), "..R...R...R...R.", ".RRR.RRR.RRR.RRR", "..RR..RR..RR..RR", register=38, level=-5.0),
        chords((81, 80, 98), "1.2.3.4.3.2.1.2.", "1.3.2.4.1.3.2.4.", "1234123412341234", register=70, level=-5.0),
        pad((90, 95, 91, 50, 54), level=-9.0),
        lead((81, 85, 100), register=74, chance=0.5, density=0.35, lengths=(4, 4, 6, 8)),
        hits((119,), "........X-------", fixed_key=60, chance=0.35, level=-11.0),
    ),
    aliases={81: ("supersaw lead", "saw synth"), 54: ("synth choir", "synth voices"), 119: ("reverse cymbal",)},
    words=("trance", "uplifting trance", "euphoric trance", "trance anthem"),
    places=("Ibiza",), eras=("late nineties", "2000s"),
    moods=("euphoric", "soaring", "uplifting", "hypnotic", "emotional"), reverb=0.3,
)

SYNTHWAVE = Style(
    name="synthwave", tempo=(85, 118), scales=("minor", "dorian"),
    progressions=((((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),),
                  (((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")), ((0, "min"), (0, "min"), (8, "maj"), (10, "maj")),
                   ((0, "min7"), (5, "min7"), (8, "maj7"), (7, "min7")))),
    drums=({"kick": "X.......X.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.....x.X.......", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx"}),
    kits=(24, 25, 16), fills=0.25,
    parts=(
        bass((38, 39), "R.R.R.R.R.R.R.R.", "R.O.R.O.R.O.R.O.", "RRRRRRRRRRRRRRRR", register=38, level=-4.0),
        pad((90, 50, 51, 62, 63), level=-7.0),
        chords((80, 81, 2), "1.2.3.2.1.2.3.2.", "1.3.2.3.1.3.2.3.", register=72, chance=0.6, level=-7.0),
        lead((81, 84, 82, 5), register=72, chance=0.6, density=0.4, lengths=(2, 4, 4, 6, 8)),
        hits((118,), "............x.x.", "..........x.x.x.", register=55, chance=0.3, level=-9.0),
    ),
    aliases={2: ("electric grand piano", "CP-70 piano"), 5: ("DX7 electric piano", "FM electric piano"),
             118: ("synth toms", "synth drums")},
    effects=("helicopter",), effect_chance=0.04,
    words=("synthwave", "retrowave", "outrun synthwave"),
    places=("Miami", "Los Angeles"), eras=("1980s", "eighties"),
    moods=("nostalgic", "neon", "dreamy", "driving", "nocturnal"), reverb=0.3,
)

DRUM_AND_BASS = Style(
    name="drum and bass", tempo=(165, 176), scales=("minor", "dorian"),
    progressions=((((0, "maj9"), (9, "min9"), (5, "maj9"), (7, "sus4")),),
                  (((0, "min9"), (0, "min9"), (8, "maj7"), (10, "7")), ((0, "min7"), (5, "min7"), (3, "maj7"), (8, "maj7")))),
    drums=({"kick": "X.........X.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.........X.....", "snare": "....X..o.o..X..o", "ride": "x.x.x.x.x.x.x.x."},
           {"kick": "X.X.......X.....", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx"}),
    kits=(24, 0, 8), fills=0.0,
    parts=(
        bass((39, 38, 87), "R-------R---F---", "R-----R-----O---", "R-----------R.R.", register=36, level=-3.0),
        pad((89, 94, 88), chance=0.6, level=-10.0),
        chords((4,), "C-------....C---", "C-----..C-------", chance=0.5, level=-7.0),
        lead((81, 73), register=74, chance=0.2, density=0.3, lengths=(4, 6, 8)),
    ),
    aliases={39: ("reese bass", "synth bass"), 87: ("synth bass",)},
    words=("drum and bass", "liquid drum and bass", "jungle-tinged drum and bass"),
    places=("London", "Bristol"), eras=("1990s", "nineties"),
    moods=("rolling", "frantic", "dark", "energetic", "liquid"), reverb=0.2,
)

TRAP = Style(
    name="trap", tempo=(130, 160), scales=("minor", "harmonic minor", "phrygian"),
    progressions=((), (((0, "min"), (0, "min"), (8, "maj"), (7, "maj")), ((0, "min"), (1, "maj"), (0, "min"), (1, "maj")),
                       ((0, "min"), (8, "maj"), (5, "min"), (7, "maj")))),
    drums=({"kick": "X.........X..x..", "snare": "........X.......", "hat": "xxxxxxxxxxxxxxxx"},
           {"kick": "X......x..X.....", "clap": "........X.......", "hat": "x.x.xxx.x.x.xxxx", "open": "......x........."},
           {"kick": "X.....X...X.....", "snare": "........X.......", "hat": "x.x.x.x.xxxxx.x."}),
    kits=(25,), fills=0.0,
    parts=(
        bass((38, 39), "R-------..R-----", "R-----R---------", "R---------R-F---", register=36, level=-2.0),
        riff((10, 9, 0, 73, 14), "x..x..x.x..x..x.", "x.x...x.x.x.....", "X...x.x.X...x...", register=74, level=-5.0),
        pad((52, 54), chance=0.3, level=-11.0),
    ),
    aliases={38: ("808 bass", "808 sub bass"), 39: ("808 bass", "808 sub bass"), 10: ("music box", "eerie bells"),
             14: ("tubular bells", "bells")},
    words=("trap", "trap beat", "dark trap"),
    places=("Atlanta",), eras=("2010s",),
    moods=("menacing", "dark", "hard-hitting", "moody", "cold"), reverb=0.2,
)

HIP_HOP = Style(
    name="hip hop", tempo=(80, 98), swing=(0.3, 0.6), swing_unit=2, scales=("minor", "dorian"),
    progressions=((((0, "maj7"), (0, "maj7"), (5, "maj7"), (5, "maj7")),),
                  (((0, "min7"), (0, "min7"), (5, "min7"), (7, "min7")), ((0, "min9"), (8, "maj7"), (0, "min9"), (8, "maj7")))),
    drums=(
        {"kick": "X......x..x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.x.......X..x..", "snare": "....X.......X...", "hat": "xxx.x.xxx.x.x.xx"},
    ),
    kits=(0, 8, 24), fills=0.0,
    parts=(
        bass((33, 38, 35), "R-------..R-F---", "R-----R-....O-R-", "R-----------F---"),
        chords((4, 5, 0, 11), "C-------C-------", "C-....C-....C---", "C---------C-----", level=-4.0),
        lead((73, 49, 11, 46), register=72, chance=0.45, density=0.3),
        hits((55,), "X...............", "X.........X.....", register=60, chance=0.15, level=-8.0),
    ),
    effects=("telephone ring",), effect_chance=0.05,
    words=("hip hop", "boom bap hip hop", "hip hop beat", "boom bap"),
    places=("New York", "Brooklyn"), eras=("1990s", "nineties", "golden-era"),
    moods=("laid-back", "moody", "head-nodding", "gritty", "confident"), reverb=0.1,
)

LOFI = Style(
    name="lo-fi hip hop", tempo=(70, 90), swing=(0.4, 0.65), swing_unit=2, scales=("major", "dorian", "minor"),
    progressions=(JAZZ_MAJOR + (((0, "maj9"), (4, "min7"), (5, "maj7"), (7, "9")),),
                  JAZZ_MINOR + (((0, "min9"), (5, "min9"), (0, "min9"), (8, "maj7")),)),
    drums=({"kick": "X......x..X.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.xxx.x."},
           {"kick": "X.....x...X..x..", "rim": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}),
    kits=(0, 8, 40), fills=0.0,
    parts=(
        chords((4, 0, 26), "C-----....C-----", "C-------C-----..", "C--.....C--.C...", level=-4.0),
        bass((35, 32, 38), "R-----.R..F-----", "R-------R---F---", register=40),
        lead((59, 73, 11, 108, 10, 76), register=72, chance=0.5, density=0.3, lengths=(2, 4, 4, 6, 8)),
        pad((89,), chance=0.25, level=-12.0),
    ),
    effects=("telephone ring", "bird tweet"), effect_chance=0.08,
    words=("lo-fi hip hop", "lo-fi beat", "chillhop", "lo-fi"),
    moods=("chill", "mellow", "cozy", "sleepy", "nostalgic"), reverb=0.2, lofi=True,
)

AMBIENT = Style(
    name="ambient", tempo=(60, 85), scales=("major", "minor", "pentatonic", "lydian"),
    progressions=((((0, "add9"), (5, "maj7"), (0, "add9"), (7, "sus4")), ((0, "maj7"), (9, "min7"), (5, "maj7"), (5, "maj7"))),
                  (((0, "min9"), (8, "maj7"), (3, "maj7"), (10, "add9")), ((0, "min7"), (0, "min7"), (8, "maj7"), (8, "maj7")))),
    parts=(
        pad((88, 89, 92, 94, 91, 99, 96, 97, 101, 102, 95), level=-4.0),
        drone((92, 89, 48), register=40, chance=0.7, level=-7.0),
        lead((8, 10, 11, 46, 75, 79, 76, 83, 98, 31, 112, 14), register=76, chance=0.75, density=0.2,
             lengths=(4, 6, 8, 8)),
        chords((103, 93), "1-------3-------", chance=0.15, register=70, level=-10.0),
    ),
    aliases={31: ("guitar harmonics", "chiming guitar harmonics")},
    effects=("seashore", "bird tweet", "breath noise"), effect_chance=0.35,
    words=("ambient", "ambient soundscape", "ambient drone", "atmospheric ambient"),
    moods=("dreamy", "calm", "meditative", "spacious", "ethereal"), reverb=0.45,
)

CHIPTUNE = Style(
    name="chiptune", tempo=(120, 170), scales=("major", "minor"),
    progressions=((((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
                  (((0, "min"), (8, "maj"), (10, "maj"), (0, "min")), ((0, "min"), (5, "min"), (7, "maj"), (0, "min")))),
    drums=({"kick": "X.......X.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X...X...X...X...", "esnare": "....X.......X...", "hat": "..x...x...x...x."}),
    kits=(24,), fills=0.0,
    parts=(
        lead((80, 82), register=76, density=0.75, lengths=(1, 2, 2, 2, 4), level=-2.0),
        chords((80, 81), "1234123412341234", "1.2.3.4.1.2.3.4.", register=64, level=-7.0),
        bass((80, 38), "R.O.R.O.R.O.R.O.", "R.R.R.R.F.F.O.O.", register=40, level=-5.0),
    ),
    aliases={80: ("square-wave synth", "chiptune lead", "square lead"), 82: ("calliope lead", "whistly synth lead")},
    words=("chiptune", "8-bit chiptune", "video game music", "8-bit music"),
    eras=("1980s", "eighties"),
    moods=("playful", "bouncy", "nostalgic", "adventurous", "cheerful"), reverb=0.0,
)

DRUMS_ONLY = Style(
    name="drums only", tempo=(80, 160), swing=(0.0, 0.4), swing_unit=2, scales=("major",),
    progressions=((((0, "maj"),),), (((0, "maj"),),)),
    drums=(
        {"kick": "X.......x.x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.x.......X.....", "snare": "....X..o.o..X...", "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "X...X...X...X...", "clap": "....x.......x...", "open": "..x...x...x...x."},
        {"kick": "X.....x...X.....", "snare": "....X.......X.o.", "ride": "x.x.x.x.x.x.x.x.",
         "tom_hi": "............x...", "tom_lo": ".............xx."},
    ),
    kits=(0, 8, 16, 24, 25, 32),
    hand=({"conga_hi": "x..x..x.x..x.x..", "conga_lo": "..x.....x.....x.", "bongo_hi": "x.x...x.x.x...x.",
           "maracas": "xxxxxxxxxxxxxxxx", "clave": "x..x..x...x.x..."},
          {"timbale_hi": "x..x..x...x.x...", "cowbell": "x.x.x.x.x.x.x.x.", "guiro_long": "x...x...x...x..."},
          {"tambourine": "x.x.x.x.x.x.x.x."}, {"agogo_hi": "x.x..x.x.x..x.x.", "agogo_lo": "...x.......x....",
                                               "cabasa": "xxxxxxxxxxxxxxxx"}),
    hand_chance=0.45, fills=0.5, solo=True,
    words=("drum groove", "percussion-only beat", "drum break"),
    gated_words=((("drums only", "solo drums"), KIT_PLAYS),),
    moods=("punchy", "driving", "raw", "tight", "energetic"), reverb=0.08,
)

#: The styles of this module, in corpus order.
ELECTRONIC: tuple[Style, ...] = (TECHNO, HOUSE, TRANCE, SYNTHWAVE, DRUM_AND_BASS, TRAP, HIP_HOP, LOFI, AMBIENT,
                                 CHIPTUNE, DRUMS_ONLY)
