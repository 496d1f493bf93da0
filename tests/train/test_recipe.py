"""The default model's recipe, end to end at test size, through the same `sonogen` commands."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _recipe():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("train_default_model", REPO / "scripts" / "train_default_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_shows_a_recipe_of_sonogen_commands() -> None:
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "train_default_model.py"), "--help"],
                          capture_output=True, text=True, check=True)
    assert "sonogen synth-corpus" in done.stdout and "sonogen train --config" in done.stdout
    for stage in ("autoencoder", "latents", "unet", "export"):
        assert f"--stage {stage}" in done.stdout


def test_commands_are_sonogen_commands_that_parse(tmp_path: Path) -> None:
    """Every step of the recipe is a valid `sonogen` command line (parsed, not run)."""
    from sonogen.cli import build_parser

    recipe = _recipe()
    args = recipe.parse_args(["--work", str(tmp_path), "--minutes", "5", "--styles", "rock,techno"])
    steps = recipe.commands(args)
    assert [s[0] for s in steps] == ["synth-corpus", "synth-corpus"] + ["train"] * 5
    stages = [s[s.index("--stage") + 1] for s in steps if s[0] == "train"]
    assert stages == ["autoencoder", "latents", "unet", "decoder", "export"]
    for step in steps:
        parsed = build_parser(step).parse_args(step)
        assert parsed.command == step[0]
    assert all("--resume" in s and "--minutes" in s for s in steps if s[0] == "train")


@pytest.mark.soundfont
@pytest.mark.slow
def test_recipe_end_to_end_at_micro_size(tmp_path: Path) -> None:
    """corpus -> autoencoder -> latents -> unet -> export with the micro config; the export loads and plays."""
    from sonogen.pipeline import load_pipeline
    from sonogen.train.config import load_model_config
    from sonogen.train.model import build_schedulers

    work, export = tmp_path / "work", tmp_path / "export"
    recipe = _recipe()
    argv = ["--config", "micro", "--work", str(work), "--clips", "6", "--heldout-clips", "0", "--seconds", "0.64",
            "--max-steps", "3", "--workers", "1", "--export-dir", str(export)]
    assert recipe.main(argv) == 0
    assert recipe.main(argv) == 0  # a second run finds every stage done and changes nothing that matters
    scheduler = json.loads((export / "scheduler" / "scheduler_config.json").read_text())
    _, expected = build_schedulers(load_model_config(REPO / "sonogen" / "models" / "micro.json")["scheduler"])
    for key in ("prediction_type", "timestep_spacing", "beta_schedule", "rescale_betas_zero_snr"):
        assert scheduler[key] == expected.config[key], key
    assert scheduler["prediction_type"] == "v_prediction" and scheduler["timestep_spacing"] == "trailing"
    weights = list(export.rglob("*.safetensors"))
    assert weights and all(w.stat().st_size <= 15_000_000 for w in weights)
    assert json.loads((export / "sampling.json").read_text())["num_inference_steps"] >= 1
    pipe = load_pipeline(str(export), device="cpu")
    assert pipe.unet.dtype.is_floating_point
    out = pipe("a rock song", seed=1, num_inference_steps=2, width=64, progress=False)
    assert out.images[0].size == (64, 512) and np.isfinite(out.waveforms[0]).all()
    assert out.waveforms[0].shape[-1] > 0
