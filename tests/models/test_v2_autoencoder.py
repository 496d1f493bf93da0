"""The v2 autoencoder kept at the repository root (``models/v2-autoencoder``) is the one its config describes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sonogen.models.autoencoder import latent_factors
from sonogen.train.config import load_model_config
from sonogen.train.model import load_vae_folder

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "models" / "v2-autoencoder"
CONFIG = REPO / "sonogen" / "models" / "v2.json"


@pytest.fixture(scope="module")
def vae() -> torch.nn.Module:
    return load_vae_folder(FOLDER)


def test_weights_are_fp16_and_small() -> None:
    from safetensors import safe_open

    weights = FOLDER / "diffusion_pytorch_model.safetensors"
    assert weights.stat().st_size < 15 * 1024 * 1024
    with safe_open(str(weights), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes == {"F16"}


def test_matches_the_v2_config(vae: torch.nn.Module) -> None:
    section = load_model_config(CONFIG)["vae"]
    assert list(vae.config.block_out_channels) == section["block_out_channels"]
    assert [list(s) for s in vae.config.strides] == section["strides"]
    assert vae.config.latent_channels == section["latent_channels"]
    assert latent_factors(vae) == (8, 16)
    assert next(vae.parameters()).dtype == torch.float32  # fp16 on disk, float32 once loaded


def test_round_trip_keeps_a_rendered_clip(vae: torch.nn.Module) -> None:
    import numpy as np

    from sonogen.audio.demo import demo_clip
    from sonogen.spectrogram.converter import get_converter

    grey = np.asarray(get_converter().audio_to_image(demo_clip(seed=3), 44100).convert("L"))[:, :512]
    image = torch.from_numpy(grey.astype(np.float32) / 127.5 - 1.0)[None, None].expand(1, 3, -1, -1)
    with torch.inference_mode():
        z = vae.encode(image).latent_dist.mean
        out = vae.decode(z).sample
    assert z.shape == (1, 16, 64, 32)
    assert out.shape == image.shape
    error = (out - image).abs().mean().item() * 127.5
    assert error < 12.0, error  # grey levels; the decoder it started from (before learning whole widths) was 20 off
    # onsets stay edges: the frame-to-frame change keeps most of its size
    flux = (image[0, 0, :, 1:] - image[0, 0, :, :-1]).abs().mean()
    out_flux = (out[0, 0, :, 1:] - out[0, 0, :, :-1]).abs().mean()
    assert 0.6 < float(out_flux / flux) < 1.4
