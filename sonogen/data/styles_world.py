"""Styles of the synthetic corpus: Latin, Caribbean, African and Asian traditions and polka
(bossa nova, samba, salsa, mambo, tango, reggae, ska, dancehall, calypso, afrobeat,
indian classical, japanese traditional, polka).

Salsa and mambo are written in eighth notes over two bars (meter ``(8, 2)``), the
span of the clave, so their 16-step patterns are one full clave cycle. See
:mod:`sonogen.data.styles_popular` for how a style is written down.
"""

from __future__ import annotations

from sonogen.data.music import (
    HARMONIC_MINOR,
    JAZZ_MAJOR,
    JAZZ_MINOR,
    ONE_FIFTH,
    POP_MINOR,
    THREE_CHORD,
    Style,
    bass,
    chords,
    drone,
    hits,
    lead,
    pad,
    riff,
)

#: Son clave, 3-2 and 2-3, in eighth notes over two bars.
CLAVE_32 = "x..x..x...x.x..."
CLAVE_23 = "..x.x...x..x..x."
#: Tumbao: the bass anticipates each chord on the "and" of two and holds beat four.
TUMBAO = ("...R..N-...R..N-", "...R..R-...F..N-")
#: Piano montunos: chord tones in a syncopated eighth-note pattern, doubled in octaves.
MONTUNO = ("1.3.23.1.3.23.1.", "1.23.12.3.12.31.", "C..C..C.C..C..C.")

BOSSA_NOVA = Style(
    name="bossa nova", tempo=(120, 145), scales=("major", "minor"),
    progressions=(JAZZ_MAJOR + (((0, "maj7"), (0, "6"), (2, "min7"), (7, "7")),), JAZZ_MINOR),
    drums=(
        {"rim": "x..x..x...x..x..", "hat": "x.x.x.x.x.x.x.x.", "kick": "x..xx..xx..xx..x"},
        {"rim": "x..x..x...x..x..", "kick": "x.....x.x.....x."},
    ),
    kits=(40, 0), hand=({"maracas": "xxxxxxxxxxxxxxxx"}, {"cabasa": "x.xxx.xxx.xxx.xx"}), hand_chance=0.4, fills=0.0,
    parts=(
        chords((24,), "C.CC.C.CC.C.C.CC", "L.HL.H.L.HL.H.HL", "C..C..C...C..C..", level=-3.0),
        bass((32, 35), "R.....F-R.....F-", "R-....F.R-....F."),
        lead((73, 66, 64, 11), register=72, chance=0.6, density=0.4),
        pad((49,), chance=0.2, level=-12.0),
    ),
    aliases={24: ("nylon-string guitar", "classical guitar", "acoustic guitar")},
    effects=("seashore",), effect_chance=0.15,
    words=("bossa nova", "bossa"),
    places=("Rio", "Rio de Janeiro", "Ipanema"), eras=("1960s", "sixties"),
    moods=("breezy", "relaxed", "warm", "romantic", "sunny"), reverb=0.15,
)

SAMBA = Style(
    name="samba", tempo=(95, 112), scales=("major", "minor"),
    progressions=((((0, "maj7"), (9, "7"), (2, "min7"), (7, "7")), ((0, "maj"), (0, "maj"), (7, "7"), (7, "7"))),
                  (((0, "min"), (5, "min"), (7, "7"), (0, "min")), ((0, "min7"), (0, "min7"), (7, "7"), (7, "7")))),
    drums=({"tom_floor": "....X.......X...", "tom_lo": "x.......x.......", "snare": "x.xxx.xxx.xxx.xx"},
           {"tom_floor": "....X.......X..x", "kick": "x.......x.......", "snare": "XooxXooxXooxXoox"}),
    kits=(0, 8), fills=0.0,
    hand=({"agogo_hi": "x.x..x.x.x..x.x.", "agogo_lo": "...x.......x....", "cabasa": "xxxxxxxxxxxxxxxx"},
          {"tambourine": "x.xxx.xxx.xxx.xx", "cuica_open": "..x...x...x...x.", "cuica_mute": "x...x...x...x..."},
          {"whistle_short": "x.x.........x...", "maracas": "xxxxxxxxxxxxxxxx"}),
    parts=(
        chords((24,), "C..C..C.C..C..C.", "C.C.C.CC.C.C.CC.", register=62, level=-5.0),
        bass((33, 32), "R...L.L.R...L.L.", "R..LR...R..LR...", level=-4.0),
        riff((61, 56, 57), "X.x...x.X.x.....", "x..x..x.....X...", chance=0.35, register=70),
        lead((73, 56, 66), register=74, chance=0.45, density=0.5),
        hits((113,), "x.x..x.x.x..x.x.", "x..x..x.x.x.....", register=76, chance=0.2, level=-10.0),
    ),
    aliases={113: ("agogo", "pitched agogo")},
    effects=("applause",), effect_chance=0.1,
    words=("samba", "carnival samba", "samba batucada"),
    places=("Rio", "Rio de Janeiro", "Bahia"),
    moods=("festive", "joyful", "exuberant", "sunny", "energetic"), reverb=0.12,
)

SALSA = Style(
    name="salsa", tempo=(170, 200), meter=(8, 2), scales=("minor", "major"),
    progressions=((((0, "maj"), (5, "maj"), (7, "7"), (5, "maj")), ((0, "maj"), (7, "7"), (7, "7"), (0, "maj"))),
                  (((0, "min"), (5, "min"), (7, "7"), (0, "min")), ((0, "min"), (7, "7")))),
    hand=({"clave": CLAVE_32, "cowbell": "x.x.x.x.x.x.x.x.", "conga_mute": "x.x.x...x.x.x...",
           "conga_hi": "......xx......xx", "guiro_long": "x...x...x...x...", "guiro_short": "..x...x...x...x."},
          {"clave": CLAVE_23, "timbale_hi": "x.xx.x.xx.x.x.x.", "conga_mute": "x.x.x...x.x.x...",
           "conga_hi": "......xx......xx", "conga_lo": "..............x."},
          {"clave": CLAVE_32, "bongo_hi": "xxx.xxx.xxx.xxx.", "bongo_lo": "...x...x...x...x", "cowbell": "x...x...x...x..."}),
    parts=(
        chords((0,), *MONTUNO, register=66, octaves=True, level=-4.0),
        bass((32, 33), *TUMBAO, level=-3.0),
        riff((56, 57, 61), "X..x..x...X.x...", "..X.x...X..x..x.", register=70, chance=0.7, level=-4.0),
        lead((56, 73, 11), register=74, chance=0.35, density=0.45),
    ),
    aliases={32: ("upright bass", "baby bass"), 11: ("vibes", "vibraphone")},
    words=("salsa", "salsa dura", "salsa groove"),
    places=("New York", "Cali", "San Juan"), eras=("1970s", "seventies"),
    moods=("fiery", "festive", "passionate", "danceable", "hot"), reverb=0.12,
)

MAMBO = Style(
    name="mambo", tempo=(180, 210), meter=(8, 2), scales=("minor", "major"),
    progressions=((((0, "maj"), (7, "7"), (7, "7"), (0, "maj")), ((0, "6"), (2, "min7"), (7, "7"), (0, "6"))),
                  (((0, "min"), (7, "7"), (7, "7"), (0, "min")), ((0, "min6"), (5, "min7"), (7, "7"), (0, "min6")))),
    hand=({"cowbell": "x.x.x.x.x.xxx.x.", "clave": CLAVE_23, "bongo_hi": "xx.xxx.xxx.xxx.x",
           "timbale_hi": "....x.......x..x"},
          {"cowbell": "x.x.x.x.x.x.x.x.", "clave": CLAVE_32, "conga_mute": "x.x.x...x.x.x...",
           "conga_hi": "......xx......xx", "timbale_lo": "...............x"}),
    parts=(
        riff((61, 56), "X.x.X..x.x.X..x.", "X..X..x.X.x.X...", register=72, level=-3.0),
        riff((67, 66, 65), "x..x..x.x..x..x.", "x.x..x..x.x..x..", register=56, level=-5.0),
        chords((0,), *MONTUNO, register=66, octaves=True, chance=0.6, level=-7.0),
        bass((32,), *TUMBAO, level=-4.0),
        lead((56, 11), register=76, chance=0.4, density=0.5),
    ),
    aliases={11: ("vibes", "vibraphone"), 61: ("big band horns", "brass section", "horns")},
    words=("mambo", "big band mambo", "cuban mambo"),
    places=("Havana", "New York"), eras=("1950s", "fifties"),
    moods=("fiery", "swaggering", "exuberant", "hot", "festive"), reverb=0.14,
)

TANGO = Style(
    name="tango", tempo=(112, 132), scales=("harmonic minor", "minor"),
    progressions=((((0, "maj"), (7, "7"), (7, "7"), (0, "maj")), ((0, "maj"), (5, "maj"), (7, "7"), (0, "maj"))),
                  HARMONIC_MINOR),
    parts=(
        chords((23,), "C...C...C...C...", "C.....C.....C...", "C..C..C.C..C..C.", level=-4.0),
        bass((32,), "R...R...R...R...", "R.....F.....O...", "R.....R...R.R...", level=-4.0),
        lead((40, 23), register=72, density=0.4, lengths=(2, 4, 4, 6, 8), ornament=0.1),
        chords((0,), "B...C...B...C...", "C.....C.....C...", chance=0.6, level=-8.0),
        chords((45, 44), "C...C...C...C...", "C---------------", chance=0.2, level=-10.0),
    ),
    words=("tango", "argentine tango", "tango nuevo"),
    places=("Buenos Aires",), eras=("1940s", "forties"),
    moods=("passionate", "dramatic", "sultry", "melancholic", "tense"), reverb=0.18,
)

REGGAE = Style(
    name="reggae", tempo=(70, 90), swing=(0.2, 0.5), swing_unit=2, scales=("major", "minor"),
    progressions=((((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")), ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
                  (((0, "min"), (5, "min"), (0, "min"), (5, "min")), ((0, "min"), (10, "maj"), (0, "min"), (10, "maj")))),
    drums=(
        {"kick": "........X.......", "rim": "........x.......", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.......X.......", "rim": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    ),
    kits=(0, 8), fills=0.15,
    parts=(
        bass((33, 35), "R--.R...F-.O....", "R-.F-.R-..O.F...", "..R-.R..F-..R-..", level=-2.0),
        chords((27, 28), "....C.......C...", "..C...C...C...C.", "....C-......C-..", level=-6.0),
        chords((16,), "..C.C..C..C.C..C", chance=0.5, level=-10.0),
        lead((73, 61, 65, 22), register=72, chance=0.35, density=0.35),
    ),
    effects=("seashore",), effect_chance=0.1,
    words=("reggae", "roots reggae", "one-drop reggae", "reggae groove"),
    places=("Kingston", "Trenchtown"), eras=("1970s", "seventies"),
    moods=("easygoing", "sunny", "laid-back", "rootsy", "positive"), reverb=0.2,
)

SKA = Style(
    name="ska", tempo=(140, 180), scales=("major", "minor"),
    progressions=((((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")), ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj"))),
                  (((0, "min"), (5, "min"), (0, "min"), (7, "maj")),)),
    drums=({"kick": "X.......X.......", "snare": "....X.......X...", "hat": "..x...x...x...x."},
           {"kick": "X...X...X...X...", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
           {"kick": "X.......X.......", "rim": "....x.......x...", "open": "..x...x...x...x."}),
    kits=(0, 8), fills=0.3,
    parts=(
        chords((27,), "..C...C...C...C.", register=64, level=-5.0),
        chords((17, 16), "..C...C...C...C.", chance=0.5, level=-9.0),
        bass((32, 33), "walk", "R.3.F.O.R.3.F.3.", level=-4.0),
        riff((57, 66, 56, 61), "X.x.x...X.x.x...", "X...x.x.X...x.x.", register=66, chance=0.75),
        lead((57, 66, 56), register=68, chance=0.35, density=0.5),
    ),
    words=("ska", "two-tone ska", "ska shuffle", "jamaican ska"),
    places=("Kingston", "Coventry"), eras=("1960s", "sixties"),
    moods=("bouncy", "upbeat", "jaunty", "cheeky", "energetic"), reverb=0.12,
)

DANCEHALL = Style(
    name="dancehall", tempo=(90, 105), scales=("minor", "dorian"),
    progressions=((((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),),
                  (((0, "min"), (0, "min"), (10, "maj"), (8, "maj")), ((0, "min"),), ((0, "min"), (5, "min")))),
    drums=({"kick": "X.......X.......", "snare": "...x..x....x..x.", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X...X...X...X...", "clap": "...x..x....x..x.", "hat": "xxxxxxxxxxxxxxxx"},
           {"kick": "X..x..x.X..x..x.", "esnare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}),
    kits=(24, 25), fills=0.0,
    parts=(
        bass((38, 39), "R.....R.R.....F.", "R--.R--.R---F---", register=36, level=-2.0),
        chords((81, 90, 16), "..C...C...C...C.", "C..C..C...C..C..", level=-6.0),
        riff((80, 81), "x..x..x.x..x....", "X.x...x.X.x.....", register=70, chance=0.5),
    ),
    words=("dancehall", "dancehall riddim", "jamaican dancehall"),
    places=("Kingston",), eras=("1990s", "nineties"),
    moods=("bouncy", "raw", "hypnotic", "sweaty", "swaggering"), reverb=0.12,
)

CALYPSO = Style(
    name="calypso", tempo=(100, 125), scales=("major",),
    progressions=(THREE_CHORD + (((0, "maj"), (0, "maj"), (7, "7"), (7, "7")),), POP_MINOR),
    drums=({"kick": "X...X...X...X...", "snare": "..x...x...x...x.", "hat": "x.x.x.x.x.x.x.x."},
           {"kick": "X..X..X.X..X..X.", "rim": "....x.......x...", "hat": "..x...x...x...x."}),
    kits=(0, 8), fills=0.1,
    hand=({"cowbell": "x.x.x.x.x.x.x.x.", "maracas": "xxxxxxxxxxxxxxxx"},
          {"conga_hi": "..x...xx..x...xx", "conga_lo": "x.......x......."}), hand_chance=0.6,
    parts=(
        lead((114,), register=74, density=0.6, lengths=(1, 2, 2, 2, 4), level=-2.0),
        chords((25, 24, 12), "C.CC.CC.C.CC.CC.", "C..C..C.C..C..C.", level=-6.0),
        bass((33,), "R..R..F.R..R..F.", "R...F...R...F...", level=-4.0),
        riff((61,), "X..x....X..x....", chance=0.3),
    ),
    effects=("seashore",), effect_chance=0.2,
    words=("calypso", "caribbean calypso", "calypso tune"),
    gated_words=((("steel band calypso",), (114,)),),
    places=("Trinidad", "Port of Spain"), eras=("1950s", "fifties"),
    moods=("sunny", "carefree", "breezy", "festive", "tropical"), reverb=0.15,
)

AFROBEAT = Style(
    name="afrobeat", tempo=(105, 125), scales=("dorian", "mixolydian", "minor"),
    progressions=((((0, "7"), (0, "7"), (5, "7"), (0, "7")), ((0, "9"),)),
                  (((0, "min7"), (0, "min7"), (5, "7"), (0, "min7")), ((0, "min7"), (5, "min7")))),
    drums=({"kick": "X.....x...X.....", "snare": "....x.o.o...x..o", "hat": "x.xxx.xxx.xxx.xx"},
           {"kick": "X...X..x..X.X...", "snare": "..o.x..o..o.x...", "hat": "xxxxxxxxxxxxxxxx",
            "open": "......x.......x."}),
    kits=(0, 8), fills=0.1,
    hand=({"cabasa": "x.xxx.xxx.xxx.xx", "agogo_hi": "x.x.xx.x.xx.x.x.", "conga_hi": "..x...x...x..x..",
           "conga_lo": "x.......x......."},
          {"clave": "x..x...x..x.x...", "maracas": "xxxxxxxxxxxxxxxx", "conga_mute": "x.x.x.x.x.x.x.x."}),
    hand_chance=0.85,
    parts=(
        bass((33,), "R..R.F..R.O.F...", "R.R..O.R..F.R...", level=-3.0),
        chords((28,), "1.1.2.1.1.1.2.1.", "1.2.1.3.1.2.1.3.", register=64, level=-6.0),
        chords((27,), "..C..C..C..C..C.", chance=0.6, level=-9.0),
        chords((16,), "C-..C-..C-..C-..", chance=0.35, level=-10.0),
        riff((61, 66, 56, 67), "X.x...X.x.x.....", "X..x..x...X.x...", register=66, chance=0.7),
        lead((66, 67, 56), register=66, chance=0.35, density=0.45),
    ),
    words=("afrobeat", "afrobeat groove", "nigerian afrobeat"),
    places=("Lagos",), eras=("1970s", "seventies"),
    moods=("hypnotic", "groovy", "defiant", "sweaty", "driving"), reverb=0.12,
)

INDIAN = Style(
    name="indian classical", tempo=(70, 110), scales=("bhairav", "yaman", "kafi"),
    progressions=(ONE_FIFTH, ONE_FIFTH),
    hand=({"bongo_hi": "x.x.xx.xx.x.xx.x", "conga_lo": "X.......X...x..."},
          {"conga_hi": "x..x.x..x..x.x..", "conga_lo": "X.....x.X......."}), hand_chance=0.7, fills=0.0,
    parts=(
        drone((104,), "L...R...R...O...", register=52, chance=0.6, group="drone", level=-8.0),
        drone((20,), register=52, group="drone", level=-9.0),
        lead((104, 111, 73), register=67, density=0.6, lengths=(1, 2, 2, 3, 4, 6), ornament=0.35, level=-2.0),
        hits((112,), "x...............", fixed_key=84, chance=0.15, level=-12.0),
    ),
    aliases={20: ("harmonium",), 111: ("shehnai",)},
    effects=("bird tweet",), effect_chance=0.1,
    words=("indian classical", "hindustani raga", "raga", "indian classical raga"),
    gated_words=((("sitar raga",), (104,)),),
    places=("Varanasi",),
    moods=("meditative", "devotional", "serene", "mystical", "contemplative"), reverb=0.25,
)

JAPANESE = Style(
    name="japanese traditional", tempo=(60, 90), scales=("hirajoshi", "yo"),
    progressions=((((0, "sus2"), (5, "sus2"), (0, "sus2"), (7, "sus4")), ((0, "sus2"),)),
                  (((0, "sus2"), (0, "sus2"), (8, "5"), (7, "5")), ((0, "5"),))),
    parts=(
        lead((107, 106, 77), register=70, density=0.4, lengths=(2, 4, 4, 6, 8), ornament=0.3, level=-2.0),
        chords((107,), "1...2...3...2...", "1.2.3...3.2.1...", register=60, chance=0.6, level=-6.0),
        hits((116,), "X.......x.x.....", "X...x...X.x.x...", fixed_key=45, chance=0.5, level=-4.0),
        hits((115,), "x...x...x..x....", fixed_key=76, chance=0.25, level=-10.0),
    ),
    aliases={77: ("shakuhachi", "bamboo flute")},
    effects=("bird tweet", "breath noise", "seashore"), effect_chance=0.2,
    words=("japanese traditional", "traditional japanese music", "japanese folk"),
    places=("Kyoto",), eras=("Edo-period",),
    moods=("serene", "contemplative", "austere", "graceful", "mysterious"), reverb=0.3,
)

POLKA = Style(
    name="polka", tempo=(110, 135), meter=(2, 4), scales=("major", "minor"),
    progressions=((((0, "maj"), (7, "7"), (7, "7"), (0, "maj")), ((0, "maj"), (0, "maj"), (5, "maj"), (7, "7"))),
                  (((0, "min"), (7, "7"), (7, "7"), (0, "min")),)),
    drums=({"kick": "X...X...", "snare": "..x...x."}, {"kick": "X...X...", "snare": "..x...x.", "crash": "x......."}),
    kits=(0, 8), fills=0.0,
    parts=(
        bass((58, 32), "R...F...", "R...L...", register=38, level=-3.0),
        chords((21,), "..C...C.", register=64, level=-5.0),
        lead((21, 71, 56, 13), register=72, density=0.75, lengths=(1, 2, 2, 2, 4)),
    ),
    words=("polka", "oom-pah polka", "beer-hall polka"),
    places=("Bavaria", "Milwaukee"),
    moods=("cheerful", "boisterous", "jolly", "bouncy", "festive"), reverb=0.12,
)

#: The styles of this module, in corpus order.
WORLD: tuple[Style, ...] = (BOSSA_NOVA, SAMBA, SALSA, MAMBO, TANGO, REGGAE, SKA, DANCEHALL, CALYPSO, AFROBEAT, INDIAN,
                            JAPANESE, POLKA)
