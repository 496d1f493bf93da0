"""Tiny random SD-1.x checkpoint saved once per session (64 mel bands to keep it fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sonogen.spectrogram.params import SpectrogramParams

PARAMS = SpectrogramParams(num_frequencies=64)


@pytest.fixture(scope="session", autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sonogen.pipeline.tiny import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", spectrogram_params=PARAMS)


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sonogen.pipeline.tiny import save_tiny_single_file

    return save_tiny_single_file(tmp_path_factory.mktemp("file") / "tiny.safetensors", spectrogram_params=PARAMS)


@pytest.fixture(scope="session")
def pipe(tiny_folder: Path):  # type: ignore[no-untyped-def]
    from sonogen.pipeline import load_pipeline

    return load_pipeline(str(tiny_folder), device="cpu")
