"""A short piece of music synthesised from scratch: the project's own test material.

Drums (kick, snare, hi-hat), a bass line and chords with harmonic partials, so that
round trips are measured on audio with tones, transients and noise, with no files.
"""

from __future__ import annotations

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
