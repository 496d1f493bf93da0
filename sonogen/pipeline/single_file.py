"""Single-file checkpoints (``.safetensors``).

Two kinds load:

* original Stable Diffusion 1.x files (``model.diffusion_model.*`` keys, as shared on
  model sites): converted offline with diffusers' conversion helpers against the SD 1.x
  inference config and CLIP tokenizer that ship with sonogen (:mod:`sonogen.pipeline.ldm`).
* sonogen's own single files (``save_single_file``): the UNet, VAE and text encoder
  weights under ``unet.``, ``vae.`` and ``text_encoder.`` prefixes, with the component
  configs, tokenizer files, scheduler config and spectrogram format in the safetensors
  metadata, so they load with no network at all.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError
from sonogen.pipeline.ldm import is_ldm_state, load_ldm_file
from sonogen.pipeline.model_files import read_spectrogram_file, spectrogram_params_from
from sonogen.pipeline.pipeline import SonogenPipeline
from sonogen.utils import atomic_path

FORMAT_KEY = "sonogen_format"
FORMAT_VALUE = "single-file-v1"
PARTS = ("unet", "vae", "text_encoder")


def save_single_file(pipe: SonogenPipeline, path: str | Path) -> Path:
    """Write ``pipe`` as one ``.safetensors`` file with everything needed to rebuild it."""
    from safetensors.torch import save_file

    out = Path(path)
    if out.suffix.lower() != ".safetensors":
        raise SonogenError(f"a single-file checkpoint must end in .safetensors: {path}")
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, str] = {FORMAT_KEY: FORMAT_VALUE}
    for part in PARTS:
        model = getattr(pipe, part)
        for key, value in model.state_dict().items():
            tensors[f"{part}.{key}"] = value.detach().cpu().contiguous()
        meta[f"{part}_class"] = type(model).__name__
        config = model.config.to_dict() if hasattr(model.config, "to_dict") else dict(model.config)
        meta[f"{part}_config"] = json.dumps(config, default=str)
    meta["scheduler_class"] = type(pipe.scheduler).__name__
    meta["scheduler_config"] = json.dumps(dict(pipe.scheduler.config), default=str)
    meta["spectrogram"] = json.dumps(dict(pipe.spectrogram_params.__dict__))
    with tempfile.TemporaryDirectory(prefix="sonogen-tok-") as tmp:
        pipe.tokenizer.save_pretrained(tmp)
        files = {p.name: p.read_text(encoding="utf-8") for p in Path(tmp).iterdir() if p.is_file()}
    meta["tokenizer_class"] = type(pipe.tokenizer).__name__
    meta["tokenizer_files"] = json.dumps(files)
    with atomic_path(out) as tmp_path:
        save_file(tensors, str(tmp_path), metadata=meta)
    return out


def load_single_file(path: Path, dtype: torch.dtype) -> SonogenPipeline:
    """A pipeline from a single ``.safetensors`` file (either kind, see the module docs)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as exc:
        raise SonogenError(f"{path} is not a readable .safetensors file: {exc}") from None
    if meta.get(FORMAT_KEY) == FORMAT_VALUE:
        return _load_sonogen_file(path, meta, dtype)
    return _load_original_file(path, dtype)


def _load_sonogen_file(path: Path, meta: dict[str, str], dtype: torch.dtype) -> SonogenPipeline:
    import diffusers
    import transformers
    from safetensors.torch import load_file

    state = load_file(str(path))
    parts: dict[str, Any] = {}
    try:
        for part in PARTS:
            config = json.loads(meta[f"{part}_config"])
            name = meta[f"{part}_class"]
            if part == "text_encoder":
                cls = getattr(transformers, name)
                config_cls = cls.config_class
                model = cls(config_cls.from_dict(config))
            else:
                cls = getattr(diffusers, name)
                model = cls.from_config(config)
            prefix = f"{part}."
            weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            missing, unexpected = model.load_state_dict(weights, strict=False)
            missing = [k for k in missing if not k.endswith("position_ids")]
            if missing or unexpected:
                raise SonogenError(f"{path}: {part} weights do not match its config ({len(missing)} missing)")
            if next(model.parameters()).dtype != dtype:
                model = model.to(dtype)
            parts[part] = model.eval()
        parts["scheduler"] = getattr(diffusers, meta["scheduler_class"]).from_config(json.loads(meta["scheduler_config"]))
        with tempfile.TemporaryDirectory(prefix="sonogen-tok-") as tmp:
            for name, text in json.loads(meta["tokenizer_files"]).items():
                (Path(tmp) / Path(name).name).write_text(text, encoding="utf-8")
            parts["tokenizer"] = getattr(transformers, meta["tokenizer_class"]).from_pretrained(tmp)
        params = spectrogram_params_from(json.loads(meta.get("spectrogram", "{}")), f"{path} (its spectrogram format)")
    except SonogenError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise SonogenError(f"{path}: unreadable sonogen single-file checkpoint ({type(exc).__name__}: {exc})") from None
    pipe = SonogenPipeline(**parts)
    pipe.spectrogram_params = params
    return pipe


def _load_original_file(path: Path, dtype: torch.dtype) -> SonogenPipeline:
    """An original SD 1.x file (LDM keys), converted offline (:mod:`sonogen.pipeline.ldm`)."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:
        raise SonogenError(f"{path} is not a readable .safetensors file: {exc}") from None
    if not is_ldm_state(state):
        raise SonogenError(
            f"{path} is neither a sonogen single file nor an original SD 1.x file "
            "(no model.diffusion_model.* weights)"
        )
    pipe = load_ldm_file(path, state, dtype)
    sidecar = path.with_suffix(".spectrogram.json")
    if sidecar.is_file():
        pipe.spectrogram_params = read_spectrogram_file(sidecar)
    return pipe
