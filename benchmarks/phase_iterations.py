"""How many Griffin-Lim iterations the fast phase reconstruction needs, judged as a listener would.

Rendered held-out clips (their spectrogram images) are turned back into sound with the
format's fast reconstruction at several iteration counts, analysed again with the format's
STFT, and labelled by the style classifier of ``judge.py`` (fitted on other rendered clips
only). For each count: the share labelled as their own style, the Fréchet distance of the
round trips' style statistics to the fitting clips divided by that of further rendered
clips (same N), the mean grey-level error of the re-analysed image against the original,
and the median seconds of one reconstruction on ``--threads`` threads. The counts run
interleaved clip by clip, so that machine noise hits them alike::

    python benchmarks/phase_iterations.py --heldout ~/.cache/sonogen-v2/heldout --iterations 0 8 16 24 40

``--fft-factors 1 2`` also varies the iterations' FFT length (a multiple of the window
length, :class:`~sonogen.spectrogram.converter.ReconstructionSettings`): every count is
run at every factor.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge  # noqa: E402  (the benchmarks' shared features, classifier and data)
from vae_ceiling import _style_part, cached_features, heldout_bench  # noqa: E402


def image_mel(pixels: np.ndarray) -> torch.Tensor:
    """Mel magnitude ``(1, bands, frames)`` of grey pixels ``(bands, frames)`` read as a format image."""
    from PIL import Image

    from sonogen.spectrogram.image import image_to_spectrogram
    from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

    image = Image.fromarray(pixels).convert("RGB")
    return image_to_spectrogram(image, SpectrogramParams(num_frequencies=pixels.shape[0]), DEFAULT_MAX_VALUE)


def reconstruct(mel: torch.Tensor, n_iter: int, fft_factor: int = 2) -> tuple[np.ndarray, float]:
    """Peak-normalised waveform ``(1, samples)`` at the format's rate, and the seconds it took."""
    converter = _converter(fft_factor)
    start = time.perf_counter()
    wave = converter.waveform_from_spectrogram(mel, n_iter=n_iter).numpy()
    seconds = time.perf_counter() - start
    peak = float(np.abs(wave).max())
    return (wave * (0.98 / peak) if peak > 0 else wave), seconds


@functools.cache
def _converter(fft_factor: int) -> Any:
    """The format's converter with the default reconstruction but for ``fft_factor``."""
    from sonogen.spectrogram.converter import ReconstructionSettings, SpectrogramConverter

    return SpectrogramConverter(settings=ReconstructionSettings(fft_factor=fft_factor))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, required=True, help="held-out corpus folder (synth-corpus --images)")
    parser.add_argument("--iterations", type=int, nargs="+", default=[0, 8, 16, 24, 40])
    parser.add_argument("--fft-factors", type=int, nargs="+", default=[2],
                        help="FFT lengths of the iterations, in window lengths (2, the default)")
    parser.add_argument("--fit", type=int, default=25, help="rendered clips per style to fit the classifier (25)")
    parser.add_argument("--test", type=int, default=10, help="further rendered clips per style to test it (10)")
    parser.add_argument("--per-style", type=int, default=5, help="clips per style through reconstruction (5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument("--features-cache", type=Path, default=None, metavar="FILE",
                        help="keep the held-out clips' features in this .npz between runs")
    args = parser.parse_args(argv)
    if any(n < 0 for n in args.iterations):
        raise SystemExit("--iterations must be >= 0")
    if any(f < 1 for f in args.fft_factors):
        raise SystemExit("--fft-factors must be >= 1")
    variants = [(n, f) for f in args.fft_factors for n in args.iterations]
    torch.set_num_threads(args.threads)
    from sonogen.spectrogram.converter import get_converter

    rate = get_converter().params.sample_rate
    bench = heldout_bench(args.heldout, args.fit, args.test, args.per_style, cached_features(args.features_cache))
    held, clf, ids, truth = bench.held, bench.clf, bench.ids, bench.truth
    scale, z_fit, own, floor = bench.scale, bench.z_fit, bench.own, bench.floor
    print(f"{len(bench.styles)} styles, {len(ids)} clips; classifier own score on {len(bench.test)} further rendered "
          f"clips: {own:.1%}; FD rendered vs rendered: {floor:.2f}", flush=True)

    rows: dict[tuple[int, int], list[np.ndarray]] = {v: [] for v in variants}
    seconds: dict[tuple[int, int], list[float]] = {v: [] for v in variants}
    error: dict[tuple[int, int], list[float]] = {v: [] for v in variants}
    for i in ids:
        mel = image_mel(held["images"][i])
        for n, f in variants:
            wave, took = reconstruct(mel, n, f)
            pixels = judge.audio_pixels(wave, rate)[:, : held["images"][i].shape[1]]
            rows[n, f].append(judge.instrument_features(pixels))
            seconds[n, f].append(took)
            error[n, f].append(float(np.abs(pixels.astype(np.float64) - held["images"][i]).mean()))

    print(f"\n| Griffin-Lim iterations | FFT / window | own style | of own score | FD ratio | L1 grey | "
          f"seconds ({args.threads} threads) |")
    print("|---|---|---|---|---|---|---|")
    for n, f in variants:
        heard = np.stack(rows[n, f])
        top1 = judge.accuracy(clf.predict(heard), truth)
        ratio = judge.frechet_distance(_style_part(heard) / scale, z_fit) / floor
        print(f"| {n} | {f} | {top1:.1%} | {top1 / own:.0%} | {ratio:.2f} | {statistics.fmean(error[n, f]):.2f} | "
              f"{statistics.median(seconds[n, f]):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
