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

    def best(steps: int, output_type: str) -> float:
        """Fastest of ``repeats`` clips; ``output_type="pil"`` stops before phase reconstruction."""
        times = []
        for r in range(args.repeats):
            start = time.perf_counter()
            pipe("jazz piano", seed=r, num_inference_steps=steps, width=args.width, progress=False,
                 output_type=output_type)
            times.append(time.perf_counter() - start)
        return min(times)

    clip, picture, one = best(args.steps, "audio"), best(args.steps, "pil"), best(1, "pil")
    # PNDM with skip_prk runs steps + 1 UNet calls
    per_step = (picture - one) / (args.steps - 1) if args.steps > 1 else float("nan")
    print(f"tiny model, {args.width}x512 image, {args.threads} thread(s), best of {args.repeats}")
    print(f"per UNet step (CFG batch 2): {per_step * 1000:.1f} ms")
    print(f"per clip ({args.steps} steps, {pipe.spectrogram_params.seconds_for_width(args.width):.2f} s audio): {clip:.2f} s")
    print(f"  of which image -> audio: {clip - picture:.2f} s")


if __name__ == "__main__":
    main()
