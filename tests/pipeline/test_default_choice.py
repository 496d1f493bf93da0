"""Which checkpoint a missing --checkpoint means."""

from pathlib import Path

import pytest

import sonogen.models
from sonogen.errors import SonogenError
from sonogen.pipeline.loading import load_pipeline


def test_missing_checkpoint_uses_the_embedded_model_when_packaged(monkeypatch, tiny_folder: Path) -> None:
    monkeypatch.setattr(sonogen.models, "default_checkpoint_path", lambda folder=None: tiny_folder)
    pipe = load_pipeline(None, device="cpu")
    out = pipe("drums", num_inference_steps=1, width=16, progress=False)
    assert out.images[0].height == pipe.spectrogram_params.num_frequencies


def test_missing_checkpoint_falls_back_to_the_hub_reference(monkeypatch) -> None:
    monkeypatch.setattr(sonogen.models, "default_checkpoint_path", lambda folder=None: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SonogenError, match="riffusion/riffusion-model-v1"):
        load_pipeline(None, device="cpu")
