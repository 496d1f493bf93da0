"""Loading never fails silently: a damaged checkpoint names its file and the problem,
a missing default model says what to pass, a Hub download says its size first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import sonogen.models
from sonogen.errors import SonogenError
from sonogen.pipeline import loading
from sonogen.pipeline.loading import load_pipeline

REPO_ID = "someone/tiny-riffusion"
COMMIT = "0" * 40


def copy_folder(tiny_folder: Path, dest: Path) -> Path:
    shutil.copytree(tiny_folder, dest)
    return dest


def fake_cache(root: Path, tiny_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tiny_folder`` laid out as the Hugging Face cache's copy of :data:`REPO_ID`."""
    import huggingface_hub.constants

    repo = root / "models--someone--tiny-riffusion"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = copy_folder(tiny_folder, repo / "snapshots" / COMMIT)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return snapshot


def test_a_cached_hub_id_loads_from_the_cache_with_its_format(tmp_path, tiny_folder, monkeypatch) -> None:
    fake_cache(tmp_path / "hub", tiny_folder, monkeypatch)
    pipe = load_pipeline(REPO_ID, device="cpu")
    # the spectrogram format comes from the cached spectrogram.json, not the v1 defaults
    assert pipe.spectrogram_params.num_frequencies == 64


def test_a_damaged_cached_copy_is_named_not_treated_as_missing(tmp_path, tiny_folder, monkeypatch) -> None:
    snapshot = fake_cache(tmp_path / "hub", tiny_folder, monkeypatch)
    (snapshot / "spectrogram.json").write_text("{not json")
    with pytest.raises(SonogenError) as err:
        load_pipeline(REPO_ID, device="cpu")
    text = str(err.value)
    assert "damaged" in text and "spectrogram.json" in text and "not in the local cache" not in text
    assert "\n" not in text


def test_truncated_weights_name_the_file(tmp_path, tiny_folder) -> None:
    folder = copy_folder(tiny_folder, tmp_path / "ckpt")
    weights = next((folder / "unet").glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(SonogenError, match=r"unet/diffusion_pytorch_model\.safetensors is not a valid"):
        load_pipeline(str(folder), device="cpu")


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda f: (f / "vae" / "config.json").write_text("[1, 2"), "vae/config.json is not readable JSON"),
        (lambda f: shutil.rmtree(f / "tokenizer"), "lacks the tokenizer/ folder"),
        (lambda f: [p.unlink() for p in (f / "text_encoder").glob("*.safetensors")], "no weights in text_encoder/"),
        (lambda f: (f / "model_index.json").write_bytes(b"\xff\xfe"), "model_index.json is not readable JSON"),
        (lambda f: (f / "spectrogram.json").write_text(json.dumps({"num_frequencies": "many"})), "spectrogram.json"),
    ],
)
def test_damaged_folders_name_file_and_problem(tmp_path, tiny_folder, damage: Any, fragment: str) -> None:
    folder = copy_folder(tiny_folder, tmp_path / "ckpt")
    damage(folder)
    with pytest.raises(SonogenError, match=fragment) as err:
        load_pipeline(str(folder), device="cpu")
    assert "\n" not in str(err.value)


def test_no_default_model_is_an_honest_error_and_downloads_nothing(monkeypatch) -> None:
    monkeypatch.setattr(sonogen.models, "default_checkpoint_path", lambda folder=None: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing may be fetched without a named checkpoint")

    monkeypatch.setattr(loading, "hub_reachable", no_network)
    monkeypatch.setattr(loading, "download_checkpoint", no_network)
    with pytest.raises(SonogenError, match="packages no default model") as err:
        load_pipeline(None, device="cpu")
    assert "--checkpoint" in str(err.value)


def test_a_named_uncached_hub_id_downloads_after_printing_its_size(tmp_path, tiny_folder, monkeypatch, capsys) -> None:
    import huggingface_hub
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: True)
    files = {
        "model_index.json": 500,
        "unet/config.json": 1_000,
        "unet/diffusion_pytorch_model.safetensors": 3_000_000_000,
        "unet/diffusion_pytorch_model.fp16.safetensors": 1_500_000_000,
        "unet/diffusion_pytorch_model.bin": 3_000_000_000,
        "vae/diffusion_pytorch_model.bin": 300_000_000,
        "text_encoder/model.safetensors": 400_000_000,
        "safety_checker/model.safetensors": 1_200_000_000,
        "riffusion-model-v1.ckpt": 14_000_000_000,
    }

    class Sibling:
        def __init__(self, name: str, size: int) -> None:
            self.rfilename, self.size = name, size

    class Info:
        siblings = [Sibling(n, s) for n, s in files.items()]

    class Api:
        def model_info(self, repo_id: str, files_metadata: bool = False) -> Info:
            assert repo_id == REPO_ID and files_metadata
            return Info()

    fetched: dict[str, Any] = {}

    def snapshot_download(repo_id: str, allow_patterns: list[str]) -> str:
        fetched["patterns"] = allow_patterns
        return str(tiny_folder)

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    pipe = load_pipeline(REPO_ID, device="cpu")
    assert pipe.spectrogram_params.num_frequencies == 64
    err = capsys.readouterr().err
    # one weights format per part (safetensors first, no fp16 variant, no safety checker, no .ckpt)
    assert f"downloading {REPO_ID} (3.70 GB)" in err
    patterns = fetched["patterns"]
    assert "unet/diffusion_pytorch_model.safetensors" in patterns
    assert "vae/diffusion_pytorch_model.bin" in patterns
    assert not any("fp16" in p or "safety" in p or p.endswith(".ckpt") for p in patterns)


def test_a_folder_loads_its_parts_directly_quietly_and_leaves_the_bar_settings(tiny_folder, monkeypatch, capfd) -> None:
    """Each part through its own class (not DiffusionPipeline.from_pretrained), no progress bars on stderr."""
    from diffusers.pipelines.pipeline_utils import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pipeline-level loader is not used")

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", refuse)
    before = (diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled())
    capfd.readouterr()
    pipe = load_pipeline(str(tiny_folder), device="cpu")
    assert "Loading" not in capfd.readouterr().err
    assert (diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled()) == before
    assert not pipe.unet.training and not pipe.text_encoder.training
    index = json.loads((tiny_folder / "model_index.json").read_text())
    assert type(pipe.scheduler).__name__ == index["scheduler"][1] and str(pipe.unet.dtype) == "torch.float32"


def test_a_part_from_an_unknown_library_is_refused(tmp_path, tiny_folder) -> None:
    folder = copy_folder(tiny_folder, tmp_path / "ckpt")
    index = json.loads((folder / "model_index.json").read_text())
    index["unet"] = ["my_package", "MyUNet"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(SonogenError, match=r"unet is a my_package\.MyUNet; sonogen loads parts from diffusers"):
        load_pipeline(str(folder), device="cpu")
