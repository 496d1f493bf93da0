"""Loading a checkpoint: a Hub id, a local diffusers folder or a single ``.safetensors`` file.

Device and dtype: CUDA gets float16 (or the bfloat16/float32 asked for), MPS float16,
the CPU float32. A Hub id is first looked up in the local cache; only when it is missing
and the Hub answers within seconds is it downloaded, so an offline machine gets a clear
error at once instead of a hang.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from sonogen.errors import SonogenError
from sonogen.spectrogram.params import SpectrogramParams

if TYPE_CHECKING:
    from sonogen.pipeline.pipeline import SonogenPipeline

logger = logging.getLogger(__name__)

#: The public Riffusion checkpoint, used when no checkpoint is named.
DEFAULT_CHECKPOINT = "riffusion/riffusion-model-v1"
#: Scheduler names accepted by :func:`load_pipeline` (None/"default": the checkpoint's own).
SCHEDULERS = ("default", "pndm", "dpm", "ddim")
SINGLE_FILE_SUFFIXES = (".safetensors",)


def pick_device(device: str | None = None) -> torch.device:
    """``device`` or the best available: CUDA, then MPS, then the CPU."""
    if device:
        try:
            chosen = torch.device(device)
        except RuntimeError as exc:
            raise SonogenError(f"unknown device {device!r}: {exc}") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise SonogenError(f"device {device!r} asked for but CUDA is not available here; use --device cpu")
        if chosen.type == "mps" and not torch.backends.mps.is_available():
            raise SonogenError(f"device {device!r} asked for but MPS is not available here; use --device cpu")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: torch.dtype | None = None) -> torch.dtype:
    """float32 on the CPU; ``dtype`` or float16 on CUDA/MPS (bfloat16 on CUDA if asked)."""
    if device.type == "cpu":
        if dtype not in (None, torch.float32):
            logger.warning("%s is not supported on the CPU; using float32", dtype)
        return torch.float32
    if dtype is None:
        return torch.float16
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise SonogenError(f"unsupported dtype {dtype}; use float16, bfloat16 or float32")
    if dtype == torch.bfloat16 and device.type == "mps":
        return torch.float16
    return dtype


def load_pipeline(
    checkpoint: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    scheduler: str | None = None,
    lora: str | None = None,
) -> SonogenPipeline:
    """Load a :class:`SonogenPipeline` ready to run.

    Args:
        checkpoint: Hub id, diffusers folder or single SD 1.x ``.safetensors`` file;
            None means the embedded default model when one is packaged
            (:func:`sonogen.models.default_checkpoint_path`), else :data:`DEFAULT_CHECKPOINT`.
        device: torch device; None picks CUDA, MPS or the CPU.
        dtype: weights dtype on accelerators (float32 always on the CPU).
        scheduler: None/"default" (the checkpoint's), "pndm", "dpm" (DPM-Solver++) or "ddim".
        lora: a LoRA adapter folder to apply to the UNet.

    Raises:
        SonogenError: unknown path or id, no local copy while offline, bad options.
    """
    target = pick_device(device)
    torch_dtype = pick_dtype(target, dtype)
    if not checkpoint:
        from sonogen.models import default_checkpoint_path

        embedded = default_checkpoint_path()
        checkpoint = str(embedded) if embedded is not None else DEFAULT_CHECKPOINT
    name = checkpoint
    path = Path(name).expanduser()
    if path.is_dir():
        pipe = _load_folder(path, torch_dtype)
    elif path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise SonogenError(f"a single-file checkpoint must be a .safetensors file: {name}")
        from sonogen.pipeline.single_file import load_single_file

        pipe = load_single_file(path, torch_dtype)
    elif _looks_like_path(name):
        raise SonogenError(f"checkpoint not found: {name} (give a diffusers folder, a .safetensors file or a Hub id)")
    else:
        pipe = _load_hub(name, torch_dtype)
    pipe = pipe.to(target)
    if scheduler:
        set_scheduler(pipe, scheduler)
    if lora:
        from sonogen.pipeline.lora import apply_lora

        apply_lora(pipe, lora)
    return pipe


def _looks_like_path(name: str) -> bool:
    """True for names that can only be file paths (a Hub id is ``owner/name``)."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or "\\" in name
        or name.lower().endswith((".safetensors", ".ckpt", ".bin", ".json", ".pt"))
    )


def read_spectrogram_params(folder: Path) -> SpectrogramParams:
    """The ``spectrogram.json`` of a checkpoint folder, or the v1 defaults."""
    from sonogen.pipeline.pipeline import SPECTROGRAM_CONFIG

    file = folder / SPECTROGRAM_CONFIG
    if not file.is_file():
        return SpectrogramParams()
    try:
        fields = json.loads(file.read_text())
        return SpectrogramParams(**{k: v for k, v in fields.items() if k in SpectrogramParams.__dataclass_fields__})
    except (ValueError, TypeError) as exc:
        raise SonogenError(f"unreadable {file}: {exc}") from None


def read_sampling_defaults(folder: Path) -> dict[str, float]:
    """The ``sampling.json`` of a checkpoint folder (recommended steps and guidance), or ``{}``.

    Raises:
        SonogenError: the file exists but is not a JSON object of positive numbers
            (``num_inference_steps`` a whole number >= 1, ``guidance_scale`` >= 0).
    """
    from sonogen.pipeline.pipeline import SAMPLING_CONFIG

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


def _load_folder(folder: Path, dtype: torch.dtype) -> SonogenPipeline:
    if not (folder / "model_index.json").is_file():
        raise SonogenError(f"{folder} is not a diffusers checkpoint folder (no model_index.json)")
    try:
        pipe = _from_pretrained(str(folder), dtype, local_files_only=True)
    except (OSError, ValueError, KeyError, AttributeError, ImportError) as exc:
        raise SonogenError(f"cannot load checkpoint folder {folder}: {_first_line(exc)}") from None
    pipe.spectrogram_params = read_spectrogram_params(folder)
    pipe.sampling_defaults = read_sampling_defaults(folder)
    return _checked(pipe, str(folder))


def _load_hub(repo_id: str, dtype: torch.dtype) -> SonogenPipeline:
    try:
        pipe = _from_pretrained(repo_id, dtype, local_files_only=True)
        source = "cache"
    except Exception as exc:  # not (fully) in the local cache
        logger.debug("no cached copy of %s: %s", repo_id, exc)
        how = (
            f"get the weights on a machine with internet (`hf download {repo_id}` or "
            f"`huggingface-cli download {repo_id}`), then copy the Hugging Face cache or pass "
            "--checkpoint a local diffusers folder or .safetensors file"
        )
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise SonogenError(f"checkpoint {repo_id!r} is not in the local cache and HF_HUB_OFFLINE is set; {how}") from None
        if not hub_reachable():
            raise SonogenError(f"checkpoint {repo_id!r} is not in the local cache and the Hub cannot be reached; {how}") from None
        try:
            pipe = _from_pretrained(repo_id, dtype, local_files_only=False)
            source = "hub"
        except Exception as exc2:
            raise SonogenError(f"cannot load checkpoint {repo_id!r} from the Hub: {_first_line(exc2)}") from None
    logger.debug("loaded %s from the %s", repo_id, source)
    folder = _cached_folder(repo_id)
    pipe.spectrogram_params = read_spectrogram_params(folder) if folder else SpectrogramParams()
    return _checked(pipe, repo_id)


def _from_pretrained(name: str, dtype: torch.dtype, *, local_files_only: bool) -> SonogenPipeline:
    """``SonogenPipeline.from_pretrained`` quietly (diffusers renamed ``torch_dtype`` to ``dtype``)."""
    import warnings

    from sonogen.pipeline.pipeline import SonogenPipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return SonogenPipeline.from_pretrained(name, torch_dtype=dtype, local_files_only=local_files_only)


def _cached_folder(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=["spectrogram.json", "model_index.json"]))
    except Exception:
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hugging Face Hub endpoint accepts a TCP connection within ``timeout`` s."""
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _checked(pipe: SonogenPipeline, name: str) -> SonogenPipeline:
    """Fail clearly when a checkpoint lacks a part the pipeline needs."""
    missing = [part for part in ("vae", "text_encoder", "tokenizer", "unet", "scheduler") if getattr(pipe, part, None) is None]
    if missing:
        raise SonogenError(f"checkpoint {name} lacks {', '.join(missing)}")
    return pipe


def set_scheduler(pipe: SonogenPipeline, name: str) -> None:
    """Swap the scheduler: "default"/"pndm" (PNDM), "dpm" (DPM-Solver++ multistep), "ddim"."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, PNDMScheduler

    key = name.lower()
    config = pipe.scheduler.config
    if key == "default":
        return
    if key == "pndm":
        pipe.scheduler = PNDMScheduler.from_config(config, skip_prk_steps=True)
    elif key == "dpm":
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++")
    elif key == "ddim":
        pipe.scheduler = DDIMScheduler.from_config(config)
    else:
        raise SonogenError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
