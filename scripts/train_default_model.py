"""Train sonogen's embedded default model from nothing, in one command (issue 6).

Steps (each a sonogen command or library call, each resumable by re-running):

1. ``sonogen synth-corpus``: render the training corpus and a held-out corpus (another
   seed) where the training runs - nothing is copied in;
2. ``sonogen build-dataset``: 5.12 s spectrogram images + captions;
3. ``sonogen train --config sonogen/models/default_config.json``: tokenizer, VAE (stage 1),
   UNet + text encoder (stage 2), loss log and ``loss.png``;
4. export: fp16 safetensors, shards of at most 15 MB, at most 60 MB in all, into
   ``sonogen/models/default/`` (replaced atomically; checked after writing);
5. figures: ``benchmarks/default_model.py`` on the exported model (held-out corpus for
   the style classifier), the loss picture and the figures JSON into ``benchmarks/results/``.

On a GPU machine (target: one H100; the device tool of this workplace runs at most 10
minutes per command, so there use ``--stage`` to split the run and carry ``.whl`` as
benchmarks/gpu.py's docstring says, plus tinysoundfont's wheel and a SoundFont)::

    python scripts/train_default_model.py --work /tmp/sonogen-default

The proof that the path works, on the CPU, minutes (a handful of clips and steps; the
model it exports is NOT a usable model and goes to WORK/export, not into the package)::

    python scripts/train_default_model.py --cpu-smoke --work /tmp/sonogen-smoke
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "sonogen" / "models" / "default_config.json"
PACKAGE_DIR = REPO / "sonogen" / "models" / "default"
RESULTS = REPO / "benchmarks" / "results"
#: Largest shard and whole model, bytes (15 MB and 60 MB, decimal as the issue counts).
MAX_SHARD = 15_000_000
MAX_TOTAL = 60_000_000

#: Full-size recipe (GPU) and the CPU smoke recipe.
RECIPES: dict[str, dict[str, Any]] = {
    "full": {"clips": 16000, "heldout": 640, "vae_steps": 6000, "steps": 60000, "batch": 64,
             "lr": 2e-4, "precision": "bf16", "warmup": 1000, "eval_clips": 4, "bench_steps": 20},
    "cpu-smoke": {"clips": 32, "heldout": 32, "vae_steps": 10, "steps": 10, "batch": 2,
                  "lr": 1e-4, "precision": "no", "warmup": 0, "eval_clips": 1, "bench_steps": 4},
}


def run(cmd: list[str], log: list[dict[str, Any]]) -> None:
    """Run one command (echoed), record its wall time; stop the script on failure."""
    print("+ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO)
    seconds = time.perf_counter() - start
    log.append({"cmd": " ".join(cmd), "seconds": round(seconds, 1), "rc": proc.returncode})
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")


def sonogen(*args: str) -> list[str]:
    """The ``sonogen`` CLI through this interpreter (no PATH assumptions)."""
    return [sys.executable, "-m", "sonogen.cli", *args]


def model_config(recipe: dict[str, Any], work: Path, smoke: bool) -> Path:
    """The config file to train with: the shipped one, or a copy with the recipe's VAE steps."""
    cfg = json.loads(CONFIG.read_text(encoding="utf-8"))
    if not smoke and cfg["vae_training"]["steps"] == recipe["vae_steps"]:
        return CONFIG
    cfg["vae_training"]["steps"] = recipe["vae_steps"]
    path = work / "model.json"
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    return path


def export(trained: Path, target: Path) -> dict[str, Any]:
    """Write the trained folder as fp16 safetensors shards into ``target`` (atomic swap).

    Returns ``{"files": {relative path: bytes}, "total": bytes, "largest": bytes}``;
    raises SystemExit when a shard is over 15 MB or the whole over 60 MB.
    """
    import torch

    from sonogen.pipeline.pipeline import SonogenPipeline
    from sonogen.train.model import COMPONENTS, load_components

    parts, params = load_components(str(trained))
    for name in ("unet", "vae", "text_encoder"):
        parts[name] = parts[name].to(torch.float16)
    pipe = SonogenPipeline(**{name: parts[name] for name in COMPONENTS})
    pipe.spectrogram_params = params
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".default-", dir=target.parent))
    pipe.save_pretrained(tmp, safe_serialization=True, max_shard_size="15MB")
    sizes = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    weights = {k: v for k, v in sizes.items() if k.endswith(".safetensors")}
    total, largest = sum(sizes.values()), max(weights.values())
    if largest > MAX_SHARD or total > MAX_TOTAL:
        shutil.rmtree(tmp)
        raise SystemExit(f"export too large: largest shard {largest} B (max {MAX_SHARD}), total {total} B (max {MAX_TOTAL})")
    old = target.with_name(target.name + ".old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return {"files": sizes, "total": total, "largest": largest}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train and export sonogen's embedded default model.")
    parser.add_argument("--work", type=Path, required=True, help="working folder (corpus, dataset, training run)")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny end-to-end run on the CPU (proves the path)")
    parser.add_argument("--stage", choices=("all", "data", "train", "export", "figures"), default="all",
                        help="run one stage (re-runs resume; for time-limited machines)")
    parser.add_argument("--export-dir", type=Path, default=None,
                        help=f"where the fp16 model goes (default {PACKAGE_DIR.relative_to(REPO)}; smoke: WORK/export)")
    parser.add_argument("--soundfont", default=None, help="General MIDI SoundFont for synth-corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=None, help="override the recipe's training clips")
    parser.add_argument("--max-steps", type=int, default=None, help="override the recipe's UNet steps")
    parser.add_argument("--workers", type=int, default=None, help="synth/build workers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    recipe = dict(RECIPES["cpu-smoke" if args.cpu_smoke else "full"])
    if args.clips:
        recipe["clips"] = args.clips
    if args.max_steps:
        recipe["steps"] = args.max_steps
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    target = (args.export_dir or (work / "export" if args.cpu_smoke else PACKAGE_DIR)).resolve()
    corpus, heldout, dataset, trained = work / "corpus", work / "heldout", work / "dataset", work / "train"
    log: list[dict[str, Any]] = []
    extra = ["--soundfont", args.soundfont] if args.soundfont else []
    workers = ["--workers", str(args.workers)] if args.workers else []
    stages = {"data", "train", "export", "figures"} if args.stage == "all" else {args.stage}

    if "data" in stages:
        run(sonogen("synth-corpus", str(corpus), "--clips", str(recipe["clips"]), "--seed", str(args.seed),
                    "--no-progress", *workers, *extra), log)
        run(sonogen("synth-corpus", str(heldout), "--clips", str(recipe["heldout"]), "--seed",
                    str(args.seed + 1_000_003), "--no-progress", *workers, *extra), log)
        run(sonogen("build-dataset", str(corpus), str(dataset), "--no-progress", *workers), log)
    if "train" in stages:
        cfg = model_config(recipe, work, args.cpu_smoke)
        run(sonogen("train", "--dataset", str(dataset), "--output", str(trained), "--config", str(cfg),
                    "--max-steps", str(recipe["steps"]), "--batch-size", str(recipe["batch"]),
                    "--learning-rate", str(recipe["lr"]), "--lr-warmup-steps", str(recipe["warmup"]),
                    "--mixed-precision", recipe["precision"], "--ema", "--seed", str(args.seed),
                    "--checkpoint-every", "0" if args.cpu_smoke else "2000", "--resume",
                    "--validation-steps", "4" if args.cpu_smoke else "20", "--no-progress"), log)
    if "export" in stages:
        start = time.perf_counter()
        sizes = export(trained, target)
        log.append({"cmd": f"export -> {target}", "seconds": round(time.perf_counter() - start, 1), "rc": 0})
        print(f"exported {len(sizes['files'])} files, {sizes['total'] / 1e6:.1f} MB, largest shard "
              f"{sizes['largest'] / 1e6:.1f} MB -> {target}")
        (work / "export_sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    if "figures" in stages:
        out = work / "figures" if args.cpu_smoke else RESULTS
        out.mkdir(parents=True, exist_ok=True)
        if (trained / "loss.png").is_file():
            shutil.copyfile(trained / "loss.png", out / "default_model_loss.png")
        run([sys.executable, str(REPO / "benchmarks" / "default_model.py"), "--checkpoint", str(target),
             "--heldout", str(heldout), "--clips-per-style", str(recipe["eval_clips"]),
             "--steps", str(recipe["bench_steps"]), "--out", str(out)], log)
    (work / "timings.json").write_text(json.dumps(log, indent=2) + "\n")
    print("\n| step | seconds |\n|---|---|")
    for row in log:
        print(f"| `{row['cmd'][:110]}` | {row['seconds']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
