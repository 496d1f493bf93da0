"""Styles of the synthetic corpus: rock, roots and soul (rock, metal, punk, blues, country,
bluegrass, folk, celtic, gospel, soul, R&B, funk, disco).

Each style is plain data (see :class:`sonogen.data.music.Style` for the fields and
:mod:`sonogen.data.music` for the pattern alphabets). What makes a style recognisable:
its groove (or the absence of drums), tempo range, meter and swing, its chord loops and
scales, and the instruments each part may use.
"""

from __future__ import annotations

from sonogen.data.music import (
    BLUES_12,
    POP_MAJOR,
    POP_MINOR,
    THREE_CHORD,
    Style,
    bass,
    chords,
    hits,
    lead,
    pad,
    riff,
)

GUITARS = tuple(range(24, 31))
ELECTRIC_GUITARS = (26, 27, 28, 29, 30)

ROCK = Style(
    name="rock", tempo=(100, 150), scales=("major", "minor", "mixolydian"),
    progressions=(POP_MAJOR, POP_MINOR),
    drums=(
        {"kick": "X.......x.x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.....x.X.......", "snare": "....X.......X..o", "hat": "x.x.x.x.x.x.x.x.",
         "crash": "x..............."},
        {"kick": "X.x.....X.x.....", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8, 16), fills=0.4,
    parts=(
        bass((33, 34), "R.R.R.R.R.R.R.R.", "R-R-R-R-F-F-O-R-", "R...R.R.R...R.R."),
        chords((29, 30, 29, 27), "C-.CC-.CC-.CC-.C", "C-------C-------", "C.C.C.C.C.C.C.C.", register=55),
        lead((29, 30, 18), register=67, chance=0.4, density=0.5),
        chords((1, 18), "C-------C-------", "C.......C.......", chance=0.2, level=-9.0),
    ),
    effects=("applause",), effect_chance=0.08,
    words=("rock", "rock song", "rock tune", "rock track"),
    gated_words=((("guitar rock",), GUITARS),),
    places=("London",), eras=("1970s", "seventies", "1990s", "nineties"),
    moods=("energetic", "driving", "gritty", "anthemic", "rebellious"), reverb=0.12,
)

METAL = Style(
    name="metal", tempo=(130, 180), scales=("minor", "phrygian", "harmonic minor"),
    progressions=((), (((0, "5"), (0, "5"), (8, "5"), (10, "5")), ((0, "5"), (1, "5"), (0, "5"), (7, "5")),
                       ((0, "5"), (3, "5"), (5, "5"), (6, "5")))),
    drums=({"kick": "XxXxXxXxXxXxXxXx", "snare": "....X.......X...", "crash": "x.......x......."},
           {"kick": "X.x.X.x.X.x.X.x.", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
           {"kick": "XxXxXxXxXxXxXxXx", "snare": "..X...X...X...X.", "china": "x...x...x...x..."}),
    kits=(16, 0), fills=0.3,
    parts=(
        bass((34, 33), "RRRRRRRRRRRRRRRR", "R.R.RRR.R.R.RRR."),
        chords((30,), "CCCCCCCCCCCCCCCC", "C.CCC.C.C.CCC.CC", "C---C---C-C-C---", register=52),
        lead((30, 84), register=69, chance=0.3, density=0.7, lengths=(1, 2, 2, 2, 4)),
    ),
    words=("heavy metal", "metal", "thrash metal", "metal riff"),
    places=("Birmingham", "the Bay Area"), eras=("1980s", "eighties"),
    moods=("aggressive", "heavy", "furious", "dark", "intense"), reverb=0.1,
)

PUNK = Style(
    name="punk", tempo=(160, 200), scales=("major", "minor", "mixolydian"),
    progressions=(THREE_CHORD + (((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),), POP_MINOR),
    drums=({"kick": "X...X...X...X...", "snare": "..x...x...x...x.", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.x.....X.x.....", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx",
            "crash": "x..............."},
           {"kick": "X...X...X...X...", "snare": "..x...x...x...x.", "ride": "x.x.x.x.x.x.x.x."}),
    kits=(0, 16, 8), fills=0.25,
    parts=(
        bass((34,), "R.R.R.R.R.R.R.R.", "RRRRRRRRRRRRRRRR"),
        chords((29, 30), "C.C.C.C.C.C.C.C.", "CCCCCCCCCCCCCCCC", register=55),
        lead((29,), register=67, chance=0.2, density=0.6, lengths=(2, 2, 4)),
    ),
    words=("punk", "punk rock", "fast punk", "garage punk"),
    places=("London", "New York"), eras=("1977", "late seventies"),
    moods=("snotty", "raw", "rebellious", "frantic", "loud"), reverb=0.05,
)

BLUES = Style(
    name="blues", tempo=(70, 125), swing=(0.6, 0.85), swing_unit=4, scales=("blues",),
    progressions=((BLUES_12,), (BLUES_12,)),
    drums=(
        {"kick": "X.......X.......", "snare": "....X.......X...", "hat": "x.xxx.xxx.xxx.xx"},
        {"kick": "X.......X.......", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8, 40),
    parts=(
        bass((33, 32), "R.3.F.F.O.F.F.3.", "R.R.3.3.F.F.3.3.", "R...F...O...F..."),
        chords((0, 29, 27, 16), "C.C.C.C.C.C.C.C.", "L.H.L.H.L.H.L.H.", "C-..C-..C-..C-.."),
        lead((22, 29, 65, 26), register=70, chance=0.75, density=0.45, ornament=0.1),
    ),
    aliases={22: ("harmonica", "blues harp")},
    words=("blues", "twelve-bar blues", "shuffle blues", "blues shuffle"),
    gated_words=((("electric blues",), ELECTRIC_GUITARS),),
    places=("Chicago", "Memphis", "Mississippi"), eras=("1950s", "fifties"),
    moods=("soulful", "weary", "gritty", "shuffling", "bluesy"), reverb=0.15,
)

COUNTRY = Style(
    name="country", tempo=(90, 140), scales=("major", "mixolydian"),
    progressions=(THREE_CHORD, POP_MINOR),
    drums=({"kick": "X.......X.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.......X.......", "rim": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}),
    kits=(0, 40), hand=({"maracas": "x.x.x.x.x.x.x.x."},), hand_chance=0.3, fills=0.2,
    parts=(
        bass((33, 32), "R...F...R...F...", "R...F...O...A...", "R...L...R...L..."),
        chords((25, 24), "C.C.C.C.C.C.C.C.", "L.H.L.H.L.H.L.H.", "L.HHL.HHL.HHL.HH"),
        lead((40, 110, 22, 27), register=72, chance=0.65, density=0.45, ornament=0.12),
        chords((3,), "..C...C...C...C.", chance=0.25, level=-9.0),
    ),
    aliases={40: ("fiddle",), 110: ("fiddle",), 27: ("twangy electric guitar", "electric guitar")},
    effects=("bird tweet",), effect_chance=0.06,
    words=("country", "country tune", "Americana", "country and western", "honky-tonk country"),
    places=("Nashville", "Texas", "Bakersfield"), eras=("1960s", "sixties"),
    moods=("homey", "cheerful", "rustic", "easygoing", "wistful"), reverb=0.12,
)

BLUEGRASS = Style(
    name="bluegrass", tempo=(150, 200), scales=("major", "mixolydian"),
    progressions=(THREE_CHORD + (((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),), THREE_CHORD),
    parts=(
        bass((32,), "R...F...R...F...", "R...L...R...F...", level=-5.0),
        chords((105,), "1.2.3.1.2.3.1.2.", "1.3.2.1.3.2.1.3.", "3.2.1.3.2.1.3.1.", register=64, level=-4.0),
        chords((25,), "....C.......C...", "C...C...C...C...", register=58, level=-8.0),
        lead((110, 40, 22), register=72, density=0.75, lengths=(1, 2, 2, 2, 4), ornament=0.2),
    ),
    aliases={40: ("fiddle",), 110: ("fiddle",), 32: ("upright bass", "double bass"),
             25: ("acoustic guitar", "flat-top guitar")},
    effects=("guitar fret noise",), effect_chance=0.06,
    words=("bluegrass", "bluegrass breakdown", "bluegrass picking"),
    places=("Kentucky", "Appalachia"), eras=("1940s", "forties"),
    moods=("lively", "rollicking", "nimble", "high-spirited", "foot-stomping"), reverb=0.1,
)

FOLK = Style(
    name="folk", tempo=(80, 120), scales=("major", "mixolydian", "dorian"),
    progressions=(THREE_CHORD + (((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),),
                  (((0, "min"), (10, "maj"), (0, "min"), (7, "min")), ((0, "min"), (3, "maj"), (10, "maj"), (0, "min")))),
    hand=({"tambourine": "....x.......x..."}, {"maracas": "x.x.x.x.x.x.x.x."}), hand_chance=0.25,
    parts=(
        chords((25, 24), "1.3.2.3.1.3.2.3.", "C.C.CC.CC.C.C.C.", "1.3.4.3.2.3.4.3.", register=60, level=-4.0),
        lead((110, 40, 22, 21, 15), register=72, density=0.45, lengths=(2, 2, 4, 4, 6), ornament=0.12),
        bass((32,), "R.......F.......", "R...............", chance=0.4, level=-7.0),
    ),
    aliases={40: ("fiddle",), 110: ("fiddle",), 15: ("hammered dulcimer", "dulcimer")},
    effects=("bird tweet", "guitar fret noise"), effect_chance=0.15,
    words=("folk", "folk song", "acoustic folk", "folk ballad"),
    places=("Greenwich Village",), eras=("1960s", "sixties"),
    moods=("earnest", "wistful", "warm", "pastoral", "homespun"), reverb=0.15,
)

CELTIC = Style(
    name="celtic", tempo=(100, 132), meter=(2, 3), scales=("major", "mixolydian", "dorian"),
    progressions=((((0, "maj"), (0, "maj"), (5, "maj"), (7, "maj")), ((0, "maj"), (10, "maj"), (0, "maj"), (7, "maj"))),
                  (((0, "min"), (10, "maj"), (0, "min"), (10, "maj")), ((0, "min"), (3, "maj"), (10, "maj"), (0, "min")))),
    drums=({"tom_floor": "X.xX.x"}, {"tom_floor": "X..X.o", "tom_lo": "..x..x"}),
    kits=(0, 8), fills=0.0,
    parts=(
        lead((78, 110, 109, 73, 21), register=74, density=0.9, lengths=(1, 1, 1, 2, 3), ornament=0.25),
        chords((25, 24, 46), "C..C..", "C.CC.C", "1.23.2", register=60, level=-6.0),
        bass((32,), "R..F..", "R.....", chance=0.3, level=-8.0),
    ),
    aliases={110: ("fiddle",), 78: ("tin whistle", "penny whistle"), 21: ("button accordion", "accordion"),
             73: ("wooden flute", "flute"), 46: ("celtic harp", "harp")},
    effects=("seashore",), effect_chance=0.12,
    words=("celtic", "celtic jig", "irish jig", "celtic folk"),
    places=("Dublin", "Galway", "Ireland"),
    moods=("lively", "jaunty", "merry", "windswept", "spirited"), reverb=0.2,
)

GOSPEL = Style(
    name="gospel", tempo=(60, 80), meter=(4, 3), scales=("major",),
    progressions=((((0, "maj"), (5, "maj"), (0, "maj"), (7, "7")), ((0, "maj"), (4, "7"), (9, "min"), (5, "maj")),
                   ((5, "maj"), (6, "dim7"), (0, "maj"), (7, "7"))), POP_MINOR),
    drums=({"kick": "X.....X.....", "snare": "...X.....X..", "hat": "xxxxxxxxxxxx"},
           {"kick": "X.....X..x..", "snare": "...X.....X..", "ride": "x.xx.xx.xx.x"}),
    kits=(0, 8), hand=({"clap": "...x.....x..", "tambourine": "x.xx.xx.xx.x"}, {"clap": "...x.....x.."}),
    hand_chance=0.7, fills=0.2,
    parts=(
        pad((52, 53), "C-----------", "C-----C-----", level=-6.0),
        chords((19, 16), "C-----------", "C-----C-----", level=-9.0),
        chords((0,), "C.CC.CC.CC.C", "C..C..C..C..", "B..C..B..C..", register=62, level=-6.0),
        bass((33,), "R..F..R..F..", "R.....F.....", level=-5.0),
        lead((65,), register=70, chance=0.15),
    ),
    effects=("applause",), effect_chance=0.2,
    words=("gospel", "church gospel", "southern gospel", "gospel hymn"),
    gated_words=((("gospel choir", "choir gospel"), (52, 53)),),
    places=("Memphis", "Atlanta"), eras=("1960s", "sixties"),
    moods=("uplifting", "joyful", "spiritual", "soaring", "reverent"), reverb=0.3,
)

SOUL = Style(
    name="soul", tempo=(95, 125), scales=("major", "minor"),
    progressions=((((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")), ((0, "maj7"), (5, "maj7"), (0, "maj7"), (5, "maj7")),
                   ((0, "maj"), (4, "min"), (5, "maj"), (7, "7"))),
                  (((0, "min7"), (5, "7"), (0, "min7"), (5, "7")), ((0, "min7"), (10, "7"), (8, "maj7"), (7, "7")))),
    drums=({"kick": "X..x..x.X.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X.....x...x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X...X...X...X...", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}),
    kits=(0, 8), hand=({"tambourine": "x.x.x.x.x.x.x.x."}, {"tambourine": "....x.......x..."}),
    hand_chance=0.6,
    parts=(
        bass((33,), "R..OR.F.R..3.F.7", "R...R.F.O...F.R.", "R.R...F.R.R...O.", level=-3.0),
        chords((0, 16, 27), "..C...C...C...C.", "C-------C-------", "....C.......C...", register=62),
        riff((61, 56), "X..x......X.....", "....X..x....X...", chance=0.5, register=67),
        pad((48,), chance=0.3),
        lead((66, 56, 26, 11), register=70, chance=0.5, density=0.45),
    ),
    words=("soul", "classic soul", "soul groove", "sweet soul"),
    places=("Memphis", "Detroit"), eras=("1960s", "sixties"),
    moods=("soulful", "warm", "heartfelt", "groovy", "sweet"), reverb=0.18,
)

RNB = Style(
    name="r&b", tempo=(65, 90), swing=(0.3, 0.55), swing_unit=2, scales=("minor", "dorian", "major"),
    progressions=((((0, "maj9"), (9, "min9"), (2, "min9"), (7, "9")), ((5, "maj7"), (4, "min7"), (2, "min7"), (0, "maj9"))),
                  (((0, "min9"), (5, "min9"), (10, "9"), (3, "maj9")), ((0, "min9"), (8, "maj9"), (0, "min9"), (8, "maj9")))),
    drums=({"kick": "X......x..X.....", "snare": "....X.......X...", "hat": "x.xxx.x.x.xxx.x."},
           {"kick": "X..x......X..x..", "clap": "....X.......X...", "hat": "x.x.x.x.xxx.x.x."}),
    kits=(24, 25, 0), fills=0.0,
    parts=(
        chords((4, 5), "C-----..C-----..", "C-------C-------", "C-....C-....C---", register=62, level=-4.0),
        bass((35, 38, 33), "R-----.R..F-----", "R-------R---F---", "R.....R...F.O...", register=38),
        pad((49, 89, 53), chance=0.4),
        lead((64, 53, 27), register=70, chance=0.5, density=0.35, lengths=(2, 4, 4, 6, 8)),
    ),
    words=("R&B", "smooth R&B", "contemporary R&B", "R&B slow jam"),
    places=("Atlanta",), eras=("1990s", "nineties"),
    moods=("smooth", "sensual", "silky", "late-night", "intimate"), reverb=0.22,
)

FUNK = Style(
    name="funk", tempo=(92, 118), swing=(0.0, 0.3), swing_unit=2, scales=("dorian", "mixolydian", "minor"),
    progressions=((((0, "9"), (0, "9"), (5, "9"), (0, "9")), ((0, "7"), (0, "7"), (0, "7"), (10, "7")),
                   ((0, "7#9"), (0, "7#9"), (5, "9"), (0, "7#9"))),
                  (((0, "min7"), (0, "min7"), (5, "7"), (0, "min7")), ((0, "min9"), (5, "9"), (0, "min9"), (5, "9")))),
    drums=(
        {"kick": "X..x..x...X..x..", "snare": "....X..o.o..X..o", "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "X.x....xX.x.....", "snare": "....X.o.....X.o.", "hat": "x.xxx.xxx.xxx.xx",
         "open": "..............x."},
    ),
    kits=(0, 8), hand=({"cowbell": "x...x...x...x..."}, {"conga_hi": "..x...x...x..xx.", "conga_lo": "x.....x.x......."}),
    hand_chance=0.3, fills=0.25,
    parts=(
        bass((36, 37, 33), "R..O.RR.F..R.O.7", "R.RO..R.R..O7.R.", "R...O.R..RF.O.R.", level=-2.0),
        chords((7, 28, 27), ".C.C..C..C.C..C.", "..C...C...C...CC", "C.C..C.CC.C..C.C"),
        riff((61, 62), "X..x......X.x...", "....X.x.....X...", chance=0.45),
        lead((65, 62, 4), register=70, chance=0.4, density=0.5),
    ),
    words=("funk", "funk groove", "funky jam", "deep funk"),
    gated_words=((("slap funk", "slap-bass funk"), (36, 37)),),
    places=("New Orleans", "Minneapolis"), eras=("1970s", "seventies"),
    moods=("groovy", "bouncy", "tight", "playful", "sweaty"), reverb=0.1,
)

DISCO = Style(
    name="disco", tempo=(110, 126), scales=("minor", "dorian", "major"),
    progressions=((((0, "maj7"), (2, "min7"), (4, "min7"), (2, "min7")), ((0, "maj7"), (5, "maj7"), (4, "min7"), (9, "min7"))),
                  (((0, "min7"), (5, "7"), (0, "min7"), (5, "7")), ((0, "min7"), (10, "maj"), (8, "maj7"), (7, "7")))),
    drums=({"kick": "x...x...x...x...", "snare": "....x.......x...", "open": "..x...x...x...x.",
            "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "x...x...x...x...", "clap": "....x.......x...", "open": "..x...x...x...x.",
            "hat": "xxxxxxxxxxxxxxxx"}),
    kits=(0, 8), hand=({"tambourine": "x.x.x.x.x.x.x.x."}, {"clap": "....x.......x..."}), hand_chance=0.5, fills=0.1,
    parts=(
        bass((33, 38), "R.O.R.O.R.O.R.O.", "ROROROROFOFOROR.", level=-3.0),
        chords((28, 27), "..C...C...C...C.", "C.C.C.C.C.C.C.C."),
        riff((48, 50), "X-------x-x-x---", "x.x.x.x.X-------", register=72, chance=0.6),
        riff((61,), "X..x....X..x....", chance=0.3),
        hits((117,), "............x.x.", "..............xx", register=60, chance=0.2, level=-9.0),
        lead((50, 81, 66), register=72, chance=0.3, density=0.35),
    ),
    aliases={117: ("syndrums", "melodic toms")},
    words=("disco", "disco track", "disco groove", "disco anthem"),
    places=("New York",), eras=("1970s", "seventies", "late seventies"),
    moods=("glittering", "danceable", "joyful", "upbeat", "glamorous"), reverb=0.15,
)

#: The styles of this module, in corpus order.
POPULAR: tuple[Style, ...] = (ROCK, METAL, PUNK, BLUES, COUNTRY, BLUEGRASS, FOLK, CELTIC, GOSPEL, SOUL, RNB, FUNK,
                              DISCO)
