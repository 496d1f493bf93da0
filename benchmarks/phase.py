"""Phase reconstruction: sonogen's fast method against the original recipe, same clips, one run.

For each clip: audio -> v1 spectrogram image -> mel (as decoded from the image) ->
waveform by both methods, interleaved so that machine noise hits both alike. Prints
per-method median seconds per 5.12 s clip, mean mel-domain spectral convergence
(``||M - c*mel(y)|| / ||M||`` with the best scale ``c``, measured with the format's own
17640-point STFT), and the speed-up.

    python benchmarks/phase.py                       # 6 synthesised clips, CPU
    python benchmarks/phase.py --audio-dir corpus/   # plus 5.12 s clips cut from files
    python benchmarks/phase.py --device cuda         # on a GPU, when there is one
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sonogen.audio.demo import demo_clip
from sonogen.audio.io import AUDIO_EXTENSIONS, load_audio
from sonogen.audio.ops import cut_clip
from sonogen.spectrogram.converter import SpectrogramConverter
from sonogen.spectrogram.image import image_to_spectrogram
from sonogen.spectrogram.metrics import spectral_convergence
from sonogen.spectrogram.params import SpectrogramParams


def clips_from(args: argparse.Namespace, rate: int) -> list[tuple[str, np.ndarray]]:
    clips = [(f"demo-{i}", demo_clip(seed=i)) for i in range(args.demo_clips)]
    if args.audio_dir:
        files = sorted(p for p in Path(args.audio_dir).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        for path in files[: args.max_files]:
            wave, _ = load_audio(path, rate)
            if wave.shape[1] >= int(5.12 * rate):
                clips.append((path.name, cut_clip(wave, rate, 0.0, 5.12)))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo-clips", type=int, default=6)
    parser.add_argument("--audio-dir", default=None)
    parser.add_argument("--max-files", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stereo", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = SpectrogramParams(stereo=args.stereo)
    reference = SpectrogramConverter(params)  # measures SC on the CPU with the format's own STFT
    converter = SpectrogramConverter(params, device=args.device)
    mels = []
    for name, clip in clips_from(args, params.sample_rate):
        image = reference.audio_to_image(clip, params.sample_rate)
        decoded, peak = SpectrogramParams.from_image(image)
        mels.append((name, image_to_spectrogram(image, decoded, peak)))
    methods = ("original", "fast")
    for method in methods:  # warm caches (filterbanks, FFT plans)
        converter.waveform_from_spectrogram(mels[0][1][..., :64], method=method)
    times: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    scs: dict[str, list[float]] = {m: [] for m in methods}
    for name, mel in mels:
        row = [name]
        for method in methods:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start, start_cpu = time.perf_counter(), time.process_time()
            wave = converter.waveform_from_spectrogram(mel, method=method)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[method].append(time.perf_counter() - start)
            cpu[method].append(time.process_time() - start_cpu)
            scs[method].append(spectral_convergence(mel, wave, reference))
            row.append(f"{method} {times[method][-1]:.2f}s SC {scs[method][-1]:.4f}")
        print("  ".join(row), flush=True)
    print()
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {args.threads}, device {args.device}, clips {len(mels)}, stereo {args.stereo}")
    print("| method | median wall s / clip | median CPU s / clip | mean SC | max SC | speed-up (wall) | speed-up (CPU) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base, base_cpu = statistics.median(times["original"]), statistics.median(cpu["original"])
    for method in methods:
        med, med_cpu = statistics.median(times[method]), statistics.median(cpu[method])
        print(
            f"| {method} | {med:.3f} | {med_cpu:.3f} | {statistics.mean(scs[method]):.4f} | {max(scs[method]):.4f} "
            f"| {base / med:.1f}x | {base_cpu / med_cpu:.1f}x |"
        )


if __name__ == "__main__":
    main()
