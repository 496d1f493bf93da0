"""Helpers shared by the command modules: spectrogram-format options and image outputs.

The command modules (``convert``, ``generate``, ``batch``, ``train``) import these from
here, not from one another.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError
from sonogen.utils import DTYPES, atomic_path

# Every command module imports this one while `sonogen` parses its arguments, so the
# spectrogram modules (torch) are imported inside the functions, for a quick start
# (tests/cli/test_cold_start.py checks what parsing imports).

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


def default_workers() -> int:
    """Worker processes of the batch commands unless --workers says otherwise: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def add_format_options(parser: argparse.ArgumentParser) -> None:
    """Options that set the spectrogram format (defaults: Riffusion v1)."""
    group = parser.add_argument_group("spectrogram format (defaults: Riffusion v1)")
    group.add_argument("--stereo", action="store_true", help="two channels: left in G, right in B")
    group.add_argument("--sample-rate", type=int, default=44100, metavar="HZ")
    group.add_argument("--min-frequency", type=int, default=0, metavar="HZ")
    group.add_argument("--max-frequency", type=int, default=10000, metavar="HZ")
    group.add_argument("--num-frequencies", type=int, default=512, metavar="N", help="mel bands (image height)")
    group.add_argument("--step-ms", type=int, default=10, metavar="MS", help="hop: one image column")
    group.add_argument("--window-ms", type=int, default=100, metavar="MS")
    group.add_argument("--padded-ms", type=int, default=400, metavar="MS", help="FFT length")
    group.add_argument("--power", type=float, default=0.25, help="power_for_image contrast curve")


def params_from_args(args: argparse.Namespace) -> Any:
    """SpectrogramParams from :func:`add_format_options` values (validated)."""
    from sonogen.spectrogram.params import SpectrogramParams

    return SpectrogramParams(
        stereo=args.stereo,
        sample_rate=args.sample_rate,
        step_size_ms=args.step_ms,
        window_duration_ms=args.window_ms,
        padded_duration_ms=args.padded_ms,
        num_frequencies=args.num_frequencies,
        min_frequency=args.min_frequency,
        max_frequency=args.max_frequency,
        power_for_image=args.power,
    )


def check_image_path(path: str) -> None:
    if Path(path).suffix.lower() not in IMAGE_EXTENSIONS:
        raise SonogenError(f"output image must end in one of {', '.join(IMAGE_EXTENSIONS)}: {path}")


def save_image_atomic(image: Any, path: str) -> None:
    """Save a spectrogram image (EXIF included) without leaving partial files."""
    from sonogen.spectrogram.image import save_image

    check_image_path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[Path(path).suffix.lower()]
    with atomic_path(path) as tmp:
        save_image(image, str(tmp), fmt)


def add_speed_options(p: argparse.ArgumentParser) -> None:
    """``--dtype`` and ``--compile``, for every command that loads a model."""
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="weights dtype (default: float16 on a GPU, float32 on the CPU; latents stay float32)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the UNet and VAE decoder (faster after a slow first call per size)")
