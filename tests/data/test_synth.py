"""The synthetic corpus: styles, captions, determinism, CLI and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonogen.cli import main
from sonogen.data import synth
from sonogen.errors import SonogenError


def test_at_least_twelve_distinct_styles() -> None:
    assert len(synth.STYLES) >= 12
    for name in ("rock", "jazz swing", "bossa nova", "funk", "techno", "house", "hip hop", "reggae",
                 "blues", "ambient", "solo piano", "string ensemble", "drums only"):
        assert name in synth.STYLES
    grooves = {json.dumps(synth.STYLE_TABLE[s].drums, sort_keys=True) for s in synth.STYLES if synth.STYLE_TABLE[s].drums}
    assert len(grooves) >= 10  # each drummed style has its own patterns
    tempos = {synth.STYLE_TABLE[s].tempo for s in synth.STYLES}
    assert len(tempos) >= 10


@pytest.mark.parametrize("style", ["jazz swing", "drums only", "solo piano"])
def test_caption_says_what_plays(style: str) -> None:
    comp = synth.compose(style, seed=4)
    meta = comp.meta
    assert str(meta["tempo"]) in comp.caption
    assert meta["mood"].lower() in comp.caption.lower()
    for name in meta["instruments"]:
        assert name.lower() in comp.caption.lower()
    words = [w.lower() for w in synth.STYLE_TABLE[style].words]
    assert any(w in comp.caption.lower() for w in words)
    drums = [n for n in comp.notes if n.channel == synth.DRUM_CHANNEL]
    if style == "solo piano":
        assert not drums and set(comp.programs) <= {0, 1, 2}
    else:
        assert drums


def test_variation_across_seeds() -> None:
    comps = [synth.compose("funk", seed) for seed in range(12)]
    assert len({c.meta["tempo"] for c in comps}) > 3
    assert len({c.meta["key"] for c in comps}) > 3
    assert len({c.caption for c in comps}) == 12
    assert len({tuple(c.meta["instruments"]) for c in comps}) > 1


@pytest.mark.soundfont
def test_render_clip_is_deterministic_and_audible() -> None:
    wave, rate, caption, meta = synth.render_clip("house", 11, seconds=1.0)
    again = synth.render_clip("house", 11, seconds=1.0)
    assert rate == 44100 and wave.shape == (2, 44100) and wave.dtype == np.float32
    assert np.array_equal(wave, again[0]) and caption == again[2] and meta == again[3]
    assert 0.05 < float(np.sqrt(np.mean(wave**2))) and np.abs(wave).max() <= 0.91
    other = synth.render_clip("house", 12, seconds=1.0)[0]
    assert not np.array_equal(wave, other)


@pytest.mark.soundfont
def test_corpus_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["synth-corpus", str(a), "--clips", "3", "--seed", "5", "--workers", "1", "--seconds", "1", "--no-progress"]) == 0
    assert main(["synth-corpus", str(b), "--clips", "3", "--seed", "5", "--workers", "2", "--seconds", "1", "--no-progress"]) == 0
    rows = [json.loads(line) for line in (a / "metadata.jsonl").read_text().splitlines()]
    assert [r["file_name"] for r in rows] == ["000000.wav", "000001.wav", "000002.wav"]
    assert {"file_name", "text", "style", "tempo", "key", "instruments"} <= set(rows[0])
    assert len({r["style"] for r in rows}) == 3  # balanced rounds: no repeats in the first round
    assert (a / "metadata.jsonl").read_bytes() == (b / "metadata.jsonl").read_bytes()
    for r in rows:
        assert (a / r["file_name"]).read_bytes() == (b / r["file_name"]).read_bytes()
    import soundfile as sf

    info = sf.info(str(a / "000000.wav"))
    assert info.samplerate == 44100 and info.channels == 2


def test_missing_soundfont_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(synth, "SOUNDFONT_CANDIDATES", (str(tmp_path / "none.sf2"),))
    monkeypatch.setattr(synth, "bundled_soundfont", lambda: None)
    monkeypatch.delenv(synth.SOUNDFONT_ENV, raising=False)
    assert main(["synth-corpus", str(tmp_path / "o"), "--clips", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "timgm6mb-soundfont" in err and "pretty_midi" in err
    assert main(["synth-corpus", str(tmp_path / "o"), "--clips", "1", "--soundfont", str(tmp_path / "x.sf2")]) == 2
    assert "SoundFont not found" in capsys.readouterr().err


def test_the_pip_dependency_provides_the_soundfont(monkeypatch: pytest.MonkeyPatch) -> None:
    """pretty_midi's wheel ships TimGM6mb: the README's install alone can render (no apt)."""
    monkeypatch.setattr(synth, "SOUNDFONT_CANDIDATES", ())
    monkeypatch.delenv(synth.SOUNDFONT_ENV, raising=False)
    font = synth.find_soundfont()
    assert font.name == "TimGM6mb.sf2" and "pretty_midi" in font.parts and font.stat().st_size > 5_000_000


def test_a_missing_preset_fails_instead_of_mislabelling(tmp_path: Path) -> None:
    """A font without the captioned instrument must not silently play piano under that caption."""
    import tinysoundfont

    comp = synth.compose("rock", 3, seconds=0.5)
    real = tinysoundfont.Synth.sfpreset_name

    def without_guitars(self, sfid, bank, preset):  # type: ignore[no-untyped-def]
        return None if bank == 0 and 24 <= preset <= 31 else real(self, sfid, bank, preset)

    guitar = any(bank == 0 and 24 <= p <= 31 for bank, p in comp.programs.values())
    assert guitar, "the rock clip should have a guitar part"
    import unittest.mock

    with unittest.mock.patch.object(tinysoundfont.Synth, "sfpreset_name", without_guitars):
        with pytest.raises(SonogenError, match="has no preset for .*guitar"):
            synth.render(comp)


def test_bad_clip_count_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth-corpus", str(tmp_path), "--clips", "0"])
    assert exc.value.code == 2
    with pytest.raises(SonogenError, match="unknown style"):  # the CLI's one-line error type
        synth.compose("polka", 0)
