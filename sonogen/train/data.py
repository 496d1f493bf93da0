"""Spectrogram images as training tensors, with time-only augmentation.

Spectrogram images are never flipped left to right (that would play the music
backwards) nor resized in time (that would change its tempo and pitch content); the only
augmentation is a random crop along the time axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from sonogen.errors import SonogenError


def image_to_pixels(image: Image.Image) -> torch.Tensor:
    """RGB image -> float tensor ``(3, H, W)`` in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).div(127.5).sub(1.0)


def crop_bands(pixels: torch.Tensor, height: int, rng: torch.Generator | None = None) -> torch.Tensor:
    """``height`` neighbouring mel rows of ``(3, H, W)`` pixels at a random offset.

    Only for training a fully convolutional autoencoder on patches: a diffusion model
    always sees every band, since a band's position is its pitch.
    """
    total = pixels.shape[-2]
    if total <= height:
        return pixels
    offset = int(torch.randint(0, total - height + 1, (1,), generator=rng).item())
    return pixels[..., offset:offset + height, :]


def crop_time(pixels: torch.Tensor, width: int, offset: int | None, rng: torch.Generator | None = None) -> torch.Tensor:
    """``width`` columns of ``(3, H, W)`` pixels starting at ``offset`` (random when None).

    Images narrower than ``width`` are padded on the right with white (silence).
    """
    total = pixels.shape[-1]
    if total < width:
        return torch.nn.functional.pad(pixels, (0, width - total), value=1.0)
    if offset is None:
        offset = int(torch.randint(0, total - width + 1, (1,), generator=rng).item())
    offset = max(0, min(offset, total - width))
    return pixels[..., offset:offset + width]


class SpectrogramImages(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Dataset rows (``path``, ``text``) -> ``{"pixels": (3, H, width), "text": str}``.

    Args:
        rows: from :func:`sonogen.data.dataset.read_dataset`.
        width: crop width in pixels (a multiple of 8).
        random_crop: random time offset per item; False crops from the start.
        height: when given, a random crop of this many mel rows (autoencoder patches).
    """

    def __init__(self, rows: list[dict[str, Any]], width: int, random_crop: bool = True,
                 height: int | None = None) -> None:
        self.rows = rows
        self.width = width
        self.random_crop = random_crop
        self.height = height

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        try:
            with Image.open(row["path"]) as handle:
                pixels = image_to_pixels(handle)
        except Exception as exc:
            raise SonogenError(f"cannot read dataset image {row['path']}: {exc}") from None
        offset = None if self.random_crop else 0
        pixels = crop_time(pixels, self.width, offset)
        if self.height is not None:
            pixels = crop_bands(pixels, self.height)
        return {"pixels": pixels, "text": row["text"], "index": index}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack pixels ``(B, 3, H, W)`` and list the texts and row indices."""
    return {"pixels": torch.stack([i["pixels"] for i in items]), "text": [i["text"] for i in items],
            "index": [i["index"] for i in items]}


def inspect_images(rows: list[dict[str, Any]], sample: int = 16) -> tuple[Any, int, int]:
    """Spectrogram format, height and smallest width of (a sample of) the dataset's images.

    Raises:
        SonogenError: unreadable images, or images of different heights or formats.
    """
    from sonogen.spectrogram.params import SpectrogramParams

    step = max(1, len(rows) // sample)
    params = None
    height = None
    width = None
    for row in rows[::step][:sample]:
        try:
            with Image.open(row["path"]) as image:
                image.load()
                p, _ = SpectrogramParams.from_image(image, warn=False)
                size = image.size
        except Exception as exc:
            raise SonogenError(f"cannot read dataset image {row['path']}: {exc}") from None
        if params is None:
            params, height, width = p, size[1], size[0]
        elif p != params or size[1] != height:
            raise SonogenError(f"dataset images differ in format or height ({row['file_name']}); rebuild the dataset")
        width = min(int(width or size[0]), size[0])
    assert params is not None and height is not None and width is not None
    return params, height, width


def tokenize(tokenizer: Any, texts: list[str], device: torch.device) -> torch.Tensor:
    """Token ids ``(B, tokenizer.model_max_length)`` of ``texts``, padded and truncated, on ``device``."""
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    return ids.to(device)
