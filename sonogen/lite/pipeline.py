"""Text to audio without diffusers or transformers, for a quick cold start.

Importing diffusers costs seconds before any weight is read (it imports
``torch._dynamo``, transformers and what they pull in), which is most of a cold
``sonogen generate`` with a small model. :class:`LitePipeline` runs the same weights with
plain torch modules (:mod:`sonogen.lite`) for the case a one-off command needs: one
prompt, optional negative prompt and weights, one seed, text to audio; a CLIP or a
sentence (BERT) text encoder; an SD 1.x or a spectrogram autoencoder. It draws the same
image as :class:`~sonogen.pipeline.pipeline.SonogenPipeline` within float32 rounding.
A folder's few-step adapter (``few_step/``: a LoRA merged into the UNet's weights at load,
with its DPM-Solver++, DDIM or LCM sampler and sampling defaults) runs here too. Anything
else (audio input, masks, loops, other LoRAs and schedulers) uses the full pipeline;
:func:`lite_unsupported` says whether a checkpoint folder can run here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from sonogen.errors import SonogenError
from sonogen.lite.clip import LiteCLIPText, LiteTokenizer, clip_supports, load_tokenizer
from sonogen.lite.sampler import LCMSampler, make_sampler, sampler_supports
from sonogen.lite.sentence import LiteSentenceEncoder, sentence_supports
from sonogen.lite.unet import LiteUNet, unet_supports
from sonogen.lite.vae import lite_decoder, vae_factors, vae_supports
from sonogen.models import MODEL_INDEX
from sonogen.pipeline.model_files import (
    FEW_STEP_DIR,
    RecommendedSampling,
    few_step_adapter,
    read_sampling_defaults,
    read_spectrogram_params,
)
from sonogen.pipeline.noise import seeded_noise
from sonogen.pipeline.prompts import chunks_needed, encode_prompts, token_layout
from sonogen.spectrogram.converter import get_converter
from sonogen.spectrogram.image import pixels_to_image
from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

#: model_index.json component classes this path runs
COMPONENTS = {
    "unet": ("UNet2DConditionModel",),
    "vae": ("AutoencoderKL", "SpectrogramAutoencoder"),
    "text_encoder": ("CLIPTextModel", "SentenceTextEncoder"),
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast", "BertTokenizer", "BertTokenizerFast"),
    "scheduler": ("DPMSolverMultistepScheduler", "LCMScheduler"),
}
_WEIGHTS = ("diffusion_pytorch_model", "model")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def lite_unsupported(folder: Path, few_step: bool = False) -> str | None:
    """None when ``folder`` (a diffusers pipeline folder) can run on :class:`LitePipeline`
    (with ``few_step``: its few-step adapter's sampler too), else a short reason. Reads only
    the JSON files."""
    index = _read_json(folder / MODEL_INDEX)
    if not isinstance(index, dict):
        return "no readable model_index.json"
    for name, classes in COMPONENTS.items():
        entry = index.get(name)
        if not isinstance(entry, list) or len(entry) != 2 or entry[1] not in classes:
            return f"{name} is {entry!r}"
    sentence = index["text_encoder"][1] == "SentenceTextEncoder"
    checks = (
        (folder / "unet" / "config.json", unet_supports),
        (folder / "vae" / "config.json", vae_supports),
        (folder / "text_encoder" / "config.json", sentence_supports if sentence else clip_supports),
        (folder / "scheduler" / "scheduler_config.json", sampler_supports),
    )
    for path, check in checks:
        config = _read_json(path)
        if not isinstance(config, dict):
            return f"no readable {path.relative_to(folder)}"
        reason = check(config)
        if reason:
            return reason
    if not (folder / "tokenizer" / "tokenizer.json").is_file():
        return "no tokenizer/tokenizer.json"
    few = few_step_adapter(folder) if few_step else None
    if few is not None:
        config = _read_json(few / "scheduler_config.json")
        if not isinstance(config, dict):
            return f"no readable {FEW_STEP_DIR}/scheduler_config.json"
        return sampler_supports(config)
    return None


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """A component folder's safetensors weights: one file, or the shards its index names."""
    from safetensors.torch import load_file

    for stem in _WEIGHTS:
        single = folder / f"{stem}.safetensors"
        if single.is_file():
            return load_file(str(single))
        index = _read_json(folder / f"{stem}.safetensors.index.json")
        if isinstance(index, dict) and isinstance(index.get("weight_map"), dict):
            state: dict[str, torch.Tensor] = {}
            for shard in sorted(set(index["weight_map"].values())):
                state.update(load_file(str(folder / shard)))
            return state
    raise SonogenError(f"no safetensors weights in {folder}")


def merge_adapter(state: dict[str, torch.Tensor], adapter: dict[str, torch.Tensor],
                  config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``state`` with a PEFT LoRA adapter merged in: ``W + (alpha / r) B A`` for each adapted
    linear or convolution weight (a convolution's ``A`` carries the kernel, its ``B`` is 1x1).

    Raises:
        SonogenError: an adapter key names a weight ``state`` lacks, or shapes disagree.
    """
    if config.get("use_rslora") or config.get("use_dora"):
        raise SonogenError("adapter variants other than plain LoRA are not supported here")
    scale = float(config["lora_alpha"]) / float(config["r"])
    merged = dict(state)
    for key, down in adapter.items():
        if ".lora_A." not in key:
            continue
        base = key.replace(".lora_A.", ".")
        up = adapter.get(key.replace(".lora_A.", ".lora_B."))
        if base not in merged or up is None:
            raise SonogenError(f"the few-step adapter does not fit this UNet ({base})")
        weight = merged[base]
        delta = (up.flatten(1).float() @ down.flatten(1).float()).reshape(weight.shape)
        merged[base] = (weight.float() + scale * delta).to(weight.dtype)
    return merged


def build(module_type: Callable[[dict[str, Any]], nn.Module], config: dict[str, Any],
          state: dict[str, torch.Tensor], dtype: torch.dtype) -> Any:
    """``module_type(config)`` with ``state`` as its weights (every key must match), in ``dtype``.

    The module is built without memory (on the meta device) and takes the loaded
    tensors as they are, so nothing is initialised only to be overwritten.
    """
    with torch.device("meta"):
        module = module_type(config)
    try:
        module.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SonogenError(f"weights do not match the {type(module).__name__} layout: {first}") from None
    return module.to(dtype).eval().requires_grad_(False)


@dataclass
class LitePipeline(RecommendedSampling):
    """The networks and settings of a checkpoint folder, ready for :meth:`text_to_audio`."""

    unet: LiteUNet
    decoder: Any  # LiteDecoder or LiteSpectrogramDecoder
    text_encoder: Any  # LiteCLIPText or LiteSentenceEncoder
    tokenizer: LiteTokenizer
    scheduler_config: dict[str, Any]
    spectrogram_params: SpectrogramParams
    sampling_defaults: dict[str, float]
    factors: tuple[int, int]  # pixels per latent cell (mel rows, time columns)
    #: read a prompt with words the model has not learnt as its nearest training caption
    #: (:mod:`sonogen.models.reading`), as the full pipeline does
    read_prompts: bool = True

    @classmethod
    def load(cls, folder: Path, dtype: torch.dtype = torch.float32, few_step: bool = False) -> LitePipeline:
        """Load ``folder`` (check :func:`lite_unsupported` first); with ``few_step``, with its
        few-step adapter merged and that adapter's sampler and sampling defaults."""
        reason = lite_unsupported(folder, few_step)
        if reason:
            raise SonogenError(f"{folder} cannot run without diffusers: {reason}")
        unet_state = read_weights(folder / "unet")
        scheduler_folder, sampling_folder = folder / "scheduler", folder
        if few_step:
            from safetensors.torch import load_file

            few = few_step_adapter(folder)
            config = _read_json(few / "adapter_config.json") if few is not None else None
            if few is None or not isinstance(config, dict):
                raise SonogenError(f"{folder} has no few-step adapter ({FEW_STEP_DIR}/)")
            unet_state = merge_adapter(unet_state, load_file(str(few / "adapter_model.safetensors")), config)
            scheduler_folder, sampling_folder = few, few
        vae_config = json.loads((folder / "vae" / "config.json").read_text())
        vae_state = {k: v for k, v in read_weights(folder / "vae").items()
                     if k.startswith(("decoder.", "post_quant_conv."))}
        text_config = json.loads((folder / "text_encoder" / "config.json").read_text())
        if text_config.get("_class_name") == "SentenceTextEncoder":
            text_encoder: Any = LiteSentenceEncoder.load(folder / "text_encoder", dtype)
        else:
            text_state = {k.removeprefix("text_model."): v for k, v in read_weights(folder / "text_encoder").items()
                          if not k.endswith("position_ids") and not k.startswith("text_projection")}
            text_encoder = build(LiteCLIPText, text_config, text_state, dtype)
        return cls(
            unet=build(LiteUNet, json.loads((folder / "unet" / "config.json").read_text()), unet_state, dtype),
            # channels-last convolutions: the same pixels within rounding, a faster decode on the CPU
            decoder=build(lite_decoder, vae_config, vae_state, dtype).to(memory_format=torch.channels_last),
            text_encoder=text_encoder,
            tokenizer=load_tokenizer(folder / "tokenizer"),
            scheduler_config=json.loads((scheduler_folder / "scheduler_config.json").read_text()),
            spectrogram_params=read_spectrogram_params(folder),
            sampling_defaults=read_sampling_defaults(sampling_folder),
            factors=vae_factors(vae_config),
        )

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent column, the step that clip widths are rounded to."""
        return self.factors[1]

    @torch.no_grad()
    def text_to_image(self, prompt: str, *, negative_prompt: str | None = None, seed: int = 0,
                      num_inference_steps: int | None = None, guidance_scale: float | None = None,
                      width: int = 512, progress: Callable[[], Any] | None = None) -> Image.Image:
        """The spectrogram image ``width`` columns wide that the model draws for ``prompt``.

        ``progress`` is called once after each denoising step.
        """
        steps = self.default_steps if num_inference_steps is None else int(num_inference_steps)
        guidance = self.default_guidance if guidance_scale is None else float(guidance_scale)
        if steps < 1:
            raise SonogenError(f"num_inference_steps must be >= 1, got {steps}")
        height = self.spectrogram_params.num_frequencies
        fh, fw = self.factors
        if width < fw or width % fw:
            raise SonogenError(f"width must be a positive multiple of {fw} pixels, got {width}")
        negative = negative_prompt or ""
        layout = token_layout(self.tokenizer, self.text_encoder)
        count = max(chunks_needed(text, self.tokenizer, layout) for text in (prompt, negative))
        dtype = self.unet.dtype
        if self.read_prompts:
            from sonogen.models.vocabulary import read_prompts

            prompt = read_prompts(self.text_encoder, [prompt])[0]
        cond = encode_prompts([prompt], self.tokenizer, self.text_encoder, count, dtype=dtype)
        use_cfg = guidance > 1.0
        states = torch.cat([encode_prompts([negative], self.tokenizer, self.text_encoder, count, dtype=dtype),
                            cond]) if use_cfg else cond
        noise = seeded_noise((int(self.unet.conv_in.in_channels), height // fh, width // fw), [seed])
        sampler = make_sampler(self.scheduler_config, steps)

        def predict(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            model_in = torch.cat([latents, latents]) if use_cfg else latents
            pred = self.unet(model_in.to(dtype), t, states).float()
            if not use_cfg:
                return pred
            uncond, text = pred.chunk(2)
            return uncond + guidance * (text - uncond)

        if isinstance(sampler, LCMSampler):  # as the full pipeline seeds a sampler's own noise
            latents = sampler.sample(noise, predict, progress, torch.Generator("cpu").manual_seed(seed + 1))
        else:
            latents = sampler.sample(noise, predict, progress)
        pixels = self.decoder.decode(latents)[0]
        return pixels_to_image(pixels, self.spectrogram_params, DEFAULT_MAX_VALUE)

    def text_to_audio(self, prompt: str, **options: Any) -> tuple[np.ndarray, int, Image.Image]:
        """``(waveform (channels, samples) float32, sample rate, image)`` for ``prompt``;
        options as :meth:`text_to_image` takes them."""
        image = self.text_to_image(prompt, **options)
        wave, rate = get_converter(self.spectrogram_params).image_to_audio(image)
        return wave, rate, image
