"""Editing waveforms: cutting clips, equal-power crossfades, normalisation.

Waveforms are float32 numpy arrays ``(channels, samples)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sonogen.errors import SonogenError


def cut_clip(wave: np.ndarray, sample_rate: int, start_s: float, seconds: float) -> np.ndarray:
    """Samples from ``start_s`` for ``seconds`` (zero-padded past the end).

    Returns ``(channels, round(seconds * sample_rate))``.
    """
    if start_s < 0 or seconds <= 0:
        raise SonogenError(f"a clip needs start >= 0 and a positive length, got {start_s} s and {seconds} s")
    start = int(round(start_s * sample_rate))
    count = int(round(seconds * sample_rate))
    out = np.zeros((wave.shape[0], count), dtype=np.float32)
    piece = wave[:, start : start + count]
    out[:, : piece.shape[1]] = piece
    return out


def equal_power_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains of ``length`` samples with ``out**2 + in**2 == 1``."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)
    return np.cos(0.5 * np.pi * t).astype(np.float32), np.sin(0.5 * np.pi * t).astype(np.float32)


def crossfade_join(clips: Sequence[np.ndarray], sample_rate: int, fade_s: float = 0.05) -> np.ndarray:
    """Join clips end to start with equal-power crossfades of ``fade_s`` seconds.

    Each overlap shortens the result by the fade length, so there is no gap and no
    click. Clips must share a channel count. Returns ``(channels, samples)``.
    """
    if not clips:
        raise SonogenError("nothing to join: no clips given")
    channels = {c.shape[0] for c in clips}
    if len(channels) != 1:
        raise SonogenError(f"clips to join have different channel counts: {sorted(channels)}")
    fade = int(round(fade_s * sample_rate))
    out = np.asarray(clips[0], dtype=np.float32)
    for clip in clips[1:]:
        clip = np.asarray(clip, dtype=np.float32)
        n = min(fade, out.shape[1], clip.shape[1])
        if n == 0:
            out = np.concatenate([out, clip], axis=1)
            continue
        fade_out, fade_in = equal_power_curves(n)
        mixed = out[:, -n:] * fade_out + clip[:, :n] * fade_in
        out = np.concatenate([out[:, :-n], mixed, clip[:, n:]], axis=1)
    return out


def normalize_peak(wave: np.ndarray, peak: float = 0.98) -> np.ndarray:
    """Scale so the largest absolute sample is ``peak`` (silence is returned as is)."""
    if not 0 < peak <= 1:
        raise SonogenError(f"peak must be in (0, 1], got {peak}")
    top = float(np.abs(wave).max()) if wave.size else 0.0
    return wave if top == 0 else (wave * (peak / top)).astype(np.float32)


def rms_dbfs(wave: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale (-inf for silence)."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if wave.size else 0.0
    return -np.inf if rms == 0 else 20.0 * np.log10(rms)


def normalize_loudness(wave: np.ndarray, target_dbfs: float = -16.0, peak_limit: float = 0.98) -> np.ndarray:
    """Scale to an RMS level of ``target_dbfs``, never letting a sample exceed ``peak_limit``."""
    if not -80 <= target_dbfs <= 0:
        raise SonogenError(f"target loudness must be in [-80, 0] dBFS, got {target_dbfs}")
    level = rms_dbfs(wave)
    if not np.isfinite(level):
        return wave
    gain = 10.0 ** ((target_dbfs - level) / 20.0)
    top = float(np.abs(wave).max()) * gain
    if top > peak_limit:
        gain *= peak_limit / top
    return (wave * gain).astype(np.float32)
