from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.spectrogram.converter import SpectrogramConverter, working_rate
from sonogen.spectrogram.image import image_to_spectrogram
from sonogen.spectrogram.mel import filterbank_pinv, inverse_mel, mel_filterbank
from sonogen.spectrogram.metrics import spectral_convergence
from sonogen.spectrogram.params import SpectrogramParams
from sonogen.spectrogram.phase import griffin_lim, stft


def test_inverse_mel_is_non_negative_and_reproduces_the_mel() -> None:
    fb = mel_filterbank(4800, 512, 24000, 0, 10000)
    rng = torch.Generator().manual_seed(0)
    magnitude = torch.rand(1, 2401, 20, generator=rng)
    magnitude[:, 2001:] = 0  # above 10 kHz nothing is seen
    mel = fb.T @ magnitude
    for iterations in (0, 10):
        est = inverse_mel(mel, fb, filterbank_pinv(fb), iterations=iterations)
        assert est.min() >= 0
        assert float((fb.T @ est - mel).norm() / mel.norm()) < 0.05


def test_filterbank_pinv_is_the_pseudo_inverse_of_the_filterbank() -> None:
    """Computed through the cheaper tall SVD; the same matrix as ``pinv(fb.T)`` to round-off (rank-deficient v1 grid included)."""
    for fb in (mel_filterbank(4800, 512, 24000, 0, 10000), mel_filterbank(2048, 64, 22050, 20, 8000)):
        reference = torch.linalg.pinv(fb.T.double()).to(fb.dtype)
        ours = filterbank_pinv(fb)
        assert ours.shape == reference.shape and ours.dtype == fb.dtype and ours.is_contiguous()
        assert float((ours - reference).abs().max()) < 1e-6 * float(reference.abs().max())


def test_the_pseudo_inverse_is_kept_between_runs_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sonogen.spectrogram.mel as mel
    from sonogen.utils import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    fb = mel_filterbank(2048, 64, 22050, 20, 8000)
    first = mel.cached_pinv(fb)
    assert torch.equal(first, filterbank_pinv(fb))
    (kept,) = (tmp_path / "mel").iterdir()

    def no_svd(_: torch.Tensor) -> torch.Tensor:
        raise AssertionError("computed again")

    monkeypatch.setattr(mel, "filterbank_pinv", no_svd)
    assert torch.equal(mel.cached_pinv(fb), first)  # read back, not computed
    with pytest.raises(AssertionError, match="computed again"):  # another filterbank has its own file
        mel.cached_pinv(mel_filterbank(2048, 32, 22050, 20, 8000))
    monkeypatch.undo()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    data = bytearray(kept.read_bytes())
    data[-1] ^= 0x40  # one damaged value: the stored hash no longer matches, so it is computed again
    kept.write_bytes(bytes(data))
    assert torch.equal(mel.cached_pinv(fb), first)
    kept.write_bytes(b"not a safetensors file")
    assert torch.equal(mel.cached_pinv(fb), first)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "file"))  # a cache that cannot be written
    assert torch.equal(mel.cached_pinv(fb), first)


def test_the_fast_reconstruction_builds_no_full_size_filterbank() -> None:
    """A generated clip's decode (every cold start) needs only the reduced grid; analysis builds the rest on use."""
    converter = SpectrogramConverter(SpectrogramParams(num_frequencies=64))
    converter.waveform_from_spectrogram(torch.rand(1, 64, 40))
    assert "filterbank" not in vars(converter) and "_filterbank64" not in vars(converter)
    mel = converter.spectrogram_from_waveform(torch.zeros(1, 4410))
    assert mel.shape[:2] == (1, 64) and converter.filterbank.shape == (converter.params.n_fft // 2 + 1, 64)


def test_griffin_lim_recovers_a_consistent_magnitude() -> None:
    window = torch.hann_window(512)
    t = torch.arange(8192) / 8000.0
    wave = (torch.sin(2 * np.pi * 440 * t) + 0.5 * torch.sin(2 * np.pi * 1250 * t))[None]
    target = stft(wave, 1024, 128, window).abs()
    out = griffin_lim(target, 1024, 128, window, n_iter=30, length=wave.shape[-1], generator=torch.Generator().manual_seed(1))
    err = float((stft(out, 1024, 128, window).abs() - target).norm() / target.norm())
    assert err < 0.1


def test_working_rate_keeps_the_band_and_falls_back() -> None:
    assert working_rate(SpectrogramParams()) == 24000
    assert working_rate(SpectrogramParams(min_frequency=20, max_frequency=20000)) == 44100


def test_round_trip_quality_fast_no_worse_than_original(music) -> None:
    p = SpectrogramParams()
    converter = SpectrogramConverter(p)
    image = converter.audio_to_image(music, 44100)
    params, peak = SpectrogramParams.from_image(image)
    mel = image_to_spectrogram(image, params, peak)
    fast = converter.waveform_from_spectrogram(mel, method="fast")
    original = converter.waveform_from_spectrogram(mel, method="original", seed=0)
    assert fast.shape == original.shape == (1, (mel.shape[-1] - 1) * 441)
    sc_fast = spectral_convergence(mel, fast, converter)
    sc_orig = spectral_convergence(mel, original, converter)
    assert sc_fast < 0.12
    assert sc_fast <= sc_orig * 1.1


def test_image_to_audio_normalises_and_is_deterministic(music) -> None:
    c = SpectrogramConverter()
    image = c.audio_to_image(music, 44100)
    a, rate = c.image_to_audio(image)
    b, _ = c.image_to_audio(image)
    assert rate == 44100
    assert np.abs(a).max() == np.float32(0.98) or abs(float(np.abs(a).max()) - 0.98) < 1e-5
    np.testing.assert_array_equal(a, b)


def test_stereo_round_trip_keeps_channels_apart() -> None:
    from tests.conftest import noise_bursts, tone

    p = SpectrogramParams(stereo=True)
    c = SpectrogramConverter(p)
    wave = np.concatenate([tone(523.25, 0.8), 0.05 * noise_bursts(0.8)])
    out, _ = c.image_to_audio(c.audio_to_image(wave, 44100))
    assert out.shape[0] == 2
    assert np.sqrt(np.mean(out[0] ** 2)) > 3 * np.sqrt(np.mean(out[1] ** 2))


def test_phase_progress_is_shown_on_request_and_changes_nothing(capsys) -> None:
    converter = SpectrogramConverter(SpectrogramParams(num_frequencies=64))
    mel = torch.rand(1, 64, 40)
    quiet = converter.waveform_from_spectrogram(mel, n_iter=3)
    assert "phase" not in capsys.readouterr().err
    shown = converter.waveform_from_spectrogram(mel, n_iter=3, progress=True)
    assert "phase" in capsys.readouterr().err
    assert torch.equal(quiet, shown)
