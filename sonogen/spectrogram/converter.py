"""The audio <-> spectrogram <-> image converter, with cached windows and filterbanks."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from sonogen.audio.io import resample
from sonogen.errors import SonogenError
from sonogen.spectrogram.image import image_to_spectrogram, spectrogram_to_image
from sonogen.spectrogram.mel import cached_pinv, inverse_mel, mel_filterbank
from sonogen.spectrogram.params import SpectrogramParams
from sonogen.spectrogram.phase import griffin_lim, pghi_phase, random_phase, stft

#: Audio is scaled as 16-bit integers before the STFT, as the original tool did.
INT16_SCALE = 32768.0

Method = Literal["fast", "original"]


@dataclass(frozen=True)
class ReconstructionSettings:
    """How :meth:`SpectrogramConverter.waveform_from_spectrogram` recovers phase.

    Attributes:
        n_iter: fast Griffin-Lim iterations after the phase-gradient start.
        momentum: FGLA momentum.
        fft_factor: FFT length of the iterations as a multiple of the window length
            (2 = 200 ms frames for the 100 ms window, half the format's 400 ms). At 1 the
            bins are too coarse for the narrow low mel bands and the mel inverse breaks down.
        reduce_rate: run the iterations at a lower sample rate that still holds the
            format's ``max_frequency`` (24 kHz for v1), then resample up.
        nnls_iterations: multiplicative refinement steps of the mel inverse.
        init: initial phase, ``"pghi"`` (phase-gradient estimate) or ``"random"``.
    """

    n_iter: int = 16
    momentum: float = 0.99
    fft_factor: int = 2
    reduce_rate: bool = True
    nnls_iterations: int = 0
    init: str = "pghi"


class SpectrogramConverter:
    """Converts between audio, mel spectrograms and spectrogram images for one format.

    Holds the window, filterbanks and their inverses on ``device`` so repeated calls
    pay only for the transforms. Waveforms are float tensors in [-1, 1] of shape
    ``(channels, samples)`` at ``params.sample_rate``; mel spectrograms are
    ``(channels, num_frequencies, frames)``.
    """

    def __init__(
        self,
        params: SpectrogramParams | None = None,
        device: str | torch.device | None = None,
        settings: ReconstructionSettings | None = None,
    ) -> None:
        self.params = params or SpectrogramParams()
        self.device = torch.device(device or "cpu")
        self.settings = settings or ReconstructionSettings()
        self.window = torch.hann_window(self.params.win_length, periodic=True, device=self.device)
        self._grids: dict[tuple[int, int], _Grid] = {}

    # the format's full-size filterbanks are built on first use: the fast reconstruction
    # (every generated clip) needs only its reduced grid's, so a fresh process skips them
    @functools.cached_property
    def filterbank(self) -> torch.Tensor:
        """The format's mel filterbank, ``(n_fft // 2 + 1, bands)`` float32."""
        p = self.params
        return mel_filterbank(p.n_fft, p.num_frequencies, p.sample_rate, p.min_frequency, p.max_frequency,
                              device=self.device)

    @functools.cached_property
    def _window64(self) -> torch.Tensor:
        return torch.hann_window(self.params.win_length, periodic=True, dtype=torch.float64, device=self.device)

    @functools.cached_property
    def _filterbank64(self) -> torch.Tensor:
        p = self.params
        return mel_filterbank(p.n_fft, p.num_frequencies, p.sample_rate, p.min_frequency, p.max_frequency,
                              dtype=torch.float64, device=self.device)

    @functools.cached_property
    def _filterbank64_entries(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The float64 filterbank's non-zero entries ``(bins, bands, weights)``, each ``(nnz,)``.

        Each mel band is a triangle over a few FFT bins, so about 8,000 of the 4.5 million
        entries are non-zero: summing those alone gives the product of the full matrix
        (to round-off) in a fraction of the time.
        """
        bins, bands = torch.nonzero(self._filterbank64, as_tuple=True)
        return bins, bands, self._filterbank64[bins, bands]

    # ------------------------------------------------------------------ analysis
    def spectrogram_from_waveform(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel magnitude of ``waveform``.

        Args:
            waveform: ``(channels, samples)`` floats in [-1, 1] at the format's rate;
                for a mono format several channels are averaged first.

        Returns:
            ``(channels, bands, frames)`` float32, frames = 1 + samples // hop.
        """
        p = self.params
        wave = self._prepare_channels(torch.as_tensor(waveform, dtype=torch.float32).to(self.device))
        if wave.shape[-1] < 2:
            raise SonogenError("audio is too short to make a spectrogram (fewer than 2 samples)")
        if wave.shape[-1] <= p.n_fft // 2:
            wave = torch.nn.functional.pad(wave, (0, p.n_fft // 2 + 1 - wave.shape[-1]))
        # float64: quiet bands sit near float32's round-off floor, and the contrast curve
        # (power 0.25) magnifies it into grey levels
        spectrum = stft(wave.double() * INT16_SCALE, p.n_fft, p.hop_length, self._window64)  # (C, bins, frames)
        bins, bands, weights = self._filterbank64_entries
        used = int(bins.max()) + 1  # no band reaches above this bin (max_frequency)
        magnitude = spectrum[:, :used].abs()
        mel = magnitude.new_zeros(magnitude.shape[0], p.num_frequencies, magnitude.shape[-1])
        mel.index_add_(1, bands, magnitude[:, bins] * weights[:, None])  # the filterbank product, sparsely
        return mel.float()  # (C, bands, frames)

    def _prepare_channels(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2 or wave.shape[0] < 1:
            raise SonogenError(f"expected a waveform of shape (channels, samples), got {tuple(wave.shape)}")
        if not self.params.stereo:
            return wave.mean(dim=0, keepdim=True)
        if wave.shape[0] == 1:
            return wave.expand(2, -1).contiguous()
        return wave[:2]

    # ------------------------------------------------------------------ synthesis
    def waveform_from_spectrogram(
        self,
        mel: torch.Tensor,
        *,
        method: Method = "fast",
        seed: int = 0,
        n_iter: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """Waveform whose mel spectrogram approximates ``mel`` (not normalised).

        Args:
            mel: ``(channels, bands, frames)`` mel magnitude.
            method: ``"fast"`` (phase-gradient start, reduced rate and FFT) or
                ``"original"`` (the Riffusion tool's recipe: least-squares inverse and 32
                fast Griffin-Lim iterations from random phase on the full STFT).
            seed: seed of the random phase used by ``"original"``.
            n_iter: override the number of Griffin-Lim iterations.
            progress: show a progress bar over the iterations (worth it for long pieces).

        Returns:
            ``(channels, (frames - 1) * hop)`` float32 waveform at the format's rate.
        """
        mel = torch.as_tensor(mel, dtype=torch.float32).to(self.device)
        if mel.ndim != 3 or mel.shape[1] != self.params.num_frequencies:
            raise SonogenError(
                f"expected a mel spectrogram of shape (channels, {self.params.num_frequencies}, frames), "
                f"got {tuple(mel.shape)}"
            )
        if method == "original":
            return self._reconstruct_original(mel, seed, 32 if n_iter is None else n_iter, progress)
        if method != "fast":
            raise SonogenError(f"unknown reconstruction method {method!r}; use 'fast' or 'original'")
        return self._reconstruct_fast(mel, self.settings.n_iter if n_iter is None else n_iter, progress)

    def _reconstruct_original(self, mel: torch.Tensor, seed: int, n_iter: int, progress: bool = False) -> torch.Tensor:
        p = self.params
        # least-squares mel inverse, clipped at zero (torchaudio InverseMelScale's recipe)
        fb_t = self.filterbank.T.expand(mel.shape[0], -1, -1)
        magnitude = torch.relu(torch.linalg.lstsq(fb_t, mel, driver="gels").solution)
        generator = torch.Generator().manual_seed(seed)
        return griffin_lim(
            magnitude, p.n_fft, p.hop_length, self.window, n_iter=n_iter, momentum=0.99, generator=generator,
            progress=progress,
        )

    def _reconstruct_fast(self, mel: torch.Tensor, n_iter: int, progress: bool = False) -> torch.Tensor:
        p = self.params
        grid = self._grid()
        magnitude = inverse_mel(mel, grid.filterbank, grid.pinv, iterations=self.settings.nnls_iterations)
        if self.settings.init == "pghi":
            init = pghi_phase(magnitude, grid.n_fft, grid.hop, grid.window.shape[-1])
        else:
            init = random_phase(magnitude.shape, torch.Generator().manual_seed(0), magnitude.device)
        frames = mel.shape[-1]
        wave = griffin_lim(
            magnitude,
            grid.n_fft,
            grid.hop,
            grid.window,
            n_iter=n_iter,
            momentum=self.settings.momentum,
            init=init,
            length=(frames - 1) * grid.hop,
            progress=progress,
        )
        if grid.rate == p.sample_rate:
            return wave
        return resample_tensor(wave, grid.rate, p.sample_rate, (frames - 1) * p.hop_length)

    def _grid(self) -> _Grid:
        p, s = self.params, self.settings
        rate = working_rate(p) if s.reduce_rate else p.sample_rate
        key = (rate, s.fft_factor)
        if key not in self._grids:
            hop = round(p.step_size_ms * rate / 1000)
            win = round(p.window_duration_ms * rate / 1000)
            n_fft = min(win * s.fft_factor, max(p.n_fft * rate // p.sample_rate, win))
            fb = mel_filterbank(n_fft, p.num_frequencies, rate, p.min_frequency, p.max_frequency, device=self.device)
            window = torch.hann_window(win, periodic=True, device=self.device)
            self._grids[key] = _Grid(rate, hop, n_fft, window, fb, cached_pinv(fb))
        return self._grids[key]

    # ------------------------------------------------------------------ images
    def audio_to_image(self, waveform: np.ndarray | torch.Tensor, sample_rate: int) -> Image.Image:
        """Spectrogram image (with EXIF) of ``waveform`` ``(channels, samples)`` at ``sample_rate``."""
        wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform)
        if sample_rate != self.params.sample_rate:
            wave = resample_tensor(wave.float(), sample_rate, self.params.sample_rate)
        return spectrogram_to_image(self.spectrogram_from_waveform(wave), self.params)

    def image_to_audio(
        self, image: Image.Image, *, method: Method = "fast", normalize: bool = True, progress: bool = False
    ) -> tuple[np.ndarray, int]:
        """Waveform ``(channels, samples)`` float32 and its rate, from a spectrogram image.

        The image's EXIF parameters are used when present; images without them (as the
        model draws them) fall back to this converter's parameters with a warning.
        """
        params, max_value = SpectrogramParams.from_image(image)
        converter = self if _same_format(params, self.params) else get_converter(params, self.device)
        mel = image_to_spectrogram(image, converter.params, max_value)
        wave = converter.waveform_from_spectrogram(mel, method=method, progress=progress)
        out = wave.detach().cpu().numpy().astype(np.float32)
        if normalize:
            peak = float(np.abs(out).max()) if out.size else 0.0
            if peak > 0:
                out = out * (0.98 / peak)
        return out, params.sample_rate


@dataclass(frozen=True)
class _Grid:
    """The reduced-rate STFT grid the fast reconstruction iterates on."""

    rate: int
    hop: int
    n_fft: int
    window: torch.Tensor
    filterbank: torch.Tensor
    pinv: torch.Tensor


def working_rate(params: SpectrogramParams) -> int:
    """Lowest convenient sample rate (Hz) that keeps ``max_frequency`` with margin.

    A whole number of kHz at least 2.4 x ``max_frequency`` (24 kHz for v1) whose hop and
    window are whole samples; the format's own rate when that is not lower.
    """
    rate = int(math.ceil(2.4 * params.max_frequency / 1000.0)) * 1000
    if rate >= params.sample_rate:
        return params.sample_rate
    if (rate * params.step_size_ms) % 1000 or (rate * params.window_duration_ms) % 1000:
        return params.sample_rate
    return rate


def _same_format(a: SpectrogramParams, b: SpectrogramParams) -> bool:
    return a == b


def resample_tensor(wave: torch.Tensor, rate_in: int, rate_out: int, length: int | None = None) -> torch.Tensor:
    """Band-limited resampling of ``(channels, samples)`` with soxr (VHQ).

    Runs on the CPU and returns a tensor on ``wave``'s device, trimmed or zero-padded
    to ``length`` samples when given.
    """
    out = torch.from_numpy(resample(wave.detach().cpu().numpy(), rate_in, rate_out)).to(wave.device)
    if length is not None:
        if out.shape[-1] >= length:
            out = out[..., :length]
        else:
            out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
    return out


_CACHE: dict[tuple[SpectrogramParams, str], SpectrogramConverter] = {}


def get_converter(params: SpectrogramParams | None = None, device: str | torch.device | None = None) -> SpectrogramConverter:
    """A shared converter for ``params`` on ``device`` (built once, then cached)."""
    params = params or SpectrogramParams()
    key = (params, str(torch.device(device or "cpu")))
    if key not in _CACHE:
        _CACHE[key] = SpectrogramConverter(params, device)
    return _CACHE[key]
