"""The recipe of sonogen's default model: a short script of `sonogen` commands.

    1. sonogen synth-corpus WORK/corpus --images ...     training corpus (spectrogram images)
    2. sonogen synth-corpus WORK/heldout --images ...    held-out corpus (other seeds) for the benchmarks
    3. sonogen train --config CONFIG --dataset WORK/corpus --output WORK/model --stage autoencoder
    4. sonogen train ... --stage latents                 encode every image once
    5. sonogen train ... --stage unet                    UNet and text encoder on the cached latents
    6. sonogen train ... --stage decoder                 decoder-only fine-tuning (when the config has steps)
    7. sonogen train ... --stage export --export DIR     fp16 safetensors shards

Every training step resumes from the state in WORK (default ~/.cache/sonogen-default,
outside the repository) and stops cleanly after --minutes, so the recipe is run again
until each stage is done; finished stages are skipped. --dry-run prints the commands.

    python scripts/train_default_model.py --minutes 120
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("corpus", "autoencoder", "latents", "unet", "decoder", "export")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="default", help="a name in sonogen/models/ or a model.json path (default)")
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "sonogen-default", help="state folder")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    p.add_argument("--clips", type=int, default=12000, help="training clips (12000)")
    p.add_argument("--heldout-clips", type=int, default=1200, help="held-out clips (1200; 0: none)")
    p.add_argument("--seconds", type=float, default=5.12, help="clip length (5.12)")
    p.add_argument("--styles", default=None, help="comma-separated styles to render (default: all)")
    p.add_argument("--soundfont", action="append", default=[], help="a GM SoundFont (repeatable; default: installed)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock limit of each training call")
    p.add_argument("--max-steps", type=int, default=None, help="UNet steps instead of the config's")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--export-dir", type=Path, default=REPO / "sonogen" / "models" / "default")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    return p.parse_args(argv)


def config_path(name: str) -> str:
    """A packaged config name (``default``) or a path, as ``sonogen train --config`` takes it."""
    from sonogen.models import model_config_path

    packaged = model_config_path(name)
    return str(packaged) if packaged.is_file() else name


def commands(args: argparse.Namespace) -> list[list[str]]:
    """The recipe's ``sonogen`` commands (arguments after ``sonogen``), in order."""
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages: {', '.join(sorted(unknown))}")
    work = args.work
    corpus = ["--images", "--seconds", str(args.seconds), "--workers", str(args.workers), "--no-progress"]
    corpus += [f"--soundfont={font}" for font in args.soundfont]
    if args.styles:
        corpus += ["--styles", args.styles]
    out: list[list[str]] = []
    if "corpus" in stages:
        out.append(["synth-corpus", str(work / "corpus"), "--clips", str(args.clips), "--seed", "0", *corpus])
        if args.heldout_clips:
            out.append(["synth-corpus", str(work / "heldout"), "--clips", str(args.heldout_clips),
                        "--seed", "1000003", *corpus])
    train = ["train", "--config", config_path(args.config), "--dataset", str(work / "corpus"),
             "--output", str(work / "model"), "--resume", "--no-progress"]
    if args.minutes:
        train += ["--minutes", str(args.minutes)]
    for stage in ("autoencoder", "latents", "unet", "decoder"):
        if stage in stages:
            extra = ["--max-steps", str(args.max_steps)] if stage == "unet" and args.max_steps else []
            out.append([*train, "--stage", stage, *extra])
    if "export" in stages:
        out.append([*train, "--stage", "export", "--export", str(args.export_dir)])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for command in commands(args):
        print("$ sonogen " + shlex.join(command), flush=True)
        if not args.dry_run:
            done = subprocess.run([sys.executable, "-m", "sonogen.cli", *command], check=False)
            if done.returncode != 0:
                return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
