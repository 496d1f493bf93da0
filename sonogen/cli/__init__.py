"""The ``sonogen`` command: one entry point, subcommands registered by area.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers)`` which adds its
subcommands, each with ``set_defaults(func=handler)`` where ``handler(args) -> int``.
:data:`COMMANDS` lists every subcommand with its module and one-line help, so a run
imports only the module of the command it runs (``sonogen --help`` imports none of
them); heavy imports (torch, diffusers) happen inside handlers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from sonogen import __version__
from sonogen.errors import SonogenError

COMMAND_MODULES = (
    "sonogen.cli.convert",
    "sonogen.cli.generate",
    "sonogen.cli.serve",
    "sonogen.cli.data",
    "sonogen.cli.train",
)
#: ``(command, module that registers it, its help)`` in ``--help`` order; a test checks
#: this against what the modules register.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("audio-to-image", "sonogen.cli.convert", "audio file -> spectrogram image (with EXIF)"),
    ("roundtrip", "sonogen.cli.convert", "synthesise a clip, audio -> image -> audio, print the quality"),
    ("image-to-audio", "sonogen.cli.convert", "spectrogram image -> audio (format from extension)"),
    ("info", "sonogen.cli.convert", "print the spectrogram parameters stored in an image"),
    ("sample-clips", "sonogen.cli.convert", "cut clips from an audio file"),
    ("audio-to-images", "sonogen.cli.convert", "a folder of audio -> spectrogram images, in parallel"),
    ("generate", "sonogen.cli.generate", "text -> audio clip (or a long piece / seamless loop)"),
    ("transform", "sonogen.cli.generate", "audio + prompt -> new audio (audio-to-audio)"),
    ("interpolate", "sonogen.cli.generate", "a sequence of clips moving from prompt A to prompt B"),
    ("extend", "sonogen.cli.generate", "continue an audio file to a longer piece"),
    ("serve", "sonogen.cli.serve", "serve the HTTP API and the jam web app"),
    ("build-dataset", "sonogen.cli.data", "captioned audio folder -> spectrogram image dataset (imagefolder layout)"),
    ("synth-corpus", "sonogen.cli.data", "render a synthetic captioned music corpus with a General MIDI SoundFont"),
    ("train", "sonogen.cli.train", "fine-tune a checkpoint, train a LoRA, or train a small model from scratch"),
)


#: Commands whose process ends as soon as they return, without the interpreter's teardown:
#: their outputs are written and closed by then and they start no helper processes or
#: servers, so nothing is lost, and a one-shot ``sonogen generate`` does not wait for the
#: teardown of torch, diffusers and transformers (over a second on a CPU).
QUICK_EXIT: frozenset[str] = frozenset(
    {"generate", "transform", "interpolate", "extend", "audio-to-image", "image-to-audio", "info", "roundtrip",
     "sample-clips"}
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``sonogen`` argument parser: in full, or just what ``argv`` needs.

    With ``argv``, only the module of the command it names is imported and registered;
    the other commands are listed by name and help alone (enough for ``sonogen --help``
    and for refusing an unknown command), which keeps a cold start from importing every
    command's module.
    """
    parser = _Parser(
        prog="sonogen",
        description="Riffusion-style music generation: spectrogram diffusion and conversion.",
    )
    parser.add_argument("--version", action="version", version=f"sonogen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if argv is None:
        wanted = set(COMMAND_MODULES)
    else:
        chosen = _command_in(argv)
        wanted = {module for name, module, _ in COMMANDS if name == chosen}
    registered: set[str] = set()
    for name, module, help_text in COMMANDS:
        if module not in wanted:
            sub.add_parser(name, help=help_text, add_help=False)  # listed, never parsed
        elif module not in registered:
            importlib.import_module(module).register(sub)
            registered.add(module)
    for command in sub.choices.values():  # `sonogen COMMAND ... -v` as well as `sonogen -v COMMAND`
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log debug messages")
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (no global option takes a value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 internal error, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="sonogen: %(levelname)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SonogenError as exc:
        print(f"sonogen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sonogen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal fault: one line unless debugging
        if os.environ.get("SONOGEN_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"sonogen: internal error: {type(exc).__name__}: {first} (set SONOGEN_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1


def run() -> NoReturn:
    """The ``sonogen`` program: :func:`main`, then the process exits with its code.

    After a :data:`QUICK_EXIT` command the standard streams and logging are flushed and
    the process ends at once (``os._exit``); other commands exit normally.
    """
    code = main()
    if _command_in(sys.argv[1:]) in QUICK_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said anyway
            pass
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
