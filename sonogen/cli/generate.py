"""CLI commands of this area (filled in by its issue)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add this area's subcommands to subparsers."""
    del subparsers


__all__ = ["argparse", "register"]
