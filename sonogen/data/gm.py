"""General MIDI vocabulary of the synthetic corpus: programs, drum kits, percussion and effects.

Three kinds of names live here:

* the *General MIDI names* (``GM_PROGRAMS``, the ``gm`` field of :data:`PERCUSSION`), which
  go into each clip's metadata unchanged, so a row says exactly which sounds played;
* *caption names*: the plain words a person would use for the sound ("Rhodes", "upright
  bass", "congas"), several per sound so captions vary;
* *scene effects* (:data:`EFFECTS`): the GM sound-effect programs (seashore, bird tweet,
  applause, ...) played as an occasional background layer, with the phrases that name
  them.

Programs are 0-based (General MIDI lists them 1-128); percussion is keyed by the GM key
number played on a drum channel. Everything is plain data: the caption vocabulary
(:func:`sonogen.data.captions.caption_words`) is read off these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The 128 General MIDI program names, index = 0-based program number.
GM_PROGRAMS: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
    "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)",
    "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
)

#: Caption names of each melodic program (0-119), plainest first. A style may override
#: them (``Style.aliases``: "fiddle" for the violin in folk). Every name is something a
#: listener would call that sound; names that could mean another GM sound are avoided.
CAPTION_NAMES: dict[int, tuple[str, ...]] = {
    0: ("grand piano", "piano", "acoustic piano"), 1: ("bright piano", "piano"),
    2: ("electric grand piano", "electric grand"), 3: ("honky-tonk piano", "saloon piano"),
    4: ("Rhodes", "electric piano", "Rhodes piano", "keys"), 5: ("FM electric piano", "electric piano", "keys"),
    6: ("harpsichord",), 7: ("clavinet", "clav"),
    8: ("celesta",), 9: ("glockenspiel",), 10: ("music box",), 11: ("vibraphone", "vibes"),
    12: ("marimba",), 13: ("xylophone",), 14: ("tubular bells", "chimes"), 15: ("dulcimer", "hammered dulcimer"),
    16: ("organ", "drawbar organ", "Hammond-style organ"), 17: ("percussive organ", "organ"),
    18: ("rock organ", "organ"), 19: ("church organ", "pipe organ"), 20: ("reed organ", "harmonium"),
    21: ("accordion",), 22: ("harmonica", "mouth harp"), 23: ("bandoneon", "tango accordion"),
    24: ("nylon-string guitar", "classical guitar", "acoustic guitar"),
    25: ("steel-string guitar", "acoustic guitar"), 26: ("jazz guitar", "hollow-body guitar"),
    27: ("clean electric guitar", "electric guitar"), 28: ("muted guitar", "palm-muted guitar"),
    29: ("overdriven guitar", "crunchy guitar"), 30: ("distorted guitar", "heavy guitar"),
    31: ("guitar harmonics",),
    32: ("upright bass", "double bass", "acoustic bass"), 33: ("electric bass", "bass guitar", "fingered bass"),
    34: ("picked bass", "bass guitar"), 35: ("fretless bass",), 36: ("slap bass",), 37: ("slap bass",),
    38: ("synth bass",), 39: ("analog synth bass", "synth bass"),
    40: ("violin",), 41: ("viola",), 42: ("cello",), 43: ("contrabass", "double bass"),
    44: ("tremolo strings",), 45: ("pizzicato strings", "plucked strings"), 46: ("harp", "concert harp"),
    47: ("timpani", "kettle drums"),
    48: ("strings", "string section", "string ensemble"), 49: ("slow strings", "string section"),
    50: ("synth strings",), 51: ("synth strings",), 52: ("choir", "choir aahs"), 53: ("vocal oohs", "voices"),
    54: ("synth voice", "synth choir"), 55: ("orchestra hits", "orchestral stabs"),
    56: ("trumpet",), 57: ("trombone",), 58: ("tuba",), 59: ("muted trumpet",), 60: ("French horn", "horn"),
    61: ("brass section", "horns", "horn section"), 62: ("synth brass",), 63: ("synth brass",),
    64: ("soprano sax", "soprano saxophone", "sax"), 65: ("alto sax", "alto saxophone", "sax"),
    66: ("tenor sax", "tenor saxophone", "sax"), 67: ("baritone sax", "baritone saxophone", "sax"),
    68: ("oboe",), 69: ("English horn", "cor anglais"), 70: ("bassoon",), 71: ("clarinet",),
    72: ("piccolo",), 73: ("flute",), 74: ("recorder",), 75: ("pan flute", "panpipes"), 76: ("blown bottle",),
    77: ("shakuhachi", "bamboo flute"), 78: ("whistle", "tin whistle"), 79: ("ocarina",),
    80: ("square lead", "square-wave synth"), 81: ("sawtooth lead", "saw synth", "lead synth"),
    82: ("calliope lead",), 83: ("chiff lead",), 84: ("charang lead", "distorted synth lead"),
    85: ("voice lead synth",), 86: ("fifths lead synth",), 87: ("bass and lead synth",),
    88: ("new age pad", "shimmering pad"), 89: ("warm pad", "soft synth pad"), 90: ("polysynth", "polysynth pad"),
    91: ("choir pad",), 92: ("bowed pad",), 93: ("metallic pad",), 94: ("halo pad",), 95: ("sweep pad",),
    96: ("rain pad",), 97: ("soundtrack pad",), 98: ("crystal synth",), 99: ("atmosphere pad",),
    100: ("bright synth",), 101: ("goblin synth",), 102: ("echo synth",), 103: ("sci-fi synth",),
    104: ("sitar",), 105: ("banjo",), 106: ("shamisen",), 107: ("koto",), 108: ("kalimba", "thumb piano"),
    109: ("bagpipes",), 110: ("fiddle",), 111: ("shehnai",), 112: ("tinkling bells",), 113: ("agogo",),
    114: ("steel drums", "steelpan"), 115: ("woodblock",), 116: ("taiko drums", "taiko"),
    117: ("melodic toms",), 118: ("synth drums",), 119: ("reverse cymbal",),
}

#: Drum kit presets (bank 128) that every supported SoundFont has -> caption names.
KITS: dict[int, tuple[str, ...]] = {
    0: ("drum kit", "drums", "acoustic drums"),
    8: ("room drum kit", "drums", "roomy drums"),
    16: ("power drum kit", "big drums", "rock drums"),
    24: ("electronic drums", "drum machine"),
    25: ("808 drums", "808 drum machine", "808s"),
    32: ("jazz drum kit", "jazz drums"),
    40: ("brushed drums", "brushes"),
}
#: GM name of each kit (for metadata).
KIT_GM_NAMES: dict[int, str] = {0: "Standard Kit", 8: "Room Kit", 16: "Power Kit", 24: "Electronic Kit",
                                 25: "TR-808 Kit", 32: "Jazz Kit", 40: "Brush Kit"}


@dataclass(frozen=True)
class Percussion:
    """One GM percussion sound as a style's groove uses it.

    Attributes:
        key: GM key number on the drum channel (35-81).
        gm: the General MIDI name (metadata).
        names: caption names, or ``()`` for drum-kit pieces (kick, snare, hats, cymbals,
            toms), which a caption names as the kit ("drums") rather than one by one.
    """

    key: int
    gm: str
    names: tuple[str, ...] = ()

    @property
    def hand(self) -> bool:
        """True for hand and Latin percussion (played on its own channel, named in captions)."""
        return bool(self.names)


#: Groove part name -> the GM percussion sound it plays.
PERCUSSION: dict[str, Percussion] = {
    "kick": Percussion(36, "Bass Drum 1"), "kick2": Percussion(35, "Acoustic Bass Drum"),
    "rim": Percussion(37, "Side Stick"), "snare": Percussion(38, "Acoustic Snare"),
    "esnare": Percussion(40, "Electric Snare"), "hat": Percussion(42, "Closed Hi-Hat"),
    "pedal": Percussion(44, "Pedal Hi-Hat"), "open": Percussion(46, "Open Hi-Hat"),
    "tom_floor": Percussion(41, "Low Floor Tom"), "tom_lo": Percussion(45, "Low Tom"),
    "tom_mid": Percussion(47, "Low-Mid Tom"), "tom_hi": Percussion(50, "High Tom"),
    "crash": Percussion(49, "Crash Cymbal 1"), "ride": Percussion(51, "Ride Cymbal 1"),
    "china": Percussion(52, "Chinese Cymbal"), "bell": Percussion(53, "Ride Bell"),
    "splash": Percussion(55, "Splash Cymbal"),
    "clap": Percussion(39, "Hand Clap", ("hand claps", "claps")),
    "tambourine": Percussion(54, "Tambourine", ("tambourine",)),
    "cowbell": Percussion(56, "Cowbell", ("cowbell",)),
    "vibraslap": Percussion(58, "Vibraslap", ("vibraslap",)),
    "bongo_hi": Percussion(60, "Hi Bongo", ("bongos",)), "bongo_lo": Percussion(61, "Low Bongo", ("bongos",)),
    "conga_mute": Percussion(62, "Mute Hi Conga", ("congas",)), "conga_hi": Percussion(63, "Open Hi Conga", ("congas",)),
    "conga_lo": Percussion(64, "Low Conga", ("congas",)),
    "timbale_hi": Percussion(65, "High Timbale", ("timbales",)), "timbale_lo": Percussion(66, "Low Timbale", ("timbales",)),
    "agogo_hi": Percussion(67, "High Agogo", ("agogo bells",)), "agogo_lo": Percussion(68, "Low Agogo", ("agogo bells",)),
    "cabasa": Percussion(69, "Cabasa", ("cabasa", "shaker")),
    "maracas": Percussion(70, "Maracas", ("maracas", "shaker")),
    "whistle_short": Percussion(71, "Short Whistle", ("samba whistle",)),
    "whistle_long": Percussion(72, "Long Whistle", ("samba whistle",)),
    "guiro_short": Percussion(73, "Short Guiro", ("guiro",)), "guiro_long": Percussion(74, "Long Guiro", ("guiro",)),
    "clave": Percussion(75, "Claves", ("claves", "clave")),
    "wood_hi": Percussion(76, "Hi Wood Block", ("wood blocks",)), "wood_lo": Percussion(77, "Low Wood Block", ("wood blocks",)),
    "cuica_mute": Percussion(78, "Mute Cuica", ("cuica",)), "cuica_open": Percussion(79, "Open Cuica", ("cuica",)),
    "triangle_mute": Percussion(80, "Mute Triangle", ("triangle",)),
    "triangle_open": Percussion(81, "Open Triangle", ("triangle",)),
}


@dataclass(frozen=True)
class Effect:
    """A GM sound-effect program used as a background scene layer.

    Attributes:
        program: 0-based GM program (120-126).
        phrases: how a caption names it ("ocean waves"); each reads after "with".
        texture: ``"bed"`` (long overlapping notes under the whole clip), ``"calls"``
            (short scattered notes: the sound is a one-shot) or ``"swell"`` (one or two
            long notes that rise and fall).
        keys: (low, high) MIDI keys it is played on (where every supported font sounds).
    """

    program: int
    phrases: tuple[str, ...]
    texture: str
    keys: tuple[int, int] = (60, 66)


#: Scene effects by name. Gunshot (127) is left out on purpose.
EFFECTS: dict[str, Effect] = {
    "seashore": Effect(122, ("ocean waves", "waves on the shore", "the sound of the sea"), "bed", (55, 66)),
    "bird tweet": Effect(123, ("birdsong", "birds chirping", "bird calls"), "calls", (66, 80)),
    "applause": Effect(126, ("applause", "a cheering crowd", "live audience applause"), "swell", (58, 66)),
    "telephone ring": Effect(124, ("a ringing telephone", "a phone ringing"), "calls", (60, 72)),
    "helicopter": Effect(125, ("a helicopter", "helicopter noise"), "bed", (55, 66)),
    "breath noise": Effect(121, ("breath noise", "breathy noise"), "calls", (55, 70)),
    "guitar fret noise": Effect(120, ("guitar fret noise", "fret squeaks"), "calls", (52, 70)),
}


def program_name(program: int) -> str:
    """The General MIDI name of a 0-based program number (0-127)."""
    return GM_PROGRAMS[program]
