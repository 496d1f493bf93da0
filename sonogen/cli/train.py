"""Dataset and training commands: build-dataset, synth-corpus, train."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sonogen.cli.convert import add_format_options, params_from_args, positive_float, positive_int
from sonogen.errors import SonogenError


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def register(subparsers: Any) -> None:
    """Add ``build-dataset``, ``synth-corpus`` and ``train``."""
    p = subparsers.add_parser(
        "build-dataset",
        help="captioned audio folder -> spectrogram image dataset (imagefolder layout)",
        description="Cut each captioned audio file into windows and write their spectrogram images with "
        "OUT/metadata.jsonl (file_name, text). Captions come from a sidecar .txt per file or from "
        "AUDIO_DIR/metadata.jsonl or metadata.csv (file_name, text). Re-running resumes.",
    )
    p.add_argument("audio_dir")
    p.add_argument("out")
    p.add_argument("--seconds", type=positive_float, default=5.12, help="window length (5.12 s = 512 columns)")
    p.add_argument("--overlap", type=_fraction, default=0.0, help="fraction of a window shared with the next (0)")
    p.add_argument("--silence-db", type=float, default=-50.0, metavar="DB",
                   help="skip windows quieter than this RMS level in dBFS (-50)")
    p.add_argument("--image-format", choices=("png", "jpg"), default="png")
    p.add_argument("--workers", type=positive_int, default=_default_workers())
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format_options(p)
    p.set_defaults(func=cmd_build_dataset)

    p = subparsers.add_parser(
        "synth-corpus",
        help="render a synthetic captioned music corpus with a General MIDI SoundFont",
        description="Compose clips in 16 styles and render them with tinysoundfont: OUT/<id>.wav (44.1 kHz) "
        "and OUT/metadata.jsonl (file_name, text, style, tempo, key, instruments). Needs a GM SoundFont "
        "(apt-get install timgm6mb-soundfont) or --soundfont.",
    )
    p.add_argument("out")
    p.add_argument("--clips", type=positive_int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=_default_workers())
    p.add_argument("--soundfont", default=None, metavar="PATH", help="a .sf2/.sf3 General MIDI SoundFont")
    p.add_argument("--seconds", type=positive_float, default=5.12, help="clip length (5.12)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_synth_corpus)

    p = subparsers.add_parser(
        "train",
        help="fine-tune a checkpoint, train a LoRA, or train a small model from scratch",
        description="Train on a dataset made by build-dataset. --checkpoint fine-tunes an SD 1.x / sonogen "
        "model (with --lora: a LoRA adapter for `sonogen generate --lora`); --config model.json trains a "
        "new model (tokenizer, VAE, UNet, text encoder). Works under `accelerate launch`.",
    )
    p.add_argument("--dataset", required=True, help="folder with metadata.jsonl and images")
    p.add_argument("--output", required=True, help="output folder (model or LoRA, logs, checkpoints)")
    base = p.add_mutually_exclusive_group(required=True)
    base.add_argument("--checkpoint", help="model to fine-tune (diffusers folder or .safetensors)")
    base.add_argument("--config", dest="model_config", metavar="MODEL_JSON",
                      help="model.json for training from scratch (see sonogen/train/configs/tiny.json)")
    p.add_argument("--lora", action="store_true", help="train a LoRA adapter on the UNet attention")
    p.add_argument("--lora-rank", type=positive_int, default=8)
    p.add_argument("--lora-alpha", type=positive_int, default=8)
    p.add_argument("--train-text-encoder", action="store_true", help="also fine-tune the text encoder")
    p.add_argument("--max-steps", type=positive_int, default=1000)
    p.add_argument("--batch-size", type=positive_int, default=4)
    p.add_argument("--gradient-accumulation", type=positive_int, default=1)
    p.add_argument("--learning-rate", type=positive_float, default=None,
                   help="default 1e-5 for full fine-tuning, 1e-4 for LoRA and from scratch")
    p.add_argument("--lr-warmup-steps", type=int, default=0)
    p.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--ema", action="store_true", help="save an exponential moving average of the weights")
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--caption-dropout", type=float, default=0.1, help="empty-caption probability for CFG (0.1)")
    p.add_argument("--resolution", type=positive_int, default=None, metavar="PX",
                   help="random time crop of this many columns (multiple of 8); default: whole width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--checkpoint-every", type=int, default=500, metavar="N", help="resumable state every N steps")
    p.add_argument("--keep-checkpoints", type=positive_int, default=2)
    p.add_argument("--resume", action="store_true", help="continue from the newest state in OUTPUT/checkpoints")
    p.add_argument("--validation-every", type=int, default=0, metavar="N",
                   help="render validation clips every N steps (always at the end)")
    p.add_argument("--validation-prompt", action="append", dest="validation_prompts", default=None,
                   help="prompt for validation clips (repeatable; default: two dataset captions)")
    p.add_argument("--validation-steps", type=positive_int, default=20)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_build_dataset(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sonogen.data.dataset import BuildSettings, build_dataset, print_report

    settings = BuildSettings(
        seconds=args.seconds, overlap=args.overlap, silence_db=args.silence_db,
        image_format=args.image_format, params=asdict(params_from_args(args)),
    )
    report = build_dataset(args.audio_dir, args.out, settings, workers=args.workers, progress=not args.no_progress)
    print_report(report, args.out)
    return 0


def cmd_synth_corpus(args: argparse.Namespace) -> int:
    from sonogen.data.synth import STYLES, write_corpus

    rows = write_corpus(args.out, args.clips, seed=args.seed, workers=args.workers, soundfont=args.soundfont,
                        seconds=args.seconds, progress=not args.no_progress)
    styles = len({r["style"] for r in rows})
    print(f"wrote {len(rows)} clip(s) in {styles} of {len(STYLES)} styles to {args.out} (metadata.jsonl)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sonogen.train.config import TrainConfig
    from sonogen.train.trainer import train

    if args.learning_rate is None:
        args.learning_rate = 1e-5 if args.checkpoint and not args.lora else 1e-4
    if args.checkpoint_every < 0 or args.validation_every < 0:
        raise SonogenError("--checkpoint-every and --validation-every must be >= 0")
    cfg = TrainConfig(
        dataset=args.dataset, output=args.output, checkpoint=args.checkpoint, model_config=args.model_config,
        lora=args.lora, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
        train_text_encoder=args.train_text_encoder, max_steps=args.max_steps, batch_size=args.batch_size,
        gradient_accumulation=args.gradient_accumulation, learning_rate=args.learning_rate,
        lr_warmup_steps=args.lr_warmup_steps, mixed_precision=args.mixed_precision,
        gradient_checkpointing=args.gradient_checkpointing, ema=args.ema, ema_decay=args.ema_decay,
        caption_dropout=args.caption_dropout, resolution=args.resolution, seed=args.seed,
        num_workers=args.num_workers, checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints, resume=args.resume, validation_every=args.validation_every,
        validation_prompts=list(args.validation_prompts or []), validation_steps=args.validation_steps,
        progress=not args.no_progress,
    )
    result = train(cfg)
    if not result.main_process:
        return 0
    what = {"lora": "LoRA adapter", "full": "fine-tuned model", "scratch": "new model"}[result.kind]
    losses = ""
    if result.first_eval_loss is not None and result.last_eval_loss is not None:
        losses = f", fixed-batch loss {result.first_eval_loss:.4f} -> {result.last_eval_loss:.4f}"
    print(f"wrote {what} to {result.output} after {result.steps} step(s){losses} in {result.seconds:.1f} s")
    return 0
