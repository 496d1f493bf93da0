"""GPU speed of one Riffusion-style request, full SD 1.5 size, in one call.

What it measures (all in one run, printed as markdown tables):

* the whole request text -> spectrogram image -> waveform -> MP3 bytes, and each part,
  for three paths over the same random-weight components and the same seed image:
  - ``peer``: stock diffusers ``StableDiffusionImg2ImgPipeline`` in fp16, then the
    original phase reconstruction (least-squares mel inverse + 32 fast Griffin-Lim
    iterations on the 17640-point STFT, ``method="original"``) on the same device,
    then MP3 encoding - what a user would otherwise run;
  - ``plain``: sonogen's pipeline itself (``SonogenPipeline.__call__``, the code
    ``generate`` and ``serve`` run) in fp32 with no speed options: the guidance pair
    batched into one UNet call, phase reconstruction batched and on the model's device;
  - ``fast``: the same pipeline with its speed options (``load_pipeline(dtype=...,
    compile=...)``, ``SonogenPipeline.enable_speedups``): bf16 (or fp16) weights with
    float32 latents, channels-last memory, negative-prompt text states and seed-image
    latents cached, optional ``torch.compile`` of UNet and VAE decoder; MP3 encoding on
    worker threads. There is no denoising loop in this script: one code path, measured;
* jam throughput: ``B`` concurrent requests as one pipeline call, MP3 encoding
  overlapped with the next batch; listeners = clips/s x 5.12 s;
* the floor: UNet FLOPs per step (counted on the meta device) x UNet evaluations over
  the measured dense matmul rate (bf16 on CUDA, fp32 on CPU), beside the measured loop;
* accuracy: the fast path against the plain fp32 path for the same seed with fresh
  random inputs (prompt, seed, noise): the decoded image's mean/max absolute difference
  (in 0..1), and batched against per-image phase reconstruction of the same images
  (relative L2 difference of the audio's mel spectrograms), each against a stated
  tolerance.

Shapes: images 512 x 512 (512 mel bands x 512 columns = 5.12 s at 10 ms hop), latents
``(B, 4, 64, 64)``, text states ``(B, 77, 768)``. Times are seconds (median of
``--repeats``). img2img at strength 0.75 runs ``int(50 * 0.75) = 37`` UNet steps of the
50-step schedule, as the Riffusion server did.

CPU smoke test (tiny random components, a few steps; this is what the test runs)::

    python benchmarks/gpu.py --tiny --steps 2 --device cpu

On a machine with a CUDA GPU and sonogen installed::

    nvidia-smi --query-gpu=name,driver_version --format=csv
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --device cuda --compile --json gpu.json 2>&1 | tee gpu.md

The benchmark builds its own random-weight components and downloads nothing. A GPU
machine without network access can be given the packages it lacks as wheels fetched
elsewhere (``pip download --only-binary=:all:`` with that machine's ``--python-version``
and ``--platform``) and installed there with ``pip install --no-index``; soundfile's
manylinux wheel bundles libsndfile with MP3 support.

Record the printed tables with the GPU name, date and the versions line in
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import copy
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from sonogen.pipeline import ldm  # noqa: E402

#: Seconds of audio in one 512-column clip (10 ms hop).
CLIP_SECONDS = 5.12
#: Columns of the benchmark's spectrogram image.
WIDTH = 512
#: Parts of a request, in order; every row of the latency table has these columns.
PARTS = ("text", "vae_enc", "unet", "vae_dec", "image", "phase", "mp3")
#: Columns of the latency table (the test checks them).
LATENCY_COLUMNS = ("path", "unet_evals", *(p + "_s" for p in PARTS), "total_s", "x_realtime", "speedup_vs_peer")
#: Columns of the jam throughput table.
JAM_COLUMNS = ("batch", "batch_latency_s", "clips_per_s", "listeners")

# --------------------------------------------------------------------------- configs
#: Stable Diffusion 1.5 UNet (published config values; 859.5M parameters).
SD15_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "act_fn": "silu",
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
}
#: Stable Diffusion 1.x VAE (8x downsampling, 4 latent channels, 83.7M parameters).
SD15_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "act_fn": "silu",
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
#: CLIP ViT-L/14 text tower (123M parameters) and the SD 1.5 PNDM schedule: the ones
#: sonogen loads original SD 1.x files with (sonogen/pipeline/ldm.py).
CLIP_L14_TEXT, SD15_SCHEDULER = ldm.CLIP_L14_TEXT, ldm.SD1_SCHEDULER


def build_components(tiny: bool, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """Random-weight fp32 components ``unet, vae, text_encoder, tokenizer, scheduler`` on ``device``.

    ``tiny``: sonogen's tiny SD-1.x-shaped test components. Otherwise the SD 1.5 sizes
    above; the tokenizer is sonogen's small offline byte-level BPE (the CLIP vocabulary
    file cannot be downloaded here) - token ids stay inside CLIP's 49408-entry table, so
    the encoder does the same work.
    """
    from sonogen.pipeline.tiny import build_tiny_components, build_tiny_tokenizer

    if tiny:
        parts = build_tiny_components(seed)
        for name in ("unet", "vae", "text_encoder"):
            parts[name].to(device)
        return parts
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    with torch.device(device):  # initialise on the device: seconds instead of a minute on CPU
        unet = UNet2DConditionModel(**SD15_UNET)
        vae = AutoencoderKL(**SD15_VAE)
        text_config = CLIPTextConfig(**{
            **CLIP_L14_TEXT,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        })
        text_encoder = CLIPTextModel(text_config)
    for model in (unet, vae, text_encoder):
        model.eval().requires_grad_(False)
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": PNDMScheduler(**SD15_SCHEDULER),
    }


def cast_components(parts: dict[str, Any], dtype: torch.dtype, channels_last: bool = False) -> dict[str, Any]:
    """Deep copies of the three networks in ``dtype`` (tokenizer/scheduler shared)."""
    out = dict(parts)
    for name in ("unet", "vae", "text_encoder"):
        model = copy.deepcopy(parts[name]).to(dtype=dtype)
        if channels_last and name != "text_encoder":
            model = model.to(memory_format=torch.channels_last)
        out[name] = model
    return out


# --------------------------------------------------------------------------- inputs
def seed_image(width: int = WIDTH, params: Any | None = None) -> Any:
    """A 512 x ``width`` spectrogram image of a synthetic 120 bpm beat (kick, hat, bass).

    Stands in for the server's built-in seed image; made here so the benchmark needs no
    files. Returns a PIL RGB image with EXIF.
    """
    from sonogen.spectrogram.converter import get_converter

    converter = get_converter(params)
    rate = converter.params.sample_rate
    samples = converter.params.samples_for_width(width)
    t = np.arange(samples) / rate
    wave = np.zeros(samples)
    for beat in np.arange(0.0, t[-1], 0.5):
        k = t >= beat
        env = np.exp(-(t[k] - beat) * 18.0)
        wave[k] += 0.6 * env * np.sin(2 * np.pi * (50 + 80 * np.exp(-(t[k] - beat) * 30)) * (t[k] - beat))
    rng = np.random.default_rng(0)
    for beat in np.arange(0.25, t[-1], 0.5):
        k = (t >= beat) & (t < beat + 0.05)
        wave[k] += 0.15 * rng.standard_normal(int(k.sum())) * np.exp(-(t[k] - beat) * 80)
    wave += 0.2 * np.sin(2 * np.pi * 55.0 * t) * (0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 2 * t)))
    image = converter.audio_to_image(wave[None].astype(np.float32), rate)
    return image.crop((0, 0, width, image.height))


# --------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class PartTimer:
    """Accumulates seconds per request part; ``sync`` before reading the clock."""

    device: torch.device
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        sync(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            sync(self.device)
            self.seconds[name] += time.perf_counter() - start


def _timed_method(owner: Any, name: str, timer: PartTimer, part: str) -> Callable[[], None]:
    """Wrap ``owner.name`` so each call is charged to ``part``; returns the undo."""
    original = getattr(owner, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with timer.part(part):
            return original(*args, **kwargs)

    setattr(owner, name, wrapped)
    return lambda: setattr(owner, name, original)


# --------------------------------------------------------------------------- paths
@dataclass
class Result:
    """One request's outputs: uint8 pixels ``(B, H, W, 3)``, waveforms ``(B, 1, S)``, MP3 bytes."""

    pixels: np.ndarray
    waves: np.ndarray
    mp3: list[bytes]
    unet_evals: int


def pixels_to_mel(pixels: torch.Tensor, params: Any, max_value: float) -> torch.Tensor:
    """Mel magnitude from uint8-valued image tensors on any device.

    The same mapping as :func:`sonogen.spectrogram.image.image_to_spectrogram` for mono
    images (mean of R, G, B; top row is the highest band), without a PIL round trip.

    Args:
        pixels: ``(B, 3, bands, frames)`` float tensor of whole numbers in 0..255.

    Returns:
        ``(B, bands, frames)`` float32, bands from lowest to highest.
    """
    grey = pixels.float().mean(dim=1).flip(dims=(1,))  # (B, bands, frames)
    return ((255.0 - grey) / 255.0).clamp_min(0.0).pow(1.0 / params.power_for_image) * max_value


def normalize_peak(waves: np.ndarray, peak: float = 0.98) -> np.ndarray:
    """Scale each item of ``(B, C, S)`` to ``peak`` (silent items unchanged)."""
    top = np.abs(waves).reshape(waves.shape[0], -1).max(axis=1)
    scale = np.where(top > 0, peak / np.maximum(top, 1e-30), 1.0)
    return (waves * scale[:, None, None]).astype(np.float32)


def encode_mp3(wave: np.ndarray, rate: int) -> bytes:
    """MP3 bytes of one ``(C, S)`` waveform."""
    from sonogen.audio.io import encode_audio

    return encode_audio(wave, rate, "mp3")


class SonogenPath:
    """sonogen's own pipeline (:class:`SonogenPipeline`), run as ``generate``/``serve`` run it.

    There is no denoising loop here: a request is one ``pipe(...)`` call (text encoding,
    seed-image latents, the guided UNet loop with the guidance pair batched, VAE decode,
    spectrogram images, one batched phase reconstruction), then MP3 encoding.

    Args:
        parts: fp32 components (copied here, then cast to ``dtype``).
        device: where the networks live.
        dtype: weights dtype (latents and scheduler stay float32 in the pipeline).
        fast: switch on the pipeline's speed options (channels-last, cached negative-prompt
            states and seed-image latents) and MP3 encoding on worker threads.
        compile_mode: ``torch.compile`` mode for the UNet and VAE decoder, or None.
    """

    def __init__(
        self, parts: dict[str, Any], device: torch.device, *, dtype: torch.dtype, fast: bool,
        compile_mode: str | None = None,
    ) -> None:
        from sonogen.pipeline.pipeline import SonogenPipeline

        cast = cast_components(parts, dtype)
        self.pipe = SonogenPipeline(**{k: cast[k] for k in ("vae", "text_encoder", "tokenizer", "unet", "scheduler")})
        self.pipe.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.device = device
        self.params = self.pipe.spectrogram_params
        self.evals = 0
        if compile_mode:  # a hook inside a compiled module would be traced: count scheduler steps instead
            step = self.pipe.scheduler.step

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.evals += 1
                return step(*args, **kwargs)

            self.pipe.scheduler.step = counted
        else:
            self.pipe.unet.register_forward_pre_hook(lambda *_: setattr(self, "evals", self.evals + 1))
        if fast:
            self.pipe.enable_speedups(channels_last=True, cache=True, compile=compile_mode or False)
        self.pool = cf.ThreadPoolExecutor(max_workers=4) if fast else None

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], image: Any, *, steps: int, strength: float, guidance: float,
        output_type: str = "audio",
    ) -> Any:
        """The pipeline call of ``len(prompts)`` concurrent img2img requests (a ``SonogenOutput``;
        ``output_type="pil"``: images only, no phase reconstruction)."""
        return self.pipe(
            list(prompts), seed=list(seeds), init_image=image, strength=strength, num_inference_steps=steps,
            guidance_scale=guidance, width=image.width, progress=False, output_type=output_type,
        )

    def encode(self, waves: Sequence[np.ndarray]) -> list[bytes]:
        rate = self.params.sample_rate
        if self.pool is not None:
            return list(self.pool.map(encode_mp3, list(waves), [rate] * len(waves)))
        return [encode_mp3(w, rate) for w in waves]

    def request(
        self, prompts: Sequence[str], seeds: Sequence[int], image: Any, *, steps: int, strength: float,
        guidance: float, timer: PartTimer, breakdown: bool = False,
    ) -> Result:
        """Text -> image -> waveform -> MP3 for ``len(prompts)`` concurrent requests.

        With ``breakdown`` the pipeline's parts are clocked (a device sync per call, so
        totals come from runs without): text encoder, VAE encode, VAE decode, image
        conversion and phase reconstruction by wrapping them; ``unet`` is the rest of the
        pipeline call (the denoising loop: UNet and scheduler).
        """
        undo: list[Callable[[], None]] = []
        if breakdown:
            undo = [
                _timed_method(self.pipe.text_encoder, "forward", timer, "text"),
                _timed_method(self.pipe.vae, "encode", timer, "vae_enc"),
                _timed_method(self.pipe.vae, "decode", timer, "vae_dec"),
                _timed_method(self.pipe, "_to_image", timer, "image"),
                _timed_method(self.pipe, "_to_audio_batch", timer, "phase"),
            ]
        before = self.evals
        try:
            sync(self.device)
            start = time.perf_counter()
            out = self.generate(prompts, seeds, image, steps=steps, strength=strength, guidance=guidance)
            sync(self.device)
            whole = time.perf_counter() - start
        finally:
            for u in undo:
                u()
        if breakdown:
            timer.seconds["unet"] = whole - sum(timer.seconds[p] for p in ("text", "vae_enc", "vae_dec", "image", "phase"))
        pixels = np.stack([np.asarray(img.convert("RGB")) for img in out.images])
        waves = np.stack(out.waveforms).astype(np.float32)
        with timer.part("mp3"):
            mp3 = self.encode(list(waves))
        return Result(pixels, waves, mp3, self.evals - before)

    def jam(
        self, prompts: Sequence[str], image: Any, *, batch: int, rounds: int, steps: int, strength: float,
        guidance: float,
    ) -> tuple[float, float]:
        """Serve ``rounds`` batches of ``batch`` requests, each batch one pipeline call.

        MP3 encoding of batch ``k`` runs on worker threads while batch ``k + 1`` is in the
        pipeline (phase reconstruction is inside the pipeline call). Returns
        ``(seconds per batch, clips per second)`` over the rounds (after one warm-up).
        """
        kw = {"steps": steps, "strength": strength, "guidance": guidance}

        def one(k: int) -> Any:
            chosen = [prompts[(k * batch + i) % len(prompts)] for i in range(batch)]
            return self.generate(chosen, [k * batch + i for i in range(batch)], image, **kw)

        post = cf.ThreadPoolExecutor(max_workers=1)
        post.submit(self.encode, one(-1).waveforms).result()  # warm-up (compile for this batch size)
        sync(self.device)
        start = time.perf_counter()
        pending = [post.submit(self.encode, one(k).waveforms) for k in range(rounds)]
        for fut in pending:
            fut.result()
        sync(self.device)
        wall = time.perf_counter() - start
        post.shutdown()
        return wall / rounds, batch * rounds / wall


class PeerPath:
    """Stock ``StableDiffusionImg2ImgPipeline`` (fp16 on CUDA) + original phase reconstruction."""

    def __init__(self, parts: dict[str, Any], device: torch.device, phase_iters: int) -> None:
        from diffusers import PNDMScheduler, StableDiffusionImg2ImgPipeline

        from sonogen.spectrogram.params import DEFAULT_MAX_VALUE, SpectrogramParams

        self.pipe = StableDiffusionImg2ImgPipeline(
            vae=parts["vae"],
            text_encoder=parts["text_encoder"],
            tokenizer=parts["tokenizer"],
            unet=parts["unet"],
            scheduler=PNDMScheduler.from_config(parts["scheduler"].config),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        self.pipe.set_progress_bar_config(disable=True)
        self.device = device
        self.params = SpectrogramParams()
        self.max_value = DEFAULT_MAX_VALUE
        self.phase_iters = phase_iters

    def request(
        self, prompt: str, seed: int, image: Any, *, steps: int, strength: float, guidance: float, timer: PartTimer,
        breakdown: bool,
    ) -> Result:
        """One request as a user of the stock pipeline would run it (parts timed when ``breakdown``)."""
        from sonogen.spectrogram.converter import get_converter
        from sonogen.spectrogram.image import image_to_spectrogram

        undo: list[Callable[[], None]] = []
        if breakdown:  # per-part clocks add a device sync per call; totals come from runs without
            undo = [
                _timed_method(self.pipe.text_encoder, "forward", timer, "text"),
                _timed_method(self.pipe.vae, "encode", timer, "vae_enc"),
                _timed_method(self.pipe.unet, "forward", timer, "unet"),
                _timed_method(self.pipe.vae, "decode", timer, "vae_dec"),
            ]
        evals = [0]
        counter = self.pipe.unet.register_forward_pre_hook(lambda *_: evals.__setitem__(0, evals[0] + 1))
        try:
            generator = torch.Generator(self.device).manual_seed(seed)
            out = self.pipe(
                prompt, image=image, strength=strength, num_inference_steps=steps, guidance_scale=guidance,
                generator=generator,
            ).images[0]
        finally:
            counter.remove()
            for u in undo:
                u()
        with timer.part("image"):
            pixels = np.asarray(out.convert("RGB"))
            mel = image_to_spectrogram(out, self.params, self.max_value)
        with timer.part("phase"):
            converter = get_converter(self.params, self.device)
            wave = converter.waveform_from_spectrogram(mel, method="original", n_iter=self.phase_iters)
            wave_np = normalize_peak(wave.detach().cpu().numpy()[None])
        with timer.part("mp3"):
            mp3 = [encode_mp3(wave_np[0], self.params.sample_rate)]
        return Result(pixels[None], wave_np, mp3, evals[0])


# --------------------------------------------------------------------------- floor
def unet_flops(unet_config: dict[str, Any], batch: int, latent_hw: tuple[int, int] = (64, 64), text_len: int = 77) -> float:
    """FLOPs of one UNet forward at ``batch`` on ``latent_hw`` latents, counted on the meta device."""
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config)
        sample = torch.empty(batch, unet_config["in_channels"], *latent_hw)
        states = torch.empty(batch, text_len, unet_config["cross_attention_dim"])
        steps = torch.full((batch,), 10)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        unet(sample, steps, encoder_hidden_states=states)
    return float(counter.get_total_flops())


def matmul_rate(device: torch.device, dtype: torch.dtype) -> float:
    """Measured dense matmul FLOP/s (8192^3 on CUDA, 1024^3 on CPU; best of several)."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = math.inf
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        sync(device)
        best = min(best, (time.perf_counter() - start) / 4)
    return 2.0 * n**3 / best


# --------------------------------------------------------------------------- accuracy
def mel_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative L2 difference of the mel spectrograms of two ``(C, S)`` waveforms."""
    from sonogen.spectrogram.converter import get_converter

    conv = get_converter()
    ma = conv.spectrogram_from_waveform(torch.from_numpy(a))
    mb = conv.spectrogram_from_waveform(torch.from_numpy(b))
    return float((ma - mb).norm() / mb.norm().clamp_min(1e-12))


# --------------------------------------------------------------------------- report
def markdown_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table with ``columns`` as header; floats to 3 significant decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
        return "-" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def latency_row(
    path: str, seconds: dict[str, float], evals: int, total: float, peer_total: float | None, clip_s: float = CLIP_SECONDS
) -> dict[str, Any]:
    """One latency-table row; ``seconds`` per part, ``total`` measured end to end, ``clip_s`` audio seconds."""
    row: dict[str, Any] = {"path": path, "unet_evals": evals, "total_s": total, "x_realtime": clip_s / total}
    row.update({p + "_s": seconds.get(p) for p in PARTS})
    row["speedup_vs_peer"] = (peer_total / total) if peer_total else None
    return row


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random components (CPU smoke test)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    parser.add_argument("--steps", type=int, default=50, help="scheduler steps (default 50)")
    parser.add_argument("--strength", type=float, default=0.75, help="img2img denoising strength (server default 0.75)")
    parser.add_argument("--guidance", type=float, default=7.0, help="guidance scale (server default 7.0)")
    parser.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="fast path precision")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet and VAE decoder (fast path)")
    parser.add_argument("--compile-mode", default="max-autotune-no-cudagraphs", help="torch.compile mode")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path (median reported)")
    parser.add_argument("--batches", default=None, help="jam batch sizes, comma separated (default 1,4,8,16,24; tiny 1,2)")
    parser.add_argument("--width", type=int, default=WIDTH, help="image columns (512 = 5.12 s; smaller only for smoke tests)")
    parser.add_argument("--jam-rounds", type=int, default=3, help="batches served per jam measurement")
    parser.add_argument("--phase-iters", type=int, default=32, help="Griffin-Lim iterations of the peer's original reconstruction")
    parser.add_argument("--skip-peer", action="store_true", help="leave the peer out")
    parser.add_argument("--tol-image-mean", type=float, default=0.02, help="allowed mean |fast - fp32| pixel difference (0..1)")
    parser.add_argument("--tol-mel", type=float, default=0.02, help="allowed relative L2 difference of output mel spectrograms")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    fast_dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    peer_dtype = torch.float16 if device.type == "cuda" else torch.float32  # CPU fp16 convs are not a real peer
    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference stays fp32
    torch.backends.cudnn.allow_tf32 = False
    import diffusers
    import transformers

    versions = f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# sonogen GPU benchmark\n\ndevice: {name}; {versions}; {'tiny' if args.tiny else 'SD 1.5 size'} random weights, "
          f"512x{args.width}, {args.steps} steps, strength {args.strength}, guidance {args.guidance}\n", flush=True)

    base = build_components(args.tiny, device)
    image = seed_image(args.width)
    from sonogen.spectrogram.converter import get_converter

    for where in {device, torch.device("cpu")}:  # filterbanks built before any clock starts
        get_converter(None, where)
    clip_s = args.width * 0.01  # 10 ms per column
    prompts = ["funky bass and drums at 110 bpm", "church bells on a sunday", "jazz piano trio", "rock guitar riff"]
    figures: dict[str, Any] = {"device": name, "versions": versions, "args": {k: str(v) for k, v in vars(args).items()}}

    # --- paths
    # both are SonogenPipeline itself: plain = fp32, no speed options; fast = the options
    # `generate --dtype bf16 --compile` / `serve` switch on (load_pipeline's defaults on CUDA)
    fast = SonogenPath(base, device, dtype=fast_dtype, fast=True,
                       compile_mode=args.compile_mode if args.compile else None)
    plain = SonogenPath(base, device, dtype=torch.float32, fast=False)
    kw = {"steps": args.steps, "strength": args.strength, "guidance": args.guidance}

    warm = device.type == "cuda" or args.compile or not args.tiny

    def measure(run: Callable[[PartTimer, bool], Result]) -> tuple[dict[str, float], float, Result]:
        """Warm up (not for the CPU smoke test), ``repeats`` timed runs (median total), then
        one run with per-part clocks (their device syncs stay out of the totals)."""
        if warm:
            run(PartTimer(device), False)
        totals = []
        result: Result | None = None
        for _ in range(max(1, args.repeats)):
            sync(device)
            start = time.perf_counter()
            result = run(PartTimer(device), False)
            sync(device)
            totals.append(time.perf_counter() - start)
        assert result is not None
        timer = PartTimer(device)
        run(timer, True)
        return dict(timer.seconds), statistics.median(totals), result

    rows: list[dict[str, Any]] = []
    peer_total = None
    if not args.skip_peer:
        peer = PeerPath(cast_components(base, peer_dtype), device, args.phase_iters)
        peer_parts, peer_total, peer_res = measure(
            lambda t, b: peer.request(prompts[0], 1, image, timer=t, breakdown=b, **kw)
        )
        rows.append(latency_row(f"peer (diffusers img2img {'fp16' if peer_dtype == torch.float16 else 'fp32'} + original GL)",
                                peer_parts, peer_res.unet_evals, peer_total, None, clip_s))
        del peer
    plain_parts, plain_total, plain_res = measure(
        lambda t, b: plain.request(prompts[:1], [1], image, timer=t, breakdown=b, **kw))
    rows.append(latency_row("sonogen plain (pipeline, fp32, no speed options)", plain_parts, plain_res.unet_evals,
                            plain_total, peer_total, clip_s))
    fast_parts, fast_total, fast_res = measure(
        lambda t, b: fast.request(prompts[:1], [1], image, timer=t, breakdown=b, **kw))
    rows.append(latency_row(f"sonogen fast (pipeline, {args.dtype}, channels-last, cache"
                            f"{', compiled' if args.compile else ''})",
                            fast_parts, fast_res.unet_evals, fast_total, peer_total, clip_s))
    print(f"## One request (seconds per part, median of {args.repeats})\n")
    print(markdown_table(LATENCY_COLUMNS, rows) + "\n", flush=True)
    figures["latency"] = rows

    # --- jam throughput
    sizes = [int(b) for b in (args.batches or ("1,2" if args.tiny else "1,4,8,16,24")).split(",") if b.strip()]
    jam_rows = []
    for b in sizes:
        per_batch, clips = fast.jam(prompts, image, batch=b, rounds=args.jam_rounds, **kw)
        jam_rows.append({"batch": b, "batch_latency_s": per_batch, "clips_per_s": clips,
                         "listeners": clips * clip_s if per_batch <= clip_s else 0.0})
    print("## Jam throughput (fast pipeline, concurrent requests batched into one call; listeners = clips/s x 5.12, "
          "0 when a batch takes longer than a clip)\n")
    print(markdown_table(JAM_COLUMNS, jam_rows) + "\n", flush=True)
    figures["jam"] = jam_rows

    # --- floor
    unet_cfg = dict(fast.pipe.unet.config)
    unet_cfg = {k: v for k, v in unet_cfg.items() if not k.startswith("_")}
    latent_hw = (512 // fast.pipe.vae_scale_factor, args.width // fast.pipe.vae_scale_factor)
    flops_pair = unet_flops(unet_cfg, batch=2, latent_hw=latent_hw)
    rate = matmul_rate(device, fast_dtype if device.type == "cuda" else torch.float32)
    floor = flops_pair * fast_res.unet_evals / rate
    print("## Floor\n")
    print(f"- UNet FLOPs per guided step (batch 2): {flops_pair / 1e12:.3f} TFLOP; steps run: {fast_res.unet_evals}")
    print(f"- measured matmul rate: {rate / 1e12:.1f} TFLOP/s ({'bf16' if device.type == 'cuda' else 'fp32'})")
    print(f"- floor for the UNet loop: {floor:.4f} s; fast path's UNet loop: {fast_parts['unet']:.4f} s "
          f"({fast_parts['unet'] / floor:.2f}x the floor); whole request {fast_total:.4f} s\n")
    figures["floor"] = {"tflop_per_step": flops_pair / 1e12, "steps": fast_res.unet_evals, "tflops": rate / 1e12,
                        "floor_s": floor, "unet_s": fast_parts["unet"], "total_s": fast_total}

    # --- accuracy: fresh random inputs, fast vs plain fp32, same seed
    rng = np.random.default_rng(int(time.time_ns() % 2**32))
    seed = int(rng.integers(0, 2**31 - 1))
    words = ["bass", "drums", "piano", "jazz", "techno", "ambient", "guitar", "bells", "choir", "synth"]
    prompt = " ".join(rng.choice(words, size=4))
    got = fast.generate([prompt], [seed], image, output_type="pil", **kw).images  # pictures only: no phase
    ref_images = plain.generate([prompt], [seed], image, output_type="pil", **kw).images
    diff = np.abs(np.asarray(got[0], np.float64) - np.asarray(ref_images[0], np.float64)) / 255.0
    # the batched phase lever: the same (fp32) images in one call vs one call per image
    batched = fast.pipe._to_audio_batch(ref_images * 2, loop=False)[0]
    single = fast.pipe._to_audio(ref_images[0], loop=False)
    mel_err = mel_relative_error(batched, single)
    ok = diff.mean() <= args.tol_image_mean and mel_err <= args.tol_mel
    print("## Fast path vs plain fp32 (same seed, fresh random inputs)\n")
    print(f"- prompt {prompt!r}, seed {seed}")
    print(f"- spectrogram image |fast - fp32| mean {diff.mean():.4f}, max {diff.max():.4f} "
          f"(0..1 scale; tolerance: mean <= {args.tol_image_mean})")
    print(f"- audio from the same image, phase reconstruction batched (2 images, one call) vs per image: "
          f"mel relative L2 difference {mel_err:.4f} (tolerance: <= {args.tol_mel})")
    print(f"- {'PASS' if ok else 'FAIL'}\n", flush=True)
    figures["accuracy"] = {"prompt": prompt, "seed": seed, "image_mean": float(diff.mean()), "image_max": float(diff.max()),
                           "mel_rel": mel_err, "pass": bool(ok)}

    # --- targets
    if peer_total:
        jam_best = max((r["listeners"] for r in jam_rows), default=0.0)
        print("## Targets\n")
        print(f"- speedup vs peer {peer_total / fast_total:.2f}x (target >= 3x)")
        print(f"- {fast_total:.3f} s per {clip_s:.2f} s clip (target <= 0.35 s per 5.12 s)")
        print(f"- {jam_best:.1f} real-time listeners (target >= 20)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    if fast.pool is not None:
        fast.pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
