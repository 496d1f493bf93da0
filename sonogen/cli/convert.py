"""Conversion commands: audio-to-image, image-to-audio, info, sample-clips, audio-to-images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sonogen.argtypes import positive_float, positive_int
from sonogen.cli.common import (
    add_format_options,
    check_image_path,
    default_workers,
    params_from_args,
    save_image_atomic,
)
from sonogen.errors import SonogenError
from sonogen.utils import map_jobs

# `sonogen` imports this module while parsing its arguments, so the audio and spectrogram
# modules (numpy, soundfile, torch) are imported inside the handlers, for a quick start
# (tests/cli/test_cold_start.py checks what parsing imports).

#: Images at least this wide (about 20 s at the v1 hop) show a progress bar while their phase is recovered.
LONG_PIECE_COLUMNS = 2048


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audio-to-image", help="audio file -> spectrogram image (with EXIF)")
    p.add_argument("audio")
    p.add_argument("image", help="output .png/.jpg/.webp")
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="clip start")
    p.add_argument("--seconds", type=positive_float, default=None, help="clip length (default: all)")
    add_format_options(p)
    p.set_defaults(func=cmd_audio_to_image)

    p = subparsers.add_parser("roundtrip", help="synthesise a clip, audio -> image -> audio, print the quality")
    p.add_argument("--outdir", default="sonogen-demo")
    p.add_argument("--seconds", type=positive_float, default=5.12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("fast", "original"), default="fast")
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_roundtrip)

    p = subparsers.add_parser("image-to-audio", help="spectrogram image -> audio (format from extension)")
    p.add_argument("image")
    p.add_argument("audio", help="output .wav/.flac/.ogg/.mp3")
    p.add_argument("--method", choices=("fast", "original"), default="fast", help="phase reconstruction")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.set_defaults(func=cmd_image_to_audio)

    p = subparsers.add_parser("info", help="print the spectrogram parameters stored in an image")
    p.add_argument("image")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("sample-clips", help="cut clips from an audio file")
    p.add_argument("audio")
    p.add_argument("outdir")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--count", type=positive_int, help="this many clips at random starts (seeded)")
    how.add_argument("--hop", type=positive_float, metavar="SECONDS", help="a clip every SECONDS")
    p.add_argument("--seconds", type=positive_float, default=5.12, help="clip length (5.12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("wav", "flac", "ogg", "mp3"), default="wav")
    p.add_argument("--images", action="store_true", help="also write each clip's spectrogram image")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sample_clips)

    p = subparsers.add_parser("audio-to-images", help="a folder of audio -> spectrogram images, in parallel")
    p.add_argument("audio_dir")
    p.add_argument("outdir")
    p.add_argument("--workers", type=positive_int, default=default_workers())
    p.add_argument("--clip-seconds", type=positive_float, default=None, help="cut into clips of this length")
    p.add_argument("--ext", choices=("png", "jpg", "webp"), default="png")
    add_format_options(p)
    p.set_defaults(func=cmd_audio_to_images)


def cmd_roundtrip(args: argparse.Namespace) -> int:
    import time

    from sonogen.audio.demo import demo_clip
    from sonogen.audio.io import save_audio
    from sonogen.spectrogram.converter import get_converter
    from sonogen.spectrogram.image import image_to_spectrogram
    from sonogen.spectrogram.metrics import spectral_convergence
    from sonogen.spectrogram.params import SpectrogramParams

    out = Path(args.outdir)
    converter = get_converter(device=args.device)
    rate = converter.params.sample_rate
    clip = demo_clip(seed=args.seed, seconds=args.seconds, sample_rate=rate)
    save_audio(out / "demo.wav", clip, rate)
    image = converter.audio_to_image(clip, rate)
    save_image_atomic(image, str(out / "demo.png"))
    params, peak = SpectrogramParams.from_image(image)
    mel = image_to_spectrogram(image, params, peak)
    start = time.perf_counter()
    wave = converter.waveform_from_spectrogram(mel, method=args.method)
    seconds = time.perf_counter() - start
    save_audio(out / "demo_roundtrip.wav", wave.cpu().numpy() * (0.98 / max(float(wave.abs().max()), 1e-9)), rate)
    sc = spectral_convergence(mel, wave, get_converter())
    print(f"wrote {out / 'demo.wav'}, {out / 'demo.png'} ({image.width}x{image.height}), {out / 'demo_roundtrip.wav'}")
    print(f"phase reconstruction ({args.method}): {seconds:.2f} s for {args.seconds:.2f} s of audio on {converter.device}")
    print(f"spectral convergence (mel domain): {sc:.4f}")
    return 0


def cmd_audio_to_image(args: argparse.Namespace) -> int:
    from sonogen.audio.io import load_audio
    from sonogen.audio.ops import cut_clip
    from sonogen.spectrogram.converter import get_converter

    check_image_path(args.image)
    params = params_from_args(args)
    wave, rate = load_audio(args.audio, params.sample_rate)
    if args.start < 0:
        raise SonogenError(f"--start must be >= 0, got {args.start}")
    if args.seconds is not None or args.start:
        total = wave.shape[1] / rate
        if args.start >= total:
            raise SonogenError(f"--start {args.start} s is past the end of the audio ({total:.2f} s)")
        wave = cut_clip(wave, rate, args.start, args.seconds or (total - args.start))
    image = get_converter(params).audio_to_image(wave, rate)
    save_image_atomic(image, args.image)
    print(f"wrote {args.image} ({image.width}x{image.height}, {params.seconds_for_width(image.width):.2f} s)")
    return 0


def cmd_image_to_audio(args: argparse.Namespace) -> int:
    from sonogen.audio.io import format_for, save_audio
    from sonogen.spectrogram.converter import get_converter
    from sonogen.spectrogram.image import load_image

    format_for(args.audio)  # fail early on a bad extension
    image = load_image(args.image)
    long_piece = image.width >= LONG_PIECE_COLUMNS  # phase reconstruction takes seconds: show it
    wave, rate = get_converter(device=args.device).image_to_audio(image, method=args.method, progress=long_piece)
    save_audio(args.audio, wave, rate)
    print(f"wrote {args.audio} ({wave.shape[1] / rate:.2f} s, {rate} Hz, {wave.shape[0]} channel(s))")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from sonogen.spectrogram.image import load_image
    from sonogen.spectrogram.params import ExifTag, SpectrogramParams

    image = load_image(args.image)
    exif = image.getexif()
    tagged = [t for t in ExifTag if int(t) in exif]
    params, max_value = SpectrogramParams.from_image(image, warn=False)
    print(f"image: {args.image} ({image.width}x{image.height}, mode {image.mode})")
    print(f"exif_tags: {len(tagged)} of {len(ExifTag)}" + ("" if tagged else " (defaults shown)"))
    for name, value in params.__dict__.items():
        print(f"{name}: {value}")
    print(f"max_value: {max_value:g}")
    print(f"duration_s: {params.seconds_for_width(image.width):.2f}")
    return 0


def cmd_sample_clips(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from sonogen.audio.io import load_audio, save_audio
    from sonogen.audio.ops import cut_clip
    from sonogen.spectrogram.converter import get_converter

    wave, rate = load_audio(args.audio)
    total = wave.shape[1] / rate
    if total < args.seconds:
        raise SonogenError(f"audio is {total:.2f} s long, shorter than one {args.seconds} s clip")
    last_start = total - args.seconds
    if args.count:
        rng = np.random.default_rng(args.seed)
        starts = sorted(float(s) for s in rng.uniform(0.0, last_start, size=args.count))
    else:
        hop = args.hop or args.seconds
        starts = [float(s) for s in np.arange(0.0, last_start + 1e-9, hop)]
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.audio).stem
    for i, start in enumerate(tqdm(starts, desc="sample-clips", unit="clip", disable=args.no_progress)):
        clip = cut_clip(wave, rate, start, args.seconds)
        save_audio(out / f"{stem}_{i:04d}.{args.format}", clip, rate)
        if args.images:
            converter = get_converter()
            save_image_atomic(converter.audio_to_image(clip, rate), str(out / f"{stem}_{i:04d}.png"))
    print(f"wrote {len(starts)} clip(s) of {args.seconds} s to {out}")
    return 0


def _convert_one(job: tuple[str, str, Any, float | None, str]) -> tuple[str, int, str | None]:
    """Worker: one audio file -> image(s). Returns (source, images written, error)."""
    source, out_stem, params, clip_seconds, ext = job
    try:
        import torch

        torch.set_num_threads(1)
        from sonogen.audio.io import load_audio
        from sonogen.audio.ops import cut_clip
        from sonogen.spectrogram.converter import get_converter

        wave, rate = load_audio(source, params.sample_rate)
        converter = get_converter(params)
        if clip_seconds is None:
            pieces = [("", wave)]
        else:
            total = wave.shape[1] / rate
            count = max(1, int(total // clip_seconds))
            pieces = [(f"_{i:04d}", cut_clip(wave, rate, i * clip_seconds, clip_seconds)) for i in range(count)]
        written = 0
        for suffix, piece in pieces:
            target = f"{out_stem}{suffix}.{ext}"
            if Path(target).exists():
                continue
            save_image_atomic(converter.audio_to_image(piece, rate), target)
            written += 1
        return source, written, None
    except SonogenError as exc:
        return source, 0, str(exc)
    except Exception as exc:  # one bad file never stops the batch
        return source, 0, f"{type(exc).__name__}: {exc}"


def cmd_audio_to_images(args: argparse.Namespace) -> int:
    """Mirror a folder of audio as spectrogram images; resumable because a finished output is skipped.

    ``build-dataset`` (``sonogen/data/dataset.py``) is the captioned, flat, metadata-writing
    sibling; the two share the pool (:func:`sonogen.utils.map_jobs`), and that module says
    why they resume differently.
    """
    from sonogen.audio.io import AUDIO_EXTENSIONS

    root = Path(args.audio_dir)
    if not root.is_dir():
        raise SonogenError(f"not a folder: {args.audio_dir}")
    params = params_from_args(args)
    sources = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not sources:
        raise SonogenError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {args.audio_dir}")
    out = Path(args.outdir)
    jobs = []
    done_before = 0
    for src in sources:
        stem = out / src.relative_to(root).with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        if args.clip_seconds is None and Path(f"{stem}.{args.ext}").exists():
            done_before += 1  # resumable: finished files are skipped
            continue
        jobs.append((str(src), str(stem), params, args.clip_seconds, args.ext))
    failures: list[tuple[str, str]] = []
    written = 0
    for source, count, error in map_jobs(_convert_one, jobs, args.workers, desc="audio-to-images", unit="file"):
        written += count
        if error:
            failures.append((source, error))
    print(
        f"converted {len(jobs) - len(failures)} file(s), wrote {written} image(s), "
        f"skipped {done_before} already done, {len(failures)} unreadable"
    )
    for source, error in failures:
        print(f"  skipped {source}: {error}", file=sys.stderr)
    if failures:  # the summary first, then a failing exit: scripts must notice
        print(f"sonogen: error: {len(failures)} of {len(sources)} file(s) could not be converted", file=sys.stderr)
        return 2
    return 0
