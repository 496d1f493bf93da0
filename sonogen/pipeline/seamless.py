"""Seamless loops: circular padding along the time (width) axis of every conv."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F


def _circular_width_forward(conv: torch.nn.Conv2d):  # type: ignore[no-untyped-def]
    """A forward for ``conv`` that wraps its width padding around and zero-pads its height."""
    pad_h, pad_w = (int(v) for v in conv.padding)

    def forward(x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (pad_w, pad_w, 0, 0), mode="circular")
        if pad_h:
            x = F.pad(x, (0, 0, pad_h, pad_h))
        return F.conv2d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)

    return forward


@contextlib.contextmanager
def circular_time_axis(modules: Iterable[torch.nn.Module]) -> Iterator[int]:
    """Within the block, every padded ``Conv2d`` of ``modules`` pads the width circularly.

    Images (and latents) then behave as if their last column touched their first: what
    the models draw tiles seamlessly in time. Yields the number of convs patched;
    restores them on exit, also on errors.
    """
    patched: list[torch.nn.Conv2d] = []
    try:
        for module in modules:
            for conv in module.modules():
                if (
                    isinstance(conv, torch.nn.Conv2d)
                    and isinstance(conv.padding, tuple)
                    and conv.padding[1] > 0
                    and conv.padding_mode == "zeros"
                ):
                    conv.forward = _circular_width_forward(conv)  # type: ignore[method-assign]
                    patched.append(conv)
        yield len(patched)
    finally:
        for conv in patched:
            del conv.forward
