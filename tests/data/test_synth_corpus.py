"""`sonogen synth-corpus`: determinism, resuming, several SoundFonts, --images datasets, --styles, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sonogen.cli import main
from sonogen.data import synth

FIELDS = {"file_name", "text", "style", "blend", "instruments", "drums", "effects", "tempo", "key", "soundfont", "seed"}


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tim() -> Path:
    """The TimGM6mb font pip installs (pretty_midi): every install has it."""
    font = synth.bundled_soundfont()
    assert font is not None
    return font


@pytest.mark.soundfont
def test_same_seed_same_bytes_with_any_worker_count(tmp_path: Path, tim: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--clips", "3", "--seed", "5", "--seconds", "1", "--no-progress", "--soundfont", str(tim)]
    assert main(["synth-corpus", str(a), "--workers", "1", *common]) == 0
    assert main(["synth-corpus", str(b), "--workers", "2", *common]) == 0
    rows = rows_of(a)
    assert [r["file_name"] for r in rows] == ["000000.wav", "000001.wav", "000002.wav"]
    assert FIELDS <= set(rows[0]) and all(r["soundfont"] == "TimGM6mb.sf2" for r in rows)
    assert len({r["style"] for r in rows}) == 3  # balanced rounds: no repeats in the first round
    assert (a / "metadata.jsonl").read_bytes() == (b / "metadata.jsonl").read_bytes()
    for r in rows:
        assert (a / r["file_name"]).read_bytes() == (b / r["file_name"]).read_bytes()
    import soundfile as sf

    info = sf.info(str(a / "000000.wav"))
    assert info.samplerate == 44100 and info.channels == 2


@pytest.mark.soundfont
def test_resumes_and_refuses_a_folder_made_otherwise(tmp_path: Path, tim: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    args = ["synth-corpus", str(out), "--clips", "2", "--seconds", "0.5", "--no-progress", "--soundfont", str(tim),
            "--workers", "1"]
    assert main(args) == 0
    first = (out / "000000.wav").stat().st_mtime_ns
    metadata = (out / "metadata.jsonl").read_bytes()
    assert main(args[:3] + ["4"] + args[4:]) == 0  # more clips: the first two are kept as they are
    assert (out / "000000.wav").stat().st_mtime_ns == first
    assert (out / "metadata.jsonl").read_bytes().startswith(metadata) and len(rows_of(out)) == 4
    capsys.readouterr()
    assert main(args[:5] + ["1.0"] + args[6:]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "other settings (seconds)" in err


@pytest.mark.soundfont
def test_clips_are_spread_over_several_soundfonts(tmp_path: Path, tim: Path) -> None:
    fonts = [tmp_path / "First.sf2", tmp_path / "Second.sf2"]
    for font in fonts:
        shutil.copyfile(tim, font)  # two files, so two fonts as far as the corpus knows
    out = tmp_path / "spread"
    assert main(["synth-corpus", str(out), "--clips", "12", "--seconds", "0.3", "--no-progress", "--workers", "1",
                 "--soundfont", str(fonts[0]), "--soundfont", str(fonts[1]), "--soundfont", str(fonts[0])]) == 0
    rows = rows_of(out)
    assert {r["soundfont"] for r in rows} == {"First.sf2", "Second.sf2"}
    for r in rows:
        assert r["soundfont"] == synth.pick_soundfont(fonts, r["seed"]).name
    assert json.loads((out / "corpus.json").read_text())["soundfonts"] == ["First.sf2", "Second.sf2"]


@pytest.mark.soundfont
def test_the_installed_fonts_are_the_default_spread(tmp_path: Path, apt_fonts: list[Path]) -> None:
    assert synth.corpus_soundfonts() == apt_fonts
    wave, _, _, meta = synth.render_clip("bossa nova", 4, 0.5, soundfont=apt_fonts)
    assert meta["soundfont"] == synth.pick_soundfont(apt_fonts, 4).resolve().name and np.isfinite(wave).all()
    picks = {synth.pick_soundfont(apt_fonts, seed) for seed in range(60)}
    assert picks == set(apt_fonts)


@pytest.mark.soundfont
def test_images_make_a_dataset_that_training_reads(tmp_path: Path, tim: Path) -> None:
    from PIL import Image

    from sonogen.data.dataset import read_dataset
    from sonogen.spectrogram.params import SpectrogramParams

    out = tmp_path / "ds"
    assert main(["synth-corpus", str(out), "--clips", "3", "--seconds", "1.0", "--images", "--no-progress",
                 "--workers", "1", "--soundfont", str(tim), "--styles", "salsa,metal,ambient"]) == 0
    rows = read_dataset(out)
    assert [r["file_name"] for r in rows] == ["000000.png", "000001.png", "000002.png"]
    meta = rows_of(out)
    assert FIELDS <= set(meta[0]) and {r["style"] for r in meta} == {"salsa", "metal", "ambient"}
    assert not list(out.glob("*.wav"))
    image = Image.open(out / "000000.png")
    params, _ = SpectrogramParams.from_image(image)  # the format travels in EXIF
    assert image.height == 512 and params.num_frequencies == 512 and image.width > 90

    # the same pixels `sonogen audio-to-image` makes from the mono clip saved as a WAV
    from sonogen.audio.io import save_audio

    row = meta[0]
    wave, rate, _, _ = synth.render_clip(row["style"], row["seed"], 1.0, soundfont=tim, blend=row["blend"])
    save_audio(tmp_path / "mono.wav", wave.mean(axis=0, keepdims=True), rate)
    assert main(["audio-to-image", str(tmp_path / "mono.wav"), str(tmp_path / "mono.png")]) == 0
    expected = Image.open(tmp_path / "mono.png")
    assert np.array_equal(np.asarray(expected), np.asarray(image))
    assert dict(expected.getexif()) == dict(image.getexif())


@pytest.mark.soundfont
def test_styles_option_restricts_the_corpus(tmp_path: Path, tim: Path) -> None:
    out = tmp_path / "few"
    assert main(["synth-corpus", str(out), "--clips", "8", "--seconds", "0.3", "--no-progress", "--workers", "1",
                 "--soundfont", str(tim), "--styles", "techno, punk,rock", "--blend-fraction", "0.6"]) == 0
    rows = rows_of(out)
    assert {r["style"] for r in rows} == {"techno", "punk", "rock"}
    assert any(r["blend"] for r in rows)
    assert all(r["blend"] in ("techno", "punk", "rock") for r in rows if r["blend_kind"] == "style")


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, tim: Path) -> None:
    out = str(tmp_path / "o")
    cases = [
        (["--soundfont", str(tim), "--soundfont", str(tmp_path / "x.sf2")], "SoundFont not found"),
        (["--styles", "salsa,polkaa"], "unknown style 'polkaa'"),
        (["--styles", ","], "no styles given"),
    ]
    for extra, message in cases:
        capsys.readouterr()
        assert main(["synth-corpus", out, "--clips", "1", "--no-progress", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    monkeypatch.setenv(synth.SOUNDFONT_ENV, str(tmp_path / "gone.sf2"))
    assert main(["synth-corpus", out, "--clips", "1", "--no-progress"]) == 2
    assert "names a missing SoundFont" in capsys.readouterr().err
    for bad in (["--clips", "0"], ["--clips", "1", "--blend-fraction", "2"]):
        with pytest.raises(SystemExit) as exc:
            main(["synth-corpus", out, *bad])
        assert exc.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # nothing written for bad input


def test_missing_soundfont_names_the_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(synth, "SOUNDFONT_CANDIDATES", (str(tmp_path / "none.sf2"),))
    monkeypatch.setattr(synth, "CORPUS_SOUNDFONT_FILES", (str(tmp_path / "none.sf2"),))
    monkeypatch.setattr(synth, "bundled_soundfont", lambda: None)
    monkeypatch.delenv(synth.SOUNDFONT_ENV, raising=False)
    assert main(["synth-corpus", str(tmp_path / "o"), "--clips", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "timgm6mb-soundfont" in err and "pretty_midi" in err


def test_the_pip_dependency_provides_the_soundfont(monkeypatch: pytest.MonkeyPatch) -> None:
    """pretty_midi's wheel ships TimGM6mb: the README's install alone can render (no apt)."""
    monkeypatch.setattr(synth, "SOUNDFONT_CANDIDATES", ())
    monkeypatch.setattr(synth, "CORPUS_SOUNDFONT_FILES", ())
    monkeypatch.delenv(synth.SOUNDFONT_ENV, raising=False)
    font = synth.find_soundfont()
    assert font.name == "TimGM6mb.sf2" and "pretty_midi" in font.parts and font.stat().st_size > 5_000_000
    assert synth.corpus_soundfonts() == [font]
