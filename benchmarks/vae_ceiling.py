"""Image-only VAE ceiling of training-state VAEs: how much style survives encode + decode.

Fits the style classifier of ``benchmarks/default_model.py`` on 25 held-out rendered images
per style, then for each VAE state file encodes and decodes the last ``--per-style``
held-out images of every style (the encoder's mean latent, as the UNet's latents are made)
and labels the decoded pictures. No phase reconstruction: this isolates the VAE, and is
cheap enough to compare decoder checkpoints during a run (about 5 minutes per state on one
core at the default 15 per style). Prints one line per state: the share labelled as their
style and the mean feature shift from the originals, in classifier standard deviations.

    python benchmarks/vae_ceiling.py ~/.cache/sonogen-default/vae/state.safetensors [MORE.safetensors ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import default_model as bm  # noqa: E402  (the benchmark's classifier and features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("states", nargs="+", type=Path, help="VAE state .safetensors files (training format)")
    parser.add_argument("--per-style", type=int, default=15, help="held-out images per style to pass through (15)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="training state folder with data/heldout")
    args = parser.parse_args(argv)
    if not 1 <= args.per_style <= 35:
        parser.error("--per-style must be 1..35 (the first 25 per style fit the classifier)")
    torch.set_num_threads(args.threads)
    from safetensors.torch import load_file

    from sonogen.train.model import build_vae

    rec = bm.recipe()
    styles = list(rec.DEFAULT_STYLES)
    held = rec.load_split((args.work or rec.WORK).resolve(), "heldout")
    clf, feats, by_style = bm.heldout_classifier(held, styles, 25)
    ids = [i for s in styles for i in by_style[s][-args.per_style:]]
    truth = [str(held["styles"][i]) for i in ids]
    print(f"rendered images themselves: {bm.accuracy(clf.predict(feats[ids]), truth):.1%} (N={len(ids)})")
    for state in args.states:
        vae = build_vae(rec.model_cfg()["vae"])
        vae.load_state_dict(load_file(state))
        vae.eval()
        started, decoded = time.time(), []
        with torch.inference_mode():
            for j in range(0, len(ids), 8):
                x = rec.to_unit(held["images"][ids[j:j + 8]])
                y = vae.decode(vae.encode(x).latent_dist.mean).sample.mean(1)
                pixels = ((y + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
                decoded += [bm.pixel_features(p) for p in pixels]
        out = np.stack(decoded)
        shift = bm.block_shift(clf.standardise(out), clf.standardise(feats[ids]))
        print(f"{state}: image-only {bm.accuracy(clf.predict(out), truth):.1%} (N={len(ids)}, "
              f"{time.time() - started:.0f} s) " + " ".join(f"{k} {v:+.2f}" for k, v in shift.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
