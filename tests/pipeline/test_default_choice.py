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


def _copy_with_sampling(src: Path, dst: Path, text: str | None) -> Path:
    import shutil

    shutil.copytree(src, dst)
    if text is not None:
        (dst / "sampling.json").write_text(text)
    return dst


def test_sampling_json_sets_default_steps_and_guidance(tmp_path: Path, tiny_folder: Path) -> None:
    folder = _copy_with_sampling(tiny_folder, tmp_path / "m", '{"num_inference_steps": 3, "guidance_scale": 2.5}')
    pipe = load_pipeline(str(folder), device="cpu")
    assert (pipe.default_steps, pipe.default_guidance) == (3, 2.5)
    pipe("drums", width=16, progress=False)
    assert pipe.scheduler.num_inference_steps == 3  # the call ran the model's steps, not 50
    pipe("drums", width=16, num_inference_steps=2, progress=False)
    assert pipe.scheduler.num_inference_steps == 2  # an explicit number wins
    # saved again, the settings travel with the model
    pipe.save_pretrained(tmp_path / "again")
    assert load_pipeline(str(tmp_path / "again"), device="cpu").default_steps == 3


def test_checkpoint_without_sampling_json_keeps_sd_defaults(tiny_folder: Path) -> None:
    pipe = load_pipeline(str(tiny_folder), device="cpu")
    assert (pipe.default_steps, pipe.default_guidance) == (50, 7.0)


@pytest.mark.parametrize(
    "text, problem",
    [("[1, 2]", "JSON object"), ('{"num_inference_steps": 0}', "num_inference_steps"),
     ('{"guidance_scale": "high"}', "guidance_scale"), ("{not json", "unreadable")],
)
def test_bad_sampling_json_is_named(tmp_path: Path, tiny_folder: Path, text: str, problem: str) -> None:
    folder = _copy_with_sampling(tiny_folder, tmp_path / "m", text)
    with pytest.raises(SonogenError, match=problem) as info:
        load_pipeline(str(folder), device="cpu")
    assert "sampling.json" in str(info.value)
