"""Figures of the embedded default model: prompt adherence, realism, a picture.

* **adherence**: a style classifier (multinomial logistic regression on spectrogram
  statistics) is trained on held-out *rendered* clips only (``--train-per-style`` per
  style, never generated ones) and checked on further held-out rendered clips (its own
  top-1). It then labels clips the model generates from held-out captions of each style
  (``--seeds`` per style, the model's default sampling settings); the figure is the top-1
  agreement with the prompted style, with the confusion matrix.
* **realism**: the Fréchet distance on the classifier's standardised features between
  generated clips and held-out rendered clips, beside the same distance for the untrained
  model (same architecture and VAE, new UNet and text encoder) and for other rendered
  clips (rendered vs rendered, the floor at this sample size).
* a grid picture of generated spectrograms, one row per style, and a few short clips.

Generated clips are judged as audio: the waveform the pipeline returns is analysed again
with the format's STFT, exactly as the rendered clips were, so phase reconstruction is
part of what is judged. The held-out clips are a corpus rendered with other seeds than the
training corpus (``scripts/train_default_model.py`` makes both)::

    python benchmarks/default_model.py --heldout ~/.cache/sonogen-default/heldout --seeds 8

Writes ``OUT/default_model.json``, ``OUT/default_model_grid.png``, ``OUT/confusion.md`` and
prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge import (  # noqa: E402  (the benchmarks' shared features, classifier and data)
    FEATURE_BLOCKS,
    accuracy,
    audio_pixels,
    block_shift,
    confusion,
    frechet_distance,
    heldout_classifier,
    load_heldout,
    pixel_features,
    save_grid,
)


def save_loss_curve(rows: list[dict[str, Any]], path: Path, key: str = "loss") -> None:
    """A line plot (PNG, drawn with PIL) of ``key`` against the step of the trainer's UNet rows.

    Args:
        rows: the trainer's ``loss.jsonl`` records (only ``stage == "unet"`` rows with ``key``).
    """
    from PIL import Image, ImageDraw

    pts = [(float(r["step"]), float(r[key])) for r in rows if r.get("stage") == "unet" and key in r]
    if len(pts) < 2:
        return
    width, height, pad = 640, 320, 48
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    lo, hi = min(ys), max(ys)
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (hi - lo) or 1.0
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([pad, pad // 2, width - pad // 2, height - pad], outline="black")
    points = [(pad + (x - min(xs)) / span_x * (width - 1.5 * pad), height - pad - (y - lo) / span_y * (height - 1.5 * pad))
              for x, y in pts]
    draw.line(points, fill=(40, 90, 200), width=2)
    draw.text((pad, 4), f"UNet training loss: {ys[0]:.3f} -> {ys[-1]:.3f}", fill="black")
    draw.text((pad, height - pad + 6), f"steps {min(xs):.0f} .. {max(xs):.0f}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="diffusers folder (default: the packaged default model)")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out corpus folder (synth-corpus --images)")
    parser.add_argument("--config", type=Path, default=None,
                        help="the model's config, for the untrained baseline (default: sonogen/models/default.json)")
    parser.add_argument("--loss-log", type=Path, default=None, help="the trainer's loss.jsonl, for the loss curve")
    parser.add_argument("--seeds", type=int, default=8, help="generated clips per style (8)")
    parser.add_argument("--train-per-style", type=int, default=25, help="rendered clips per style to fit the classifier")
    parser.add_argument("--test-per-style", type=int, default=20, help="further rendered clips per style to test it")
    parser.add_argument("--untrained", type=int, default=0, metavar="N",
                        help="also generate N clips per style with an untrained UNet and text encoder, for the FD")
    parser.add_argument("--vae-ceiling", type=int, default=0, metavar="N",
                        help="also pass N rendered clips per style through the VAE (encode, decode, phase) and "
                             "label them: what a perfect UNet could reach through this VAE")
    parser.add_argument("--scheduler", default=None,
                        help="sample with this scheduler instead of the model's own, e.g. few-step (the model "
                             "folder's few-step adapter and its sampling defaults)")
    parser.add_argument("--steps", type=int, default=None,
                        help="sample with this many steps instead of the model's recommended number")
    parser.add_argument("--guidance", type=float, default=None,
                        help="sample at this guidance scale instead of the model's recommended one")
    parser.add_argument("--batch", type=int, default=8, help="clips per pipeline call")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clips-out", type=int, default=4, help="short example clips to write (MP3)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    return parser.parse_args(argv)


def generate_set(pipe: Any, prompts: list[str], seeds: list[int], batch: int, analyse: Any) -> tuple[list[Any], list[np.ndarray], list[np.ndarray]]:
    """Generate ``prompts`` (default sampling); returns images, waveforms and their re-analysed pixels."""
    images, waves, pixels = [], [], []
    for i in range(0, len(prompts), batch):
        out = pipe(prompts[i:i + batch], seed=seeds[i:i + batch], progress=False)
        for img, wave in zip(out.images, out.waveforms, strict=True):
            images.append(img)
            waves.append(wave)
            pixels.append(analyse(wave))
        print(f"  generated {min(i + batch, len(prompts))}/{len(prompts)}", flush=True)
    return images, waves, pixels


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from sonogen.models import default_checkpoint_path
    from sonogen.pipeline import load_pipeline

    checkpoint = args.checkpoint or default_checkpoint_path()
    if checkpoint is None:
        raise SystemExit("no --checkpoint given and no packaged default model (sonogen/models/default/)")
    held = load_heldout(args.heldout)
    styles = sorted(set(held["styles"].tolist()))
    ntr, nte, nseed = args.train_per_style, args.test_per_style, args.seeds
    clf, feats, by_style = heldout_classifier(held, styles, ntr)
    if min(len(v) for v in by_style.values()) < ntr + nte + nseed:
        raise SystemExit(f"held-out split has too few clips per style for {ntr} + {nte} + {nseed}")
    tr = [i for s in styles for i in by_style[s][:ntr]]
    te = [i for s in styles for i in by_style[s][ntr:ntr + nte]]
    ref = [i for s in styles for i in by_style[s][ntr + nte:ntr + nte + nseed]]  # rendered twins of the prompts
    real_top1 = accuracy(clf.predict(feats[te]), [str(held["styles"][i]) for i in te])
    print(f"classifier: fitted on {len(tr)} rendered clips, top-1 {real_top1:.1%} on {len(te)} further rendered clips")

    prompts = [str(held["captions"][i]) for i in ref]
    truth = [str(held["styles"][i]) for i in ref]
    seeds = [10_000 + k for k in range(len(prompts))]
    start = time.perf_counter()
    pipe = load_pipeline(str(checkpoint), device="cpu", scheduler=args.scheduler)
    if args.steps is not None:
        pipe.sampling_defaults = {**pipe.sampling_defaults, "num_inference_steps": args.steps}
    if args.guidance is not None:
        pipe.sampling_defaults = {**pipe.sampling_defaults, "guidance_scale": args.guidance}
    print(f"generating {len(prompts)} clips ({pipe.default_steps} steps, guidance {pipe.default_guidance})")
    images, waves, pixels = generate_set(pipe, prompts, seeds, args.batch, audio_pixels)
    gen_s = time.perf_counter() - start
    gen_feats = np.stack([pixel_features(p) for p in pixels])
    predicted = clf.predict(gen_feats)
    top1 = accuracy(predicted, truth)
    matrix = confusion(predicted, truth, styles)
    per_style = {s: int(matrix[k, k]) for k, s in enumerate(styles)}

    z_ref = clf.standardise(feats[tr])
    z_gen = clf.standardise(gen_feats)
    shifts = {"generated": block_shift(z_gen, clf.standardise(feats[ref]))}
    fd = {
        f"generated (N={len(ref)})": frechet_distance(z_gen, z_ref),
        f"rendered (N={len(ref)})": frechet_distance(clf.standardise(feats[ref]), z_ref),
    }
    if args.untrained:
        from sonogen.models import DEFAULT_CONFIG_PATH
        from sonogen.train.config import load_model_config
        from sonogen.train.model import build_unet

        # the same number of clips per style from each model, so the sample size biases all alike
        few = [k for k, s in enumerate(truth) if truth[: k + 1].count(s) <= args.untrained]
        cfg = load_model_config(args.config or DEFAULT_CONFIG_PATH)
        torch.manual_seed(0)
        raw = load_pipeline(str(checkpoint), device="cpu")
        raw.unet = build_unet(cfg["unet"], raw.latent_channels, int(raw.unet.config.cross_attention_dim), 32).eval()
        print("untrained UNet:")
        _, _, raw_pixels = generate_set(raw, [prompts[k] for k in few], [seeds[k] for k in few], args.batch, audio_pixels)
        n = len(few)
        fd[f"untrained (N={n})"] = frechet_distance(clf.standardise(np.stack([pixel_features(p) for p in raw_pixels])), z_ref)
        fd[f"generated (N={n})"] = frechet_distance(z_gen[few], z_ref)
        fd[f"rendered (N={n})"] = frechet_distance(clf.standardise(feats[[ref[k] for k in few]]), z_ref)

    ceiling = None
    if args.vae_ceiling:
        ids = [k for k, s in enumerate(truth) if truth[: k + 1].count(s) <= args.vae_ceiling]
        recon = []
        with torch.inference_mode():
            for k in ids:
                x = torch.from_numpy(held["images"][ref[k]][None]).float().div(127.5).sub(1.0)
                image = pipe.decode_latents(pipe.encode_image(x[:, None].expand(-1, 3, -1, -1)))  # (1, 3, H, W)
                out_image = pipe._to_image(image[0])
                wave = pipe._to_audio(out_image, loop=False)
                recon.append(pixel_features(audio_pixels(wave)))
        ceiling = accuracy(clf.predict(np.stack(recon)), [truth[k] for k in ids])
        shifts["through the VAE"] = block_shift(clf.standardise(np.stack(recon)), clf.standardise(feats[[ref[k] for k in ids]]))
        print(f"rendered clips through the VAE (N={len(ids)}): labelled as their style {ceiling:.1%}")

    args.out.mkdir(parents=True, exist_ok=True)
    if args.loss_log is not None and args.loss_log.is_file():
        rows = [json.loads(line) for line in args.loss_log.read_text().splitlines() if line.strip()]
        save_loss_curve(rows, args.out / "default_model_loss.png")
    grid: dict[str, list[Any]] = {}
    for img, style in zip(images, truth, strict=True):
        grid.setdefault(style, []).append(img)
    save_grid(grid, args.out / "default_model_grid.png")
    from sonogen.audio.io import save_audio

    written = []
    listen = [s for s in ("drums only", "solo piano", "techno", "string ensemble", *styles) if s in styles]
    for style in list(dict.fromkeys(listen))[: args.clips_out]:
        j = truth.index(style)
        name = f"default_model_{truth[j].replace(' ', '_')}.mp3"
        save_audio(args.out / name, waves[j], pipe.spectrogram_params.sample_rate)
        written.append({"file": name, "prompt": prompts[j], "seed": seeds[j]})

    figures = {
        "checkpoint": str(checkpoint), "scheduler": args.scheduler or "default", "styles": styles,
        "steps": pipe.default_steps, "guidance": pipe.default_guidance,
        "classifier_train_clips": len(tr), "classifier_test_clips": len(te), "classifier_real_top1": real_top1,
        "generated_clips": len(prompts), "generated_top1": top1, "generated_correct_per_style": per_style,
        "confusion": matrix.tolist(), "frechet": fd, "vae_ceiling_top1": ceiling, "feature_shift_sd": shifts,
        "generate_seconds": gen_s, "clips": written,
    }
    (args.out / "default_model.json").write_text(json.dumps(figures, indent=2) + "\n")
    head = "| prompted \\ labelled | " + " | ".join(s for s in styles) + " |\n|---|" + "---|" * len(styles) + "\n"
    table = "".join(f"| {s} | " + " | ".join(str(v) for v in matrix[k]) + " |\n" for k, s in enumerate(styles))
    (args.out / "confusion.md").write_text(head + table)
    print("\n| figure | value |\n|---|---|")
    print(f"| classifier top-1 on further rendered clips ({len(te)}) | {real_top1:.1%} |")
    print(f"| generated clips labelled as prompted ({len(prompts)}, {len(styles)} styles) | {top1:.1%} |")
    if ceiling is not None:
        print(f"| rendered clips through the VAE alone, labelled as their style (ceiling) | {ceiling:.1%} |")
    for name, value in fd.items():
        print(f"| Fréchet distance, {name} vs rendered | {value:.2f} |")
    print("\n| mean feature shift from the rendered twins, sd | " + " | ".join(FEATURE_BLOCKS) + " |")
    print("|---|" + "---|" * len(FEATURE_BLOCKS))
    for name, shift in shifts.items():
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in shift.values()) + " |")
    print("\n" + head + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
