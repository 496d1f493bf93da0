"""Training reads its base model through the one loader generation uses.

Same path rule, same ``spectrogram.json`` reader, same checks of a damaged folder; the
band check still refuses a checkpoint before any weight is read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from sonogen.errors import SonogenError
from sonogen.pipeline import loading
from sonogen.spectrogram.params import SpectrogramParams
from sonogen.train.model import load_components


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sonogen.pipeline.tiny import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny",
                                spectrogram_params=SpectrogramParams(num_frequencies=64))


def copy(tiny_folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_folder, tmp_path / "ckpt"))


def test_parts_in_float32_with_the_folder_format(tiny_folder: Path) -> None:
    parts, params = load_components(str(tiny_folder), bands=64)
    assert set(parts) == {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}
    assert params.num_frequencies == 64
    assert all(p.dtype == torch.float32 and p.device.type == "cpu"
               for name in ("unet", "vae", "text_encoder") for p in parts[name].parameters())


def test_a_band_mismatch_is_refused_before_any_weight_is_read(tiny_folder: Path, monkeypatch) -> None:
    def no_weights(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights were read")

    monkeypatch.setattr(loading, "load_components", no_weights)
    with pytest.raises(SonogenError, match="draws 64-band spectrograms but the dataset's images are 512 px"):
        load_components(str(tiny_folder), bands=512)


def test_damage_is_named_as_generation_names_it(tiny_folder: Path, tmp_path: Path) -> None:
    folder = copy(tiny_folder, tmp_path)
    (folder / "vae" / "config.json").write_text("[1, 2")
    with pytest.raises(SonogenError, match="vae/config.json is not readable JSON") as train_err:
        load_components(str(folder))
    with pytest.raises(SonogenError) as generate_err:
        loading.load_pipeline(str(folder), device="cpu")
    assert str(train_err.value) == str(generate_err.value)


def test_the_spectrogram_format_is_read_as_generation_reads_it(tiny_folder: Path, tmp_path: Path) -> None:
    folder = copy(tiny_folder, tmp_path)
    fields = json.loads((folder / "spectrogram.json").read_text())
    (folder / "spectrogram.json").write_text(json.dumps({**fields, "written_by": "a newer sonogen"}))
    _, params = load_components(str(folder), bands=64)
    assert params == loading.read_spectrogram_params(folder)
    (folder / "spectrogram.json").write_text(json.dumps({**fields, "num_frequencies": "many"}))
    with pytest.raises(SonogenError, match="spectrogram.json"):
        load_components(str(folder))


@pytest.mark.parametrize("name", ["./nowhere", "/no/such/model", "no/such/deep/model", "model.safetensors"])
def test_the_one_path_rule(name: str, monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)
    with pytest.raises(SonogenError, match="checkpoint not found"):
        load_components(name)


def test_a_hub_id_goes_to_the_cache_not_to_not_found(tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SonogenError, match="not in the local cache and HF_HUB_OFFLINE is set"):
        load_components("someone/base-model")
