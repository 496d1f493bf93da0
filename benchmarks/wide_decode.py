"""How a spectrogram autoencoder decodes images wider than it learnt: whole, or in tiles.

Pairs of held-out rendered clips are joined side by side into 1024-column images (10.24 s),
encoded, and decoded three ways: whole (the decoder on all columns at once), in the
config's overlapping tiles (``decode_tile``, what the pipeline does), and each 512-column
half alone (the width the decoder learnt, the reference). For each it prints the mean
signed error (negative: darker) and the mean absolute error against the image, in grey
levels (0..255)::

    python benchmarks/wide_decode.py --heldout ~/.cache/sonogen-v2/heldout models/v2-autoencoder --pairs 16
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pixels(path: Path, width: int) -> torch.Tensor:
    """An image file as ``(1, 3, H, width)`` in [-1, 1] (its first ``width`` columns)."""
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32)[:, :width] / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def errors(decoded: torch.Tensor, image: torch.Tensor) -> tuple[float, float]:
    """``(mean signed, mean absolute)`` error in grey levels of the channel mean."""
    diff = (decoded.mean(1) - image.mean(1)) * 127.5
    return float(diff.mean()), float(diff.abs().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("autoencoder", type=Path, help="a saved SpectrogramAutoencoder folder")
    parser.add_argument("--heldout", type=Path, required=True, help="rendered images (synth-corpus --images)")
    parser.add_argument("--pairs", type=int, default=16, help="1024-column images to judge (16)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from sonogen.train.model import load_vae_folder

    torch.set_num_threads(args.threads)
    vae = load_vae_folder(args.autoencoder)
    tile = vae.config.get("decode_tile")
    files = sorted(args.heldout.glob("*.png"))[: 2 * args.pairs]
    rows: dict[str, list[tuple[float, float]]] = {"whole": [], "tiled": [], "halves": []}
    for a, b in zip(files[0::2], files[1::2], strict=False):
        image = torch.cat([pixels(a, 512), pixels(b, 512)], dim=-1)
        with torch.inference_mode():
            z = vae.encode(image).latent_dist.mean
            half = z.shape[-1] // 2
            rows["whole"].append(errors(vae.decoder(z), image))
            rows["tiled"].append(errors(vae.decode(z).sample, image))
            both = torch.cat([vae.decode(z[..., :half]).sample, vae.decode(z[..., half:]).sample], dim=-1)
            rows["halves"].append(errors(both, image))
    print(f"{len(rows['whole'])} images of 1024 columns, decode_tile {tile}\n")
    print("| decoded | mean signed error (grey levels) | mean absolute error |\n|---|---|---|")
    for name, values in rows.items():
        signed, absolute = statistics.mean(v[0] for v in values), statistics.mean(v[1] for v in values)
        print(f"| {name} | {signed:+.2f} | {absolute:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
