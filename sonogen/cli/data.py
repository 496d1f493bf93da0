"""Dataset commands: build-dataset (captioned audio -> spectrogram images) and synth-corpus."""

from __future__ import annotations

import argparse
from typing import Any

from sonogen.argtypes import fraction, positive_float, positive_int, unit_float
from sonogen.cli.common import add_format_options, default_workers, params_from_args


def register(subparsers: Any) -> None:
    """Add ``build-dataset`` and ``synth-corpus``."""
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
    p.add_argument("--overlap", type=fraction, default=0.0, help="fraction of a window shared with the next (0)")
    p.add_argument("--silence-db", type=float, default=-50.0, metavar="DB",
                   help="skip windows quieter than this RMS level in dBFS (-50)")
    p.add_argument("--image-format", choices=("png", "jpg"), default="png")
    p.add_argument("--workers", type=positive_int, default=default_workers())
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ray", action="store_true",
                   help="convert on a Ray cluster with Ray Data (needs the ray extra: pip install \"sonogen[ray]\")")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --ray: the cluster to join (auto, host:6379, ray://host:10001; default: a local Ray)")
    add_format_options(p)
    p.set_defaults(func=cmd_build_dataset)

    p = subparsers.add_parser(
        "synth-corpus",
        help="render a synthetic captioned music corpus with a General MIDI SoundFont",
        description="Compose clips in the corpus's styles (about 15% of them blends of a style with a foreign "
        "instrument or another style) and render them with tinysoundfont: OUT/<id>.wav (44.1 kHz stereo), or "
        "with --images the spectrogram image sonogen audio-to-image makes of the mono clip (OUT/<id>.png, a "
        "dataset sonogen train --dataset reads), and OUT/metadata.jsonl (file_name, text, style, blend, "
        "instruments, drums, effects, tempo, key, soundfont, seed, ...). Clips are spread over the SoundFonts "
        "by seed: by default every Debian GM font installed (bash scripts/install-soundfont.sh), else the "
        "TimGM6mb font pip installs. OUT/corpus.json records the settings; re-running resumes.",
    )
    p.add_argument("out")
    p.add_argument("--clips", type=positive_int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=default_workers())
    p.add_argument("--soundfont", action="append", default=None, metavar="PATH",
                   help="a .sf2/.sf3 General MIDI SoundFont; repeat to spread clips over several")
    p.add_argument("--styles", default=None, metavar="A,B,...",
                   help="only these styles, comma-separated (default: all; a wrong name lists them)")
    p.add_argument("--blend-fraction", type=unit_float, default=0.15, metavar="F",
                   help="share of clips rendered as blends (0.15; 0 for none)")
    p.add_argument("--images", action="store_true",
                   help="write spectrogram images (PNG with EXIF) instead of audio: a training dataset")
    p.add_argument("--seconds", type=positive_float, default=5.12, help="clip length (5.12)")
    p.add_argument("--no-progress", action="store_true")
    add_format_options(p)
    p.set_defaults(func=cmd_synth_corpus)


def cmd_build_dataset(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sonogen.data.dataset import BuildSettings, build_dataset, print_report

    settings = BuildSettings(
        seconds=args.seconds, overlap=args.overlap, silence_db=args.silence_db,
        image_format=args.image_format, params=asdict(params_from_args(args)),
    )
    runner = None
    if args.address and not args.ray:
        from sonogen.errors import SonogenError

        raise SonogenError("--address needs --ray")
    if args.ray:
        from sonogen.cluster import require_ray
        from sonogen.cluster.data import RayRunner

        require_ray()  # one line before any work when the extra is missing
        runner = RayRunner(args.address, num_cpus=None if args.address else args.workers)
    try:
        report = build_dataset(args.audio_dir, args.out, settings, workers=args.workers,
                               progress=not args.no_progress, runner=runner)
    finally:
        if runner is not None:
            runner.close()
    print_report(report, args.out)
    return 0


def cmd_synth_corpus(args: argparse.Namespace) -> int:
    from sonogen.data.synth import STYLES, write_corpus

    styles = args.styles.split(",") if args.styles is not None else None
    rows = write_corpus(args.out, args.clips, seed=args.seed, workers=args.workers, soundfont=args.soundfont,
                        seconds=args.seconds, progress=not args.no_progress, images=args.images, styles=styles,
                        blend_fraction=args.blend_fraction, params=params_from_args(args) if args.images else None)
    n_styles = len({r["style"] for r in rows})
    blends = sum(1 for r in rows if r["blend"])
    fonts = len({r["soundfont"] for r in rows})
    kind = "image" if args.images else "clip"
    print(f"wrote {len(rows)} {kind}(s) in {n_styles} of {len(STYLES)} styles ({blends} blends, {fonts} SoundFont(s)) "
          f"to {args.out} (metadata.jsonl)")
    return 0
