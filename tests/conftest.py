"""Shared fixtures: synthesised test audio (tones, chords, clicks, noise bursts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

RATE = 44100


def tone(freq: float, seconds: float, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


def chord(freqs: tuple[float, ...], seconds: float, rate: int = RATE) -> np.ndarray:
    return sum(tone(f, seconds, rate, 0.25) for f in freqs).astype(np.float32)


def clicks(seconds: float, every_s: float = 0.25, rate: int = RATE) -> np.ndarray:
    out = np.zeros((1, int(seconds * rate)), np.float32)
    out[0, :: int(every_s * rate)] = 0.9
    return out


def noise_bursts(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((1, int(seconds * rate))).astype(np.float32) * 0.3
    gate = (np.arange(out.shape[1]) // (rate // 8)) % 2 == 0
    return out * gate


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture
def music() -> np.ndarray:
    from sonogen.audio.demo import demo_clip

    return demo_clip(seed=1, seconds=1.28)
