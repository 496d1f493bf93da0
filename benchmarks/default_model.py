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
part of what is judged. The held-out clips come from ``scripts/train_default_model.py
--stage data`` (other seeds than the training corpus)::

    python benchmarks/default_model.py --seeds 8 --out benchmarks/results

Writes ``OUT/default_model.json``, ``OUT/default_model_grid.png``, ``OUT/confusion.md`` and
prints markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
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

#: Mel bands are pooled into this many groups for the classifier's features.
FEATURE_BANDS = 32
#: Onset-envelope autocorrelation lags, in frames of 10 ms (50 ms .. 1.2 s).
LAGS = tuple(int(round(x)) for x in np.geomspace(5, 120, 16))


def recipe() -> Any:
    """``scripts/train_default_model.py`` as a module (styles, data layout, analysis)."""
    spec = importlib.util.spec_from_file_location("train_default_model", REPO / "scripts" / "train_default_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- features
def pixel_features(pixels: np.ndarray) -> np.ndarray:
    """Style features of one spectrogram image.

    Args:
        pixels: uint8 ``(bands, frames)`` in image orientation (top row = highest band,
            loud = dark), as :func:`wave_pixels` or the training data give.

    Returns:
        float64 vector of ``4 * FEATURE_BANDS + len(LAGS)`` values: per band group
        (low to high) the mean level, its spread over time, its mean frame-to-frame change
        (rhythm) and the mean spread across the group's bands (tonal lines versus noise);
        then the onset envelope's autocorrelation at :data:`LAGS` (tempo and groove).
    """
    level = (255.0 - pixels[::-1].astype(np.float64)) / 255.0  # (bands, frames), low band first
    bands, frames = level.shape
    grouped = level.reshape(FEATURE_BANDS, bands // FEATURE_BANDS, frames)
    groups = grouped.mean(axis=1)  # (groups, frames)
    texture = grouped.std(axis=1).mean(axis=1)
    flux = np.abs(np.diff(groups, axis=1)).mean(axis=1)
    onset = np.maximum(np.diff(groups, axis=1), 0.0).sum(axis=0)
    onset = onset - onset.mean()
    denom = float((onset**2).sum()) or 1.0
    ac = [float((onset[:-lag] * onset[lag:]).sum() / denom) if lag < onset.size else 0.0 for lag in LAGS]
    return np.concatenate([groups.mean(axis=1), groups.std(axis=1), flux, texture, ac])


class StyleClassifier:
    """Multinomial logistic regression on standardised features (L2-regularised, LBFGS)."""

    def __init__(self, styles: Sequence[str], l2: float = 1e-3) -> None:
        self.styles = list(styles)
        self.l2 = l2
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.weight: torch.Tensor | None = None

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Features ``(N, D)`` in the units the classifier was fitted in."""
        assert self.mean is not None and self.scale is not None, "fit first"
        return (x - self.mean) / self.scale

    def fit(self, x: np.ndarray, labels: Sequence[str]) -> StyleClassifier:
        """Train on features ``(N, D)`` and style names."""
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = torch.from_numpy(self.standardise(x)).float()
        y = torch.tensor([self.styles.index(s) for s in labels])
        w = torch.zeros(z.shape[1] + 1, len(self.styles), requires_grad=True)
        opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")
        ones = torch.ones(len(z), 1)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logits = torch.cat([z, ones], dim=1) @ w
            loss = torch.nn.functional.cross_entropy(logits, y) + self.l2 * (w[:-1] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight = w.detach()
        return self

    def predict(self, x: np.ndarray) -> list[str]:
        """Top-1 style per row of ``(N, D)``."""
        assert self.weight is not None, "fit first"
        z = torch.from_numpy(self.standardise(x)).float()
        logits = torch.cat([z, torch.ones(len(z), 1)], dim=1) @ self.weight
        return [self.styles[i] for i in logits.argmax(dim=1).tolist()]


def accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Fraction of equal pairs (0 for no items)."""
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])) if truth else 0.0


def confusion(predicted: Sequence[str], truth: Sequence[str], styles: Sequence[str]) -> np.ndarray:
    """Counts ``(len(styles), len(styles))``: row = prompted style, column = label given."""
    m = np.zeros((len(styles), len(styles)), dtype=int)
    for p, t in zip(predicted, truth, strict=True):
        m[styles.index(t), styles.index(p)] += 1
    return m


#: The feature vector's blocks, as :func:`pixel_features` lays them out.
FEATURE_BLOCKS = {
    "level": slice(0, FEATURE_BANDS), "spread": slice(FEATURE_BANDS, 2 * FEATURE_BANDS),
    "flux": slice(2 * FEATURE_BANDS, 3 * FEATURE_BANDS), "texture": slice(3 * FEATURE_BANDS, 4 * FEATURE_BANDS),
    "groove": slice(4 * FEATURE_BANDS, None),
}


def block_shift(z: np.ndarray, z_ref: np.ndarray) -> dict[str, float]:
    """Mean shift per feature block of standardised features ``(N, D)`` from their rendered
    twins ``(N, D)``, in standard deviations: which way a model errs (e.g. blur lowers
    ``texture``; a washed-out peak raises every ``level`` once the clip is peak-normalised)."""
    return {name: float((z[:, sl] - z_ref[:, sl]).mean()) for name, sl in FEATURE_BLOCKS.items()}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``(N, D)`` and ``(M, D)``.

    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2)``, computed with
    symmetric eigendecompositions (no scipy).
    """
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(ca)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    cross = float(np.sqrt(np.clip(inner, 0, None)).sum())
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2.0 * cross)


# --------------------------------------------------------------------------- picture
def save_grid(images: dict[str, list[Any]], path: Path) -> None:
    """Spectrogram images, one row per style (style name at the left), as a PNG."""
    from PIL import Image, ImageDraw

    styles = list(images)
    cols = max(len(v) for v in images.values())
    tile_w, tile_h, label = 128, 128, 110
    sheet = Image.new("L", (label + cols * (tile_w + 4), len(styles) * (tile_h + 4) + 4), 255)
    draw = ImageDraw.Draw(sheet)
    for r, style in enumerate(styles):
        y = 4 + r * (tile_h + 4)
        draw.text((4, y + tile_h // 2 - 6), style, fill=0)
        for c, img in enumerate(images[style]):
            sheet.paste(img.convert("L").resize((tile_w, tile_h)), (label + c * (tile_w + 4), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def save_loss_curve(rows: list[dict[str, Any]], path: Path, key: str = "loss") -> None:
    """A line plot (PNG, drawn with PIL) of ``key`` against ``minutes`` of training.

    Args:
        rows: records with ``minutes`` and ``key`` (the trainer's ``loss.jsonl``), in order.
    """
    from PIL import Image, ImageDraw

    width, height, pad = 640, 320, 48
    xs = [float(r["minutes"]) for r in rows]
    ys = [float(r[key]) for r in rows]
    lo, hi = min(ys), max(ys)
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (hi - lo) or 1.0
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([pad, pad // 2, width - pad // 2, height - pad], outline="black")
    points = [(pad + (x - min(xs)) / span_x * (width - 1.5 * pad), height - pad - (y - lo) / span_y * (height - 1.5 * pad))
              for x, y in zip(xs, ys, strict=True)]
    draw.line(points, fill=(40, 90, 200), width=2)
    draw.text((pad, 4), f"UNet training loss (min-SNR-weighted v-MSE, mean of 50 steps): {hi:.3f} -> {ys[-1]:.3f}", fill="black")
    draw.text((pad, height - pad + 6), f"0 .. {max(xs):.0f} minutes of training on the CPU", fill="black")
    draw.text((4, pad // 2), f"{hi:.3f}", fill="black")
    draw.text((4, height - pad - 10), f"{lo:.3f}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


# --------------------------------------------------------------------------- main
def heldout_classifier(
    held: dict[str, Any], styles: Sequence[str], per_style: int
) -> tuple[StyleClassifier, np.ndarray, dict[str, list[int]]]:
    """The style classifier fitted on the first ``per_style`` held-out images of each style.

    Returns the classifier, the features of every held-out image ``(N, D)`` and each
    style's image indices in split order (the later ones are for testing and twins).
    """
    by_style = {s: [i for i, st in enumerate(held["styles"]) if st == s] for s in styles}
    feats = np.stack([pixel_features(p) for p in held["images"]])
    fit = [i for s in styles for i in by_style[s][:per_style]]
    return StyleClassifier(styles).fit(feats[fit], [str(held["styles"][i]) for i in fit]), feats, by_style


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="diffusers folder (default: the packaged default model)")
    parser.add_argument("--work", type=Path, default=None, help="training state folder with data/heldout")
    parser.add_argument("--seeds", type=int, default=8, help="generated clips per style (8)")
    parser.add_argument("--train-per-style", type=int, default=25, help="rendered clips per style to fit the classifier")
    parser.add_argument("--test-per-style", type=int, default=20, help="further rendered clips per style to test it")
    parser.add_argument("--untrained", type=int, default=0, metavar="N",
                        help="also generate N clips per style with an untrained UNet and text encoder, for the FD")
    parser.add_argument("--vae-ceiling", type=int, default=0, metavar="N",
                        help="also pass N rendered clips per style through the VAE (encode, decode, phase) and "
                             "label them: what a perfect UNet could reach through this VAE")
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

    rec = recipe()
    work = (args.work or rec.WORK).resolve()
    checkpoint = args.checkpoint or default_checkpoint_path()
    if checkpoint is None:
        raise SystemExit("no --checkpoint given and no packaged default model (sonogen/models/default/)")
    styles = list(rec.DEFAULT_STYLES)
    held = rec.load_split(work, "heldout")
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
    pipe = load_pipeline(str(checkpoint), device="cpu")
    print(f"generating {len(prompts)} clips ({pipe.default_steps} steps, guidance {pipe.default_guidance})")
    images, waves, pixels = generate_set(pipe, prompts, seeds, args.batch, rec.wave_pixels)
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
        from sonogen.train.model import build_text_encoder, build_unet

        # the same number of clips per style from each model, so the sample size biases all alike
        few = [k for k, s in enumerate(truth) if truth[: k + 1].count(s) <= args.untrained]
        cfg = rec.model_cfg()
        torch.manual_seed(0)
        raw = load_pipeline(str(checkpoint), device="cpu")
        raw.unet = build_unet(cfg["unet"], raw.latent_channels, int(cfg["text_encoder"]["hidden_size"]), 32).eval()
        raw.text_encoder = build_text_encoder(cfg["text_encoder"], raw.tokenizer).eval()
        print("untrained model:")
        _, _, raw_pixels = generate_set(raw, [prompts[k] for k in few], [seeds[k] for k in few], args.batch, rec.wave_pixels)
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
                x = rec.to_unit(held["images"][ref[k]][None])
                image = pipe.decode_latents(pipe.encode_image(x))  # (1, 3, H, W) in [0, 1]
                out_image = pipe._to_image(image[0])
                wave = pipe._to_audio(out_image, loop=False)
                recon.append(pixel_features(rec.wave_pixels(wave)))
        ceiling = accuracy(clf.predict(np.stack(recon)), [truth[k] for k in ids])
        shifts["through the VAE"] = block_shift(clf.standardise(np.stack(recon)), clf.standardise(feats[[ref[k] for k in ids]]))
        print(f"rendered clips through the VAE (N={len(ids)}): labelled as their style {ceiling:.1%}")

    args.out.mkdir(parents=True, exist_ok=True)
    loss_log = work / "unet" / "loss.jsonl"
    if loss_log.is_file():
        rows = [json.loads(line) for line in loss_log.read_text().splitlines() if line.strip()]
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
        "checkpoint": str(checkpoint), "styles": styles, "steps": pipe.default_steps, "guidance": pipe.default_guidance,
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
