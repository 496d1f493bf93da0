"""What a checkpoint says without loading it: its name's kind and sonogen's own files in it.

:func:`looks_like_path` tells a file path from a Hub id. A checkpoint folder may hold,
beside the diffusers parts:

* ``spectrogram.json`` (:data:`SPECTROGRAM_CONFIG`): the :class:`SpectrogramParams` fields
  its images use (absent: the Riffusion v1 format). A single ``.safetensors`` file keeps
  the same fields in its metadata, or an original SD 1.x file in a
  ``<name>.spectrogram.json`` sidecar.
* ``sampling.json`` (:data:`SAMPLING_CONFIG`): its recommended ``num_inference_steps``
  and ``guidance_scale``, used when a caller gives none.

:meth:`SonogenPipeline.save_pretrained <sonogen.pipeline.pipeline.SonogenPipeline.save_pretrained>`
writes them; the readers here are shared by the loaders (:mod:`sonogen.pipeline.loading`,
:mod:`sonogen.pipeline.single_file`) and by ``sonogen serve``, which reads the packaged
model's steps and checks a local ``--checkpoint`` before any model is loaded. Nothing
here imports diffusers or transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams

#: File in a checkpoint folder holding the SpectrogramParams fields its images use.
SPECTROGRAM_CONFIG = "spectrogram.json"
#: File in a checkpoint folder holding its recommended sampling settings
#: (``num_inference_steps``, ``guidance_scale``), used when a caller gives none.
SAMPLING_CONFIG = "sampling.json"
#: Folder inside a checkpoint folder holding a few-step LoRA adapter of its UNet, with its
#: own scheduler and ``sampling.json`` (``sonogen train --stage distill`` with ``lora_rank``).
FEW_STEP_DIR = "few_step"
#: What a few-step adapter folder must hold: the PEFT adapter and its sampler.
FEW_STEP_FILES = ("adapter_config.json", "adapter_model.safetensors", "scheduler_config.json")


def few_step_adapter(folder: Path) -> Path | None:
    """``folder``'s few-step adapter folder (:data:`FEW_STEP_DIR`) when it holds
    :data:`FEW_STEP_FILES`, else None."""
    few = folder / FEW_STEP_DIR
    return few if all((few / name).is_file() for name in FEW_STEP_FILES) else None


#: Sampling settings for checkpoints that recommend none (Stable Diffusion's usual ones).
FALLBACK_SAMPLING: dict[str, float] = {"num_inference_steps": 50, "guidance_scale": 7.0}


class RecommendedSampling:
    """The sampling settings a loaded checkpoint uses when a caller names none."""

    #: the checkpoint's ``sampling.json`` (set by the loader)
    sampling_defaults: dict[str, float]

    @property
    def default_steps(self) -> int:
        """Denoising steps: the checkpoint's ``sampling.json``, else :data:`FALLBACK_SAMPLING`'s 50."""
        return int({**FALLBACK_SAMPLING, **self.sampling_defaults}["num_inference_steps"])

    @property
    def default_guidance(self) -> float:
        """Guidance scale: the checkpoint's ``sampling.json``, else :data:`FALLBACK_SAMPLING`'s 7.0."""
        return float({**FALLBACK_SAMPLING, **self.sampling_defaults}["guidance_scale"])


def looks_like_path(name: str) -> bool:
    """True for names that can only be file paths (a Hub id is ``owner/name`` or ``name``)."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
        or name.lower().endswith((".safetensors", ".ckpt", ".bin", ".json", ".pt"))
    )


def read_spectrogram_params(folder: Path) -> SpectrogramParams:
    """The ``spectrogram.json`` of a checkpoint folder, or the v1 defaults."""
    file = folder / SPECTROGRAM_CONFIG
    return read_spectrogram_file(file) if file.is_file() else SpectrogramParams()


def read_spectrogram_file(file: Path) -> SpectrogramParams:
    """A spectrogram format stored as JSON (``spectrogram.json``, a single file's sidecar).

    Fields that :class:`SpectrogramParams` does not know are ignored (a newer writer).

    Raises:
        SonogenError: the file is unreadable, not a JSON object, or holds impossible values.
    """
    try:
        fields = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SonogenError(f"unreadable {file}: {exc}") from None
    return spectrogram_params_from(fields, str(file))


def spectrogram_params_from(fields: Any, source: str) -> SpectrogramParams:
    """:class:`SpectrogramParams` from a JSON object's fields (unknown ones ignored); ``source`` names it in errors."""
    if not isinstance(fields, dict):
        raise SonogenError(f"unreadable {source}: expected a JSON object, got {type(fields).__name__}")
    try:
        return SpectrogramParams(**{k: v for k, v in fields.items() if k in SpectrogramParams.__dataclass_fields__})
    except (ValueError, TypeError) as exc:
        raise SonogenError(f"unreadable {source}: {exc}") from None


def read_sampling_defaults(folder: Path) -> dict[str, float]:
    """The ``sampling.json`` of a checkpoint folder (recommended steps and guidance), or ``{}``.

    Raises:
        SonogenError: the file exists but is not a JSON object, or its values are out of
            range (``num_inference_steps`` a whole number >= 1, ``guidance_scale`` in [0, 100]).
    """
    file = folder / SAMPLING_CONFIG
    if not file.is_file():
        return {}
    try:
        fields = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SonogenError(f"unreadable {file}: {exc}") from None
    if not isinstance(fields, dict):
        raise SonogenError(f"{file} must hold a JSON object, got {type(fields).__name__}")
    out: dict[str, float] = {}
    steps = fields.get("num_inference_steps")
    if steps is not None:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise SonogenError(f"{file}: num_inference_steps must be a whole number >= 1, got {steps!r}")
        out["num_inference_steps"] = steps
    guidance = fields.get("guidance_scale")
    if guidance is not None:
        if not isinstance(guidance, (int, float)) or isinstance(guidance, bool) or not 0 <= guidance <= 100:
            raise SonogenError(f"{file}: guidance_scale must be a number in [0, 100], got {guidance!r}")
        out["guidance_scale"] = float(guidance)
    return out
