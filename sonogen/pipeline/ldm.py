"""Original Stable Diffusion 1.x single files, loaded offline.

A file in the original LDM key layout (``model.diffusion_model.*`` for the UNet,
``first_stage_model.*`` for the VAE, ``cond_stage_model.transformer.*`` for the CLIP text
encoder), such as ``riffusion-model-v1.safetensors``, is converted with diffusers' own
conversion helpers (``create_*_diffusers_config_from_ldm``, ``convert_ldm_*_checkpoint``)
against an inference config that ships with sonogen (``sd1/v1-inference.yaml``; a
``<name>.yaml`` beside the file replaces it, as in other SD front ends). The CLIP
tokenizer is built from the BPE merges file shipped beside it (``sd1/``, MIT), and the
text encoder's config is the CLIP ViT-L/14 text tower's, with its sizes read from the
weights. Nothing is downloaded.

Only ``.safetensors`` files are read: a ``.ckpt`` is a pickle, which can run code when it
is loaded.
"""

from __future__ import annotations

import gzip
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from sonogen.errors import SonogenError
from sonogen.pipeline.bpe import build_clip_tokenizer, clip_vocab
from sonogen.pipeline.pipeline import SonogenPipeline

DATA = Path(__file__).with_name("sd1")
#: The SD 1.x inference config in the LDM layout (packaged).
V1_INFERENCE_CONFIG = DATA / "v1-inference.yaml"
#: CLIP's byte-pair-encoding merges (packaged, from the open_clip_torch wheel; MIT).
CLIP_BPE = DATA / "bpe_simple_vocab_16e6.txt.gz"
#: Entries of CLIP's vocabulary: 256 bytes, 256 word-final bytes, 48894 merges, 2 specials.
CLIP_VOCAB_SIZE = 49408
UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."
#: The CLIP ViT-L/14 text tower of SD 1.x (sizes are replaced by those read from the weights).
CLIP_L14_TEXT: dict[str, Any] = {
    "vocab_size": CLIP_VOCAB_SIZE,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 768,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
#: The SD 1.x noise schedule with PNDM's PLMS steps only, as SD 1.5 / Riffusion checkpoints ship
#: (a file's LDM config may change the betas, the step count and the prediction type).
SD1_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "set_alpha_to_one": False,
}


def is_ldm_state(keys: Any) -> bool:
    """True when the keys are in the original LDM layout (a UNet under ``model.diffusion_model.``)."""
    return any(str(k).startswith(UNET_PREFIX) for k in keys)


def read_config(path: Path) -> tuple[dict[str, Any], Path]:
    """The LDM inference config for ``path``: its ``<name>.yaml`` sidecar, else the packaged SD 1.x one."""
    import yaml

    sidecar = path.with_suffix(".yaml")
    file = sidecar if sidecar.is_file() else V1_INFERENCE_CONFIG
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8"))
        config["model"]["params"]["unet_config"]["params"]
        config["model"]["params"]["first_stage_config"]["params"]["ddconfig"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SonogenError(f"{file} is not an LDM inference config ({type(exc).__name__}: {exc})") from None
    return config, file


def clip_tokenizer() -> Any:
    """CLIP's tokenizer (49408 entries, 77 tokens) from the packaged BPE merges; no download."""
    vocab, merges = _clip_vocab()
    return build_clip_tokenizer(vocab, merges)


@lru_cache(maxsize=1)
def _clip_vocab() -> tuple[dict[str, int], list[str]]:
    """CLIP's vocabulary and merges, built from the BPE file as OpenAI's tokenizer builds them."""
    lines = gzip.decompress(CLIP_BPE.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    vocab = clip_vocab(merges)
    if len(vocab) != CLIP_VOCAB_SIZE:
        raise SonogenError(f"{CLIP_BPE} gave {len(vocab)} vocabulary entries, expected {CLIP_VOCAB_SIZE}")
    return vocab, merges


def load_ldm_file(path: Path, state: dict[str, torch.Tensor], dtype: torch.dtype) -> SonogenPipeline:
    """A pipeline from an original SD 1.x state dict ``state`` read from ``path``."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from transformers import CLIPTextConfig, CLIPTextModel

    if not any(k.startswith(CLIP_PREFIX) for k in state):
        other = "an OpenCLIP text encoder (SD 2.x or SDXL)" if any(k.startswith("cond_stage_model.model.") or k.startswith("conditioner.") for k in state) else "no text encoder"
        raise SonogenError(
            f"{path} has {other}; sonogen loads SD 1.x files with a CLIP text encoder (cond_stage_model.transformer.*)"
        )
    if not any(k.startswith(VAE_PREFIX) for k in state):
        raise SonogenError(f"{path} has no VAE weights (first_stage_model.*); it is not a whole SD 1.x checkpoint")
    config, config_file = read_config(path)
    params = config["model"]["params"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            unet_config = sfu.create_unet_diffusers_config_from_ldm(config, state)
            vae_config = sfu.create_vae_diffusers_config_from_ldm(config, state)
            unet_weights = sfu.convert_ldm_unet_checkpoint(state, unet_config)
            vae_weights = sfu.convert_ldm_vae_checkpoint(state, vae_config)
            text_weights = {
                k.removeprefix("text_model."): v for k, v in sfu.convert_ldm_clip_checkpoint(state).items()
            }
    except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
        raise SonogenError(
            f"{path} does not match the LDM config {config_file} ({type(exc).__name__}: {exc}); "
            f"put the right one beside it as {path.with_suffix('.yaml').name}"
        ) from None
    text_config = CLIPTextConfig(**_clip_text_config(text_weights, path))
    parts: dict[str, Any] = {}
    builds: tuple[tuple[str, Any, dict[str, torch.Tensor]], ...] = (
        ("unet", lambda: UNet2DConditionModel(**unet_config), unet_weights),
        ("vae", lambda: AutoencoderKL(**vae_config), vae_weights),
        ("text_encoder", lambda: CLIPTextModel(text_config), text_weights),
    )
    for name, build, weights in builds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with init_empty_weights(include_buffers=False):  # weights come from the file
                model: Any = build()
        weights = {k: v for k, v in weights.items() if not k.endswith("position_ids")}
        if name == "text_encoder" and any(k.startswith("text_model.") for k in model.state_dict()):
            weights = {"text_model." + k: v for k, v in weights.items()}  # transformers 4.x nests the tower
        try:
            missing, unexpected = model.load_state_dict(weights, strict=False, assign=True)
        except RuntimeError as exc:  # shape mismatches
            first = str(exc).strip().splitlines()
            detail = next((line.strip() for line in first if "size mismatch" in line), first[0] if first else "")
            raise SonogenError(
                f"{path}: {name} weights do not fit the config {config_file.name} ({detail}); "
                f"put the right LDM config beside it as {path.with_suffix('.yaml').name}"
            ) from None
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            what = f"{len(missing)} missing (e.g. {missing[0]})" if missing else f"{len(unexpected)} unexpected (e.g. {unexpected[0]})"
            raise SonogenError(
                f"{path}: {name} weights do not fit the config {config_file.name}: {what}; "
                f"put the right LDM config beside it as {path.with_suffix('.yaml').name}"
            )
        parts[name] = model.to(dtype).eval()
    prediction = "v_prediction" if params.get("parameterization") == "v" else "epsilon"
    parts["scheduler"] = PNDMScheduler(**{
        **SD1_SCHEDULER,
        "beta_start": float(params.get("linear_start", SD1_SCHEDULER["beta_start"])),
        "beta_end": float(params.get("linear_end", SD1_SCHEDULER["beta_end"])),
        "num_train_timesteps": int(params.get("timesteps", SD1_SCHEDULER["num_train_timesteps"])),
        "prediction_type": prediction,
    })
    parts["tokenizer"] = clip_tokenizer()
    return SonogenPipeline(**parts)


def _clip_text_config(weights: dict[str, torch.Tensor], path: Path) -> dict[str, Any]:
    """CLIP ViT-L/14's text config with the sizes the weights have (vocabulary checked).

    ``weights`` are keyed without the ``text_model.`` prefix (``embeddings.*``, ``encoder.*``).
    """
    try:
        vocab, hidden = weights["embeddings.token_embedding.weight"].shape
        positions = weights["embeddings.position_embedding.weight"].shape[0]
        inner = weights["encoder.layers.0.mlp.fc1.weight"].shape[0]
    except KeyError as exc:
        raise SonogenError(f"{path}: the CLIP text encoder lacks {exc}") from None
    layers = {int(m.group(1)) for k in weights if (m := re.match(r"encoder\.layers\.(\d+)\.", k))}
    if vocab != CLIP_VOCAB_SIZE:
        raise SonogenError(
            f"{path}: the text encoder has {vocab} vocabulary entries, not CLIP's {CLIP_VOCAB_SIZE}; "
            "sonogen's packaged CLIP tokenizer cannot drive it"
        )
    config = dict(CLIP_L14_TEXT)
    config.update(
        hidden_size=int(hidden),
        projection_dim=int(hidden),
        intermediate_size=int(inner),
        max_position_embeddings=int(positions),
        num_hidden_layers=len(layers),
        num_attention_heads=12 if hidden == 768 else max(1, int(hidden) // 64),
    )
    return config
