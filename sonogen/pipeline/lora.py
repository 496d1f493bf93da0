"""Applying a LoRA adapter to a loaded pipeline's UNet.

Accepted: a folder or file in diffusers' LoRA format (``pytorch_lora_weights.safetensors``,
as ``sonogen train --lora`` and ``save_lora_weights`` write), or a PEFT adapter folder
(``adapter_config.json`` + ``adapter_model.safetensors``, as ``unet.save_pretrained``
with an adapter writes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError

DIFFUSERS_LORA_FILE = "pytorch_lora_weights.safetensors"


def apply_lora(pipe: Any, lora: str | Path, scale: float = 1.0) -> None:
    """Load the adapter at ``lora`` into ``pipe.unet`` (and text encoder if it has layers for it)."""
    path = Path(lora).expanduser()
    if not path.exists():
        raise SonogenError(f"LoRA adapter not found: {lora}")
    try:
        if path.is_dir() and (path / "adapter_config.json").is_file():
            _load_peft_folder(pipe, path)
        elif path.is_file() or (path / DIFFUSERS_LORA_FILE).is_file():
            folder, name = (path.parent, path.name) if path.is_file() else (path, DIFFUSERS_LORA_FILE)
            pipe.load_lora_weights(str(folder), weight_name=name, adapter_name="sonogen")
            pipe.set_adapters(["sonogen"], adapter_weights=[scale])
        else:
            raise SonogenError(
                f"{lora} holds no LoRA adapter ({DIFFUSERS_LORA_FILE} or adapter_config.json expected)"
            )
    except SonogenError:
        raise
    except Exception as exc:  # mismatched shapes, wrong base model, corrupt file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SonogenError(f"cannot apply LoRA adapter {lora} to this checkpoint: {first}") from None


def _load_peft_folder(pipe: Any, folder: Path) -> None:
    from peft import LoraConfig
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text())
    fields = {k: v for k, v in config.items() if k in LoraConfig.__dataclass_fields__ and k != "peft_type"}
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise SonogenError(f"{folder} has adapter_config.json but no adapter_model.safetensors")
    pipe.unet.add_adapter(LoraConfig(**fields), adapter_name="sonogen")
    result = set_peft_model_state_dict(pipe.unet, load_file(str(weights)), adapter_name="sonogen")
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise SonogenError(f"LoRA weights do not fit this UNet ({len(unexpected)} unexpected keys)")
    pipe.unet.to(pipe.device)
