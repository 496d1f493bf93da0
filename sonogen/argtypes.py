"""Command-line value types (``argparse`` ``type=`` callables) shared by the CLI and :class:`TrainConfig`.

They live below both so that ``sonogen/train/config.py`` can name them in its field
metadata without importing the CLI. Each number type is one :func:`_checked` call: how
the text is read, which values are allowed, and what the error says.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def _checked(
    kind: Callable[[str], N], allowed: Callable[[N], bool], want: str, *, unreadable: str = "not a number"
) -> Callable[[str], N]:
    """A parser reading ``kind(text)`` and refusing values where ``allowed`` is false.

    Errors read ``"<unreadable>: 'text'"`` or ``"<want>, got <text>"``.
    """

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{unreadable}: {text!r}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"{want}, got {text}")
        return value

    return parse


positive_float = _checked(float, lambda v: v > 0, "must be positive")
positive_int = _checked(int, lambda v: v > 0, "must be positive")
#: A number in [0, 1).
fraction = _checked(float, lambda v: 0 <= v < 1, "must be in [0, 1)")
#: A number in [0, 1].
unit_float = _checked(float, lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]")
#: A whole number >= 0.
non_negative_int = _checked(int, lambda v: v >= 0, "must be >= 0", unreadable="not a whole number")
#: A finite number >= 0.
non_negative_float = _checked(float, lambda v: 0 <= v < float("inf"), "must be >= 0")
#: A TCP port, 0..65535.
port = _checked(int, lambda v: 0 <= v <= 65535, "port must be 0..65535", unreadable="not a port number")


def replica_range(text: str) -> tuple[int, int]:
    """``MIN:MAX`` replicas for ``serve --ray --autoscale``: 0 <= MIN <= MAX, MAX >= 1."""
    lo, sep, hi = text.partition(":")
    try:
        low, high = int(lo), int(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX replicas, e.g. 1:4, got {text!r}") from None
    if not sep or low < 0 or high < 1 or low > high:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX with 0 <= MIN <= MAX and MAX >= 1, got {text!r}")
    return low, high
