"""A procedural music generator: short multi-instrument clips with honest captions, rendered from SoundFonts.

Each clip is composed from a *style* (:mod:`sonogen.data.styles`: groove, tempo range,
meter, scales, chord loops and the instruments each part may use), varied by a seed:
key, scale, tempo, swing, which parts play and on which General MIDI programs, drum kit,
hand percussion, an occasional scene effect (waves, birdsong, applause...), mood and mix.
About one clip in seven of a corpus is a *blend* (:mod:`sonogen.data.blends`): one
style's groove with a foreign instrument layer ("techno with a fiddle") or with another
style's melodic parts ("salsa meets synthwave"). The score is rendered with
``tinysoundfont`` and a General MIDI SoundFont, one part at a time, so every part is
mixed to its level and a part that a font leaves silent is caught instead of captioned.

Everything is derived from ``(style, seed, blend)`` through seeded ``numpy`` generators
(one stream per part), so a seed always gives the same notes, caption and audio bytes
for a given SoundFont. A caption (:mod:`sonogen.data.captions`) names only what was
rendered: every instrument it names has notes in the clip, and every place or era word
belongs to the style. :func:`sonogen.data.captions.caption_words` lists every word a
caption can contain.

See :mod:`sonogen.data.music` for the pattern strings; :mod:`sonogen.data.gm` holds the
General MIDI names.

This is one of sonogen's two synthesisers, on purpose: it needs a SoundFont and
``tinysoundfont`` and aims at realistic, varied, captioned training music. The other,
:mod:`sonogen.audio.demo`, needs only numpy and makes the fixed sounds (the round-trip
test clip, the seed images) that must be the same on every install.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.data import gm
from sonogen.data.blends import LAYER_HAND, LAYERS, Layer, blend_partners, layers_for
from sonogen.data.captions import (
    CaptionFacts,
    Sounding,
    caption_tokens,
    caption_words,
    make_caption,
    pick_mood,
)
from sonogen.data.music import CHORD_TONES, MINOR_SCALES, SCALES, Chord, Part, Style, key_name
from sonogen.data.styles import STYLE_TABLE, STYLES
from sonogen.errors import SonogenError

__all__ = [
    "DRUM_CHANNEL", "SAMPLE_RATE", "SOUNDFONT_ENV", "STYLES", "STYLE_TABLE", "Composition", "Note", "Part",
    "Style", "Track", "bundled_soundfont", "caption_tokens", "caption_words", "clip_plan", "compose",
    "corpus_soundfonts", "find_soundfont",
    "pick_blend", "pick_soundfont", "render", "render_clip", "write_corpus",
]

#: Output rate of the renderer in Hz.
SAMPLE_RATE = 44100
#: Debian package providing the small General MIDI SoundFont (the others are in
#: :data:`SOUNDFONT_PACKAGES`).
SOUNDFONT_PACKAGE = "timgm6mb-soundfont"
#: Debian packages of the General MIDI SoundFonts the corpus spreads its clips over
#: (``scripts/install-soundfont.sh`` installs them all).
SOUNDFONT_PACKAGES = ("fluid-soundfont-gm", "musescore-general-soundfont-lossless", "timgm6mb-soundfont")
#: The files those packages install, in the order a corpus uses them. Every one renders
#: through tinysoundfont and has all 128 melodic programs and the drum kits of
#: :data:`sonogen.data.gm.KITS`.
CORPUS_SOUNDFONT_FILES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/MuseScore_General_Full.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
#: Where Debian's GM SoundFont packages install their files, searched in order when
#: neither a path, ``$SONOGEN_SOUNDFONT`` nor the pip-installed TimGM6mb is there.
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/MuseScore_General_Full.sf2",
)
#: Environment variable that may name a SoundFont file.
SOUNDFONT_ENV = "SONOGEN_SOUNDFONT"

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0: the drum kit
HAND_CHANNEL = 10  # the style's hand and Latin percussion, on the Standard Kit in drum mode
LAYER_HAND_CHANNEL = 11  # hand percussion a blend layer brings
EFFECT_CHANNEL = 12  # the scene effect
MELODIC_CHANNELS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15)
#: How a meter is written in metadata ((8, 2) is 4/4 written two bars at a time).
METER_NAMES = {(4, 4): "4/4", (3, 4): "3/4", (2, 4): "2/4", (4, 3): "12/8", (2, 3): "6/8", (8, 2): "4/4"}
#: Kit the hand-percussion channel plays (every supported font sounds keys 35-81 on it).
HAND_KIT = 0
#: Share of a corpus's clips rendered as blends.
BLEND_FRACTION = 0.15
#: Mix level of the loudest part, dBFS of its active RMS, before the final peak normalisation.
REFERENCE_DB = -20.0


def _rng(seed: int, *salt: int | str) -> np.random.Generator:
    """A generator for one stream of a clip: ``seed`` plus salts (strings hashed with CRC-32)."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(s.encode()) if isinstance(s, str) else int(s) & 0xFFFFFFFF
                                        for s in salt]
    return np.random.default_rng(np.random.SeedSequence(words))


def _pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    """One element of ``options``, uniformly."""
    return options[int(rng.integers(len(options)))]


# ----------------------------------------------------------------------------- SoundFonts


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


def corpus_soundfonts(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None = None) -> list[Path]:
    """The SoundFonts a corpus spreads its clips over.

    Args:
        paths: fonts to use (each must exist); None: ``$SONOGEN_SOUNDFONT`` when set,
            else every font of :data:`CORPUS_SOUNDFONT_FILES` that is installed, else the
            one :func:`find_soundfont` finds (the pip-installed TimGM6mb).

    Returns:
        Distinct font files (a path given twice, or two links to one file, count once), in
        the order given.

    Raises:
        SonogenError: a given path is missing, or no font at all is installed.
    """
    if paths is not None and not isinstance(paths, (str, os.PathLike)):
        chosen = [find_soundfont(p) for p in paths]
    elif paths is not None:
        chosen = [find_soundfont(paths)]
    elif os.environ.get(SOUNDFONT_ENV):
        chosen = [find_soundfont()]
    else:
        chosen = [Path(f) for f in CORPUS_SOUNDFONT_FILES if Path(f).is_file()] or [find_soundfont()]
    unique: list[Path] = []
    seen: set[Path] = set()
    for font in chosen:
        real = font.resolve()
        if real not in seen:
            seen.add(real)
            unique.append(font)
    return unique


def pick_soundfont(fonts: Sequence[Path], seed: int) -> Path:
    """The font a clip of ``seed`` renders with: deterministic, spread evenly over ``fonts``."""
    if not fonts:
        raise SonogenError("no SoundFont to render with")
    return fonts[int(_rng(seed, "soundfont").integers(len(fonts)))]


def soundfont_label(font: str | os.PathLike[str]) -> str:
    """The name recorded in a clip's metadata: the file name of the font's real file."""
    return Path(font).resolve().name


# ----------------------------------------------------------------------------- scores


@dataclass
class Note:
    """One note: onset and length in seconds, MIDI key 0-127, velocity 1-127, channel 0-15."""

    start: float
    duration: float
    key: int
    velocity: int
    channel: int


@dataclass
class Track:
    """One rendered part: a channel, what it plays and how loud it sits in the mix.

    Attributes:
        channel: MIDI channel (9: drum kit, 10: the style's hand percussion, 11: a blend
            layer's hand percussion, 12: scene effect, others: melodic parts).
        bank / preset: SoundFont bank (128 for kits) and 0-based preset.
        drums: True for kits (drum-mode key mapping).
        role: ``lead``, ``riff``, ``chords``, ``hits``, ``bass``, ``drone`` (melodic
            parts), ``kit``, ``hand`` or ``effect``.
        level: target mix level in dB relative to the loudest part.
        pan: 0 (left) .. 127 (right).
        notes: the notes, in any order.
        origin: ``"style"``, ``"partner"`` (a blended style's part) or ``"layer"``
            (a blend layer's part).
        effect: the :data:`sonogen.data.gm.EFFECTS` name, for the effect track.
    """

    channel: int
    bank: int
    preset: int
    drums: bool
    role: str
    level: float
    pan: int
    notes: list[Note] = field(default_factory=list)
    origin: str = "style"
    effect: str = ""


@dataclass
class Composition:
    """A composed clip before rendering.

    Attributes:
        tracks: the parts that play (each has at least one note inside the clip).
        seconds: clip length in seconds.
        caption: the text describing it.
        meta: ``style``, ``blend``, ``instruments``, ``kit``, ``drums``, ``effects``,
            ``tempo``, ``key``, ``meter``, ``mood``, ``place``, ``era``, ``seed``.
        reverb: wet level of the room reverb, 0..1.
        lofi: darken and saturate the mix.
    """

    tracks: list[Track]
    seconds: float
    caption: str
    meta: dict[str, Any]
    reverb: float = 0.0
    lofi: bool = False

    @property
    def notes(self) -> list[Note]:
        """Every note of every track."""
        return [n for t in self.tracks for n in t.notes]

    @property
    def programs(self) -> dict[int, tuple[int, int]]:
        """Channel -> (bank, preset) of each track."""
        return {t.channel: (t.bank, t.preset) for t in self.tracks}


# ----------------------------------------------------------------------------- time and pitch


class _Clock:
    """Maps (bar, step) to seconds, with swing and a little human timing jitter.

    Args:
        tempo: beats per minute.
        meter: (beats per bar, steps per beat).
        swing: 0 (straight) .. 1 (off-beats delayed to the last triplet).
        swing_unit: 4 (eighth off-beats swing) or 2 (sixteenth off-beats swing); only
            with four steps a beat.
    """

    def __init__(self, tempo: float, meter: tuple[int, int], swing: float, swing_unit: int):
        self.step = 60.0 / tempo / meter[1]  # seconds per step
        self.bar_steps = meter[0] * meter[1]
        self.steps_per_beat = meter[1]
        self.swing = swing if meter[1] == 4 else 0.0
        self.unit = swing_unit

    @property
    def bar(self) -> float:
        """Seconds per bar."""
        return self.step * self.bar_steps

    def time(self, bar: int, step: float, rng: np.random.Generator | None = None, jitter: float = 0.004) -> float:
        """Onset in seconds of ``step`` (may be fractional) of ``bar``; never negative."""
        shift = 0.0
        if self.swing > 0 and float(step).is_integer():
            s = int(step)
            if self.unit == 4 and s % 4 == 2:
                shift = self.swing * (2.0 / 3.0)  # towards the last triplet eighth
            elif self.unit == 2 and s % 2 == 1:
                shift = self.swing * (1.0 / 3.0)
        t = (bar * self.bar_steps + step + shift) * self.step
        if rng is not None and jitter > 0:
            t += float(rng.normal(0.0, jitter))
        return max(0.0, t)


def _pattern_hits(pattern: str) -> list[tuple[int, int, str]]:
    """``(step, length in steps, symbol)`` for each onset of a pattern (``-`` extends a note)."""
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
    """MIDI keys of ``chord`` in ``tonic``'s key, voiced close from just below ``centre``."""
    root, quality = chord
    base = _nearest(tonic + root, centre - 5)
    return sorted(base + iv for iv in CHORD_TONES[quality])


def _bass_key(symbol: str, tonic: int, chord: Chord, next_chord: Chord, register: int) -> int:
    """The key a bass-pattern symbol (``R F L O 3 7 A N``) plays over ``chord``."""
    root = _nearest(tonic + chord[0], register)
    tones = CHORD_TONES[chord[1]]
    if symbol == "F":
        return root + (tones[2] if len(tones) > 2 and tones[2] in (6, 7, 8) else 7)
    if symbol == "L":
        return root - 5
    if symbol == "O":
        return root + 12
    if symbol == "3":
        return root + tones[1]
    if symbol == "7":
        return root + (tones[3] if len(tones) > 3 and tones[3] < 12 else 10)
    if symbol == "N":
        return _nearest(tonic + next_chord[0], root)
    if symbol == "A":
        nxt = _nearest(tonic + next_chord[0], root)
        return nxt - 1 if nxt > root else nxt + 1
    return root


def _scale_keys(tonic: int, scale: tuple[int, ...], low: int, high: int) -> list[int]:
    """MIDI keys in ``[low, high]`` whose pitch class is in the scale of ``tonic``."""
    return [k for k in range(low, high + 1) if (k - tonic) % 12 in scale]


def _velocity(rng: np.random.Generator, base: float, energy: float, spread: float = 6.0) -> int:
    """A humanised MIDI velocity around ``base * energy``, in 20..127."""
    return int(min(127.0, max(20.0, rng.normal(base * energy, spread))))


#: Programs whose chords are strummed (string by string) rather than struck at once.
STRUMMED = frozenset({24, 25, 26, 27, 28, 29, 30, 104, 105, 106, 107, 15, 46})
#: Programs that play power chords (root, fifth, octave) instead of full triads.
POWER_CHORDS = frozenset({29, 30})


# ----------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class _Context:
    """What every part of one clip shares.

    Attributes:
        clock: the clip's time grid.
        bars: bars to write (the clip plus slack; notes past the end are dropped later).
        tonic: MIDI key of the tonic in the octave C3-B3 (48-59).
        scale: pitch classes of the scale above the tonic.
        chords: one chord per bar, looped.
        energy: 0.75-1.0, scales every velocity.
    """

    clock: _Clock
    bars: int
    tonic: int
    scale: tuple[int, ...]
    chords: tuple[Chord, ...]
    energy: float

    def chord(self, bar: int) -> Chord:
        """The chord of ``bar``."""
        return self.chords[bar % len(self.chords)]


def _bass_notes(part: Part, pattern: str, ctx: _Context, rng: np.random.Generator, channel: int) -> list[Note]:
    """A bass line (or, for a ``drone``, the same symbols held on the tonic)."""
    notes: list[Note] = []
    clock = ctx.clock
    for bar in range(ctx.bars):
        chord, nxt = ctx.chord(bar), ctx.chord(bar + 1)
        if part.role == "drone":
            chord = nxt = (0, "5")
        if pattern == "walk":
            root = _nearest(ctx.tonic + chord[0], part.register)
            tones = CHORD_TONES[chord[1]]
            second = root + int(rng.choice(tones[1:3]))
            third = root + int(rng.choice([tones[min(2, len(tones) - 1)], 12, 5 if 5 in ctx.scale else 7]))
            target = _nearest(ctx.tonic + nxt[0], third)
            keys = [root, second, third, target + (1 if rng.random() < 0.5 else -1)]
            for beat, key in enumerate(keys[: clock.bar_steps // clock.steps_per_beat]):
                start = clock.time(bar, beat * clock.steps_per_beat, rng)
                notes.append(Note(start, clock.step * clock.steps_per_beat * 0.9, key,
                                  _velocity(rng, 100 if beat % 2 == 0 else 90, ctx.energy), channel))
            continue
        for step, length, symbol in _pattern_hits(pattern):
            key = _bass_key(symbol, ctx.tonic, chord, nxt, part.register)
            accent = 108 if step % clock.steps_per_beat == 0 else 96
            notes.append(Note(clock.time(bar, step, rng), clock.step * length * 0.92, key,
                              _velocity(rng, accent, ctx.energy), channel))
    return notes


def _chord_notes(part: Part, program: int, pattern: str, ctx: _Context, rng: np.random.Generator,
                 channel: int) -> list[Note]:
    """Comping: the chord, halves of it, single tones (arpeggios) or a low root, to a rhythm."""
    notes: list[Note] = []
    clock = ctx.clock
    strum = program in STRUMMED
    for bar in range(ctx.bars):
        chord = ctx.chord(bar)
        voicing = _voicing(ctx.tonic, chord, part.register)
        if program in POWER_CHORDS:
            root = _nearest(ctx.tonic + chord[0], part.register - 7)
            voicing = [root, root + 7, root + 12]
        for step, length, symbol in _pattern_hits(pattern):
            if symbol == "C":
                keys = list(voicing)
            elif symbol == "L":
                keys = voicing[: max(1, len(voicing) // 2)]
            elif symbol == "H":
                keys = voicing[len(voicing) // 2:]
            elif symbol == "B":
                keys = [_nearest(ctx.tonic + chord[0], part.register - 14)]
            else:
                keys = [voicing[(int(symbol) - 1) % len(voicing)]]
            if part.octaves and symbol != "B":
                keys = keys + [keys[-1] + 12]
            on_beat = step % clock.steps_per_beat == 0
            vel = _velocity(rng, 84 + (8 if on_beat else 0), ctx.energy)
            start = clock.time(bar, step, rng)
            order = keys if on_beat or not strum else keys[::-1]  # down-strokes on the beat
            for i, key in enumerate(order):
                offset = 0.011 * i if strum else 0.0
                notes.append(Note(start + offset, max(0.05, clock.step * length * 0.95 - offset), key,
                                  max(20, vel - 3 * i if strum else vel), channel))
    return notes


#: Melodic steps (in scale degrees) a lead takes from one note to the next: mostly small.
_STEPS = (-2, -1, -1, 0, 1, 1, 2, 3, -3)


def _lead_notes(part: Part, ctx: _Context, rng: np.random.Generator, channel: int) -> list[Note]:
    """A stepwise melody from the scale that favours chord tones on strong beats.

    The first note falls on the clip's first beat, so a lead always sounds.
    """
    clock = ctx.clock
    pitches = _scale_keys(ctx.tonic, ctx.scale, part.register - 8, part.register + 12)
    idx = int(rng.integers(len(pitches) // 3, 2 * len(pitches) // 3 + 1))
    density = float(np.clip(part.density + rng.normal(0, 0.08), 0.1, 0.95))
    notes: list[Note] = []
    for bar in range(ctx.bars):
        chord = ctx.chord(bar)
        chord_pcs = {(ctx.tonic + chord[0] + iv) % 12 for iv in CHORD_TONES[chord[1]]}
        step = 0
        while step < clock.bar_steps:
            length = min(int(_pick(rng, part.lengths)), clock.bar_steps - step)
            if (bar == 0 and step == 0) or rng.random() < density:
                idx = min(len(pitches) - 1, max(0, idx + int(_pick(rng, _STEPS))))
                if step % (clock.steps_per_beat * 2) == 0:  # strong beat: move to a chord tone nearby
                    for delta in (0, 1, -1, 2, -2):
                        j = min(len(pitches) - 1, max(0, idx + delta))
                        if pitches[j] % 12 in chord_pcs:
                            idx = j
                            break
                start = clock.time(bar, step, rng)
                end = clock.time(bar, step + length)
                vel = _velocity(rng, 92 if step % clock.steps_per_beat == 0 else 80, ctx.energy, 8)
                if part.ornament and rng.random() < part.ornament and idx + 1 < len(pitches):
                    notes.append(Note(start, 0.06, pitches[idx + 1], max(20, vel - 10), channel))
                    start += 0.06
                notes.append(Note(start, max(0.06, (end - start) * 0.92), pitches[idx], vel, channel))
            step += length
    return notes


def _snap(key: int, tonic: int, scale: tuple[int, ...]) -> int:
    """``key`` moved down by at most two semitones onto the scale (unchanged if on it)."""
    for delta in (0, -1, 1, -2):
        if (key + delta - tonic) % 12 in scale:
            return key + delta
    return key


def _riff_notes(part: Part, pattern: str, ctx: _Context, rng: np.random.Generator, channel: int) -> list[Note]:
    """A one-bar motif chosen once (chord tones and scale steps), repeated and moved with each chord's root."""
    clock = ctx.clock
    hits = _pattern_hits(pattern)
    first = ctx.chord(0)
    tones = sorted({_nearest(ctx.tonic + first[0] + iv, part.register) for iv in CHORD_TONES[first[1]]})
    pool = tones + _scale_keys(ctx.tonic, ctx.scale, part.register - 5, part.register + 7)
    motif = [int(_pick(rng, tones if i % 2 == 0 else pool)) for i in range(len(hits))]
    notes: list[Note] = []
    for bar in range(ctx.bars):
        shift = (ctx.chord(bar)[0] - first[0]) % 12
        shift = shift - 12 if shift > 6 else shift
        for (step, length, symbol), key in zip(hits, motif, strict=True):
            moved = _snap(key + shift, ctx.tonic, ctx.scale)
            vel = _velocity(rng, 104 if symbol == "X" else 88, ctx.energy)
            notes.append(Note(clock.time(bar, step, rng), clock.step * length * 0.9, moved, vel, channel))
    return notes


def _hit_notes(part: Part, pattern: str, ctx: _Context, rng: np.random.Generator, channel: int) -> list[Note]:
    """Strikes on the chord root (or on ``part.fixed_key``): X accent, x hit, o soft."""
    clock = ctx.clock
    notes: list[Note] = []
    for bar in range(ctx.bars):
        key = part.fixed_key if part.fixed_key is not None else _nearest(ctx.tonic + ctx.chord(bar)[0], part.register)
        for step, length, symbol in _pattern_hits(pattern):
            base = {"X": 112, "x": 92, "o": 58}.get(symbol, 90)
            notes.append(Note(clock.time(bar, step, rng), clock.step * length * 0.95, key,
                              _velocity(rng, base, ctx.energy), channel))
    return notes


def _part_notes(part: Part, program: int, ctx: _Context, rng: np.random.Generator, channel: int) -> list[Note]:
    """The notes of one melodic part, by its role."""
    pattern = str(_pick(rng, part.patterns)) if part.patterns else ""
    if part.role in ("bass", "drone"):
        return _bass_notes(part, pattern or "R" + "-" * (ctx.clock.bar_steps - 1), ctx, rng, channel)
    if part.role == "chords":
        return _chord_notes(part, program, pattern, ctx, rng, channel)
    if part.role == "riff":
        return _riff_notes(part, pattern, ctx, rng, channel)
    if part.role == "hits":
        return _hit_notes(part, pattern, ctx, rng, channel)
    if part.role == "lead":
        return _lead_notes(part, ctx, rng, channel)
    raise ValueError(f"unknown part role {part.role!r}")


def _groove_notes(groove: dict[str, str], ctx: _Context, rng: np.random.Generator, channel: int,
                  fills: float) -> list[Note]:
    """Percussion notes of a groove (``{part: pattern}``), with an occasional tom fill."""
    clock = ctx.clock
    bar_steps = clock.bar_steps
    notes: list[Note] = []
    for bar in range(ctx.bars):
        fill = fills > 0 and bar % 4 == 3 and rng.random() < fills
        fill_from = bar_steps - clock.steps_per_beat
        for part, pattern in groove.items():
            if part == "crash" and bar % 4 != 0:
                continue
            key = gm.PERCUSSION[part].key
            for step, _length, ch in _pattern_hits(pattern):
                if fill and step >= fill_from and part in ("hat", "ride", "open", "pedal"):
                    continue
                if ch != "X" and rng.random() < 0.04:
                    continue  # an occasional dropped hit
                base = {"X": 112, "x": 92, "o": 45}.get(ch, 90)
                notes.append(Note(clock.time(bar, step, rng), 0.1, key, _velocity(rng, base, ctx.energy), channel))
        if fill:
            toms = ("tom_hi", "tom_mid", "tom_lo", "tom_floor")
            for i, step in enumerate(range(fill_from, bar_steps)):
                key = gm.PERCUSSION[toms[min(i * 4 // max(1, bar_steps - fill_from), 3)]].key
                notes.append(Note(clock.time(bar, step, rng), 0.1, key, int(rng.integers(80, 115)), channel))
    return notes


def _effect_notes(effect: gm.Effect, seconds: float, rng: np.random.Generator, channel: int) -> list[Note]:
    """A scene layer: a bed of long overlapping notes, a swell, or scattered calls (first within 0.6 s)."""
    low, high = effect.keys
    notes: list[Note] = []
    if effect.texture == "bed":
        t = 0.0
        while t < seconds:
            notes.append(Note(t, 3.2, int(rng.integers(low, high + 1)), int(rng.integers(90, 115)), channel))
            t += 2.4
    elif effect.texture == "swell":
        notes.append(Note(0.0, seconds + 1.0, int(rng.integers(low, high + 1)), int(rng.integers(95, 120)), channel))
    else:
        t = float(rng.uniform(0.0, 0.6))
        while t < seconds:
            notes.append(Note(t, float(rng.uniform(0.3, 0.9)), int(rng.integers(low, high + 1)),
                              int(rng.integers(85, 120)), channel))
            t += float(rng.uniform(0.5, 1.8))
    return notes


def _resolve_blend(st: Style, blend: str | None) -> tuple[Style | None, Layer | None]:
    """The partner style or layer ``blend`` names (checked to fit ``st``)."""
    if blend is None:
        return None, None
    if blend in STYLE_TABLE:
        partner = STYLE_TABLE[blend]
        if partner not in blend_partners(st, STYLE_TABLE):
            raise SonogenError(f"{st.name} cannot blend with {blend} (solo style, no groove, or another meter)")
        return partner, None
    if blend in LAYERS:
        if LAYERS[blend] not in layers_for(st):
            raise SonogenError(f"{st.name} cannot take the {blend} layer (solo style, or {blend} is native to it)")
        return None, LAYERS[blend]
    raise SonogenError(f"unknown blend {blend!r}; a style name or one of: {', '.join(LAYERS)}")


def pick_blend(style: str, seed: int, fraction: float = BLEND_FRACTION,
               styles: Sequence[str] | None = None) -> str | None:
    """Whether the clip ``(style, seed)`` of a corpus is a blend, and with what.

    About ``fraction`` of clips are blends, half with a layer and half with a partner
    style (from ``styles`` when given, so a corpus of a few styles stays among them).

    Returns:
        A partner style name, a :data:`~sonogen.data.blends.LAYERS` name, or None.
    """
    st = _get_style(style)
    rng = _rng(seed, st.name, "blend")
    if rng.random() >= fraction:
        return None
    partners = [p.name for p in blend_partners(st, STYLE_TABLE) if styles is None or p.name in styles]
    layers = [layer.name for layer in layers_for(st)]
    if partners and (not layers or rng.random() < 0.5):
        return str(_pick(rng, partners))
    return str(_pick(rng, layers)) if layers else None


def _get_style(style: str) -> Style:
    if style not in STYLE_TABLE:
        raise SonogenError(f"unknown style {style!r}; choose from: {', '.join(STYLES)}")
    return STYLE_TABLE[style]


def _choose_parts(parts: Sequence[Part], rng: np.random.Generator) -> list[tuple[Part, int]]:
    """The parts that play and the program of each.

    A part plays with its ``chance``; of parts sharing a ``group`` at most one plays;
    parts listing the same programs play the same one (one piano for both hands). If
    nothing was drawn, the first part plays.
    """
    chosen: list[tuple[Part, int]] = []
    groups: set[str] = set()
    same: dict[tuple[int, ...], int] = {}
    for part in parts:
        if part.group and part.group in groups:
            continue
        if rng.random() >= part.chance:
            continue
        if part.group:
            groups.add(part.group)
        program = same.setdefault(part.programs, int(_pick(rng, part.programs)))
        chosen.append((part, program))
    if not chosen and parts:
        chosen.append((parts[0], int(_pick(rng, parts[0].programs))))
    return chosen


def _fit_patterns(part: Part, bar_steps: int) -> Part:
    """``part`` with only the patterns that fill a bar of ``bar_steps`` (or one that holds the bar)."""
    if part.role == "lead" or "walk" in part.patterns:
        return part
    fitting = tuple(p for p in part.patterns if len(p) == bar_steps)
    if not fitting:
        first = part.patterns[0][0] if part.patterns else ("R" if part.role in ("bass", "drone") else "C")
        fitting = (first + "-" * (bar_steps - 1),)
    return Part(**{**part.__dict__, "patterns": fitting})


def compose(style: str, seed: int, seconds: float = 5.12, blend: str | None = None) -> Composition:
    """Compose a clip of ``style`` (one of :data:`STYLES`) for ``seed``; no audio yet.

    Args:
        style: the style.
        seed: any integer; the same seed gives the same clip.
        seconds: clip length, in (0, 120].
        blend: None, a partner style (its parts over this style's groove) or a layer
            name (:data:`sonogen.data.blends.LAYERS`); :func:`pick_blend` draws one.

    Returns:
        A :class:`Composition` whose tracks each have notes inside the clip, with the
        caption and metadata describing exactly those tracks.
    """
    st = _get_style(style)
    if not 0 < seconds <= 120:
        raise SonogenError(f"clip length must be in (0, 120] seconds, got {seconds}")
    partner, layer = _resolve_blend(st, blend)
    form = _rng(seed, st.name, "form")
    tempo = int(form.integers(st.tempo[0], st.tempo[1] + 1))
    swing = float(form.uniform(*st.swing)) if st.swing[1] > 0 else 0.0
    clock = _Clock(tempo, st.meter, swing, st.swing_unit)
    bars = int(np.ceil(seconds / clock.bar)) + 1
    tonic_pc = int(form.integers(12))
    scale_name = str(_pick(form, st.scales))
    is_minor = scale_name in MINOR_SCALES
    loops = st.progressions[1] if is_minor and st.progressions[1] else st.progressions[0] or st.progressions[1]
    loop = list(_pick(form, loops))
    start = int(form.integers(len(loop)))  # the clip may begin anywhere in the loop
    ctx = _Context(clock, bars, 48 + tonic_pc, SCALES[scale_name], tuple(loop[start:] + loop[:start]),
                   float(form.uniform(0.75, 1.0)))

    tracks: list[Track] = []
    hand: dict[str, str] = {}  # the style's hand percussion: from its drum groove and its hand groove
    if st.drums:
        r = _rng(seed, st.name, "drums")
        groove = dict(_pick(r, st.drums))
        kit = int(_pick(r, st.kits))
        hand = {p: pat for p, pat in groove.items() if gm.PERCUSSION[p].hand}
        kit_part = {p: pat for p, pat in groove.items() if not gm.PERCUSSION[p].hand}
        tracks.append(Track(DRUM_CHANNEL, 128, kit, True, "kit", float(r.normal(0, 0.8)), 64,
                            _groove_notes(kit_part, ctx, r, DRUM_CHANNEL, st.fills)))
    r = _rng(seed, st.name, "hand")
    if st.hand and r.random() < st.hand_chance:
        hand.update(_pick(r, st.hand))
    if hand:
        tracks.append(Track(HAND_CHANNEL, 128, HAND_KIT, True, "hand", _hand_level(st) + float(r.normal(0, 0.8)),
                            int(r.integers(44, 84)), _groove_notes(hand, ctx, r, HAND_CHANNEL, 0.0)))
    if layer is not None and layer.name in LAYER_HAND:
        r = _rng(seed, st.name, "layer hand", layer.name)
        tracks.append(Track(LAYER_HAND_CHANNEL, 128, HAND_KIT, True, "hand", -3.0 + float(r.normal(0, 0.8)),
                            int(r.integers(30, 98)),
                            _groove_notes(LAYER_HAND[layer.name][clock.bar_steps], ctx, r, LAYER_HAND_CHANNEL, 0.0),
                            "layer"))

    chosen = [(part, program, "style") for part, program in _choose_parts(st.parts, _rng(seed, st.name, "parts"))]
    if partner is not None:
        own = [c for c in chosen if c[0].role not in ("lead", "riff", "chords", "hits")]
        theirs = [p for p in partner.parts if p.role in ("lead", "riff", "chords", "hits")]
        picked = _choose_parts(theirs, _rng(seed, st.name, "partner", partner.name))
        chosen = own + [(part, program, "partner") for part, program in picked]
    if layer is not None:
        kept = [c for c in chosen if c[0].role not in layer.replaces]
        added = _choose_parts(layer.parts, _rng(seed, st.name, "layer", layer.name))
        chosen = kept + [(part, program, "layer") for part, program in added]
    if len(chosen) > len(MELODIC_CHANNELS):
        raise SonogenError(f"{st.name}: {len(chosen)} parts is more than {len(MELODIC_CHANNELS)} channels")
    for i, (part, program, origin) in enumerate(chosen):
        channel = MELODIC_CHANNELS[i]
        r = _rng(seed, st.name, "part", origin, part.role, i)
        fitted = _fit_patterns(part, clock.bar_steps)
        notes = _part_notes(fitted, program, ctx, r, channel)
        pan = int(r.integers(part.pan[0], part.pan[1] + 1)) if part.role not in ("bass", "drone") else 64
        tracks.append(Track(channel, 0, program, False, part.role, part.level + float(r.normal(0, 1.0)), pan,
                            notes, origin))

    effect_name = None
    r = _rng(seed, st.name, "effect")
    if st.effects and r.random() < st.effect_chance:
        effect_name = str(_pick(r, st.effects))
        effect = gm.EFFECTS[effect_name]
        tracks.append(Track(EFFECT_CHANNEL, 0, effect.program, False, "effect", -8.0 + float(r.normal(0, 1.0)),
                            int(r.integers(30, 98)), _effect_notes(effect, seconds, r, EFFECT_CHANNEL),
                            effect=effect_name))

    tracks = _audible(tracks, seconds)
    key_text = key_name(tonic_pc, scale_name)
    mood = pick_mood(st, tempo, is_minor, _rng(seed, st.name, "mood"))
    sounding = [t for t in tracks if t.channel in MELODIC_CHANNELS]
    facts = CaptionFacts(
        style=st, tempo=tempo, key=key_text, mood=mood, swing=swing,
        parts=[Sounding(t.role, t.preset, t.origin) for t in sounding],
        kit=next((t.preset for t in tracks if t.role == "kit"), None),
        percussion=_hand_names(tracks),
        effect=next((t.effect for t in tracks if t.role == "effect"), None),
        partner=partner if any(t.origin == "partner" for t in tracks) else None,
        layer=layer if any(t.origin == "layer" for t in tracks) else None,
    )
    caption, said = make_caption(facts, _rng(seed, st.name, "caption"))
    blend_name = facts.partner.name if facts.partner else facts.layer.name if facts.layer else None
    meta = {
        "style": st.name,
        "blend": blend_name,
        "blend_kind": "style" if facts.partner else "layer" if facts.layer else None,
        "instruments": list(dict.fromkeys(gm.GM_PROGRAMS[t.preset] for t in sounding)),
        "kit": gm.KIT_GM_NAMES[facts.kit] if facts.kit is not None else None,
        "drums": sorted({_PERCUSSION_BY_KEY[n.key] for t in tracks if t.drums for n in t.notes}),
        "effects": [gm.GM_PROGRAMS[t.preset] for t in tracks if t.role == "effect"],
        "tempo": tempo,
        "key": key_text,
        "meter": METER_NAMES[st.meter],
        "mood": mood,
        "place": said["place"],
        "era": said["era"],
        "seed": int(seed),
    }
    return Composition(tracks, float(seconds), caption, meta, reverb=st.reverb, lofi=st.lofi)


#: GM percussion name of each key a groove plays.
_PERCUSSION_BY_KEY: dict[int, str] = {p.key: p.gm for p in gm.PERCUSSION.values()}


def _hand_level(st: Style) -> float:
    """Mix level (dB below the loudest part) of a style's hand percussion: lower under a drum kit."""
    return -6.0 if st.drums else -2.0


def _hand_names(tracks: list[Track]) -> list[str]:
    """Names (keys of :data:`gm.PERCUSSION`) of the style's hand percussion that sounds, in GM key order.

    A layer's percussion is left out: the caption names it as the layer ("with congas").
    """
    keys = {n.key for t in tracks if t.role == "hand" and t.origin == "style" for n in t.notes}
    return [name for name, p in gm.PERCUSSION.items() if p.hand and p.key in keys]


def _audible(tracks: list[Track], seconds: float) -> list[Track]:
    """Tracks trimmed to notes that start inside the clip; tracks left without one are dropped.

    A note counts when it starts at least 80 ms before the end, so every kept track is
    heard, and a caption written from the kept tracks names nothing silent.
    """
    kept = []
    for track in tracks:
        track.notes = [n for n in track.notes if n.start < seconds - 0.08]
        if track.notes:
            kept.append(track)
    return kept


# ----------------------------------------------------------------------------- rendering

#: Loaded SoundFonts by real path. A font is read once per process and each part renders
#: on a clone that shares its samples (tinysoundfont's copy constructor), so a 500 MB
#: font costs its load once, and worker processes forked after a load share its memory.
_FONTS: dict[str, Any] = {}


def _load_font(font: Path) -> Any:
    """The loaded ``tinysoundfont`` SoundFont of ``font`` (cached per process)."""
    key = str(Path(font).resolve())
    master = _FONTS.get(key)
    if master is None:
        from tinysoundfont import _tinysoundfont as tsf

        try:
            master = tsf.SoundFont(key)
        except Exception as exc:  # the binding raises several types for unreadable files
            raise SonogenError(f"cannot load SoundFont {font}: {exc}") from None
        _FONTS[key] = master
    return master


def preload_soundfonts(fonts: Sequence[Path]) -> None:
    """Load ``fonts`` now (before forking workers, so they share the loaded samples)."""
    for font in fonts:
        _load_font(font)


def _has_preset(master: Any, bank: int, preset: int) -> bool:
    """Whether the loaded font has the preset (bank 128 = drum kits)."""
    return int(master.get_preset_index(bank, preset)) >= 0


def _describe(track: Track) -> str:
    """How an error message names a track's sound."""
    if track.drums:
        return gm.KIT_GM_NAMES.get(track.preset, f"drum kit {track.preset}")
    return f"{gm.GM_PROGRAMS[track.preset]} (program {track.preset + 1})"


def _render_track(master: Any, track: Track, total: int, rate: int, font: Path) -> np.ndarray:
    """One track alone: float32 ``(2, total)`` stereo at ``rate``.

    Raises:
        SonogenError: the font lacks the preset, or renders the track silent (its caption
            would name a sound that is not there).
    """
    from tinysoundfont import _tinysoundfont as tsf

    if not _has_preset(master, track.bank, track.preset):
        raise SonogenError(
            f"SoundFont {font} has no preset for {_describe(track)} (bank {track.bank}, preset {track.preset}); "
            "use a complete General MIDI SoundFont such as TimGM6mb"
        )
    synth = tsf.SoundFont(master)
    synth.set_output(tsf.OutputMode.StereoInterleaved, rate, -6.0)
    synth.set_max_voices(256)
    synth.channel_set_bank(0, 0 if track.drums else track.bank)  # drum mode adds bank 128 itself
    synth.channel_set_preset_number(0, track.preset, track.drums)
    synth.channel_set_pan(0, track.pan / 127.0)
    events: list[tuple[int, int, int, int]] = []  # (sample, order: offs first, key, velocity)
    for note in track.notes:
        on = int(round(note.start * rate))
        if on >= total:
            continue
        events.append((int(round((note.start + note.duration) * rate)), 0, note.key, 0))
        events.append((on, 1, note.key, note.velocity))
    events.sort()
    buffer = bytearray(total * 8)
    view = memoryview(buffer)
    pos = 0
    for sample, _order, key, velocity in events:
        sample = min(sample, total)
        if sample > pos:
            synth.render(view[pos * 8:sample * 8], False)
            pos = sample
        if velocity:
            synth.channel_note_on(0, key, velocity / 127.0)
        else:
            synth.channel_note_off(0, key)
    if pos < total:
        synth.render(view[pos * 8:], False)
    audio = np.frombuffer(buffer, dtype=np.float32).reshape(-1, 2).T.copy()
    if float(np.abs(audio).max()) < 1e-5:
        raise SonogenError(f"SoundFont {font} renders {_describe(track)} silent on keys "
                           f"{sorted({n.key for n in track.notes})}; the clip would be mislabelled")
    return audio


def _active_db(audio: np.ndarray, frame: int = 1024) -> float:
    """Loudness of a part where it plays, in dBFS: RMS over frames within 20 dB of its loudest frame.

    Args:
        audio: ``(channels, samples)``.
    """
    mono = audio.mean(axis=0)
    n = max(1, len(mono) // frame)
    frames = mono[: n * frame].reshape(n, -1) if len(mono) >= frame else mono[None]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    active = rms[rms >= rms.max() * 0.1]
    return float(20 * np.log10(max(float(np.sqrt(np.mean(active**2))), 1e-12)))


def _fft_filter(wave: np.ndarray, gain: np.ndarray, n: int) -> np.ndarray:
    """``wave`` ``(2, samples)`` filtered by a real frequency response ``gain`` on an ``n``-point FFT."""
    return np.fft.irfft(np.fft.rfft(wave, n) * gain, n)[:, : wave.shape[1]]


def _fast_len(n: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) at least ``n``: a quick FFT length."""
    best = 1 << int(np.ceil(np.log2(max(n, 1))))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


#: Impulse-response spectra of the reverb by (room, amount, rate, FFT length).
_ROOMS: dict[tuple[str, float, int, int], np.ndarray] = {}


def _room(name: str, amount: float, rate: int, n: int) -> np.ndarray:
    """Spectrum of a room's impulse response: decaying stereo noise, softened above 6 kHz, unit energy.

    Args:
        name: the room (one per style, so a style always sounds in the same room).
        amount: 0..1; bigger rooms ring longer (0.5 s + 2 s * amount to fall 60 dB).
        rate: sample rate of the signal it filters.
        n: FFT length.

    Returns:
        complex64 ``(2, n // 2 + 1)``.
    """
    key = (name, amount, rate, n)
    if key not in _ROOMS:
        length = int(rate * (0.8 + 1.6 * amount))
        t = np.arange(length) / rate
        ir = _rng(0, name, "room").standard_normal((2, length)) * np.exp(-6.9 * t / (0.5 + 2.0 * amount))
        ir[:, : int(0.012 * rate)] = 0.0  # pre-delay
        ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
        freqs = np.fft.rfftfreq(n, 1.0 / rate)
        _ROOMS[key] = (np.fft.rfft(ir, n) / (1 + (freqs / 6000.0) ** 2)).astype(np.complex64)
    return _ROOMS[key]


def _reverb(wave: np.ndarray, amount: float, rate: int, room: str) -> np.ndarray:
    """``wave`` ``(2, samples)`` plus ``amount`` of its echo in ``room``.

    The echo (which has nothing above 6 kHz worth keeping) is computed at half the rate
    in float32, then brought back by linear interpolation: a quarter of the work.
    """
    samples = wave.shape[1]
    half = wave[:, : samples // 2 * 2].reshape(2, -1, 2).mean(axis=2).astype(np.float32)
    length = int(rate // 2 * (0.8 + 1.6 * amount))
    n = _fast_len(half.shape[1] + length)
    wet_half = np.fft.irfft(np.fft.rfft(half, n) * _room(room, amount, rate // 2, n), n)[:, : half.shape[1]]
    wet = np.zeros_like(wave)
    wet[:, 0: 2 * half.shape[1]: 2] = wet_half
    wet[:, 1: 2 * half.shape[1]: 2] = 0.5 * (wet_half + np.concatenate([wet_half[:, 1:], wet_half[:, -1:]], axis=1))
    return wave + amount * wet


def _lofi(wave: np.ndarray, rate: int) -> np.ndarray:
    """A worn-tape sound: steep roll-off above 3.5 kHz and soft saturation."""
    n = _fast_len(wave.shape[1])
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    dark = _fft_filter(wave.astype(np.float32), (1.0 / np.sqrt(1 + (freqs / 3500.0) ** 4)).astype(np.float32), n)
    peak = float(np.abs(dark).max()) or 1.0
    return np.tanh(1.8 * dark / peak) / np.tanh(1.8) * peak


def render(comp: Composition, soundfont: str | os.PathLike[str] | None = None,
           sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Render a composition with tinysoundfont, one track at a time, and mix it.

    Each track is brought to ``REFERENCE_DB + track.level`` (its loudness where it
    plays), so parts sit at their intended levels whatever the font; then the style's
    reverb and tape colour are applied.

    Args:
        comp: from :func:`compose`.
        soundfont: a font file; None: :func:`find_soundfont`'s choice.
        sample_rate: output rate in Hz.

    Returns:
        float32 ``(2, round(seconds * sample_rate))`` stereo audio, peak-normalised to 0.9.
    """
    font = find_soundfont(soundfont)
    master = _load_font(font)
    total = int(round(comp.seconds * sample_rate))
    mix = np.zeros((2, total), dtype=np.float64)
    for track in comp.tracks:
        audio = _render_track(master, track, total, sample_rate, font)
        gain_db = REFERENCE_DB + track.level - _active_db(audio)
        mix += audio * 10.0 ** (gain_db / 20.0)
    if comp.reverb > 0:
        mix = _reverb(mix, comp.reverb, sample_rate, str(comp.meta.get("style", "")))
    if comp.lofi:
        mix = _lofi(mix, sample_rate)
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    if peak > 0:
        mix *= 0.9 / peak
    return mix.astype(np.float32)


def render_clip(style: str, seed: int, seconds: float = 5.12,
                soundfont: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
                blend: str | None = None) -> tuple[np.ndarray, int, str, dict[str, Any]]:
    """Compose and render one clip.

    Args:
        style / seed / seconds / blend: as for :func:`compose`.
        soundfont: a font; several fonts (the clip uses :func:`pick_soundfont`'s); None:
            :func:`find_soundfont`'s choice.

    Returns:
        ``(wave, rate, caption, meta)``: float32 ``(2, samples)`` stereo at 44.1 kHz, the
        rate, the caption, and the metadata (:func:`compose`'s plus ``soundfont``, the
        font's file name).
    """
    if soundfont is not None and not isinstance(soundfont, (str, os.PathLike)):
        font = pick_soundfont(corpus_soundfonts(soundfont), seed)
    else:
        font = find_soundfont(soundfont)
    comp = compose(style, seed, seconds, blend)
    meta = dict(comp.meta, soundfont=soundfont_label(font))
    return render(comp, font), SAMPLE_RATE, comp.caption, meta


# ----------------------------------------------------------------------------- corpus

#: Metadata fields of each corpus row, after ``file_name`` and ``text``.
ROW_FIELDS = ("style", "blend", "blend_kind", "instruments", "kit", "drums", "effects", "tempo", "key", "meter",
              "mood", "place", "era", "soundfont", "seed")


def check_styles(styles: Sequence[str] | None) -> list[str]:
    """``styles`` checked against :data:`STYLES` (None: all of them), duplicates dropped.

    Raises:
        SonogenError: an unknown style, or an empty list.
    """
    if styles is None:
        return list(STYLES)
    names = list(dict.fromkeys(s.strip() for s in styles if s.strip()))
    unknown = [s for s in names if s not in STYLE_TABLE]
    if unknown:
        raise SonogenError(f"unknown style {unknown[0]!r}; choose from: {', '.join(STYLES)}")
    if not names:
        raise SonogenError("no styles given")
    return names


def clip_plan(num_clips: int, seed: int, styles: Sequence[str] | None = None,
              blend_fraction: float = BLEND_FRACTION) -> list[tuple[str, int, str, str | None]]:
    """``(clip id, clip seed, style, blend)`` for a corpus.

    Styles come in shuffled rounds (each round has every style once), so any prefix of
    the plan is balanced; a longer corpus of the same seed starts with the same clips.
    """
    names = check_styles(styles)
    plan: list[tuple[str, int, str, str | None]] = []
    rounds = -(-num_clips // len(names))
    for r in range(rounds):
        order = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, r, 7])).permutation(len(names))
        for j in order:
            i = len(plan)
            if i >= num_clips:
                break
            clip_seed = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, i]).generate_state(1)[0])
            style = names[int(j)]
            plan.append((f"{i:06d}", clip_seed, style, pick_blend(style, clip_seed, blend_fraction, names)))
    return plan


@dataclass(frozen=True)
class _Job:
    """One clip of a corpus, as a worker needs it (picklable)."""

    clip_id: str
    seed: int
    style: str
    blend: str | None
    seconds: float
    fonts: tuple[str, ...]
    out: str
    images: bool
    params: tuple[tuple[str, Any], ...] | None


def _clip_image(wave: np.ndarray, params: dict[str, Any]) -> Any:
    """The spectrogram image ``sonogen audio-to-image`` writes for this clip saved as a WAV.

    The clip (averaged to mono unless the format is stereo) goes through the same 16-bit
    WAV encoding and reading as a file would, then the project's converter.
    """
    from sonogen.audio.io import encode_audio, load_audio
    from sonogen.spectrogram.converter import get_converter
    from sonogen.spectrogram.params import SpectrogramParams

    spec = SpectrogramParams(**params)
    clip = wave if spec.stereo else wave.mean(axis=0, keepdims=True)
    decoded, rate = load_audio(encode_audio(clip, SAMPLE_RATE, "wav"), spec.sample_rate)
    return get_converter(spec).audio_to_image(decoded, rate)


def _render_job(job: _Job) -> dict[str, Any]:
    """Worker: compose one clip and write ``<id>.wav`` or ``<id>.png`` (kept if present).

    Returns:
        The clip's metadata row, or ``{"error": message}``.
    """
    import multiprocessing

    try:
        font = pick_soundfont([Path(f) for f in job.fonts], job.seed)
        comp = compose(job.style, job.seed, job.seconds, job.blend)
        target = Path(job.out) / f"{job.clip_id}.{'png' if job.images else 'wav'}"
        if not target.exists():
            wave = render(comp, font)
            if job.images:
                from sonogen.spectrogram.image import save_image
                from sonogen.utils import atomic_path

                if multiprocessing.parent_process() is not None:
                    import torch

                    torch.set_num_threads(1)  # one core per worker
                image = _clip_image(wave, dict(job.params or ()))
                with atomic_path(target) as tmp:
                    save_image(image, str(tmp), "PNG")
            else:
                from sonogen.audio.io import save_audio

                save_audio(target, wave, SAMPLE_RATE)
    except SonogenError as exc:
        return {"error": f"clip {job.clip_id} ({job.style}, seed {job.seed}): {exc}"}
    meta = dict(comp.meta, soundfont=soundfont_label(font), seed=job.seed)
    return {"file_name": target.name, "text": comp.caption, **{k: meta.get(k) for k in ROW_FIELDS}}


def write_corpus(out: str | os.PathLike[str], clips: int, seed: int = 0, workers: int = 1,
                 soundfont: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
                 seconds: float = 5.12, progress: bool = True, *, images: bool = False,
                 styles: Sequence[str] | None = None, blend_fraction: float = BLEND_FRACTION,
                 params: Any = None) -> list[dict[str, Any]]:
    """Render ``clips`` clips into ``out`` with ``metadata.jsonl``; resumable and parallel.

    Args:
        out: output folder (created).
        clips: number of clips.
        seed: corpus seed (the plan and every clip follow from it).
        workers: processes.
        soundfont: one font, several (clips are spread over them by seed), or None
            (:func:`corpus_soundfonts`: the installed Debian GM fonts, else TimGM6mb).
        seconds: clip length.
        progress: show a progress bar.
        images: write each clip's spectrogram image (``<id>.png``, as ``sonogen
            audio-to-image`` makes it from the mono clip) instead of ``<id>.wav``; the
            folder is then a dataset ``sonogen train --dataset`` reads.
        styles: only these styles (None: all of :data:`STYLES`); blends stay among them.
        blend_fraction: share of clips rendered as blends (0 for none).
        params: :class:`~sonogen.spectrogram.params.SpectrogramParams` of the images
            (default: the Riffusion v1 format).

    Returns:
        The metadata rows, in clip order.

    Raises:
        SonogenError: bad arguments, a folder rendered with other settings, or clips that
            failed (the others are written and listed first).
    """
    import json
    from dataclasses import asdict

    from sonogen.utils import atomic_path, map_jobs

    if clips < 1:
        raise SonogenError(f"--clips must be at least 1, got {clips}")
    if not 0.0 <= blend_fraction <= 1.0:
        raise SonogenError(f"blend fraction must be in [0, 1], got {blend_fraction}")
    names = check_styles(styles)
    fonts = corpus_soundfonts(soundfont)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SonogenError(f"output exists and is not a folder: {out}")
    param_fields: tuple[tuple[str, Any], ...] | None = None
    if images:
        from sonogen.spectrogram.params import SpectrogramParams

        param_fields = tuple(sorted(asdict(params or SpectrogramParams()).items()))
    settings = {"format": "sonogen-synth-corpus-2", "seed": int(seed), "seconds": float(seconds),
                "soundfonts": [soundfont_label(f) for f in fonts], "styles": names,
                "blend_fraction": float(blend_fraction), "images": bool(images),
                "params": dict(param_fields) if param_fields else None}
    _check_settings(folder / "corpus.json", settings)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "corpus.json") as tmp:
        tmp.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    plan = clip_plan(clips, seed, names, blend_fraction)
    jobs = [_Job(cid, cseed, style, blend, float(seconds), tuple(str(f) for f in fonts), str(folder), images,
                 param_fields) for cid, cseed, style, blend in plan]
    if workers > 1:
        preload_soundfonts(fonts)
    results = list(map_jobs(_render_job, jobs, workers, desc="synth-corpus", unit="clip", progress=progress,
                            chunksize=max(1, len(jobs) // (workers * 8))))
    rows = [r for r in results if "error" not in r]
    with atomic_path(folder / "metadata.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise SonogenError(f"{len(errors)} of {len(jobs)} clip(s) failed (the rest are written); first: {errors[0]}")
    return rows


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """Refuse to add to a corpus folder rendered with other settings (its files would not match)."""
    import json

    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    changed = [k for k, v in settings.items() if previous.get(k) != v]
    if changed:
        raise SonogenError(f"{path.parent} holds a corpus made with other settings ({', '.join(changed)}); "
                           "use a new folder")
