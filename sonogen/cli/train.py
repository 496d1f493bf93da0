"""The training command: train."""

from __future__ import annotations

import argparse
from typing import Any

from sonogen.train.config import TrainConfig


def register(subparsers: Any) -> None:
    """Add ``train``."""
    p = subparsers.add_parser(
        "train",
        help="fine-tune a checkpoint, train a LoRA, or train a small model from scratch",
        description="Train on a dataset made by build-dataset. --checkpoint fine-tunes an SD 1.x / sonogen "
        "model (with --lora: a LoRA adapter for `sonogen generate --lora`); --config model.json trains a "
        "new model in stages (autoencoder, latent cache, UNet with text encoder; --stage picks one, "
        "--minutes bounds a call, --resume continues). Works under `accelerate launch`.",
    )
    TrainConfig.add_arguments(p)
    p.set_defaults(func=cmd_train)


#: What a call that ended after a stage before the UNet's says it left.
STAGE_DONE = {
    "autoencoder": "trained the autoencoder in {out}/autoencoder",
    "decoder": "fine-tuned the decoder in {out}/autoencoder",
    "latents": "cached the latents in {out}/latents",
    "export": "exported the model of {out}",
    "distill": "wrote the few-step student to {out}/student",
}


def cmd_train(args: argparse.Namespace) -> int:
    # the trainer brings torch, diffusers and transformers: imported only when training runs
    from sonogen.train.trainer import train

    cfg = TrainConfig.from_args(args)
    result = train(cfg)
    if not result.main_process:
        return 0
    took = f"in {result.seconds:.1f} s"
    if not result.finished:
        print(f"stopped the {result.stage} stage at the time limit {took}; run again with --resume to continue")
        if result.stage != "unet":
            return 0
    elif result.stage != "unet":
        print(STAGE_DONE[result.stage].format(out=result.output) + f" {took}")
        return 0
    what = {"lora": "LoRA adapter", "full": "fine-tuned model", "scratch": "new model"}[result.kind]
    losses = ""
    if result.first_eval_loss is not None and result.last_eval_loss is not None:
        losses = f", fixed-batch loss {result.first_eval_loss:.4f} -> {result.last_eval_loss:.4f}"
    print(f"wrote {what} to {result.output} after {result.steps} step(s){losses} {took}")
    return 0
