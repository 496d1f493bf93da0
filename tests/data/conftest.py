"""Fixtures of the corpus tests: the Debian General MIDI SoundFonts the corpus spreads over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def apt_fonts() -> list[Path]:
    """FluidR3_GM, MuseScore_General and TimGM6mb as installed by ``scripts/install-soundfont.sh``.

    Skipped with the reason when one is missing, unless ``SONOGEN_REQUIRE_ALL`` is set
    (CI), where the test fails instead.
    """
    from sonogen.data.synth import CORPUS_SOUNDFONT_FILES, SOUNDFONT_PACKAGES

    fonts = [Path(f) for f in CORPUS_SOUNDFONT_FILES]
    missing = [str(f) for f in fonts if not f.is_file()]
    if missing and os.environ.get("SONOGEN_REQUIRE_ALL", "") in ("", "0"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install {' '.join(SOUNDFONT_PACKAGES)}, or bash "
                    "scripts/install-soundfont.sh); set SONOGEN_REQUIRE_ALL=1 to fail instead")
    return fonts
