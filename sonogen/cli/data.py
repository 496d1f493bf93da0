"""Dataset commands: build-dataset (captioned audio -> spectrogram images) and synth-corpus."""

from __future__ import annotations

import argparse
from typing import Any

from sonogen.argtypes import fraction, positive_float, positive_int
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
        description="Compose clips in 16 styles and render them with tinysoundfont: OUT/<id>.wav (44.1 kHz) "
        "and OUT/metadata.jsonl (file_name, text, style, tempo, key, instruments). Needs a GM SoundFont "
        "(apt-get install timgm6mb-soundfont) or --soundfont.",
    )
    p.add_argument("out")
    p.add_argument("--clips", type=positive_int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive_int, default=default_workers())
    p.add_argument("--soundfont", default=None, metavar="PATH", help="a .sf2/.sf3 General MIDI SoundFont")
    p.add_argument("--seconds", type=positive_float, default=5.12, help="clip length (5.12)")
    p.add_argument("--no-progress", action="store_true")
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

    rows = write_corpus(args.out, args.clips, seed=args.seed, workers=args.workers, soundfont=args.soundfont,
                        seconds=args.seconds, progress=not args.no_progress)
    styles = len({r["style"] for r in rows})
    print(f"wrote {len(rows)} clip(s) in {styles} of {len(STYLES)} styles to {args.out} (metadata.jsonl)")
    return 0
