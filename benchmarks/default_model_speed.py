"""Speed of the embedded default model on the CPU: prompt to MP3, warm and cold.

* **warm**: one process, torch on ``--threads`` threads, the model loaded once and one
  clip generated to warm up; then ``--repeats`` clips of 5.12 s, each timed from the
  prompt to MP3 bytes on disk (text encoding, every UNet step with guidance, VAE decode,
  phase reconstruction, MP3 encoding), at the model's default sampling settings. The
  phase reconstruction and the MP3 encoding are also timed alone on the last clip.
* **cold**: ``sonogen generate PROMPT -o OUT.mp3`` as a new process (imports, model
  load, one clip, writing the file), ``--repeats`` times, alternating between the
  diffusers-free path that ``generate`` takes for the packaged model (:mod:`sonogen.lite`)
  and the full diffusers pipeline (``SONOGEN_LITE=0``), so both are measured in the
  same minutes of a noisy machine, and a third time on the lite path with an empty cache
  folder (``SONOGEN_CACHE``), as a first run after installing finds it. The warm figure is
  also taken on the lite path.

``--scheduler few-step`` measures a model folder's few-step path instead (its ``few_step/``
adapter and sampling settings) on all three figures; ``--plain-memory`` loads the warm full
pipeline without channels-last memory (the CPU default is with), for an A/B of that option.

Run it on a quiet machine::

    python benchmarks/default_model_speed.py --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP_SECONDS = 5.12
PROMPT = "a fast drum beat, drums only"


def warm(checkpoint: str | None, threads: int, repeats: int, out: Path,
         scheduler: str | None = None, channels_last: bool | None = None) -> dict[str, float]:
    """Median seconds per clip in one process, and the share of phase reconstruction and MP3."""
    import torch

    from sonogen.audio.io import save_audio
    from sonogen.pipeline import load_pipeline
    from sonogen.spectrogram.converter import get_converter

    torch.set_num_threads(threads)
    start = time.perf_counter()
    pipe = load_pipeline(checkpoint, device="cpu", scheduler=scheduler, channels_last=channels_last)
    load_s = time.perf_counter() - start
    pipe(PROMPT, seed=0, progress=False)  # warm-up: caches, allocator, first-call overheads
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        result = pipe(PROMPT, seed=1 + k, progress=False)
        save_audio(out / f"warm{k}.mp3", result.waveforms[0], result.sample_rate)
        times.append(time.perf_counter() - t0)
    converter = get_converter(pipe.spectrogram_params)
    t0 = time.perf_counter()
    converter.image_to_audio(result.images[0])
    phase_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_audio(out / "again.mp3", result.waveforms[0], result.sample_rate)
    mp3_s = time.perf_counter() - t0
    return {"load_s": load_s, "clip_s": statistics.median(times), "clip_max_s": max(times),
            "phase_s": phase_s, "mp3_s": mp3_s, "steps": float(pipe.default_steps)}


def warm_lite(checkpoint: str | None, threads: int, repeats: int, out: Path, few_step: bool = False) -> float:
    """Median seconds per clip, prompt to MP3, on the diffusers-free path in this process."""
    import torch

    from sonogen.audio.io import save_audio
    from sonogen.lite.pipeline import LitePipeline
    from sonogen.models import DEFAULT_MODEL_DIR

    torch.set_num_threads(threads)
    pipe = LitePipeline.load(Path(checkpoint) if checkpoint else DEFAULT_MODEL_DIR, few_step=few_step)
    f = pipe.vae_scale_factor
    width = int(round(pipe.spectrogram_params.width_for_seconds(CLIP_SECONDS) / f)) * f
    pipe.text_to_audio(PROMPT, seed=0, width=width)
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        wave, rate, _ = pipe.text_to_audio(PROMPT, seed=1 + k, width=width)
        save_audio(out / f"lite{k}.mp3", wave, rate)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cold(checkpoint: str | None, threads: int, repeats: int, out: Path,
         scheduler: str | None = None) -> dict[str, list[float]]:
    """Wall seconds of fresh ``sonogen generate`` processes, alternating: the lite path, the
    full pipeline, and the lite path with an empty cache folder (a first run, which unpacks
    the encoder weights and computes the mel inverse)."""
    extra = (["--checkpoint", checkpoint] if checkpoint else []) + (["--scheduler", scheduler] if scheduler else [])
    times: dict[str, list[float]] = {"lite": [], "full": [], "first": []}
    for k in range(repeats):
        for path in times:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), SONOGEN_LITE="0" if path == "full" else "1")
            if path == "first":
                env["SONOGEN_CACHE"] = tempfile.mkdtemp(dir=out)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sonogen.cli", "generate", PROMPT, "-o",
                            str(out / f"cold-{path}{k}.mp3"), "--seed", str(k), *extra],
                           check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[path].append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the packaged default model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scheduler", default=None, choices=["few-step"],
                        help="few-step: the folder's few-step adapter and its sampling settings")
    parser.add_argument("--plain-memory", action="store_true",
                        help="the warm full pipeline without channels-last memory (the CPU default is with)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        w = warm(args.checkpoint, args.threads, args.repeats, out, args.scheduler,
                 channels_last=False if args.plain_memory else None)
        lite_s = warm_lite(args.checkpoint, args.threads, args.repeats, out, few_step=args.scheduler == "few-step")
        c = cold(args.checkpoint, args.threads, args.repeats, out, args.scheduler)
    path = "few-step path" if args.scheduler else "default sampling"
    print(f"threads {args.threads}, {path}, {int(w['steps'])} steps, prompt {PROMPT!r}\n")
    print("| figure | value | target |\n|---|---|---|")
    print(f"| one 5.12 s clip, prompt to MP3, warm process (median of {args.repeats}; max) | "
          f"{w['clip_s']:.2f} s ({w['clip_max_s']:.2f} s) = {CLIP_SECONDS / w['clip_s']:.2f}x real time | <= 5.12 s |")
    print(f"| of which phase reconstruction | {w['phase_s']:.2f} s | |")
    print(f"| of which MP3 encoding | {w['mp3_s']:.2f} s | |")
    print(f"| model load in a warm process | {w['load_s']:.2f} s | |")
    print(f"| the same on the diffusers-free path (median of {args.repeats}) | {lite_s:.2f} s | |")
    for path, label in (("lite", "diffusers-free path"), ("full", "full pipeline, SONOGEN_LITE=0"),
                        ("first", "diffusers-free path, empty cache folder (a first run)")):
        runs = c[path]
        print(f"| cold `sonogen generate ... -o beat.mp3` process, {label} (median of {len(runs)}; max) | "
              f"{statistics.median(runs):.2f} s ({max(runs):.2f} s) | <= 4 s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
