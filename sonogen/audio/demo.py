"""sonogen's own synthesiser: music made with numpy alone, identical on every machine.

* :func:`demo_clip` - the project's test material: drums (kick, snare, hi-hat), a bass
  line and chords with harmonic partials, so that round trips are measured on audio with
  tones, transients and noise, with no files.
* :data:`SEED_SOURCES` - the short loops behind the built-in seed images
  (:mod:`sonogen.pipeline.seeds`), built from the instruments :func:`kick`,
  :func:`snare`, :func:`hat` and :func:`tone`.

``demo_clip`` keeps its own two voices (``_tone``, ``_envelope``) rather than the
instruments below: its exact samples are what ``sonogen roundtrip`` and the figures in
``benchmarks/RESULTS.md`` are measured on, and the seed loops' exact samples are the seed
images every client knows. Changing either sound would change those numbers and pictures.

The other synthesiser, :mod:`sonogen.data.synth`, is a different tool on purpose: it
renders General MIDI scores through a SoundFont (``tinysoundfont``, installed apart
by ``scripts/install.sh``) to make realistic, captioned training corpora; nothing here
may depend on it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: chord roots of a I-vi-IV-V progression in A minor / C major, in Hz
_PROGRESSION = ((220.0, (0, 3, 7)), (174.61, (0, 4, 7)), (130.81, (0, 4, 7)), (196.0, (0, 4, 7)))


def _envelope(length: int, rate: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(length) / rate
    return np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-t / decay_s)


def _tone(freq: float, length: int, rate: int, partials: int, brightness: float) -> np.ndarray:
    t = np.arange(length) / rate
    out = np.zeros(length)
    for k in range(1, partials + 1):
        if k * freq >= rate / 2:
            break
        out += (brightness**k) * np.sin(2 * np.pi * k * freq * t) / k
    return out


def demo_clip(seed: int = 0, seconds: float = 5.12, sample_rate: int = 44100, bpm: float = 112.0) -> np.ndarray:
    """A stereo music clip, float32 ``(2, round(seconds * sample_rate))`` peaking at 0.9.

    Deterministic for ``seed`` (which varies the key, tempo and mix slightly).
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    bpm = bpm * (1.0 + 0.1 * (rng.random() - 0.5))
    transpose = 2.0 ** (int(rng.integers(-3, 4)) / 12.0)
    beat = int(round(60.0 / bpm * sample_rate))
    left = np.zeros(n)
    right = np.zeros(n)
    for i, start in enumerate(range(0, n, beat // 2)):  # eighth notes
        length = min(n - start, beat)
        if i % 4 == 0:  # kick on 1 and 3
            t = np.arange(length) / sample_rate
            sweep = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30))
            hit = 0.9 * sweep * _envelope(length, sample_rate, 0.002, 0.12)
            left[start : start + length] += hit
            right[start : start + length] += hit
        if i % 4 == 2:  # snare on 2 and 4
            noise = rng.standard_normal(length) * _envelope(length, sample_rate, 0.001, 0.08)
            body = np.sin(2 * np.pi * 190 * np.arange(length) / sample_rate) * _envelope(length, sample_rate, 0.001, 0.05)
            left[start : start + length] += 0.35 * noise + 0.3 * body
            right[start : start + length] += 0.3 * noise + 0.3 * body
        hat_len = min(n - start, beat // 4)
        hat = np.diff(rng.standard_normal(hat_len + 1)) * _envelope(hat_len, sample_rate, 0.0005, 0.02)
        left[start : start + hat_len] += 0.12 * hat
        right[start : start + hat_len] += 0.18 * hat
    bar = beat * 4
    for j, start in enumerate(range(0, n, bar)):
        root, intervals = _PROGRESSION[j % len(_PROGRESSION)]
        root *= transpose
        length = min(n - start, bar)
        for k, semis in enumerate(intervals):
            f = root * 2.0 ** (semis / 12.0) * 2
            chord = _tone(f, length, sample_rate, 8, 0.7) * _envelope(length, sample_rate, 0.02, 1.5)
            pan = 0.3 + 0.2 * k
            left[start : start + length] += 0.12 * (1 - pan) * chord
            right[start : start + length] += 0.12 * pan * chord
        for q in range(4):  # bass on each beat
            s = start + q * beat
            if s >= n:
                break
            blen = min(n - s, beat)
            f = root / 2 * (1.5 if q == 2 else 1.0)
            bass = _tone(f, blen, sample_rate, 5, 0.6) * _envelope(blen, sample_rate, 0.005, 0.25)
            left[s : s + blen] += 0.3 * bass
            right[s : s + blen] += 0.3 * bass
    out = np.stack([left, right])
    out *= 0.9 / max(np.abs(out).max(), 1e-9)
    return out.astype(np.float32)


# ---------------------------------------------------------------------- instruments
#: Sample rate of the instruments and seed loops, Hz.
RATE = 44100


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * RATE)), dtype=np.float64) / RATE


def kick(seconds: float = 0.35) -> np.ndarray:
    """A sine whose pitch falls from 150 to 45 Hz under a fast decay."""
    t = _time(seconds)
    freq = 45.0 + 105.0 * np.exp(-t * 30.0)
    phase = 2.0 * np.pi * np.cumsum(freq) / RATE
    return np.sin(phase) * np.exp(-t * 9.0)


def snare(rng: np.random.Generator, seconds: float = 0.2) -> np.ndarray:
    """Noise with a 190 Hz body, decaying in about 0.1 s."""
    t = _time(seconds)
    body = 0.5 * np.sin(2.0 * np.pi * 190.0 * t) * np.exp(-t * 25.0)
    noise = rng.standard_normal(t.size) * np.exp(-t * 18.0)
    noise = np.diff(noise, prepend=0.0)  # tilt towards the highs
    return 0.6 * body + 0.4 * noise


def hat(rng: np.random.Generator, seconds: float = 0.05) -> np.ndarray:
    """A short burst of high-passed noise."""
    t = _time(seconds)
    noise = np.diff(rng.standard_normal(t.size + 2), n=2)
    return 0.15 * noise * np.exp(-t * 80.0)


def tone(freq: float, seconds: float, partials: tuple[float, ...] = (1.0,), decay: float = 3.0, attack: float = 0.005) -> np.ndarray:
    """A note of harmonic (or given-ratio) partials, amplitude 1/k, exponential decay."""
    t = _time(seconds)
    wave = sum(np.sin(2.0 * np.pi * freq * ratio * t) / (k + 1) for k, ratio in enumerate(partials))
    envelope = np.minimum(t / attack, 1.0) * np.exp(-t * decay)
    return np.asarray(wave) * envelope


def midi(note: float) -> float:
    """Frequency in Hz of a MIDI note number."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float = 1.0) -> None:
    start = int(round(at_s * RATE))
    if start >= track.size:
        return
    end = min(track.size, start + sound.size)
    track[start:end] += gain * sound[: end - start]


def _beat_grid(seconds: float, bpm: float, per_beat: int) -> list[tuple[int, float]]:
    step = 60.0 / bpm / per_beat
    return [(i, i * step) for i in range(int(seconds / step) + 1)]


# ---------------------------------------------------------------------- the seed loops
def og_beat(seconds: float) -> np.ndarray:
    """Straight 4/4 drums at 120 bpm: kick on 1 and 3, snare on 2 and 4, eighth hats."""
    rng = np.random.default_rng(1)
    track = np.zeros(_time(seconds).size)
    for i, at in _beat_grid(seconds, 120.0, 2):
        _place(track, hat(rng), at, 0.8)
        if i % 4 == 0:
            _place(track, kick(), at)
        elif i % 4 == 2:
            _place(track, snare(rng), at, 0.8)
    return track


def agile(seconds: float) -> np.ndarray:
    """A quick sixteenth-note minor arpeggio (saw-like) over hats at 140 bpm."""
    rng = np.random.default_rng(2)
    track = np.zeros(_time(seconds).size)
    notes = (57, 60, 64, 69, 67, 64, 60, 62)
    for i, at in _beat_grid(seconds, 140.0, 4):
        _place(track, tone(midi(notes[i % len(notes)]), 0.2, (1, 2, 3, 4, 5), decay=12.0), at, 0.35)
        if i % 2 == 0:
            _place(track, hat(rng), at, 0.6)
        if i % 8 == 0:
            _place(track, kick(), at, 0.8)
    return track


def marim(seconds: float) -> np.ndarray:
    """Marimba-like pentatonic notes (fundamental + 4x partial, fast decay) at 110 bpm."""
    track = np.zeros(_time(seconds).size)
    notes = (72, 74, 76, 79, 81, 79, 76, 74, 69, 72)
    for i, at in _beat_grid(seconds, 110.0, 2):
        _place(track, tone(midi(notes[i % len(notes)]), 0.6, (1.0, 3.93, 9.2), decay=7.0), at, 0.45)
    return track


def motorway(seconds: float) -> np.ndarray:
    """A driving octave bass riff (square-like) with four-on-the-floor kicks at 128 bpm."""
    rng = np.random.default_rng(4)
    track = np.zeros(_time(seconds).size)
    bass = (40, 52, 40, 52, 43, 55, 38, 50)
    for i, at in _beat_grid(seconds, 128.0, 2):
        _place(track, tone(midi(bass[i % len(bass)]), 0.22, (1, 3, 5, 7), decay=6.0), at, 0.45)
        if i % 2 == 0:
            _place(track, kick(), at)
        else:
            _place(track, hat(rng), at, 0.7)
    return track


def vibes(seconds: float) -> np.ndarray:
    """Soft seventh-chord pads with a slow attack over a laid-back beat at 90 bpm."""
    rng = np.random.default_rng(5)
    track = np.zeros(_time(seconds).size)
    chords = ((62, 65, 69, 72), (55, 59, 62, 65), (60, 64, 67, 71))
    bar = 4 * 60.0 / 90.0
    for c in range(int(seconds / bar) + 2):
        for note in chords[c % len(chords)]:
            _place(track, tone(midi(note), bar, (1, 2), decay=0.8, attack=0.15), c * bar, 0.18)
    for i, at in _beat_grid(seconds, 90.0, 1):
        _place(track, kick() if i % 2 == 0 else snare(rng), at, 0.6)
    return track


SEED_SOURCES: dict[str, Callable[[float], np.ndarray]] = {
    "og_beat": og_beat,
    "agile": agile,
    "marim": marim,
    "motorway": motorway,
    "vibes": vibes,
}
