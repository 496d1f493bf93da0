"""Loading a checkpoint: a Hub id, a local diffusers folder or a single ``.safetensors`` file.

Device and dtype: CUDA gets float16 (or the bfloat16/float32 asked for), MPS float16,
the CPU float32.

What is downloaded, and when: nothing, unless a Hub id is named explicitly. No checkpoint
means the default model packaged inside sonogen; an install without one says so and
names what to pass instead. A named Hub id is loaded from the local Hugging Face cache;
only when it is not there (and ``HF_HUB_OFFLINE`` is unset and the Hub answers within
seconds) is it downloaded, after printing its size, with a progress bar. A cached copy
that cannot be loaded is an error naming the file and the problem; it is never
re-downloaded or treated as missing.

This is the one checkpoint loader: ``sonogen train`` reads its base model through
:func:`load_checkpoint` too (float32, on the CPU). A diffusers folder's parts are loaded
directly, each with its own class's ``from_pretrained`` (:func:`load_components`), not
through ``DiffusionPipeline.from_pretrained``, whose machinery (pipeline class lookup,
every scheduler and guider module, progress bars) costs a cold start time for nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from sonogen import models
from sonogen.errors import SonogenError
from sonogen.pipeline.lora import apply_lora
from sonogen.pipeline.model_files import (
    FEW_STEP_DIR,
    few_step_adapter,
    looks_like_path,
    read_sampling_defaults,
    read_spectrogram_params,
)
from sonogen.pipeline.pipeline import SonogenPipeline
from sonogen.pipeline.single_file import load_single_file
from sonogen.spectrogram.params import SpectrogramParams
from sonogen.utils import SCHEDULERS

logger = logging.getLogger(__name__)

#: The public Riffusion checkpoint: suggested when no default model is packaged (never
#: downloaded unless named).
DEFAULT_CHECKPOINT = "riffusion/riffusion-model-v1"
#: The component folders of a diffusers checkpoint that sonogen loads.
PARTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
#: ``(library, class)`` of each part when ``model_index.json`` does not name one (SD 1.x);
#: the scheduler's comes from its ``scheduler_config.json`` first.
DEFAULT_CLASSES = {
    "vae": ("diffusers", "AutoencoderKL"),
    "text_encoder": ("transformers", "CLIPTextModel"),
    "tokenizer": ("transformers", "CLIPTokenizer"),
    "unet": ("diffusers", "UNet2DConditionModel"),
    "scheduler": ("diffusers", "PNDMScheduler"),
}
#: Libraries a ``model_index.json`` may name a part's class from.
LIBRARIES = ("diffusers", "transformers")
#: sonogen's own part classes a ``model_index.json`` may name, as ``(module, class)``.
SONOGEN_CLASSES = (
    ("sonogen.models.autoencoder", "SpectrogramAutoencoder"),
    ("sonogen.models.text", "SentenceTextEncoder"),
)
#: Part classes whose weights stay in an installed package: their folder holds a config
#: naming the package and the weights' hash, which the check verifies instead of weights files.
EXTERNAL_WEIGHTS = (("sonogen.models.text", "SentenceTextEncoder"),)
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
    """The weights' dtype: ``dtype`` when given, else float16 on CUDA/MPS and float32 on the CPU.

    bfloat16 on the CPU only when asked for (fast on CPUs with bf16 matrix units, slow
    elsewhere); float16 on the CPU falls back to float32 with a warning.
    """
    if dtype not in (None, torch.float16, torch.bfloat16, torch.float32):
        raise SonogenError(f"unsupported dtype {dtype}; use float16, bfloat16 or float32")
    if device.type == "cpu":
        if dtype == torch.float16:
            logger.warning("float16 is not supported on the CPU; using float32 (bfloat16 is)")
            return torch.float32
        return dtype or torch.float32
    if dtype is None:
        return torch.float16
    if dtype == torch.bfloat16 and device.type == "mps":
        return torch.float16
    return dtype


def load_pipeline(
    checkpoint: str | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    scheduler: str | None = None,
    lora: str | None = None,
    *,
    compile: bool | str = False,
    channels_last: bool | None = None,
    cache: bool = True,
) -> SonogenPipeline:
    """Load a :class:`SonogenPipeline` ready to run.

    Args:
        checkpoint: Hub id, diffusers folder or single SD 1.x ``.safetensors`` file;
            None means the default model packaged with sonogen
            (:func:`sonogen.models.default_checkpoint_path`); without one it is an error
            (nothing is downloaded unless a Hub id is named).
        device: torch device; None picks CUDA, MPS or the CPU.
        dtype: weights dtype; None means float16 on CUDA/MPS, float32 on the CPU
            (:func:`pick_dtype`). Latents and the scheduler stay float32 either way.
        scheduler: None/"default" (the checkpoint's), "pndm", "dpm" (DPM-Solver++) or "ddim".
        lora: a LoRA adapter folder to apply to the UNet.
        compile: ``torch.compile`` the UNet and VAE decoder (True, or a mode name);
            see :meth:`SonogenPipeline.enable_speedups`.
        channels_last: channels-last memory for the UNet and VAE; None means on CUDA and
            the CPU (where it speeds up the VAE decode), not MPS.
        cache: cache negative-prompt text states and seed-image latents (same results).

    Raises:
        SonogenError: unknown path or id, no local copy while offline, bad options.
    """
    target = pick_device(device)
    torch_dtype = pick_dtype(target, dtype)
    if compile and target.type == "cpu":
        import shutil

        if not any(shutil.which(cc) for cc in ("cc", "gcc", "g++", "clang")):
            raise SonogenError("--compile on the CPU needs a C++ compiler (install gcc), or leave --compile out")
    pipe = load_checkpoint(checkpoint, torch_dtype).to(target)
    if scheduler and scheduler.lower() == "few-step":
        use_few_step(pipe, Path(checkpoint).expanduser() if checkpoint else default_checkpoint())
    elif scheduler:
        set_scheduler(pipe, scheduler)
    if lora:
        apply_lora(pipe, lora)
    if channels_last is None:
        channels_last = target.type in ("cuda", "cpu")
    return pipe.enable_speedups(channels_last=channels_last, cache=cache, compile=compile)


def load_checkpoint(
    checkpoint: str | None,
    dtype: torch.dtype = torch.float32,
    *,
    check_format: Callable[[SpectrogramParams], None] | None = None,
) -> SonogenPipeline:
    """The model in ``checkpoint``, on the CPU in ``dtype``: what generation and training load.

    Args:
        checkpoint: as :func:`load_pipeline` takes it (None: the packaged default model).
        dtype: the networks' dtype.
        check_format: called with the checkpoint's spectrogram format as soon as it is
            known (for a folder: before any weight is read); it raises to refuse it.

    Raises:
        SonogenError: unknown path or id, no local copy while offline, a damaged checkpoint.
    """
    name = checkpoint or str(default_checkpoint())
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_folder(path, dtype, check_format)
    if path.is_file():
        if path.suffix.lower() in (".ckpt", ".pt", ".pth", ".bin"):
            raise SonogenError(
                f"{name} is a pickled checkpoint, which can run code when loaded; sonogen reads only "
                ".safetensors single files (the same model is usually published as .safetensors)"
            )
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise SonogenError(f"a single-file checkpoint must be a .safetensors file: {name}")
        pipe = load_single_file(path, dtype)
        if check_format:
            check_format(pipe.spectrogram_params)
        return pipe
    if looks_like_path(name):
        raise SonogenError(f"checkpoint not found: {name} (give a diffusers folder, a .safetensors file or a Hub id)")
    return _load_hub(name, dtype, check_format)


def default_checkpoint() -> Path:
    """The default model packaged with sonogen; an install without one is an error naming what to pass."""
    embedded = models.default_checkpoint_path()
    if embedded is None:
        raise SonogenError(
            "no --checkpoint given and this install of sonogen packages no default model; pass "
            f"--checkpoint a diffusers folder, a .safetensors file or a Hub id (e.g. {DEFAULT_CHECKPOINT}, "
            f"about 4 GB: fetch it once with `hf download {DEFAULT_CHECKPOINT}`)"
        )
    return embedded


def _load_folder(
    folder: Path,
    dtype: torch.dtype,
    check_format: Callable[[SpectrogramParams], None] | None = None,
    *,
    repo_id: str | None = None,
) -> SonogenPipeline:
    """A diffusers folder: checked, its format read (and checked), then its parts loaded.

    ``repo_id``: the folder is the Hub cache's copy of it, so a damaged file says so.
    """
    with _damage_named(folder, repo_id):
        check_folder(folder)
        params = read_spectrogram_params(folder)
        sampling = read_sampling_defaults(folder)
    if check_format:
        check_format(params)
    with _damage_named(folder, repo_id):
        parts = load_components(folder, dtype)
    pipe = SonogenPipeline(**parts)
    pipe.spectrogram_params = params
    pipe.sampling_defaults = sampling
    return _checked(pipe, str(folder))


@contextlib.contextmanager
def _damage_named(folder: Path, repo_id: str | None) -> Iterator[None]:
    """Problems found in a Hub cache copy say it is damaged and how to repair it."""
    try:
        yield
    except SonogenError as exc:
        if repo_id is None:
            raise
        raise SonogenError(
            f"the cached copy of {repo_id!r} is damaged: {exc} (delete {folder} and download it again)"
        ) from None


def load_components(folder: Path, dtype: torch.dtype) -> dict[str, Any]:
    """The five parts of a diffusers folder (:data:`PARTS`), each through its own class's ``from_pretrained``.

    Classes come from ``model_index.json`` (``[library, class]``, library diffusers or
    transformers), else :data:`DEFAULT_CLASSES`; the networks load in ``dtype`` on the CPU,
    in eval mode, without progress bars. Call :func:`check_folder` first for clear
    messages about missing or damaged files.

    Raises:
        SonogenError: any failure, naming the folder and the problem in one line.
    """
    index = _read_json(folder / "model_index.json")
    parts: dict[str, Any] = {}
    try:
        with _quiet_loading():
            for part in PARTS:
                library, name = _component_class(folder, index, part)
                parts[part] = _load_part(_import_class(library, name), library, folder, part, dtype)
    except SonogenError:
        raise
    except Exception as exc:  # any failure here is a bad checkpoint: say which and why
        raise SonogenError(f"cannot load checkpoint folder {folder}: {_first_line(exc)}") from None
    return parts


def _component_class(folder: Path, index: Any, part: str) -> tuple[str, str]:
    """``(library, class name)`` of a part: ``model_index.json``'s, else the scheduler config's or the default."""
    entry = index.get(part) if isinstance(index, dict) else None
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(isinstance(x, str) for x in entry):
        library, name = entry
        if library not in LIBRARIES and (library, name) not in SONOGEN_CLASSES:
            raise SonogenError(
                f"{folder / 'model_index.json'}: {part} is a {library}.{name}; sonogen loads parts from "
                f"{' or '.join(LIBRARIES)} and its own {', '.join(c for _, c in SONOGEN_CLASSES)} only"
            )
        return library, name
    if part == "scheduler":
        config = _read_json(folder / "scheduler" / "scheduler_config.json")
        if isinstance(config, dict) and isinstance(config.get("_class_name"), str):
            return "diffusers", config["_class_name"]
    return DEFAULT_CLASSES[part]


def _import_class(library: str, name: str) -> Any:
    import importlib

    cls = getattr(importlib.import_module(library), name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise SonogenError(f"{library} has no loadable class {name!r} (a newer {library} may be needed)")
    return cls


def _load_part(cls: Any, library: str, folder: Path, part: str, dtype: torch.dtype) -> Any:
    if part == "tokenizer":
        return cls.from_pretrained(str(folder / part))
    if part == "scheduler":
        return cls.from_pretrained(str(folder), subfolder=part)
    if library == "transformers":
        import transformers
        from packaging.version import Version

        # transformers 4.56 renamed torch_dtype to dtype (the old name warns)
        key = "dtype" if Version(transformers.__version__).release >= (4, 56) else "torch_dtype"
        model = cls.from_pretrained(str(folder / part), **{key: dtype})
    else:
        model = cls.from_pretrained(str(folder), subfolder=part, torch_dtype=dtype)
    return model.eval()


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No progress bars from diffusers/transformers (restored after) and no FutureWarnings while loading."""
    import warnings

    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    switched = [m for m in (diffusers_logging, transformers_logging) if m.is_progress_bar_enabled()]
    for module in switched:
        module.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        for module in switched:
            module.enable_progress_bar()


def check_folder(folder: Path) -> None:
    """Fail with the file and the problem when a diffusers folder is incomplete or corrupt.

    Reads ``model_index.json``, each part's config and the headers of its
    ``.safetensors`` weights (cheap: no tensor is loaded), so a truncated download or a
    damaged file is named instead of surfacing as a library error deep in loading. A
    part whose weights live in an installed package (:data:`EXTERNAL_WEIGHTS`: the
    sentence text encoder) is checked there instead: the package must be installed and
    its weights must have the hash the part's config records (hashed once per process).
    """
    index = folder / "model_index.json"
    if not index.is_file():
        raise SonogenError(f"{folder} is not a diffusers checkpoint folder (no model_index.json)")
    classes = _read_json(index)
    for part in PARTS:
        sub = folder / part
        if not sub.is_dir():
            raise SonogenError(f"checkpoint {folder} lacks the {part}/ folder")
        if part == "tokenizer":
            continue
        entry = classes.get(part) if isinstance(classes, dict) else None
        if isinstance(entry, list) and tuple(entry) in EXTERNAL_WEIGHTS:
            from sonogen.models.text import check_encoder_folder

            check_encoder_folder(sub)
            continue
        config = sub / ("scheduler_config.json" if part == "scheduler" else "config.json")
        if not config.is_file():
            raise SonogenError(f"checkpoint {folder} lacks {part}/{config.name}")
        _read_json(config)
        if part == "scheduler":
            continue
        weights = sorted(sub.glob("*.safetensors")) + sorted(sub.glob("*.bin"))
        if not weights:
            raise SonogenError(f"checkpoint {folder} has no weights in {part}/ (no .safetensors or .bin file)")
        for file in weights:
            if file.suffix == ".safetensors":
                _check_safetensors(file)
    # spectrogram.json and sampling.json are read (and their problems named) by their own readers


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SonogenError(f"{file} is not readable JSON ({type(exc).__name__}: {_first_line(exc, bare=True)})") from None


def _check_safetensors(file: Path) -> None:
    from safetensors import safe_open

    try:
        size = file.stat().st_size
        with safe_open(str(file), framework="pt") as handle:
            keys = list(handle.keys())
            if keys:  # the last tensor's data must lie inside the file (catches truncation)
                handle.get_slice(keys[-1])
        if size < 8 or not keys:
            raise ValueError("no tensors in the file")
    except Exception as exc:
        raise SonogenError(f"{file} is not a valid .safetensors file ({_first_line(exc, bare=True)})") from None


def _load_hub(
    repo_id: str, dtype: torch.dtype, check_format: Callable[[SpectrogramParams], None] | None = None
) -> SonogenPipeline:
    """A Hub id: its local cache copy, else (when allowed and reachable) a download first."""
    folder = cached_snapshot(repo_id)
    if folder is None:
        how = (
            f"get the weights on a machine with internet (`hf download {repo_id}`), then copy the "
            "Hugging Face cache or pass --checkpoint a local diffusers folder or .safetensors file"
        )
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise SonogenError(f"checkpoint {repo_id!r} is not in the local cache and HF_HUB_OFFLINE is set; {how}")
        if not hub_reachable():
            raise SonogenError(f"checkpoint {repo_id!r} is not in the local cache and the Hub cannot be reached; {how}")
        folder = download_checkpoint(repo_id)
    return _load_folder(folder, dtype, check_format, repo_id=repo_id)


def cached_snapshot(repo_id: str) -> Path | None:
    """The local cache folder of ``repo_id`` when its ``model_index.json`` is cached, else None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "model_index.json")
    except ValueError as exc:  # not a valid repo id
        raise SonogenError(f"not a checkpoint path or Hub id: {repo_id!r} ({exc})") from None
    return Path(found).parent if isinstance(found, str) else None


def download_checkpoint(repo_id: str) -> Path:
    """Download the parts sonogen loads of ``repo_id``, printing the size first; a progress bar follows."""
    import sys

    from huggingface_hub import HfApi, snapshot_download

    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
    except Exception as exc:
        raise SonogenError(f"cannot look up {repo_id!r} on the Hub: {_first_line(exc)}") from None
    files = {s.rfilename: (s.size or 0) for s in (info.siblings or [])}
    patterns = download_patterns(files)
    size = sum(n for name, n in files.items() if _matches(name, patterns))
    print(f"sonogen: downloading {repo_id} ({size / 1e9:.2f} GB) into the Hugging Face cache", file=sys.stderr, flush=True)
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as exc:
        raise SonogenError(f"cannot download {repo_id!r}: {_first_line(exc)}") from None


def download_patterns(files: dict[str, int]) -> list[str]:
    """The files to fetch: configs, tokenizer, and one weights format per part (safetensors first)."""
    patterns = ["model_index.json", "spectrogram.json", "sampling.json", "scheduler/*", "tokenizer/*"]
    for part in ("vae", "text_encoder", "unet"):
        patterns.append(f"{part}/*.json")
        names = [n for n in files if n.startswith(f"{part}/")]
        plain = [n for n in names if ".fp16." not in n]
        ext = ".safetensors" if any(n.endswith(".safetensors") for n in plain) else ".bin"
        patterns.extend(n for n in plain if n.endswith(ext))
    return patterns


def _matches(name: str, patterns: list[str]) -> bool:
    from fnmatch import fnmatch

    return any(fnmatch(name, p) for p in patterns)


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


def use_few_step(pipe: SonogenPipeline, folder: Path) -> None:
    """Sample with the few-step adapter in ``folder/few_step``: the adapter fused into the
    UNet, its scheduler (LCM for a consistency student, the teacher's DPM-Solver++ or DDIM
    for a guidance student), and its ``sampling.json`` as the defaults (``--steps`` and
    ``--guidance`` still override them).

    Raises:
        SonogenError: the checkpoint is not a folder with such an adapter, or its scheduler is
            neither of those.
    """
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, LCMScheduler

    few = few_step_adapter(folder)
    if few is None:
        raise SonogenError(f"{folder} has no few-step adapter ({FEW_STEP_DIR}/); one is trained with "
                           "`sonogen train --stage distill` and lora_rank in the config's distill_training")
    apply_lora(pipe, few)
    pipe.unet.fuse_lora()
    pipe.unet.unload_lora()  # the fused weights stay; the adapter's extra layers go
    kinds = {"LCMScheduler": LCMScheduler, "DPMSolverMultistepScheduler": DPMSolverMultistepScheduler,
             "DDIMScheduler": DDIMScheduler}
    name = json.loads((few / "scheduler_config.json").read_text(encoding="utf-8")).get("_class_name")
    if name not in kinds:
        raise SonogenError(f"{few}: unknown few-step scheduler {name!r} (expected one of {', '.join(kinds)})")
    pipe.scheduler = kinds[name].from_pretrained(str(few))
    pipe.sampling_defaults = read_sampling_defaults(few)


def set_scheduler(pipe: SonogenPipeline, name: str) -> None:
    """Swap the scheduler: "pndm" (PNDM, PLMS steps only), "dpm" (DPM-Solver++ multistep) or
    "ddim", each built from the checkpoint scheduler's config; "default" keeps the
    checkpoint's own scheduler unchanged."""
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


def _first_line(exc: BaseException, *, bare: bool = False) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line or type(exc).__name__ if bare else f"{type(exc).__name__}: {line}"
