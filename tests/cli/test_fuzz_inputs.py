"""Property tests (hypothesis) for the files people hand over: random and truncated bytes as
images and audio, odd EXIF values, extreme sizes. The CLI either succeeds or gives one
line on stderr with exit 2: never a traceback, never exit 1 (an internal error), never a
partial output file. The API answers such uploads with a JSON 4xx.

Bounded: a few dozen examples per property, small images and clips.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from sonogen.audio.io import save_audio  # noqa: E402
from sonogen.cli import main  # noqa: E402
from sonogen.spectrogram.params import ExifTag, SpectrogramParams  # noqa: E402

SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def valid_png(width: int = 24, height: int = 64) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), mode="RGB")
    exif = image.getexif()
    for tag, value in SpectrogramParams(num_frequencies=height).to_exif_dict(30e6).items():
        exif[tag] = value
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif)
    return out.getvalue()


def valid_wav(seconds: float = 0.3) -> bytes:
    t = np.arange(int(22050 * seconds)) / 22050
    out = io.BytesIO()
    import soundfile as sf

    sf.write(out, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="WAV")
    return out.getvalue()


PNG, WAV = valid_png(), valid_wav()


def garbage(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, truncations of a valid file, and valid files with bytes flipped."""
    flips = st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)).map(
        lambda p: valid[: p[0]] + bytes([valid[p[0]] ^ p[1]]) + valid[p[0] + 1 :]
    )
    return st.one_of(st.binary(max_size=2048), st.integers(0, len(valid) - 1).map(lambda n: valid[:n]), flips)


def run_cli(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run ``main``; exit 0 with the output there, or exit 2 with one stderr line and no output."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.splitlines()) == 1 and err.startswith("sonogen: error:"), err
        assert not out.exists()
    else:
        assert out.is_file() and out.stat().st_size > 0
    leftovers = [p.name for p in out.parent.iterdir() if p.name not in ("in.png", "in.wav", out.name)]
    assert not leftovers, leftovers  # no temporary or partial file is left behind


@SETTINGS
@given(data=garbage(PNG))
def test_image_to_audio_on_damaged_images(data: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.wav"
        src.write_bytes(data)
        run_cli(["image-to-audio", str(src), str(out)], out, capsys)


@SETTINGS
@given(data=garbage(WAV))
def test_audio_to_image_on_damaged_audio(data: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.png"
        src.write_bytes(data)
        run_cli(["audio-to-image", str(src), str(out)], out, capsys)


ODD_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=12),
    st.sampled_from([0, -1, 1, 2**31 - 1]),
)


@SETTINGS
@given(tags=st.dictionaries(st.sampled_from([int(t) for t in ExifTag]), ODD_VALUES, min_size=1, max_size=4))
def test_image_to_audio_with_odd_exif(tags: dict[int, object], capsys: pytest.CaptureFixture[str]) -> None:
    image = Image.open(io.BytesIO(PNG))
    exif = image.getexif()
    for tag, value in tags.items():
        exif[tag] = value
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.wav"
        try:
            image.save(src, format="PNG", exif=exif)
        except (ValueError, TypeError, OverflowError, struct_error()):
            return  # PIL cannot even write such a tag: nothing to hand over
        run_cli(["image-to-audio", str(src), str(out)], out, capsys)


def struct_error() -> type[Exception]:
    import struct

    return struct.error


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(width=st.integers(1, 40), height=st.sampled_from([1, 2, 7, 63, 64, 513]))
def test_extreme_image_sizes(width: int, height: int, capsys: pytest.CaptureFixture[str]) -> None:
    image = Image.new("RGB", (width, height), (128, 128, 128))
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.wav"
        image.save(src)
        run_cli(["image-to-audio", str(src), str(out)], out, capsys)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(samples=st.integers(0, 64), rate=st.sampled_from([1, 8000, 44100, 384000]))
def test_extreme_audio_sizes(samples: int, rate: int, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.png"
        save_audio(src, np.zeros((1, samples), np.float32) + 0.1, rate)
        run_cli(["audio-to-image", str(src), str(out)], out, capsys)
