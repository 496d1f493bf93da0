"""build-dataset: captions, windows, silence, stereo, resume and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sonogen.audio.io import save_audio
from sonogen.cli import main
from sonogen.data.dataset import read_captions, read_dataset, window_starts
from tests.conftest import chord, noise_bursts

FAST = ["--num-frequencies", "64", "--seconds", "1.28", "--workers", "1", "--no-progress"]


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    root = tmp_path / "audio"
    (root / "sub").mkdir(parents=True)
    save_audio(root / "a.wav", chord((220.0, 277.0, 330.0), 3.0), 44100)  # 2 windows of 1.28 s
    (root / "a.txt").write_text("  warm   chord\n")
    stereo = np.concatenate([noise_bursts(2.0, 22050), noise_bursts(2.0, 22050, seed=1)])
    save_audio(root / "sub" / "b.flac", stereo, 22050)  # another rate, stereo, in a subfolder
    silent = np.zeros((1, 44100 * 3), np.float32)
    silent[0, 44100 * 2:] = chord((440.0,), 1.0)[0]
    save_audio(root / "c.wav", silent, 44100)  # first window silent
    save_audio(root / "nocap.wav", chord((110.0,), 2.0), 44100)
    (root / "broken.wav").write_bytes(b"RIFF not really audio")
    (root / "metadata.jsonl").write_text(
        json.dumps({"file_name": "sub/b.flac", "text": "noise bursts"}) + "\n"
        + json.dumps({"file_name": "c.wav", "text": "a late tone"}) + "\n"
        + json.dumps({"file_name": "broken.wav", "text": "nothing"}) + "\n"
    )
    return root


def test_build_dataset_layout_and_report(audio_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert main(["build-dataset", str(audio_dir), str(out), *FAST]) == 0
    captured = capsys.readouterr()
    rows = rows_of(out)
    by_source: dict[str, list[dict]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
        assert set(r) >= {"file_name", "text"} and "/" not in r["file_name"]
        image = Image.open(out / r["file_name"])
        assert image.size == (128, 64)  # 1.28 s = 128 columns, 64 mel bands
        exif = image.getexif()
        assert exif[11040] == 64 and exif[11000] == 44100
    assert [r["text"] for r in by_source["a.wav"]] == ["warm chord", "warm chord"]
    assert [r["start"] for r in by_source["a.wav"]] == [0.0, 1.28]
    assert len(by_source["sub/b.flac"]) == 1
    assert [r["start"] for r in by_source["c.wav"]] == [1.28]  # the silent first window is dropped
    assert "nocap.wav" not in by_source and "broken.wav" not in by_source
    report = json.loads((out / "report.json").read_text())
    assert report["skipped"]["nocap.wav"] == "no caption"
    assert "cannot decode" in report["skipped"]["broken.wav"]
    assert report["silent_windows"] == 1
    assert "skipped broken.wav" in captured.err and "skipped nocap.wav" in captured.err
    assert read_dataset(out)[0]["path"].endswith(".png")

    # resume: nothing is redone, the same metadata comes out
    before = (out / "metadata.jsonl").read_bytes()
    assert main(["build-dataset", str(audio_dir), str(out), *FAST]) == 0
    assert "3 resumed" in capsys.readouterr().out
    assert (out / "metadata.jsonl").read_bytes() == before
    # other settings into the same folder are refused
    assert main(["build-dataset", str(audio_dir), str(out), *FAST, "--overlap", "0.5"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_overlap_stereo_and_csv(tmp_path: Path) -> None:
    root = tmp_path / "audio"
    root.mkdir()
    stereo = np.concatenate([chord((220.0,), 2.56, 48000), chord((330.0,), 2.56, 48000)])
    save_audio(root / "s.wav", stereo, 48000)
    (root / "metadata.csv").write_text('file_name,text\ns.wav,"two tones, wide"\n')
    out = tmp_path / "ds"
    assert main(["build-dataset", str(root), str(out), *FAST, "--overlap", "0.5", "--stereo", "--workers", "2"]) == 0
    rows = rows_of(out)
    assert [r["start"] for r in rows] == [0.0, 0.64, 1.28]
    assert rows[0]["text"] == "two tones, wide"
    pixels = np.asarray(Image.open(out / rows[0]["file_name"]))
    assert pixels[..., 0].max() == 0 and pixels[..., 1].min() < 255  # stereo packing: R empty, G/B drawn


def test_window_starts() -> None:
    assert window_starts(300, 100, 1.0, 0.0, 0.5) == [0, 100, 200]
    assert window_starts(300, 100, 1.0, 0.5, 0.5) == [0, 50, 100, 150, 200]
    assert window_starts(60, 100, 1.0, 0.0, 0.5) == [0]  # padded
    assert window_starts(40, 100, 1.0, 0.0, 0.5) == []


def test_sidecar_wins_over_metadata(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"")
    (tmp_path / "x.txt").write_text("sidecar")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "x.wav", "text": "table"}\n')
    assert read_captions(tmp_path, [tmp_path / "x.wav"]) == {tmp_path / "x.wav": "sidecar"}


@pytest.mark.parametrize(
    "setup, message",
    [
        ("empty", "no audio files"),
        ("missing", "not found"),
        ("uncaptioned", "has a caption"),
        ("bad_jsonl", "not valid JSON"),
        ("bad_csv", "'file_name' and 'text'"),
        ("all_broken", "no images were made"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(setup: str, message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "audio"
    if setup != "missing":
        root.mkdir()
    if setup in ("uncaptioned", "bad_jsonl", "bad_csv"):
        save_audio(root / "a.wav", chord((220.0,), 1.0), 44100)
    if setup == "bad_jsonl":
        (root / "metadata.jsonl").write_text("{oops\n")
    if setup == "bad_csv":
        (root / "metadata.csv").write_text("name,caption\na.wav,x\n")
    if setup == "all_broken":
        (root / "a.wav").write_bytes(b"garbage")
        (root / "a.txt").write_text("caption")
    out = tmp_path / "ds"
    assert main(["build-dataset", str(root), str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sonogen: error:") and message in err
    assert not (out / "metadata.jsonl").exists()
