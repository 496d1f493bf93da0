"""Shared fixtures: synthesised test audio (tones, chords, clicks, noise bursts) and a toy sentence encoder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

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


#: Set (to 1) by scripts/test.sh and CI: a missing browser or SoundFont fails the run instead
#: of skipping, so CI keeps running every test.
REQUIRE_ALL = "SONOGEN_REQUIRE_ALL"


def _missing_browser() -> str | None:
    from pathlib import Path

    if not Path("/usr/bin/chromium").exists():
        return "headless Chromium is not installed (bash scripts/install-browser.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def _missing_soundfont() -> str | None:
    from sonogen.data.synth import SOUNDFONT_PACKAGE, find_soundfont
    from sonogen.errors import SonogenError

    try:
        find_soundfont()
    except SonogenError:
        return f"no General MIDI SoundFont (apt-get install {SOUNDFONT_PACKAGE}, or bash scripts/install-soundfont.sh)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``browser``/``soundfont`` tests, with the reason, where their tool is missing.

    Under ``SONOGEN_REQUIRE_ALL=1`` (scripts/test.sh, CI) nothing is skipped: the tests
    run and fail loudly if the tool is missing.
    """
    import os

    if os.environ.get(REQUIRE_ALL, "") not in ("", "0"):
        return
    checks = {"browser": _missing_browser, "soundfont": _missing_soundfont}
    reasons: dict[str, str | None] = {}
    for item in items:
        for name, check in checks.items():
            if item.get_closest_marker(name) is None:
                continue
            if name not in reasons:
                reasons[name] = check()
            if reasons[name]:
                item.add_marker(pytest.mark.skip(reason=f"{reasons[name]}; set {REQUIRE_ALL}=1 to fail instead"))


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests keep what sonogen caches (unpacked encoder weights) in a folder of their own,
    which commands they start as processes inherit."""
    import os

    from sonogen.utils import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("sonogen-cache"))
    yield
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before


@pytest.fixture
def music() -> np.ndarray:
    from sonogen.audio.demo import demo_clip

    return demo_clip(seed=1, seconds=1.28)


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The tiny random sentence encoder of :mod:`sonogen.models.tiny_text`, installed as a
    distribution in a folder on ``sys.path`` for one test module; yields its ``EncoderSource``."""
    from sonogen.models.tiny_text import install_tiny_encoder

    root = tmp_path_factory.mktemp("site")
    source = install_tiny_encoder(root)
    sys.path.insert(0, str(root))
    yield source
    sys.path.remove(str(root))


class WordDirections:
    """A toy sentence encoder's meaning: each of ``words`` is a direction, every other word
    shares one more axis, and a text is the normalised sum of its words' directions.

    Mixed into :class:`~sonogen.models.vocabulary.KnowsVocabulary` by :func:`word_direction_encoder`.
    """

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = words

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Unit rows ``(len(texts), len(words) + 1)``."""
        rows = torch.zeros(len(texts), len(self.words) + 1)
        for i, text in enumerate(texts):
            for word in text.lower().replace(",", " ").split():
                rows[i, self.words.index(word) if word in self.words else len(self.words)] += 1.0
        return torch.nn.functional.normalize(rows + 1e-6, dim=-1)


def word_direction_encoder(words: tuple[str, ...]) -> Any:
    """A :class:`KnowsVocabulary` whose ``embed`` is :class:`WordDirections` over ``words``."""
    from sonogen.models.vocabulary import KnowsVocabulary

    class Toy(WordDirections, KnowsVocabulary):
        pass

    return Toy(words)
