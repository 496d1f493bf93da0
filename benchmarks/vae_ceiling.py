"""The autoencoder ceiling: how much of each style survives encode, decode and phase reconstruction.

A style classifier (``judge.py``: logistic regression on spectrogram style and timbre
statistics) is fitted on rendered held-out clips only (the first ``--fit`` per style) and checked on further
rendered clips (its own score). Then the next ``--per-style`` clips of each style take two
round trips, and each result is analysed again with the format's STFT and labelled:

- **format**: image -> phase reconstruction -> audio (what the format and phase keep);
- **autoencoder**: image -> encoder mean -> decoder -> image -> phase reconstruction -> audio.

The ceiling is the autoencoder round trips' share labelled as their own style, beside the
rendered clips' own score; a UNet can sound no better than its decoder. Also printed: the
Fréchet distance of the round trips to the fitting clips divided by that of other
rendered clips (same N), the mean pixel error, the feature shift by block, and the time
of one decode of a 5.12 s latent. A picture puts rendered spectrograms beside their round
trips. Each argument is an autoencoder folder (``OUT/autoencoder``), a model folder (its
``vae``) or, with ``--config``, a training state folder (``OUT/autoencoder/checkpoints/step-N``)::

    python benchmarks/vae_ceiling.py --heldout ~/.cache/sonogen-v2/heldout ~/.cache/sonogen-v2/model/autoencoder
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge  # noqa: E402  (the benchmarks' shared features, classifier and data)


def _style_part(feats: np.ndarray) -> np.ndarray:
    """The style statistics (:func:`judge.pixel_features`) at the head of full feature rows ``(N, D)``."""
    return feats[:, : 4 * judge.FEATURE_BANDS + len(judge.LAGS)]


@dataclass
class HeldoutBench:
    """The rendered-only judge of a held-out corpus and the clips a benchmark sends through a round trip.

    ``fit`` / ``test`` / ``ids``: held-out indices for fitting the classifier, for its own
    score, and for the round trips (``per_style`` of each style, labels ``truth``).
    ``scale`` and ``z_fit``: the style statistics' spread and the fitting clips scaled by
    it, ``z_ids`` the round-trip clips' own scaled statistics; ``floor``: the Fréchet distance of the ``ids`` clips to the fitting ones (the
    rendered-vs-rendered figure every round trip is divided by).
    """

    held: dict[str, Any]
    styles: list[str]
    clf: Any
    fit: list[int]
    test: list[int]
    ids: list[int]
    truth: list[str]
    scale: np.ndarray
    z_fit: np.ndarray
    z_ids: np.ndarray
    own: float
    floor: float


def heldout_bench(folder: Path, fit_n: int, test_n: int, per_style: int, features: Any) -> HeldoutBench:
    """Load ``folder``, fit the classifier on ``fit_n`` clips a style, and split off the rest."""
    held = judge.load_heldout(folder)
    styles = sorted(set(held["styles"].tolist()))
    clf, feats, by_style = judge.heldout_classifier(held, styles, fit_n, features)
    need = fit_n + test_n + per_style
    short = [s for s in styles if len(by_style[s]) < need]
    if short:
        raise SystemExit(f"too few held-out clips for {', '.join(short)}: need {need}")
    fit = [i for s in styles for i in by_style[s][:fit_n]]
    test = [i for s in styles for i in by_style[s][fit_n : fit_n + test_n]]
    ids = [i for s in styles for i in by_style[s][fit_n + test_n : need]]
    style = _style_part(feats)  # the Fréchet distance uses the style statistics alone (fewer dimensions)
    scale = style[fit].std(axis=0) + 1e-6
    z_fit = style[fit] / scale
    own = judge.accuracy(clf.predict(feats[test]), [str(held["styles"][i]) for i in test])
    floor = judge.frechet_distance(style[ids] / scale, z_fit)
    return HeldoutBench(held, styles, clf, fit, test, ids, [str(held["styles"][i]) for i in ids], scale, z_fit,
                        style[ids] / scale, own, floor)


def load_autoencoder(path: Path, config: Path | None) -> Any:
    """An autoencoder from a saved folder, a model folder, or a training state with ``config``."""
    from safetensors.torch import load_file

    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_vae, load_vae_folder

    if (path / "config.json").is_file():
        return load_vae_folder(path)
    if (path / "vae" / "config.json").is_file():
        return load_vae_folder(path / "vae")
    if config is None or not (path / "model.safetensors").is_file():
        raise SystemExit(f"{path}: not an autoencoder folder, a model folder, or (with --config) a training state")
    vae = build_vae(load_model_config(config)["vae"])
    state = load_file(str(path / "model.safetensors"))
    vae.load_state_dict({k.removeprefix("vae."): v for k, v in state.items()})
    return vae.eval()


def cached_features(cache: Path | None) -> Any:
    """:func:`judge.instrument_features` for :func:`judge.heldout_classifier`, remembering
    each image's vector in ``cache`` (``.npz``, keyed by the pixels' hash) across runs."""
    stored: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        with np.load(cache) as f:
            stored = {k: f[k] for k in f.files}
    fresh = 0

    def features(pixels: np.ndarray) -> np.ndarray:
        nonlocal fresh
        key = f"v{judge.FEATURE_VERSION}-" + hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest()
        if key not in stored:
            stored[key] = judge.instrument_features(pixels)
            fresh += 1
            if cache is not None and fresh % 500 == 0:
                np.savez(cache, **stored)
        return stored[key]

    def save() -> None:
        if cache is not None and fresh:
            np.savez(cache, **stored)

    atexit.register(save)
    return features


def roundtrip_pixels(vae: Any, pixels: np.ndarray) -> np.ndarray:
    """Grey pixels ``(N, H, W)`` uint8 through the autoencoder (encoder mean, decoder).

    Returns ``(N, H', W')`` uint8, the input cropped to whole latent cells (a 5.12 s clip's
    513 columns become 512).
    """
    from sonogen.models.autoencoder import latent_factors

    fh, fw = latent_factors(vae)
    h, w = pixels.shape[1] // fh * fh, pixels.shape[2] // fw * fw
    x = torch.from_numpy(np.ascontiguousarray(pixels[:, :h, :w])).float().div(127.5).sub(1.0)
    x = x[:, None].expand(-1, 3, -1, -1)
    with torch.inference_mode():
        y = vae.decode(vae.encode(x).latent_dist.mean).sample.mean(1)
    return ((y + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def through_phase(pixels: np.ndarray) -> np.ndarray:
    """Grey pixels ``(H, W)`` -> audio by phase reconstruction -> pixels again."""
    from PIL import Image

    from sonogen.spectrogram.converter import get_converter
    from sonogen.spectrogram.image import _attach_exif
    from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

    image = Image.fromarray(pixels).convert("RGB")
    _attach_exif(image, SpectrogramParams(num_frequencies=pixels.shape[0]), DEFAULT_MAX_VALUE)
    wave, rate = get_converter().image_to_audio(image)
    return judge.audio_pixels(wave, rate)[:, : pixels.shape[1]]


def decode_seconds(vae: Any, threads: int, repeats: int = 5) -> float:
    """Median wall time of decoding one 512 x 512 image's latent, channels-last, on ``threads`` threads."""
    from sonogen.models.autoencoder import latent_factors

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    fh, fw = latent_factors(vae)
    channels = int(vae.config.latent_channels)
    model = vae.to(memory_format=torch.channels_last)
    z = torch.randn(1, channels, 512 // fh, 512 // fw).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        model.decode(z)
        for _ in range(repeats):
            start = time.perf_counter()
            model.decode(z)
            times.append(time.perf_counter() - start)
    torch.set_num_threads(before)
    vae.to(memory_format=torch.contiguous_format)
    return statistics.median(times)


def save_pairs(rendered: list[np.ndarray], trips: list[np.ndarray], labels: list[str], path: Path) -> None:
    """Rendered spectrograms (left) beside their autoencoder round trips (right), one row each."""
    from PIL import Image, ImageDraw

    tile, label = 384, 120
    sheet = Image.new("L", (label + 2 * (tile + 4), len(labels) * (tile + 4) + 24), 255)
    draw = ImageDraw.Draw(sheet)
    draw.text((label, 4), "rendered", fill=0)
    draw.text((label + tile + 4, 4), "through the autoencoder", fill=0)
    for r, (a, b, name) in enumerate(zip(rendered, trips, labels, strict=True)):
        y = 24 + r * (tile + 4)
        draw.text((4, y + tile // 2), name, fill=0)
        for c, px in enumerate((a, b)):
            sheet.paste(Image.fromarray(px).resize((tile, tile), Image.Resampling.LANCZOS), (label + c * (tile + 4), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("autoencoders", nargs="+", type=Path)
    parser.add_argument("--heldout", type=Path, required=True, help="held-out corpus folder (synth-corpus --images)")
    parser.add_argument("--config", type=Path, default=None, help="model.json, for training-state arguments")
    parser.add_argument("--fit", type=int, default=25, help="rendered clips per style to fit the classifier (25)")
    parser.add_argument("--test", type=int, default=10, help="further rendered clips per style to test it (10)")
    parser.add_argument("--per-style", type=int, default=8, help="clips per style through the round trips (8)")
    parser.add_argument("--threads", type=int, default=2, help="threads for the decode timing (2)")
    parser.add_argument("--picture", type=Path, default=None, help="PNG of rendered vs round trip, one row per style")
    parser.add_argument("--picture-rows", type=int, default=8)
    parser.add_argument("--no-format", dest="format", action="store_false",
                        help="skip the format-only round trip (the same for every autoencoder)")
    parser.add_argument("--features-cache", type=Path, default=None, metavar="FILE",
                        help="keep the held-out clips' features in this .npz between runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    bench = heldout_bench(args.heldout, args.fit, args.test, args.per_style, cached_features(args.features_cache))
    held, styles, clf, ids, truth = bench.held, bench.styles, bench.clf, bench.ids, bench.truth
    scale, z_fit, own, floor = bench.scale, bench.z_fit, bench.own, bench.floor
    print(f"{len(styles)} styles; classifier fitted on {len(bench.fit)} rendered clips; own score on "
          f"{len(bench.test)} further rendered clips: {own:.1%}; FD rendered vs rendered (N={len(ids)}): {floor:.2f}",
          flush=True)

    if args.format:
        started = time.time()
        fmt = np.stack([judge.instrument_features(through_phase(held["images"][i])) for i in ids])
        fmt_top1 = judge.accuracy(clf.predict(fmt), truth)
        fmt_fd = judge.frechet_distance(_style_part(fmt) / scale, z_fit)
        print(f"format round trip (phase only): {fmt_top1:.1%} ({fmt_top1 / own:.0%} of own), FD ratio "
              f"{fmt_fd / floor:.2f} ({time.time() - started:.0f} s)", flush=True)

    print("\n| autoencoder | image-only | through phase | of own score | FD ratio | L1 grey | decode s "
          f"({args.threads} threads) | shift " + " / ".join(judge.FEATURE_BLOCKS) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.autoencoders:
        vae = load_autoencoder(path, args.config)
        started = time.time()
        trips = np.concatenate([roundtrip_pixels(vae, held["images"][ids[j:j + 8]]) for j in range(0, len(ids), 8)])
        rendered = held["images"][ids][:, : trips.shape[1], : trips.shape[2]]
        l1 = float(np.abs(trips.astype(np.float64) - rendered).mean())
        image_only = judge.accuracy(clf.predict(np.stack([judge.instrument_features(p) for p in trips])), truth)
        heard = np.stack([judge.instrument_features(through_phase(p)) for p in trips])
        top1 = judge.accuracy(clf.predict(heard), truth)
        ratio = judge.frechet_distance(_style_part(heard) / scale, z_fit) / floor
        shift = judge.block_shift(_style_part(heard) / scale, bench.z_ids)
        seconds = decode_seconds(vae, args.threads)
        print(f"| {path} | {image_only:.1%} | {top1:.1%} | {top1 / own:.0%} | {ratio:.2f} | {l1:.1f} | {seconds:.3f} | "
              + " / ".join(f"{v:+.2f}" for v in shift.values()) + f" | ({time.time() - started:.0f} s)", flush=True)
        if args.picture is not None:
            step = max(1, len(styles) // args.picture_rows)
            rows = [styles.index(s) for s in styles[::step][: args.picture_rows]]
            picks = [r * args.per_style for r in rows]
            save_pairs([held["images"][ids[k]] for k in picks], [trips[k] for k in picks], [truth[k] for k in picks],
                       args.picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
