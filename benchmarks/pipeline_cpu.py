"""Per-step and per-clip CPU time of the pipeline with the tiny random model.

Usage: python benchmarks/pipeline_cpu.py [--steps 10] [--repeats 3] [--threads 2]
Prints: UNet step time (512x512 image, CFG batch of 2), full clip time (steps +
VAE decode + phase reconstruction) and the split between diffusion and audio.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sonogen.pipeline.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline(0)
    pipe("warm up", num_inference_steps=1, width=args.width, progress=False)
    clip_times, audio_times = [], []
    for r in range(args.repeats):
        start = time.perf_counter()
        out = pipe("jazz piano", seed=r, num_inference_steps=args.steps, width=args.width, progress=False)
        clip_times.append(time.perf_counter() - start)
        t0 = time.perf_counter()
        pipe._to_audio(out.images[0], False)
        audio_times.append(time.perf_counter() - t0)
    short = []
    for r in range(args.repeats):
        start = time.perf_counter()
        pipe("jazz piano", seed=r, num_inference_steps=1, width=args.width, progress=False)
        short.append(time.perf_counter() - start)
    clip, one = min(clip_times), min(short)
    # PNDM with skip_prk runs steps + 1 UNet calls
    per_step = (clip - one) / (args.steps - 1) if args.steps > 1 else float("nan")
    print(f"tiny model, {args.width}x512 image, {args.threads} thread(s), best of {args.repeats}")
    print(f"per UNet step (CFG batch 2): {per_step * 1000:.1f} ms")
    print(f"per clip ({args.steps} steps, {pipe.spectrogram_params.seconds_for_width(args.width):.2f} s audio): {clip:.2f} s")
    print(f"  of which image -> audio: {min(audio_times):.2f} s")


if __name__ == "__main__":
    main()
