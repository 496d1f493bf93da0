"""Figures for the data and training tools (CPU).

* corpus: synthetic clips (5.12 s, 44.1 kHz stereo) composed, rendered and written per
  second on one core;
* dataset: spectrogram images (5.12 s windows, 512x512 v1 format) built per second with
  one worker, process start-up included;
* training: optimiser steps per second of the UNet stage on the CPU for (a) the test-size
  from-scratch model (sonogen/models/micro.json) on 64x64 crops of 64-band images,
  batch 4; (b) a full fine-tune of
  the pipeline's tiny SD-1.x checkpoint on 512x512 images, batch 1.

Usage: ``python benchmarks/data_train.py [--clips 16] [--steps 20]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def unet_steps_per_second(out: Path) -> float:
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    timed = [r for r in rows if r.get("stage") == "unet" and "time_s" in r]
    # from the first logged step to the last: excludes set-up and the first step's warm-up
    return (timed[-1]["step"] - timed[0]["step"]) / max(1e-9, timed[-1]["time_s"] - timed[0]["time_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from sonogen.data.dataset import BuildSettings, build_dataset
    from sonogen.data.synth import write_corpus
    from sonogen.train.config import CONFIGS, TrainConfig
    from sonogen.train.trainer import train

    with tempfile.TemporaryDirectory(prefix="sonogen-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        write_corpus(root / "corpus", args.clips, seed=0, workers=1, progress=False)
        corpus_s = time.perf_counter() - t
        print(f"corpus: {args.clips / corpus_s:.2f} clips/s on one core ({args.clips} clips of 5.12 s)")

        t = time.perf_counter()
        report = build_dataset(root / "corpus", root / "ds512", BuildSettings(), workers=1, progress=False)
        ds_s = time.perf_counter() - t
        print(f"dataset: {report.images / ds_s:.2f} images/s with one worker ({report.images} 512x512 images)")

        build_dataset(root / "corpus", root / "ds64", BuildSettings(params={"num_frequencies": 64}),
                      workers=1, progress=False)
        torch.set_num_threads(2)
        out = root / "scratch"
        train(TrainConfig(dataset=str(root / "ds64"), output=str(out), model_config=str(CONFIGS / "micro.json"),
                          max_steps=args.steps, batch_size=4, learning_rate=1e-3, resolution=64,
                          checkpoint_every=0, validation_steps=2, progress=False))
        print(f"training (test-size model from scratch, 64x64, batch 4): {unet_steps_per_second(out):.2f} steps/s")

        from sonogen.pipeline.tiny import save_tiny_checkpoint

        base = save_tiny_checkpoint(root / "tiny")
        out = root / "full"
        train(TrainConfig(dataset=str(root / "ds512"), output=str(out), checkpoint=str(base),
                          max_steps=max(4, args.steps // 2), batch_size=1, learning_rate=1e-4,
                          checkpoint_every=0, validation_steps=2, progress=False))
        print(f"training (tiny SD-1.x checkpoint, full fine-tune, 512x512, batch 1): "
              f"{unet_steps_per_second(out):.2f} steps/s")


if __name__ == "__main__":
    main()
