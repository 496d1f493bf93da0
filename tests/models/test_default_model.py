"""How the embedded default model is found, and that its config fits the shipping budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonogen.models import DEFAULT_CONFIG_PATH, DEFAULT_MODEL_DIR, default_checkpoint_path


def test_default_checkpoint_path_needs_model_index(tmp_path: Path) -> None:
    folder = tmp_path / "default"
    assert default_checkpoint_path(folder) is None  # missing folder
    folder.mkdir()
    (folder / "README.md").write_text("trained model goes here\n")
    assert default_checkpoint_path(folder) is None  # folder without a model
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "SonogenPipeline"}))
    found = default_checkpoint_path(folder)
    assert found == folder.resolve() and found.is_absolute()


def test_packaged_default_lives_in_the_package_and_is_looked_up_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sonogen
    import sonogen.models

    # the folder is package data of the installed sonogen, not a path of the checkout
    assert DEFAULT_MODEL_DIR == Path(sonogen.__file__).resolve().parent / "models" / "default"
    # with no folder given, the lookup reads DEFAULT_MODEL_DIR (and nothing else)
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / "model_index.json").write_text("{}")
    monkeypatch.setattr(sonogen.models, "DEFAULT_MODEL_DIR", empty)
    assert default_checkpoint_path() is None
    monkeypatch.setattr(sonogen.models, "DEFAULT_MODEL_DIR", full)
    assert default_checkpoint_path() == full


def test_default_config_fits_budget() -> None:
    """The shipped config builds, draws 512-band images and stays under 60 MB in fp16."""
    import torch

    from sonogen.pipeline.tiny import build_tiny_tokenizer
    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_text_encoder, build_unet, build_vae

    cfg = load_model_config(DEFAULT_CONFIG_PATH)
    with torch.device("meta"):
        vae = build_vae(cfg["vae"])
        factor = 2 ** (len(cfg["vae"]["block_out_channels"]) - 1)
        unet = build_unet(cfg["unet"], cfg["vae"]["latent_channels"], cfg["text_encoder"]["hidden_size"], 512 // factor)
        tok = build_tiny_tokenizer()
        text = build_text_encoder(cfg["text_encoder"], tok)
    emb = text.get_input_embeddings()
    # the trained tokenizer has vocab_size entries, the tiny test tokenizer fewer: count the real size
    text_params = sum(p.numel() for p in text.parameters()) + (cfg["tokenizer"]["vocab_size"] - emb.num_embeddings) * emb.embedding_dim
    total = sum(p.numel() for p in vae.parameters()) + sum(p.numel() for p in unet.parameters()) + text_params
    assert total * 2 <= 60_000_000, f"{total * 2 / 1e6:.1f} MB in fp16"
    # attention only below the first (full latent resolution) level
    assert unet.config.down_block_types[0] == "DownBlock2D"
    assert 512 % factor == 0


def test_style_classifier_separates_styles() -> None:
    import sys

    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo / "benchmarks"))
    try:
        import default_model as dm
    finally:
        sys.path.remove(str(repo / "benchmarks"))
    rate = 44100
    t = np.arange(int(rate * 1.0)) / rate
    rng = np.random.default_rng(0)

    def clip(style: str) -> np.ndarray:
        f = {"low": 110.0, "high": 2500.0}[style] * (1 + 0.05 * rng.standard_normal())
        return (0.5 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size))[None].astype(np.float32)

    labels = ["low", "high"] * 6
    x = np.stack([dm.clip_features(clip(s), rate) for s in labels])
    clf = dm.StyleClassifier(["low", "high"]).fit(x[:8], labels[:8])
    assert dm.accuracy(clf.predict(x[8:]), labels[8:]) == 1.0
    assert dm.accuracy(["a", "b"], ["a", "c"]) == 0.5
