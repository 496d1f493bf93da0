import logging

import pytest
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, ExifTag, SpectrogramParams


def test_v1_sizes_follow_from_milliseconds() -> None:
    p = SpectrogramParams()
    assert (p.hop_length, p.win_length, p.n_fft) == (441, 4410, 17640)
    assert p.frames_for_samples(int(5.12 * 44100)) == 513
    assert p.seconds_for_width(512) == pytest.approx(5.12)
    assert p.width_for_seconds(5.12) == 512


def test_exif_round_trip_through_png(tmp_path) -> None:
    p = SpectrogramParams(stereo=True, min_frequency=20, max_frequency=20000, power_for_image=0.3)
    image = Image.new("RGB", (8, 512))
    path = tmp_path / "x.png"
    image.save(path, exif=p.to_exif(1234.5))
    with Image.open(path) as reloaded:
        got, peak = SpectrogramParams.from_image(reloaded)
    assert got == p
    assert peak == pytest.approx(1234.5)


def test_missing_tags_fall_back_to_defaults_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        got, peak = SpectrogramParams.from_image(Image.new("RGB", (4, 512)))
    assert got == SpectrogramParams()
    assert peak == DEFAULT_MAX_VALUE > 0
    assert "no spectrogram EXIF" in caplog.text


def test_partial_and_garbage_tags_use_defaults_for_those_only(caplog) -> None:
    exif = {int(ExifTag.MAX_FREQUENCY): 8000, int(ExifTag.SAMPLE_RATE): "not a number", int(ExifTag.MAX_VALUE): 0}
    with caplog.at_level(logging.WARNING):
        got, peak = SpectrogramParams.from_exif(exif)
    assert got.max_frequency == 8000
    assert got.sample_rate == 44100
    assert peak == DEFAULT_MAX_VALUE
    assert "sample_rate" in caplog.text and "max_value" in caplog.text


@pytest.mark.parametrize(
    "changes",
    [
        {"max_frequency": 30000},
        {"min_frequency": 500, "max_frequency": 400},
        {"num_frequencies": 0},
        {"power_for_image": 0.0},
        {"sample_rate": 10},
        {"window_duration_ms": 500},
    ],
)
def test_impossible_parameters_are_refused(changes) -> None:
    with pytest.raises(SonogenError):
        SpectrogramParams(**changes)
