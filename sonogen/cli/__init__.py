"""The ``sonogen`` command: one entry point, subcommands registered by area.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers)`` which adds its
subcommands, each with ``set_defaults(func=handler)`` where ``handler(args) -> int``.
Heavy imports (torch, diffusers) happen inside handlers so ``--help`` stays quick.
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
    "sonogen.cli.train",
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``sonogen`` argument parser."""
    parser = _Parser(
        prog="sonogen",
        description="Riffusion-style music generation: spectrogram diffusion and conversion.",
    )
    parser.add_argument("--version", action="version", version=f"sonogen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command in sub.choices.values():  # `sonogen COMMAND ... -v` as well as `sonogen -v COMMAND`
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log debug messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 internal error, 2 bad input)."""
    parser = build_parser()
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
