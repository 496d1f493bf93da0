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
CONFIG = REPO / "sonogen" / "models" / "default.json"


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


def test_wide_images_are_decoded_in_tiles_of_the_width_it_learnt(vae: torch.nn.Module) -> None:
    import numpy as np

    from sonogen.audio.demo import demo_clip
    from sonogen.spectrogram.converter import get_converter

    assert vae.config.decode_tile == 32  # latent columns: the 512-pixel width of its decoder training
    grey = np.asarray(get_converter().audio_to_image(demo_clip(seed=5, seconds=10.3), 44100).convert("L"))[:, :1024]
    image = torch.from_numpy(grey.astype(np.float32) / 127.5 - 1.0)[None, None].expand(1, 3, -1, -1)
    with torch.inference_mode():
        z = vae.encode(image).latent_dist.mean
        tiled = vae.decode(z).sample
        whole = vae.decoder(z).expand(-1, 3, -1, -1)  # the decoder on all 64 columns at once
        halves = [vae.decode(z[..., :32]).sample, vae.decode(z[..., 32:]).sample]  # each 512 px alone
    assert z.shape[-1] == 64 and tiled.shape == image.shape

    def shade(pixels: torch.Tensor, reference: torch.Tensor) -> float:
        return float((pixels - reference).mean() * 127.5)  # mean signed error, grey levels

    learnt = (shade(halves[0], image[..., :512]) + shade(halves[1], image[..., 512:])) / 2
    assert abs(shade(tiled, image) - learnt) < 2.0  # tiled: shaded as at the width it learnt
    assert shade(whole, image) < learnt - 4.0  # whole: darker
    assert (tiled - image).abs().mean() < (whole - image).abs().mean()
    # no seam where tiles meet: the column-to-column change there is like anywhere else
    steps = (tiled[0, 0, :, 1:] - tiled[0, 0, :, :-1]).abs().mean(dim=0)
    for join in (384, 512, 640, 768):  # edges of the tiles' overlaps (tile 512 px, overlap 128 px)
        assert steps[join - 1] < 3 * steps.median() + 0.05


def test_tiles_join_without_changing_a_column_local_decoder() -> None:
    from sonogen.models.autoencoder_layers import tiled_columns

    def decode(z: torch.Tensor) -> torch.Tensor:  # each latent column becomes 4 pixel columns
        return torch.tanh(z).repeat_interleave(4, dim=-1) * 2.0

    z = torch.randn(2, 3, 5, 45)
    torch.testing.assert_close(tiled_columns(decode, z, 16, 4), decode(z))
    torch.testing.assert_close(tiled_columns(decode, z[..., :16], 16, 4), decode(z[..., :16]))
    calls: list[int] = []
    tiled_columns(lambda t: calls.append(t.shape[-1]) or decode(t), z, 16, 4)
    assert calls == [16, 16, 16, 16]  # starts 0, 12, 24 and the last 29
    with pytest.raises(ValueError, match="overlap"):
        tiled_columns(decode, z, 16, 16)
