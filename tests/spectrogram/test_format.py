"""Agreement with an independent float64 computation of the spec's formulas."""

import numpy as np
import pytest
import torch

from sonogen.spectrogram.converter import SpectrogramConverter
from sonogen.spectrogram.image import image_to_spectrogram, spectrogram_to_image
from sonogen.spectrogram.mel import mel_filterbank
from sonogen.spectrogram.params import SpectrogramParams
from tests.conftest import chord, clicks, noise_bursts, tone


def reference_filterbank(n_fft: int, n_mels: int, rate: int, f_min: float, f_max: float) -> np.ndarray:
    """The spec's triangle formula, written out band by band in float64."""
    freqs = np.linspace(0, rate // 2, n_fft // 2 + 1)
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2))
    fb = np.zeros((freqs.size, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        fb[:, m] = np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return fb


def reference_image_pixels(wave: np.ndarray, p: SpectrogramParams) -> np.ndarray:
    """Grey image (bands, frames) via numpy framing + rfft in float64, flipped."""
    x = wave.astype(np.float64) * 32768.0
    if not p.stereo:
        x = x.mean(axis=0, keepdims=True)
    pad = p.n_fft // 2
    window = np.zeros(p.n_fft)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(p.win_length) / p.win_length)  # periodic
    start = (p.n_fft - p.win_length) // 2
    window[start : start + p.win_length] = hann
    fb = reference_filterbank(p.n_fft, p.num_frequencies, p.sample_rate, p.min_frequency, p.max_frequency)
    mels = []
    for channel in x:
        padded = np.pad(channel, pad, mode="reflect")
        frames = 1 + channel.size // p.hop_length
        mag = np.stack(
            [np.abs(np.fft.rfft(padded[i * p.hop_length : i * p.hop_length + p.n_fft] * window)) for i in range(frames)],
            axis=1,
        )
        mels.append(fb.T @ mag)
    mel = np.stack(mels)
    grey = 255 - (np.power(mel / mel.max(), p.power_for_image) * 255)
    return grey.astype(np.uint8)[:, ::-1, :]


def test_filterbank_matches_the_spec_formula() -> None:
    p = SpectrogramParams()
    ours = mel_filterbank(p.n_fft, 512, 44100, 0, 10000, dtype=torch.float64).numpy()
    assert ours.shape == (8821, 512)
    np.testing.assert_allclose(ours, reference_filterbank(p.n_fft, 512, 44100, 0, 10000), atol=1e-12)


@pytest.mark.parametrize("make", [lambda: chord((261.6, 329.6, 392.0), 0.6), lambda: clicks(0.6), lambda: noise_bursts(0.6)])
def test_mono_image_within_one_grey_level_of_reference(make) -> None:
    p = SpectrogramParams()
    wave = make()
    image = SpectrogramConverter(p).audio_to_image(wave, 44100)
    ours = np.asarray(image).astype(int)
    assert ours.shape == (512, 1 + wave.shape[1] // 441, 3)
    assert (ours[..., 0] == ours[..., 1]).all() and (ours[..., 1] == ours[..., 2]).all()
    ref = reference_image_pixels(wave, p)[0].astype(int)
    assert np.abs(ours[..., 0] - ref).max() <= 1


def test_stereo_packs_left_green_right_blue_and_zero_red() -> None:
    p = SpectrogramParams(stereo=True, min_frequency=20, max_frequency=20000)
    wave = np.concatenate([tone(440, 0.5), noise_bursts(0.5)])
    image = SpectrogramConverter(p).audio_to_image(wave, 44100)
    rgb = np.asarray(image).astype(int)
    ref = reference_image_pixels(wave, p).astype(int)
    assert (rgb[..., 0] == 0).all()
    assert np.abs(rgb[..., 1] - ref[0]).max() <= 1
    assert np.abs(rgb[..., 2] - ref[1]).max() <= 1
    back = image_to_spectrogram(image, p, 1.0)
    assert back.shape == (2, 512, rgb.shape[1])


def test_mono_format_averages_two_channels() -> None:
    c = SpectrogramConverter()
    left, right = tone(440, 0.3), tone(660, 0.3)
    both = c.spectrogram_from_waveform(torch.from_numpy(np.concatenate([left, right])))
    avg = c.spectrogram_from_waveform(torch.from_numpy((left + right) / 2))
    torch.testing.assert_close(both, avg)


def test_batch_equals_per_item() -> None:
    p = SpectrogramParams(stereo=True)
    c = SpectrogramConverter(p)
    wave = torch.from_numpy(np.concatenate([chord((220.0, 277.2), 0.4), clicks(0.4)]))
    batched = c.spectrogram_from_waveform(wave)
    mono = SpectrogramConverter(SpectrogramParams())
    for i in range(2):
        torch.testing.assert_close(batched[i], mono.spectrogram_from_waveform(wave[i : i + 1])[0])
    recon = c.waveform_from_spectrogram(batched, n_iter=4)
    for i in range(2):
        single = c.waveform_from_spectrogram(batched[i : i + 1], n_iter=4)[0]
        # equal up to float rounding, which the iterations' phase projections amplify where a
        # bin's magnitude is near zero (FFTs of other batch sizes round differently on some CPUs)
        assert float((recon[i] - single).norm() / single.norm()) < 1e-3
        assert float((recon[i] - single).abs().max()) < 1e-3 * float(single.abs().max())


def test_image_mapping_is_stable_through_a_second_pass() -> None:
    p = SpectrogramParams()
    mel = SpectrogramConverter(p).spectrogram_from_waveform(torch.from_numpy(chord((300.0, 450.0), 0.3)))
    image = spectrogram_to_image(mel, p)
    again = spectrogram_to_image(image_to_spectrogram(image, p, float(mel.max())), p)
    diff = np.abs(np.asarray(image).astype(int) - np.asarray(again).astype(int))
    assert diff.max() <= 1
