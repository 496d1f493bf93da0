"""The latent cache: every dataset image encoded once by the frozen autoencoder.

A UNet trained from scratch sees each image hundreds of times; encoding it once saves
most of the work of a step on the CPU. The cache is two files in ``OUT/latents/``:

- ``latents.npy``: float16 ``(N, C, h, w)``, the encoder's mean latents, unscaled (the
  autoencoder's ``scaling_factor`` and ``shift_factor`` are applied when reading);
- ``rows.jsonl``: one ``{"file_name", "text"}`` per latent, in the same order.

It is extendable: when the dataset has rows that the cache lacks (a corpus rendered in
parts), :func:`update_cache` encodes only those and appends them. Both files are
replaced atomically, so a reader never sees a half-written cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from sonogen.errors import SonogenError
from sonogen.train.data import crop_time, image_to_pixels

CACHE_DIR = "latents"
LATENTS = "latents.npy"
ROWS = "rows.jsonl"


def read_cache(folder: Path) -> tuple[np.ndarray | None, list[dict[str, str]]]:
    """The cached latents ``(N, C, h, w)`` float16 (None when there are none) and their rows."""
    latents_file, rows_file = folder / LATENTS, folder / ROWS
    if not latents_file.is_file() or not rows_file.is_file():
        return None, []
    rows = [json.loads(line) for line in rows_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    latents = np.load(latents_file)
    if len(latents) != len(rows):
        raise SonogenError(f"latent cache {folder} is damaged ({len(latents)} latents, {len(rows)} rows); delete it")
    return latents, rows


def _write_cache(folder: Path, latents: np.ndarray, rows: list[dict[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp_latents, tmp_rows = folder / f".{LATENTS}.tmp.npy", folder / f".{ROWS}.tmp"
    np.save(tmp_latents, latents)
    tmp_rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp_latents, folder / LATENTS)
    os.replace(tmp_rows, folder / ROWS)


def _encode(vae: Any, rows: list[dict[str, Any]], width: int, device: torch.device) -> np.ndarray:
    """Mean latents ``(len(rows), C, h, w)`` float16 of the rows' images, first ``width`` columns."""
    pixels = []
    for row in rows:
        with Image.open(row["path"]) as image:
            pixels.append(crop_time(image_to_pixels(image), width, 0))
    batch = torch.stack(pixels).to(device, vae.dtype)
    with torch.inference_mode():
        return vae.encode(batch).latent_dist.mean.float().cpu().numpy().astype(np.float16)


def update_cache(vae: Any, rows: list[dict[str, Any]], folder: Path, width: int, device: torch.device,
                 batch_size: int = 8, progress: bool = True, save_every: int = 512) -> int:
    """Encode the dataset rows the cache lacks and append them; the number encoded.

    Rows are matched by ``file_name``. Latents of another width than the cache's are an
    error (the cache belongs to one training setup). The cache is saved every
    ``save_every`` new latents, so an interrupted run keeps what it encoded.
    """
    cached, cached_rows = read_cache(folder)
    have = {r["file_name"] for r in cached_rows}
    todo = [r for r in rows if r["file_name"] not in have]
    if not todo:
        return 0
    parts = [cached] if cached is not None else []
    out_rows = list(cached_rows)
    done = 0
    bar = tqdm(total=len(todo), desc="encoding latents", disable=not progress)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        latents = _encode(vae, chunk, width, device)
        if parts and latents.shape[1:] != parts[0].shape[1:]:
            raise SonogenError(f"latent cache {folder} holds latents of shape {parts[0].shape[1:]}, these are "
                               f"{latents.shape[1:]}; delete the cache to re-encode")
        parts.append(latents)
        out_rows += [{"file_name": r["file_name"], "text": r["text"]} for r in chunk]
        done += len(chunk)
        bar.update(len(chunk))
        if done % save_every < batch_size or done == len(todo):
            joined = np.concatenate(parts)
            parts = [joined]
            _write_cache(folder, joined, out_rows)
    bar.close()
    return done


class CachedLatents(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """The cache as training items ``{"latents": (C, h, w) float32, scaled, "text": str}``.

    Args:
        folder: the cache folder.
        scaling_factor, shift_factor: the autoencoder's; items are ``(z - shift) * scaling``.
        texts: the captions by ``file_name``; the cache's own texts when None (a dataset
            whose captions changed trains on the new ones without re-encoding).
    """

    def __init__(self, folder: Path, scaling_factor: float, shift_factor: float | None = None,
                 texts: dict[str, str] | None = None) -> None:
        latents, rows = read_cache(folder)
        if latents is None:
            raise SonogenError(f"no latent cache in {folder}: run `sonogen train --stage latents` first")
        self.latents = (torch.from_numpy(latents).float() - float(shift_factor or 0.0)) * float(scaling_factor)
        self.texts = [(texts or {}).get(r["file_name"], r["text"]) for r in rows]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"latents": self.latents[index], "text": self.texts[index], "index": index}


def collate_latents(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack latents ``(B, C, h, w)`` and list the texts and indices."""
    return {"latents": torch.stack([i["latents"] for i in items]), "text": [i["text"] for i in items],
            "index": [i["index"] for i in items]}


def random_time_crop(latents: torch.Tensor, columns: int | None, generator: torch.Generator | None = None) -> torch.Tensor:
    """``columns`` neighbouring latent columns of each item of ``(B, C, h, w)``, each at its own
    random offset; the whole batch when ``columns`` is None or not smaller than ``w``."""
    width = latents.shape[-1]
    if columns is None or columns >= width:
        return latents
    offsets = torch.randint(0, width - columns + 1, (latents.shape[0],), generator=generator)
    return torch.stack([latents[i, ..., int(o):int(o) + columns] for i, o in enumerate(offsets)])
