"""The sonogen diffusion pipeline: Stable Diffusion 1.x drawing spectrograms.

One ``__call__`` covers text-to-audio, audio-to-audio (``init_image`` + ``strength``),
inpainting (``mask_image``: white repaints, black keeps) and seamless loops; the
``interpolate`` method implements the Riffusion server's call (the server batches several
of them with :func:`sonogen.server.batching.run_inference_batch`). Every path ends in
:meth:`SonogenPipeline.generate`, which denoises prepared text embeddings and noise, then
decodes as far as ``output_type`` asks: latents, images, or images and audio.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.loaders import StableDiffusionLoraLoaderMixin
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from PIL import Image

from sonogen.errors import SonogenError
from sonogen.models.autoencoder import latent_factors
from sonogen.pipeline.model_files import SAMPLING_CONFIG, SPECTROGRAM_CONFIG, RecommendedSampling
from sonogen.pipeline.noise import lerp, seeded_noise, slerp
from sonogen.pipeline.prompts import chunks_needed, encode_prompts, token_layout
from sonogen.pipeline.seamless import circular_time_axis
from sonogen.pipeline.types import (
    OUTPUT_TYPES,
    OutputType,
    PromptInput,
    SonogenOutput,
    check_alpha,
    interpolation_texts,
)
from sonogen.spectrogram.converter import get_converter
from sonogen.spectrogram.image import image_to_spectrogram, pixels_to_image
from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

#: torch.compile mode used by ``compile=True`` (autotuned kernels, no CUDA graphs: batch
#: sizes and widths vary between requests).
DEFAULT_COMPILE_MODE = "max-autotune-no-cudagraphs"
#: Entries kept by each speed cache (negative-prompt text states, seed-image latents).
CACHE_SIZE = 16


@dataclass
class Prepared:
    """The inputs of one :meth:`SonogenPipeline.generate` row: text states, noise and settings.

    Attributes:
        cond, uncond: text states ``(1, L, hidden)`` of the prompt and negative prompt.
        noise: initial latent noise ``(1, C, h, w)``.
        guidance: ``(1,)`` guidance scale.
        strength: img2img strength in [0, 1].
        seed: the seed reported for the row.
    """

    cond: torch.Tensor
    uncond: torch.Tensor
    noise: torch.Tensor
    guidance: torch.Tensor
    strength: float
    seed: int


class SonogenPipeline(RecommendedSampling, DiffusionPipeline, StableDiffusionLoraLoaderMixin):
    """Stable Diffusion 1.x components that draw spectrogram images and decode them to audio.

    Args:
        vae: ``AutoencoderKL``; its ``scaling_factor`` and block count (the downsampling
            factor) are read from its config.
        text_encoder: a transformers text model returning hidden states first (CLIP).
        tokenizer: any Hugging Face tokenizer matching ``text_encoder``.
        unet: ``UNet2DConditionModel`` with cross-attention on the text states.
        scheduler: any diffusers noise scheduler (the checkpoint's own by default).
    """

    model_cpu_offload_seq = "text_encoder->unet->vae"  # type: ignore[assignment]

    def __init__(self, vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, scheduler: Any) -> None:
        super().__init__()
        self.register_modules(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler
        )
        #: spectrogram format of the images this model draws (set by the loader)
        self.spectrogram_params = SpectrogramParams()
        #: the checkpoint's recommended sampling settings (``sampling.json``; set by the loader)
        self.sampling_defaults: dict[str, float] = {}
        #: draw a prompt with words the model has not learnt as the training caption nearest
        #: its meaning, where the text encoder carries a reading (:mod:`sonogen.models.reading`)
        self.read_prompts = True
        #: speed options (see :meth:`enable_speedups`)
        self.channels_last = False
        self.cache = False
        self.compiled: str | None = None
        self._text_cache: dict[tuple[Any, ...], torch.Tensor] = {}
        self._latent_cache: dict[tuple[Any, ...], torch.Tensor] = {}

    # ------------------------------------------------------------------ speed options
    def enable_speedups(
        self,
        *,
        channels_last: bool = False,
        cache: bool = False,
        compile: bool | str = False,
        compile_backend: str = "inductor",
    ) -> SonogenPipeline:
        """Switch on speed options; each gives the plain path's images within rounding.

        Half precision is the weights' dtype (``load_pipeline(dtype=...)``); the rest:

        Args:
            channels_last: UNet and VAE weights and activations in channels-last memory
                (faster convolutions on tensor cores).
            cache: keep the text states of negative prompts (the unconditional half of
                guidance, usually ``""``) and the VAE latents of init/seed images, keyed by
                text or by pixel content (at most :data:`CACHE_SIZE` of each).
            compile: ``torch.compile`` the UNet and the VAE decoder; True uses
                :data:`DEFAULT_COMPILE_MODE`, a string names the mode. The first call
                at each new shape compiles (minutes on a GPU).
            compile_backend: the torch.compile backend (tests use ``"aot_eager"``).
        """
        if channels_last:
            self.unet.to(memory_format=torch.channels_last)
            self.vae.to(memory_format=torch.channels_last)
        self.channels_last = self.channels_last or channels_last
        self.cache = self.cache or cache
        if compile:
            mode = DEFAULT_COMPILE_MODE if compile is True else str(compile)
            options: dict[str, Any] = {"backend": compile_backend}
            if compile_backend == "inductor":
                options["mode"] = mode
            self.unet.compile(**options)
            self.vae.decoder.compile(**options)
            self.compiled = mode if compile_backend == "inductor" else compile_backend
        return self

    def clear_caches(self) -> None:
        """Forget cached text states and image latents (after changing weights by hand)."""
        self._text_cache.clear()
        self._latent_cache.clear()

    def _cached(self, store: dict[tuple[Any, ...], torch.Tensor], key: tuple[Any, ...], make: Any) -> torch.Tensor:
        if not self.cache:
            return make()
        key = (*key, str(self.device), self.unet.dtype, self.vae.dtype)
        if key not in store:
            if len(store) >= CACHE_SIZE:
                store.pop(next(iter(store)))
            store[key] = make()
        return store[key]

    def encode_negative(self, negatives: Sequence[str], num_chunks: int) -> torch.Tensor:
        """:meth:`encode` for negative prompts, each distinct text encoded once when caching."""
        if not self.cache:
            return self.encode_texts(negatives, num_chunks)
        rows = {
            text: self._cached(self._text_cache, ("text", text, num_chunks),
                               lambda t=text: self.encode_texts([t], num_chunks))
            for text in dict.fromkeys(negatives)
        }
        return torch.cat([rows[text] for text in negatives])

    # ------------------------------------------------------------------ config
    @property
    def latent_factors(self) -> tuple[int, int]:
        """Pixels per latent cell ``(mel rows, time columns)``: ``(8, 8)`` for SD 1.x; a
        :class:`~sonogen.models.autoencoder.SpectrogramAutoencoder` compresses time harder."""
        return latent_factors(self.vae)

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent column, the step that clip widths are rounded to (8 for SD 1.x)."""
        return self.latent_factors[1]

    @property
    def latent_channels(self) -> int:
        return int(self.unet.config.in_channels)

    def save_pretrained(self, save_directory: str | Path, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """diffusers' save plus ``spectrogram.json`` with the spectrogram format."""
        super().save_pretrained(save_directory, *args, **kwargs)
        fields = dict(self.spectrogram_params.__dict__)
        (Path(save_directory) / SPECTROGRAM_CONFIG).write_text(json.dumps(fields, indent=2) + "\n")
        if self.sampling_defaults:
            text = json.dumps(self.sampling_defaults, indent=2) + "\n"
            (Path(save_directory) / SAMPLING_CONFIG).write_text(text)

    # ------------------------------------------------------------------ public modes
    def __call__(  # type: ignore[override]
        self,
        prompt: str | Sequence[str],
        *,
        negative_prompt: str | Sequence[str] | None = None,
        seed: int | Sequence[int] = 0,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        width: int = 512,
        height: int | None = None,
        init_image: Image.Image | None = None,
        strength: float = 0.75,
        mask_image: Image.Image | None = None,
        loop: bool = False,
        progress: bool = True,
        output_type: OutputType = "audio",
    ) -> SonogenOutput:
        """Draw spectrograms for prompts and decode them to audio.

        Args:
            prompt: one prompt or a list (a batch). ``(word:1.5)`` weights words; any length.
            negative_prompt: one for all, or one per prompt; None means unconditional.
            seed: one seed for all, or one per image. One prompt with several seeds
                gives one image per seed.
            num_inference_steps: scheduler steps (img2img runs ``strength`` of them); None
                means the checkpoint's recommended number (:attr:`default_steps`).
            guidance_scale: classifier-free guidance; <= 1 disables it; None means the
                checkpoint's recommended scale (:attr:`default_guidance`).
            width: image width in pixels, a multiple of the VAE factor (8); one column
                is one spectrogram hop (10 ms in v1), so 512 is about 5.1 s.
            height: image height; defaults to the format's mel bands (512).
            init_image: start from this spectrogram instead of noise (audio-to-audio);
                resized to ``width`` x ``height`` if needed.
            strength: how much of ``init_image`` is repainted, in [0, 1].
            mask_image: with ``init_image``: white repaints, black keeps (the kept
                pixels come back unchanged).
            loop: make the clip's end flow into its start.
            progress: show a progress bar.
            output_type: ``"audio"`` images and waveforms; ``"pil"`` images only (no phase
                reconstruction); ``"latent"`` the denoised latents only (no VAE decode).
        """
        prompts, seeds = _broadcast(prompt, seed)
        negatives = _negatives(negative_prompt, len(prompts))
        count = self.chunks_for([*prompts, *negatives])
        cond = self.encode(prompts, count)
        uncond = self.encode_negative(negatives, count)
        noise = self.noise(seeds, width, height)
        scale = self.default_guidance if guidance_scale is None else guidance_scale
        guidance = torch.full((len(prompts),), float(scale))
        return self.generate(
            cond,
            uncond,
            noise,
            guidance,
            seeds=seeds,
            num_inference_steps=num_inference_steps,
            init_image=init_image,
            strength=strength,
            mask_image=mask_image,
            loop=loop,
            progress=progress,
            output_type=output_type,
        )

    def interpolate(
        self,
        start: PromptInput,
        end: PromptInput,
        alpha: float,
        *,
        num_inference_steps: int | None = None,
        init_image: Image.Image | None = None,
        mask_image: Image.Image | None = None,
        width: int = 512,
        progress: bool = True,
        output_type: OutputType = "audio",
    ) -> SonogenOutput:
        """One clip between two prompts, as the Riffusion server's ``/run_inference``.

        Text embeddings (and negative ones) are mixed linearly, the two seeds' noises
        spherically, denoising strength and guidance linearly. ``alpha`` 0 is exactly
        ``start`` alone, 1 exactly ``end`` alone. ``output_type`` as in :meth:`__call__`.
        """
        check_alpha(alpha)
        if init_image is not None:
            width = init_image.width
        item = self.interpolation_inputs(start, end, alpha, width)
        return self.generate(
            item.cond,
            item.uncond,
            item.noise,
            item.guidance,
            seeds=[item.seed],
            num_inference_steps=num_inference_steps,
            init_image=init_image,
            strength=item.strength,
            mask_image=mask_image,
            progress=progress,
            output_type=output_type,
        )

    # ------------------------------------------------------------------ building blocks
    def _layout(self) -> Any:
        return token_layout(self.tokenizer, self.text_encoder)

    def chunks_for(self, texts: Iterable[str]) -> int:
        """77-token chunks that the longest of ``texts`` needs: pass it to :meth:`encode` for all of them."""
        layout = self._layout()
        return max(chunks_needed(text, self.tokenizer, layout) for text in texts)

    def encode(self, prompts: Sequence[str], num_chunks: int | None = None) -> torch.Tensor:
        """Text states ``(len(prompts), num_chunks * 77, hidden)`` in the UNet's dtype, each
        prompt first read as the model reads it (:attr:`read_prompts`)."""
        if self.read_prompts:
            from sonogen.models.vocabulary import read_prompts

            prompts = read_prompts(self.text_encoder, prompts)
        return self.encode_texts(prompts, num_chunks)

    def encode_texts(self, prompts: Sequence[str], num_chunks: int | None = None) -> torch.Tensor:
        """:meth:`encode` of the texts as written (negative prompts are never read)."""
        return encode_prompts(
            prompts, self.tokenizer, self.text_encoder, num_chunks, device=self.device, dtype=self.unet.dtype
        )

    def noise(self, seeds: Sequence[int], width: int, height: int | None = None) -> torch.Tensor:
        """Initial latent noise ``(len(seeds), C, height / fh, width / fw)`` from :func:`seeded_noise`."""
        width, height = self._check_size(width, height)
        fh, fw = self.latent_factors
        shape = (self.latent_channels, height // fh, width // fw)
        return seeded_noise(shape, seeds, self.device, self.unet.dtype)

    def _check_size(self, width: int, height: int | None) -> tuple[int, int]:
        height = self.spectrogram_params.num_frequencies if height is None else height
        fh, fw = self.latent_factors
        for name, value, f in (("width", width, fw), ("height", height, fh)):
            if value < f or value % f:
                raise SonogenError(f"{name} must be a positive multiple of {f} pixels, got {value}")
        if height != self.spectrogram_params.num_frequencies:
            raise SonogenError(
                f"height must equal the format's {self.spectrogram_params.num_frequencies} mel bands, got {height}"
            )
        return int(width), int(height)

    def interpolation_inputs(
        self, start: PromptInput, end: PromptInput, alpha: float, width: int, num_chunks: int | None = None
    ) -> Prepared:
        """Mixed text states, noise, guidance and strength for one interpolation step.

        ``num_chunks`` (default: what these texts need) lets several steps share one
        text length, so their states can be stacked into one batch.
        """
        if alpha <= 0.0 or alpha >= 1.0:  # an end alone: exactly as a plain call would do
            one = start if alpha <= 0.0 else end
            count = num_chunks or self.chunks_for((one.prompt, one.negative_prompt or ""))
            return Prepared(
                cond=self.encode([one.prompt], count),
                uncond=self.encode_negative([one.negative_prompt or ""], count),
                noise=self.noise([one.seed], width),
                guidance=torch.tensor([float(one.guidance)]),
                strength=float(one.denoising),
                seed=int(one.seed),
            )
        texts = interpolation_texts(start, end)
        count = num_chunks or self.chunks_for(texts)
        states = torch.cat([self.encode(texts[:2], count), self.encode_texts(texts[2:], count)])
        noises = self.noise([start.seed, end.seed], width)
        return Prepared(
            cond=lerp(states[0:1], states[1:2], alpha),  # type: ignore[arg-type]
            uncond=lerp(states[2:3], states[3:4], alpha),  # type: ignore[arg-type]
            noise=slerp(noises[0:1], noises[1:2], alpha),
            guidance=torch.tensor([float(lerp(start.guidance, end.guidance, alpha))]),
            strength=float(lerp(start.denoising, end.denoising, alpha)),
            seed=int(start.seed),
        )

    def timesteps_for(self, num_inference_steps: int, strength: float | None) -> torch.Tensor:
        """Set the scheduler up and return the timesteps to run (the last ``strength`` of them)."""
        if num_inference_steps < 1:
            raise SonogenError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = self.scheduler.timesteps
        if strength is None:
            return timesteps
        if not 0.0 <= strength <= 1.0:
            raise SonogenError(f"strength must be in [0, 1], got {strength}")
        run = min(int(num_inference_steps * strength), num_inference_steps)
        begin = (num_inference_steps - run) * self.scheduler.order
        if hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(begin)
        return timesteps[begin:]

    def image_to_tensor(self, image: Image.Image, width: int, height: int) -> torch.Tensor:
        """PIL image -> ``(1, 3, height, width)`` in [-1, 1] on the pipeline's device."""
        rgb = image.convert("RGB")
        if rgb.size != (width, height):
            rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
        array = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(2, 0, 1)[None].to(self.device, self.vae.dtype)

    def mask_to_tensor(self, mask: Image.Image, width: int, height: int) -> torch.Tensor:
        """Mask image -> ``(1, 1, height, width)`` in [0, 1], 1 = repaint (white)."""
        grey = mask.convert("L")
        if grey.size != (width, height):
            grey = grey.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(grey, dtype=np.float32) / 255.0
        return torch.from_numpy(array)[None, None].to(self.device)

    @torch.no_grad()
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """VAE latents (distribution mean, scaled by the config's ``scaling_factor``)."""
        latents = self.vae.encode(pixels).latent_dist.mean
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        return (latents - shift) * self.vae.config.scaling_factor

    def _init_latents(self, image: Image.Image, width: int, height: int, loop: bool) -> torch.Tensor:
        """float32 VAE latents ``(1, C, h, w)`` of an init/seed image (cached by content when caching)."""

        def make() -> torch.Tensor:
            pixels = self.image_to_tensor(image, width, height)
            if self.channels_last:
                pixels = pixels.contiguous(memory_format=torch.channels_last)
            with self._seamless(loop):
                return self.encode_image(pixels).float()

        if not self.cache:
            return make()
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
        return self._cached(self._latent_cache, ("image", digest, image.mode, image.size, width, height, loop), make)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> images ``(B, 3, H, W)`` in [0, 1], float32."""
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        scaled = latents.to(self.vae.dtype) / self.vae.config.scaling_factor + shift
        if self.channels_last:
            scaled = scaled.contiguous(memory_format=torch.channels_last)
        pixels = self.vae.decode(scaled).sample
        return ((pixels.float() + 1.0) / 2.0).clamp(0.0, 1.0)

    @torch.no_grad()
    def generate(
        self,
        cond: torch.Tensor,
        uncond: torch.Tensor,
        noise: torch.Tensor,
        guidance: torch.Tensor,
        *,
        seeds: Sequence[int],
        num_inference_steps: int | None = None,
        init_image: Image.Image | None = None,
        strength: float = 0.75,
        mask_image: Image.Image | None = None,
        loop: bool = False,
        progress: bool = True,
        output_type: OutputType = "audio",
    ) -> SonogenOutput:
        """Denoise prepared inputs and decode them: the shared end of every mode.

        Args:
            cond, uncond: text states ``(B, L, hidden)`` for the prompt and negative prompt.
            noise: initial noise ``(B, C, h, w)`` (latent size = image size / 8).
            guidance: ``(B,)`` guidance scale per item.
            seeds: seed per item, reported in the output.
            num_inference_steps: scheduler steps; None means :attr:`default_steps`.
            init_image, strength, mask_image, loop, output_type: as in :meth:`__call__`;
                ``"latent"`` latents are the loop's (a mask's kept pixels are pasted back
                only into decoded images).
        """
        if output_type not in OUTPUT_TYPES:
            raise SonogenError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}, got {output_type!r}")
        if num_inference_steps is None:
            num_inference_steps = self.default_steps
        batch = noise.shape[0]
        fh, fw = self.latent_factors
        width, height = noise.shape[-1] * fw, noise.shape[-2] * fh
        if mask_image is not None and init_image is None:
            raise SonogenError("a mask needs an image to keep parts of (init_image / seed image)")
        # latents and the scheduler's arithmetic stay float32; the networks run in their dtype
        noise = noise.float()
        if init_image is None:
            timesteps = self.timesteps_for(num_inference_steps, None)
            latents = noise * self.scheduler.init_noise_sigma
            init_latents = None
        else:
            timesteps = self.timesteps_for(num_inference_steps, strength)
            init_latents = self._init_latents(init_image, width, height, loop).expand(batch, -1, -1, -1)
            if len(timesteps):
                latents = self.scheduler.add_noise(init_latents, noise, timesteps[:1].repeat(batch))
            else:
                latents = init_latents.clone()
        mask_latent = None
        if mask_image is not None:
            mask_latent = torch.nn.functional.interpolate(
                self.mask_to_tensor(mask_image, width, height), size=noise.shape[-2:], mode="bilinear"
            ).to(noise.dtype)
        use_cfg = bool((guidance > 1.0).any())
        dtype = self.unet.dtype
        states = (torch.cat([uncond, cond]) if use_cfg else cond).to(dtype)
        g = guidance.to(self.device, torch.float32)[:, None, None, None]
        step_options = self._step_options(seeds)
        self.set_progress_bar_config(disable=not progress, leave=False)
        with self._seamless(loop), self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                model_in = torch.cat([latents, latents]) if use_cfg else latents
                model_in = self.scheduler.scale_model_input(model_in, t).to(dtype)
                if self.channels_last:
                    model_in = model_in.contiguous(memory_format=torch.channels_last)
                pred = self.unet(model_in, t, encoder_hidden_states=states).sample.float()
                if use_cfg:
                    pred_uncond, pred_cond = pred.chunk(2)
                    pred = pred_uncond + g * (pred_cond - pred_uncond)
                latents = self.scheduler.step(pred, t, latents, **step_options).prev_sample
                if mask_latent is not None and init_latents is not None:
                    kept = init_latents
                    if i + 1 < len(timesteps):
                        kept = self.scheduler.add_noise(init_latents, noise, timesteps[i + 1 : i + 2].repeat(batch))
                    latents = mask_latent * latents + (1.0 - mask_latent) * kept
                bar.update()
            if output_type == "latent":
                return self._output([], [], seeds, latents=latents)
            pixels = self.decode_latents(latents)  # (B, 3, H, W) in [0, 1]
        if mask_image is not None and init_image is not None:
            keep_from = self.image_to_tensor(init_image, width, height).float().add(1.0).div(2.0)
            repaint = self.mask_to_tensor(mask_image, width, height)
            pixels = repaint * pixels + (1.0 - repaint) * keep_from
        images = [self._to_image(p) for p in pixels]
        waveforms = self._to_audio_batch(images, loop) if output_type == "audio" else []
        return self._output(images, waveforms, seeds)

    def _step_options(self, seeds: Sequence[int]) -> dict[str, Any]:
        """Extra arguments of the scheduler's ``step``: one seeded generator per item, so a
        scheduler that adds noise between steps (LCM, ancestral and SDE samplers) makes a
        clip that depends on its own seed only, the same in a batch as alone."""
        if "generator" not in inspect.signature(self.scheduler.step).parameters:
            return {}
        return {"generator": [torch.Generator(self.device).manual_seed(int(s) + 1) for s in seeds]}

    def _output(
        self, images: list[Image.Image], waveforms: list[np.ndarray], seeds: Sequence[int],
        latents: torch.Tensor | None = None,
    ) -> SonogenOutput:
        params = self.spectrogram_params
        return SonogenOutput(images, waveforms, params.sample_rate, params, [int(s) for s in seeds], latents)

    # ------------------------------------------------------------------ decoding
    def _seamless(self, loop: bool) -> contextlib.AbstractContextManager[Any]:
        return circular_time_axis([self.unet, self.vae]) if loop else contextlib.nullcontext()

    def _to_image(self, pixels: torch.Tensor) -> Image.Image:
        """``(3, H, W)`` in [0, 1] -> RGB image with the format's EXIF tags."""
        return pixels_to_image(pixels, self.spectrogram_params, DEFAULT_MAX_VALUE)

    def _to_audio_batch(self, images: Sequence[Image.Image], loop: bool) -> list[np.ndarray]:
        """Waveforms ``(C, S)`` of several same-size spectrogram images in one phase reconstruction.

        The images' channels are stacked along the converter's channel axis (each channel
        is reconstructed independently), so B images cost one batched call; each result
        is peak-normalised on its own, as :meth:`_to_audio` does.
        """
        if len(images) == 1 or len({img.size for img in images}) > 1:
            return [self._to_audio(img, loop) for img in images]
        device = self.device if self.device.type == "cuda" else None
        converter = get_converter(self.spectrogram_params, device)
        sources = [self._tiled(img) if loop else img for img in images]
        mels = [image_to_spectrogram(img, converter.params, DEFAULT_MAX_VALUE) for img in sources]
        waves = converter.waveform_from_spectrogram(torch.cat(mels)).detach().cpu().numpy().astype(np.float32)
        out: list[np.ndarray] = []
        start = 0
        period = images[0].width * self.spectrogram_params.hop_length
        for mel in mels:
            wave = waves[start : start + mel.shape[0]]
            start += mel.shape[0]
            peak = float(np.abs(wave).max()) if wave.size else 0.0
            if peak > 0:
                wave = wave * (0.98 / peak)
            out.append(np.ascontiguousarray(wave[:, period : 2 * period]) if loop else wave)
        return out

    def _tiled(self, image: Image.Image) -> Image.Image:
        """Three copies of ``image`` side by side, with its EXIF (loops are decoded from the middle one)."""
        tiled = Image.new("RGB", (image.width * 3, image.height))
        for k in range(3):
            tiled.paste(image, (k * image.width, 0))
        exif = tiled.getexif()
        for tag, value in image.getexif().items():
            exif[tag] = value
        return tiled

    def _to_audio(self, image: Image.Image, loop: bool) -> np.ndarray:
        """Waveform ``(C, S)`` of a spectrogram image; loops are decoded as one period of a tiling."""
        # phase reconstruction runs where the model runs (CUDA when there is one)
        device = self.device if self.device.type == "cuda" else None
        converter = get_converter(self.spectrogram_params, device)
        if not loop:
            return converter.image_to_audio(image)[0]
        wave, _ = converter.image_to_audio(self._tiled(image))
        hop = self.spectrogram_params.hop_length
        period = image.width * hop
        return np.ascontiguousarray(wave[:, period : 2 * period])


def _broadcast(prompt: str | Sequence[str], seed: int | Sequence[int]) -> tuple[list[str], list[int]]:
    """Prompts and seeds of equal length (a single one of either is repeated)."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    seeds = [seed] if isinstance(seed, (int, np.integer)) else list(seed)
    if not prompts or not seeds:
        raise SonogenError("need at least one prompt and one seed")
    if any(not isinstance(p, str) for p in prompts):
        raise SonogenError("prompts must be text")
    if len(prompts) == 1 and len(seeds) > 1:
        prompts = prompts * len(seeds)
    elif len(seeds) == 1 and len(prompts) > 1:
        seeds = seeds * len(prompts)
    if len(prompts) != len(seeds):
        raise SonogenError(f"got {len(prompts)} prompts but {len(seeds)} seeds; give one seed or one per prompt")
    return prompts, [int(s) for s in seeds]


def _negatives(negative: str | Sequence[str] | None, count: int) -> list[str]:
    if negative is None:
        return [""] * count
    if isinstance(negative, str):
        return [negative] * count
    negatives = ["" if n is None else n for n in negative]
    if len(negatives) != count:
        raise SonogenError(f"got {len(negatives)} negative prompts for {count} prompts")
    return negatives
