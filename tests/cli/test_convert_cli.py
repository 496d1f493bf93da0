"""The conversion commands end to end, through the real console entry point."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sonogen.audio.io import load_audio, save_audio
from sonogen.cli import main
from tests.conftest import chord, clicks


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sonogen.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.wav"
    save_audio(path, chord((220.0, 330.0), 1.0) + clicks(1.0) * 0.5, 44100)
    return path


def test_help_lists_the_subcommands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for name in ("audio-to-image", "image-to-audio", "info", "sample-clips", "audio-to-images"):
        assert name in out.stdout


def test_audio_to_image_to_audio_and_info(tmp_path, clip, capsys) -> None:
    image = tmp_path / "s.png"
    assert main(["audio-to-image", str(clip), str(image), "--max-frequency", "12000"]) == 0
    assert main(["info", str(image)]) == 0
    text = capsys.readouterr().out
    assert "max_frequency: 12000" in text and "exif_tags: 10 of 10" in text and "duration_s: 1.01" in text
    audio = tmp_path / "back.mp3"
    assert main(["image-to-audio", str(image), str(audio)]) == 0
    wave, rate = load_audio(audio)
    assert rate == 44100 and abs(wave.shape[1] - 44100) < 3000


def test_stereo_image_and_clip_window(tmp_path, clip) -> None:
    image = tmp_path / "s.png"
    assert main(["audio-to-image", str(clip), str(image), "--stereo", "--start", "0.5", "--seconds", "0.25"]) == 0
    from PIL import Image

    with Image.open(image) as im:
        assert im.size == (26, 512)
        assert np.asarray(im)[..., 0].max() == 0  # stereo: red plane empty


@pytest.mark.parametrize(
    "args, message",
    [
        (["audio-to-image", "{missing}", "{out}.png"], "not found"),
        (["audio-to-image", "{bad}", "{out}.png"], "cannot decode"),
        (["audio-to-image", "{clip}", "{out}.png", "--max-frequency", "99999"], "Nyquist"),
        (["audio-to-image", "{clip}", "{out}.bmpx"], "must end in"),
        (["image-to-audio", "{bad}", "{out}.wav"], "cannot read image"),
        (["image-to-audio", "{clip}", "{out}.wav"], "cannot read image"),
        (["info", "{missing}"], "not found"),
        (["sample-clips", "{clip}", "{out}", "--seconds", "9"], "shorter than"),
        (["sample-clips", "{clip}", "{out}", "--count", "-3"], "must be positive"),
        (["audio-to-images", "{missing}", "{out}"], "not a folder"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, clip, args, message) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage" * 10)
    subs = {"missing": str(tmp_path / "nope.wav"), "bad": str(bad), "clip": str(clip), "out": str(tmp_path / "out")}
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(*[a.format(**subs) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_sample_clips_count_and_hop(tmp_path, clip) -> None:
    out = tmp_path / "clips"
    assert main(["sample-clips", str(clip), str(out), "--count", "3", "--seconds", "0.5", "--images"]) == 0
    assert len(list(out.glob("*.wav"))) == 3 and len(list(out.glob("*.png"))) == 3
    out2 = tmp_path / "hop"
    assert main(["sample-clips", str(clip), str(out2), "--hop", "0.25", "--seconds", "0.5", "--format", "flac"]) == 0
    assert len(list(out2.glob("*.flac"))) == 3  # starts 0, 0.25, 0.5


def test_audio_to_images_batch_skips_bad_files_and_resumes(tmp_path, clip) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    save_audio(src / "a.wav", chord((300.0,), 0.5), 44100)
    save_audio(src / "sub" / "b.flac", clicks(0.5), 22050)
    (src / "broken.mp3").write_bytes(b"not audio")
    out = tmp_path / "out"
    first = run("audio-to-images", str(src), str(out), "--workers", "2")
    # any failed file makes the batch fail, after the summary of what was done
    assert first.returncode == 2, first.stderr
    assert (out / "a.png").exists() and (out / "sub" / "b.png").exists() and not (out / "broken.png").exists()
    assert "1 unreadable" in first.stdout and "broken.mp3" in first.stderr
    assert first.stderr.strip().splitlines()[-1] == "sonogen: error: 1 of 3 file(s) could not be converted"
    stamp = (out / "a.png").stat().st_mtime_ns
    second = run("audio-to-images", str(src), str(out))
    assert "skipped 2 already done" in second.stdout and second.returncode == 2
    assert (out / "a.png").stat().st_mtime_ns == stamp
    (src / "broken.mp3").unlink()
    third = run("audio-to-images", str(src), str(out))
    assert third.returncode == 0, third.stderr
    assert "0 unreadable" in third.stdout


def test_roundtrip_main_job_prints_quality(tmp_path) -> None:
    result = run("roundtrip", "--outdir", str(tmp_path / "demo"), "--seconds", "1.28")
    assert result.returncode == 0, result.stderr
    sc = float(result.stdout.strip().splitlines()[-1].split(":")[-1])
    assert 0 < sc < 0.12
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["demo.png", "demo.wav", "demo_roundtrip.wav"]


@pytest.mark.parametrize("argv", [["-v", "info", "x.png"], ["info", "x.png", "-v"], ["info", "--verbose", "x.png"]])
def test_verbose_before_or_after_the_command(argv: list[str]) -> None:
    from sonogen.cli import build_parser

    assert build_parser().parse_args(argv).verbose is True
    assert build_parser().parse_args(["info", "x.png"]).verbose is False


def test_sample_clips_shows_progress_unless_told_not_to(tmp_path, clip, capsys) -> None:
    assert main(["sample-clips", str(clip), str(tmp_path / "a"), "--seconds", "0.2", "--count", "3"]) == 0
    assert "sample-clips" in capsys.readouterr().err
    assert main(["sample-clips", str(clip), str(tmp_path / "b"), "--seconds", "0.2", "--count", "3",
                 "--no-progress"]) == 0
    assert "sample-clips" not in capsys.readouterr().err
    assert len(list((tmp_path / "b").iterdir())) == 3
