import numpy as np
import pytest

from sonogen.audio.io import encode_audio, load_audio, resample, save_audio
from sonogen.audio.ops import crossfade_join, cut_clip, normalize_loudness, normalize_peak, rms_dbfs
from sonogen.errors import SonogenError
from tests.conftest import noise_bursts, tone


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_save_and_load_every_format(tmp_path, ext) -> None:
    wave = np.concatenate([tone(440, 1.0, 44100), tone(660, 1.0, 44100)])
    path = tmp_path / f"x.{ext}"
    save_audio(path, wave, 44100)
    back, rate = load_audio(path)
    assert rate == 44100 and back.shape[0] == 2
    assert abs(back.shape[1] - wave.shape[1]) < 3000  # codecs pad a little
    spectrum = np.abs(np.fft.rfft(back[0, 4000:36000]))
    assert abs(np.argmax(spectrum) * 44100 / 32000 - 440) < 3
    assert [p.name for p in tmp_path.iterdir()] == [f"x.{ext}"]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def test_load_resamples_and_downmixes(tmp_path) -> None:
    wave = np.concatenate([tone(1000, 0.5, 22050), tone(1000, 0.5, 22050)])
    save_audio(tmp_path / "a.wav", wave, 22050)
    back, rate = load_audio(tmp_path / "a.wav", 44100, mono=True)
    assert rate == 44100 and back.shape == (1, 22050)


def test_resample_preserves_a_tone() -> None:
    out = resample(tone(1000, 1.0, 48000), 48000, 24000)
    assert out.shape == (1, 24000)
    assert abs(np.argmax(np.abs(np.fft.rfft(out[0]))) - 1000) <= 1


def test_corrupt_missing_and_empty_inputs_are_clear_errors(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(SonogenError, match="cannot decode"):
        load_audio(bad)
    with pytest.raises(SonogenError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(SonogenError, match="cannot decode"):
        load_audio(b"")
    with pytest.raises(SonogenError, match="unsupported audio extension"):
        save_audio(tmp_path / "x.xyz", tone(440, 0.1), 44100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav"]


def test_encode_audio_decodes_back() -> None:
    data = encode_audio(tone(440, 0.5), 44100, "mp3")
    back, rate = load_audio(data)
    assert rate == 44100 and back.shape[0] == 1 and back.shape[1] > 20000


def test_cut_clip_pads_past_the_end() -> None:
    wave = tone(440, 1.0)
    clip = cut_clip(wave, 44100, 0.75, 0.5)
    assert clip.shape == (1, 22050)
    np.testing.assert_array_equal(clip[:, :11025], wave[:, 33075:44100])
    assert not clip[:, 11025:].any()
    with pytest.raises(SonogenError):
        cut_clip(wave, 44100, -1, 1)


def test_equal_power_crossfade_has_no_gap_or_click() -> None:
    rate = 44100
    a = noise_bursts(1.0, rate, seed=1) * 0 + tone(220, 1.0, rate)
    b = tone(220, 1.0, rate)
    joined = crossfade_join([a, b], rate, fade_s=0.05)
    assert joined.shape[1] == a.shape[1] + b.shape[1] - int(0.05 * rate)
    # two uncorrelated noises: the fade keeps the level (equal power), no dip
    n1, n2 = (np.random.default_rng(s).standard_normal((1, rate)).astype(np.float32) * 0.2 for s in (1, 2))
    mix = crossfade_join([n1, n2], rate, fade_s=0.2)
    mid = mix[:, rate - int(0.2 * rate) : rate]
    assert abs(rms_dbfs(mid) - rms_dbfs(n1)) < 1.0
    # no click: the largest sample-to-sample jump stays that of the signals themselves
    assert np.abs(np.diff(joined[0])).max() <= np.abs(np.diff(a[0])).max() * 1.5


def test_normalisation() -> None:
    wave = tone(440, 0.5, amp=0.1)
    assert np.abs(normalize_peak(wave, 0.5)).max() == pytest.approx(0.5)
    loud = normalize_loudness(wave, -20.0)
    assert rms_dbfs(loud) == pytest.approx(-20.0, abs=0.01)
    limited = normalize_loudness(wave, -1.0, peak_limit=0.9)
    assert np.abs(limited).max() == pytest.approx(0.9, abs=1e-6)
    silent = np.zeros((1, 100), np.float32)
    assert not normalize_loudness(silent).any()
    with pytest.raises(SonogenError):
        normalize_peak(wave, 2.0)


def _current_umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask
