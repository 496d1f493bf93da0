"""Figures of a small sonogen model on the CPU (issue 6): speed, prompt adherence, a picture.

* speed: model load time and the generation time of one 5.12 s clip (512 columns,
  text -> image -> waveform) with ``--threads`` CPU threads (2 = the issue's laptop),
  beside real time (5.12 s);
* prompt adherence: a style classifier (multinomial logistic regression on log-mel
  statistics, numpy/torch) is trained on part of a held-out corpus (clips the model never
  saw, rendered with another seed by ``sonogen synth-corpus``); it scores the rest of the
  held-out clips (real accuracy) and clips the model generates from each style's held-out
  captions (generated accuracy, top-1);
* a grid picture of generated spectrograms, one row per style.

Any diffusers folder works, so the path can be tried on a tiny CPU-trained checkpoint::

    python benchmarks/default_model.py --checkpoint /tmp/sonogen-smoke/export \\
        --heldout /tmp/sonogen-smoke/heldout --clips-per-style 1 --steps 4 --out /tmp/figs

Writes ``OUT/default_model.json``, ``OUT/default_model_grid.png`` and prints a markdown table.
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

CLIP_SECONDS = 5.12
#: Mel bands are pooled into this many groups for the classifier's features.
FEATURE_BANDS = 32


# --------------------------------------------------------------------------- features
def clip_features(wave: np.ndarray, rate: int) -> np.ndarray:
    """Style features of one clip ``(C, S)``: per band group, log-mel mean, std and flux.

    The mel spectrogram (sonogen's v1 format, 512 bands) is pooled into
    :data:`FEATURE_BANDS` groups; per group: mean and standard deviation of the log
    magnitude over time and mean absolute frame-to-frame change (rhythm), plus the
    spectrum-wide onset strength's autocorrelation at 16 lags (tempo/groove).

    Returns:
        float64 vector of ``3 * FEATURE_BANDS + 16`` values.
    """
    from sonogen.spectrogram.converter import get_converter

    converter = get_converter()
    if rate != converter.params.sample_rate:
        from sonogen.audio.io import resample

        wave = resample(wave, rate, converter.params.sample_rate)
    mono = np.asarray(wave, np.float32).mean(axis=0, keepdims=True)
    mel = converter.spectrogram_from_waveform(torch.from_numpy(mono))[0].double().numpy()  # (bands, frames)
    groups = mel.reshape(FEATURE_BANDS, -1, mel.shape[-1]).mean(axis=1)  # (groups, frames)
    log = np.log(groups + 1e-3 * groups.max() + 1e-9)
    flux = np.abs(np.diff(log, axis=1))
    onset = np.maximum(np.diff(log, axis=1), 0).sum(axis=0)
    onset = onset - onset.mean()
    denom = float((onset**2).sum()) or 1.0
    lags = [int(round(x)) for x in np.geomspace(5, 120, 16)]  # 50 ms .. 1.2 s at 10 ms hop
    ac = [float((onset[:-lag] * onset[lag:]).sum() / denom) if lag < onset.size else 0.0 for lag in lags]
    return np.concatenate([log.mean(axis=1), log.std(axis=1), flux.mean(axis=1), ac])


class StyleClassifier:
    """Multinomial logistic regression on standardised features (L2-regularised, LBFGS)."""

    def __init__(self, styles: Sequence[str], l2: float = 1e-2) -> None:
        self.styles = list(styles)
        self.l2 = l2
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.weight: torch.Tensor | None = None

    def fit(self, x: np.ndarray, labels: Sequence[str]) -> StyleClassifier:
        """Train on features ``(N, D)`` and style names."""
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = torch.from_numpy((x - self.mean) / self.scale).float()
        y = torch.tensor([self.styles.index(s) for s in labels])
        w = torch.zeros(z.shape[1] + 1, len(self.styles), requires_grad=True)
        opt = torch.optim.LBFGS([w], max_iter=300, line_search_fn="strong_wolfe")
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
        assert self.mean is not None and self.scale is not None and self.weight is not None
        z = torch.from_numpy((x - self.mean) / self.scale).float()
        logits = torch.cat([z, torch.ones(len(z), 1)], dim=1) @ self.weight
        return [self.styles[i] for i in logits.argmax(dim=1).tolist()]


def accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Fraction of equal pairs (0 for no items)."""
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])) if truth else 0.0


def read_corpus(folder: Path) -> list[dict[str, Any]]:
    """Rows of ``folder/metadata.jsonl`` (file_name, text, style, ...)."""
    path = folder / "metadata.jsonl"
    if not path.is_file():
        raise SystemExit(f"no metadata.jsonl in {folder}: make it with `sonogen synth-corpus {folder} --clips N`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_heldout(rows: list[dict[str, Any]], test_fraction: float = 0.25) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per style: the last quarter (at least one clip when a style has two) is the test part."""
    by_style: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_style.setdefault(row["style"], []).append(row)
    train, test = [], []
    for items in by_style.values():
        k = max(1, int(round(len(items) * test_fraction))) if len(items) > 1 else 0
        train += items[: len(items) - k]
        test += items[len(items) - k :]
    return train, test


# --------------------------------------------------------------------------- picture
def save_grid(images: dict[str, list[Any]], path: Path) -> None:
    """Spectrogram images, one row per style (style name at the left), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = list(images)
    cols = max(len(v) for v in images.values())
    fig, axes = plt.subplots(len(styles), cols, figsize=(2.0 * cols + 1.2, 1.6 * len(styles)), squeeze=False)
    for r, style in enumerate(styles):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images[style]):
                ax.imshow(np.asarray(images[style][c].convert("L")), cmap="gray", aspect="auto")
            if c == 0:
                ax.set_ylabel(style, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("generated spectrograms (rows: styles; 512 bands x 5.12 s)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="diffusers folder (default: the packaged default model)")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out corpus folder (sonogen synth-corpus)")
    parser.add_argument("--clips-per-style", type=int, default=4, help="generated clips per style")
    parser.add_argument("--steps", type=int, default=20, help="inference steps per clip")
    parser.add_argument("--guidance", type=float, default=7.0)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the issue's 2 cores)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from sonogen.audio.io import load_audio
    from sonogen.models import default_checkpoint_path
    from sonogen.pipeline import load_pipeline

    checkpoint = args.checkpoint or default_checkpoint_path()
    if checkpoint is None:
        raise SystemExit("no --checkpoint given and no packaged default model yet (sonogen/models/default/)")
    # --- speed: load, then one 5.12 s clip (after one warm-up clip)
    start = time.perf_counter()
    pipe = load_pipeline(str(checkpoint), device="cpu")
    load_s = time.perf_counter() - start
    prompt = "funky bass and drums at 110 bpm"
    pipe(prompt, seed=0, num_inference_steps=args.steps, guidance_scale=args.guidance, progress=False)
    start = time.perf_counter()
    pipe(prompt, seed=1, num_inference_steps=args.steps, guidance_scale=args.guidance, progress=False)
    gen_s = time.perf_counter() - start

    # --- classifier on the held-out corpus
    rows = read_corpus(args.heldout)
    styles = sorted({r["style"] for r in rows})
    train_rows, test_rows = split_heldout(rows)
    feats: dict[str, np.ndarray] = {}
    for row in rows:
        wave, rate = load_audio(str(args.heldout / row["file_name"]))
        feats[row["file_name"]] = clip_features(wave, rate)
    clf = StyleClassifier(styles).fit(
        np.stack([feats[r["file_name"]] for r in train_rows]), [r["style"] for r in train_rows]
    )
    real_acc = accuracy(clf.predict(np.stack([feats[r["file_name"]] for r in test_rows])), [r["style"] for r in test_rows]) if test_rows else 0.0

    # --- generated clips from each style's held-out captions
    captions: dict[str, list[str]] = {}
    for row in test_rows + train_rows:
        captions.setdefault(row["style"], []).append(row["text"])
    images: dict[str, list[Any]] = {}
    gen_feats, gen_truth = [], []
    for style in styles:
        for k in range(args.clips_per_style):
            text = captions[style][k % len(captions[style])]
            out = pipe(text, seed=1000 + k, num_inference_steps=args.steps, guidance_scale=args.guidance, progress=False)
            images.setdefault(style, []).append(out.images[0])
            gen_feats.append(clip_features(out.waveforms[0], out.sample_rate))
            gen_truth.append(style)
    gen_pred = clf.predict(np.stack(gen_feats))
    gen_acc = accuracy(gen_pred, gen_truth)
    per_style = {s: accuracy([p for p, t in zip(gen_pred, gen_truth, strict=True) if t == s], [s] * gen_truth.count(s)) for s in styles}
    args.out.mkdir(parents=True, exist_ok=True)
    save_grid(images, args.out / "default_model_grid.png")

    figures = {
        "checkpoint": str(checkpoint), "threads": args.threads, "steps": args.steps, "load_s": load_s,
        "generate_s": gen_s, "x_realtime": CLIP_SECONDS / gen_s, "styles": len(styles),
        "heldout_train": len(train_rows), "heldout_test": len(test_rows), "real_top1": real_acc,
        "generated_clips": len(gen_truth), "generated_top1": gen_acc, "generated_top1_per_style": per_style,
    }
    (args.out / "default_model.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"checkpoint {checkpoint}; {args.threads} threads; {args.steps} steps\n")
    print("| figure | value | target |\n|---|---|---|")
    print(f"| model load | {load_s:.2f} s | < 3 s |")
    print(f"| one 5.12 s clip | {gen_s:.2f} s ({CLIP_SECONDS / gen_s:.2f}x real time) | < 5.12 s |")
    print(f"| style classifier, real held-out clips (top-1, {len(styles)} styles, {len(test_rows)} clips) | {real_acc:.1%} | - |")
    print(f"| style classifier, generated clips (top-1, {len(gen_truth)} clips) | {gen_acc:.1%} | >= 60% over >= 12 styles |")
    print(f"\ngrid: {args.out / 'default_model_grid.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
