"""Train sonogen's embedded default model on two CPU cores (issue 10), resumably.

Stages (``--stage``; each resumes from what is already in ``WORK``):

1. ``data``: render the synthetic corpus (12 styles) straight to spectrogram pixels in
   memory, two worker processes, shards of 64 clips (``WORK/data/<split>/*.npz``). The
   training split and a held-out split (other seeds, never trained on) for the figures.
2. ``vae``: a 16x ``AutoencoderKL`` trained on 128x128 crops (it is fully convolutional).
3. ``encode``: every training image encoded once to 8x32x32 latents (cached), the
   latent scale measured.
4. ``unet``: tokenizer learnt on the captions, then UNet + text encoder, v-prediction
   with zero terminal SNR, min-SNR-5 weighting, 10% caption dropout, EMA; time crops of
   the latents first, full width at the end. Checkpointed every few minutes, stops at
   ``--minutes`` of wall time (re-run to continue).
5. ``export``: the EMA weights as fp16 safetensors shards of at most 15 MB into
   ``sonogen/models/default/`` with ``spectrogram.json`` and ``sampling.json``.

All state lives in ``WORK`` (default ``~/.cache/sonogen-default``), outside the
repository::

    python scripts/train_default_model.py --stage all --minutes 120
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CONFIG = REPO / "sonogen" / "models" / "default_config.json"
PACKAGE_DIR = REPO / "sonogen" / "models" / "default"
WORK = Path(os.environ.get("SONOGEN_DEFAULT_WORK", Path.home() / ".cache" / "sonogen-default"))
#: Largest shard and whole model, bytes (15 MB and 60 MB, decimal as the issue counts).
MAX_SHARD = 15_000_000
MAX_TOTAL = 60_000_000
SHARD = 64
#: The styles the default model learns: twelve of the corpus's sixteen, chosen to be told
#: apart by ear (house, disco, blues and country are near neighbours of techno, funk,
#: jazz swing and rock).
DEFAULT_STYLES = (
    "rock", "jazz swing", "bossa nova", "funk", "techno", "hip hop",
    "reggae", "ambient", "solo piano", "string ensemble", "drums only", "metal",
)
#: clips per style: training corpus and held-out corpus
SPLITS = {"train": (500, 0), "heldout": (60, 1_000_003)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- data


def wave_pixels(wave: np.ndarray) -> np.ndarray:
    """Spectrogram pixels of a waveform in the v1 format.

    Args:
        wave: float ``(channels, samples)`` in [-1, 1] at 44.1 kHz (channels averaged).

    Returns:
        uint8 ``(512, min(frames, 512))`` in image orientation (top row = the highest
        band, loud = dark); float32 analysis (within one grey level of the float64
        converter), peak-normalised per clip as the format is.
    """
    import torch

    from sonogen.spectrogram.converter import get_converter
    from sonogen.spectrogram.image import spectrogram_to_pixels

    conv = get_converter()
    p = conv.params
    mono = torch.as_tensor(np.asarray(wave, np.float32)).mean(0, keepdim=True) * 32767.0
    spec = torch.stft(mono, p.n_fft, p.hop_length, win_length=p.win_length, window=conv.window,
                      center=True, return_complex=True).abs()
    mel = torch.matmul(conv.filterbank.T, spec)[..., :512]
    pixels, _ = spectrogram_to_pixels(mel, p.power_for_image)
    return np.ascontiguousarray(pixels[0, ::-1])


def clip_pixels(style: str, seed: int) -> tuple[np.ndarray, str]:
    """Render one 5.12 s clip of ``style`` and return ``(pixels (512, 512) uint8, caption)``."""
    import torch

    from sonogen.data import synth

    torch.set_num_threads(1)
    comp = synth.compose(style, seed, 5.12)
    return wave_pixels(synth.render(comp)), comp.caption


def _shard_job(job: tuple[str, int, list[tuple[int, str, int]]]) -> str:
    folder, index, clips = job
    target = Path(folder) / f"shard_{index:04d}.npz"
    if target.exists():
        return str(target)
    images, captions, styles, seeds = [], [], [], []
    for _, style, seed in clips:
        px, caption = clip_pixels(style, seed)
        images.append(px)
        captions.append(caption)
        styles.append(style)
        seeds.append(seed)
    tmp = target.with_suffix(".tmp.npz")
    np.savez(tmp, images=np.stack(images), captions=np.array(captions), styles=np.array(styles),
             seeds=np.array(seeds))
    tmp.rename(target)
    return str(target)


def split_plan(per_style: int, base_seed: int) -> list[tuple[int, str, int]]:
    """``(index, style, clip seed)``, styles interleaved so every shard holds them all."""
    plan = []
    for i in range(per_style):
        for s, style in enumerate(DEFAULT_STYLES):
            seed = int(np.random.SeedSequence([base_seed, i, s]).generate_state(1)[0])
            plan.append((len(plan), style, seed))
    return plan


def stage_data(work: Path, workers: int) -> None:
    for split, (per_style, base) in SPLITS.items():
        folder = work / "data" / split
        folder.mkdir(parents=True, exist_ok=True)
        plan = split_plan(per_style, base)
        jobs = [(str(folder), k, plan[k * SHARD:(k + 1) * SHARD]) for k in range(math.ceil(len(plan) / SHARD))]
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for n, _ in enumerate(pool.map(_shard_job, jobs), 1):
                if n % 10 == 0 or n == len(jobs):
                    log(f"data {split}: {n}/{len(jobs)} shards, {time.perf_counter() - start:.0f} s")


def load_split(work: Path, split: str) -> dict[str, np.ndarray]:
    """All shards of a split: ``images`` uint8 (N, 512, 512), ``captions``, ``styles``, ``seeds``."""
    files = sorted((work / "data" / split).glob("shard_*.npz"))
    if not files:
        raise SystemExit(f"no data in {work / 'data' / split}: run --stage data first")
    parts = [dict(np.load(f)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ----------------------------------------------------------------------------- VAE


def model_cfg() -> dict[str, Any]:
    return json.loads(CONFIG.read_text(encoding="utf-8"))


def to_unit(pixels: np.ndarray) -> Any:
    """uint8 ``(B, H, W)`` grey pixels -> float ``(B, 3, H, W)`` in [-1, 1] (R = G = B)."""
    import torch

    x = torch.from_numpy(pixels).float().div_(127.5).sub_(1.0)
    return x[:, None].expand(-1, 3, -1, -1).contiguous()


def stage_vae(work: Path, minutes: float, seed: int) -> None:
    """Train the VAE on random 128x128 crops: L1 + KL (weight from the config)."""
    import torch
    from safetensors.torch import load_file

    from sonogen.train.model import build_vae

    cfg = model_cfg()
    out = work / "vae"
    if (out / "done").exists():
        log("vae: done already")
        return
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    data = load_split(work, "train")["images"]
    vae = build_vae(cfg["vae"])
    vcfg = cfg["vae_training"]
    opt = torch.optim.AdamW(vae.parameters(), lr=float(vcfg["learning_rate"]), weight_decay=0.0)
    step = 0
    if (out / "state.safetensors").exists():
        vae.load_state_dict(load_file(out / "state.safetensors"))
        opt.load_state_dict(torch.load(out / "opt.pt", weights_only=True))
        step = json.loads((out / "step.json").read_text())["step"]
    rng = np.random.default_rng(seed + step)
    batch, crop = int(vcfg.get("batch_size") or 16), 128
    deadline = time.time() + minutes * 60
    losses: list[float] = []
    while step < int(vcfg["steps"]) and time.time() < deadline:
        idx = rng.integers(0, len(data), batch)
        ys, xs = rng.integers(0, 512 - crop + 1, batch), rng.integers(0, 512 - crop + 1, batch)
        crops = np.stack([data[i, y:y + crop, x:x + crop] for i, y, x in zip(idx, ys, xs, strict=True)])
        x = to_unit(crops)
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample
        l1 = (rec - x).abs().mean()
        kl = post.kl().mean()
        loss = l1 + float(vcfg["kl_weight"]) * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(l1.detach()))
        if step % 100 == 0:
            log(f"vae step {step}: L1 {np.mean(losses[-100:]):.4f} (grey levels {np.mean(losses[-100:]) * 127.5:.1f})")
        if step % 500 == 0:
            _save_vae(out, vae, opt, step, losses)
    _save_vae(out, vae, opt, step, losses)
    if step >= int(vcfg["steps"]):
        (out / "done").write_text(str(step))


def _save_vae(out: Path, vae: Any, opt: Any, step: int, losses: list[float]) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, out / "state.safetensors")
    torch.save(opt.state_dict(), out / "opt.pt")
    (out / "step.json").write_text(json.dumps({"step": step}))
    with (out / "loss.jsonl").open("a") as f:
        f.write(json.dumps({"step": step, "l1": float(np.mean(losses[-100:])) if losses else None}) + "\n")


def stage_decoder(work: Path, minutes: float, seed: int, texture_weight: float = 1.0,
                  contrast_weight: float = 0.0) -> None:
    """Go on training the VAE's decoder alone, the encoder frozen, so the cached latents stay valid.

    L1 on pixels plus L1 on their differences along time and frequency (edges: onsets and
    harmonics) plus :func:`texture_loss`, from the encoder's mean latent of 128x128 crops, as the UNet's latents are
    made. Resumable; writes the whole VAE back to ``WORK/vae/state.safetensors``.
    """
    import torch
    from safetensors.torch import save_file

    out = work / "vae"
    vae = load_vae(work).train()
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    params = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.0)
    if (out / "decoder_opt.pt").exists():
        opt.load_state_dict(torch.load(out / "decoder_opt.pt", weights_only=True))
    step = json.loads((out / "decoder_step.json").read_text())["step"] if (out / "decoder_step.json").exists() else 0
    data = load_split(work, "train")["images"]
    rng = np.random.default_rng(seed + 7919 + step)
    batch, crop = 8, 128
    deadline = time.time() + minutes * 60
    losses: list[float] = []
    last_save = time.time()

    def save() -> None:
        save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, out / "state.tmp")
        (out / "state.tmp").replace(out / "state.safetensors")
        torch.save(opt.state_dict(), out / "decoder_opt.pt")
        (out / "decoder_step.json").write_text(json.dumps({"step": step}))
        log(f"decoder: saved step {step}")

    while time.time() < deadline:
        idx = rng.integers(0, len(data), batch)
        ys, xs = rng.integers(0, 512 - crop + 1, batch), rng.integers(0, 512 - crop + 1, batch)
        x = to_unit(np.stack([data[i, y:y + crop, x0:x0 + crop] for i, y, x0 in zip(idx, ys, xs, strict=True)]))
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        rec = vae.decode(z).sample
        err = rec - x
        loss = err.abs().mean() + 0.5 * (err.diff(dim=-1).abs().mean() + err.diff(dim=-2).abs().mean())
        loss = loss + texture_weight * texture_loss(rec, x) + contrast_weight * contrast_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        losses.append(float(err.detach().abs().mean()))
        if step % 100 == 0:
            log(f"decoder step {step}: L1 {np.mean(losses[-100:]) * 127.5:.1f} grey levels")
            with (out / "decoder_loss.jsonl").open("a") as f:
                f.write(json.dumps({"step": step, "l1_grey": float(np.mean(losses[-100:]) * 127.5)}) + "\n")
        if time.time() - last_save > 600:
            save()
            last_save = time.time()
    save()


def texture_loss(rec: Any, x: Any, patch: int = 8) -> Any:
    """L1 between local texture statistics of two image batches ``(B, C, H, W)`` in [-1, 1].

    Per ``patch`` x ``patch`` cell: the mean absolute change along time and along frequency,
    and the pixel variance. Pixel L1 alone makes a decoder that cannot know the exact fine
    detail draw the blurred average, which sounds washed out and loses onsets and
    harmonics; matching these statistics asks for detail of the right strength instead.
    """
    import torch.nn.functional as F

    def stats(img: Any) -> list[Any]:
        g = img.mean(dim=1, keepdim=True)
        dt = (g[..., :, 1:] - g[..., :, :-1]).abs()
        df = (g[..., 1:, :] - g[..., :-1, :]).abs()
        mean = F.avg_pool2d(g, patch)
        var = F.avg_pool2d(g * g, patch) - mean * mean
        return [F.avg_pool2d(dt, patch, ceil_mode=True), F.avg_pool2d(df, patch, ceil_mode=True), var]

    return sum((a - b).abs().mean() for a, b in zip(stats(rec), stats(x), strict=True))


def contrast_loss(rec: Any, x: Any, group: int = 16) -> Any:
    """L1 between the spectral contrast of two image batches ``(B, C, H, W)`` in [-1, 1].

    Contrast is the standard deviation over each ``group`` of neighbouring bands (``H`` is
    frequency), per frame: tonal lines give a high value, smooth noise a low one. Compared
    per frame and as its mean over time (the group's contrast whatever the line positions),
    so a decoder that cannot place every harmonic is still asked for lines of the right
    sharpness rather than their blurred average. ``H`` must be a multiple of ``group``.
    """
    g = rec.mean(dim=1)
    t = x.mean(dim=1)
    b, h, w = g.shape

    def contrast(img: Any) -> Any:
        return img.reshape(b, h // group, group, w).std(dim=2)  # (B, groups, frames)

    cg, ct = contrast(g), contrast(t)
    return (cg - ct).abs().mean() + (cg.mean(dim=-1) - ct.mean(dim=-1)).abs().mean()


def load_vae(work: Path) -> Any:
    from safetensors.torch import load_file

    from sonogen.train.model import build_vae

    vae = build_vae(model_cfg()["vae"])
    vae.load_state_dict(load_file(work / "vae" / "state.safetensors"))
    return vae.eval()


# ----------------------------------------------------------------------------- latents


def stage_encode(work: Path, per_style: int, part: int = 0, parts: int = 1) -> None:
    """Encode the first ``per_style`` training images of each style once (cached).

    With ``parts`` > 1 each process encodes every ``parts``-th image from ``part`` (run them
    on separate cores); the last one to finish joins the parts into ``WORK/latents.npy``
    (float16 ``(N, 8, 32, 32)``, the split's first N images) and measures the latent scale.
    """
    import torch

    target = work / "latents.npy"
    count = per_style * len(DEFAULT_STYLES)  # the split interleaves styles: its head is balanced
    if target.exists():
        extend_latents(work, count)
        return
    piece = work / f"latents_part{part}of{parts}.npy"
    if not piece.exists():
        vae = load_vae(work)
        data = load_split(work, "train")["images"][:count]
        mine = np.arange(part, len(data), parts)
        out = np.zeros((len(mine), vae.config.latent_channels, 32, 32), np.float16)
        start = time.perf_counter()
        with torch.inference_mode():
            for j in range(0, len(mine), 8):
                rows = mine[j:j + 8]
                out[j:j + len(rows)] = vae.encode(to_unit(data[rows])).latent_dist.mean.numpy()
                if j % 400 == 0:
                    log(f"encode part {part}: {j}/{len(mine)}, {time.perf_counter() - start:.0f} s")
        tmp = piece.with_suffix(".tmp.npy")
        np.save(tmp, out)
        tmp.rename(piece)
    pieces = [work / f"latents_part{k}of{parts}.npy" for k in range(parts)]
    if not all(p.exists() for p in pieces):
        log(f"encode part {part}: done; waiting for the other parts to join")
        return
    loaded = [np.load(p) for p in pieces]
    joined = np.zeros((sum(len(x) for x in loaded), *loaded[0].shape[1:]), np.float16)
    for k, x in enumerate(loaded):
        joined[k::parts] = x
    scale = 1.0 / float(joined.astype(np.float32).std())
    (work / "latent_scale.json").write_text(json.dumps({"scaling_factor": scale, "mean": float(joined.mean())}))
    tmp = work / f"latents.tmp{part}.npy"  # one name per process: two may join at once
    np.save(tmp, joined)
    tmp.replace(target)
    log(f"encode: {len(joined)} latents, scaling_factor {scale:.4f}")


def extend_latents(work: Path, count: int, chunk: int = 600) -> None:
    """Grow ``WORK/latents.npy`` to the split's first ``count`` images, ``chunk`` at a time.

    The file is replaced atomically after each chunk, so a running UNet stage picks the new
    rows up (see :func:`stage_unet`); the latent scale is kept, as the UNet was trained with it.
    """
    import torch

    target = work / "latents.npy"
    have = np.load(target, mmap_mode="r").shape[0]
    if have >= count:
        log(f"encode: done already ({have} latents)")
        return
    vae = load_vae(work)
    data = load_split(work, "train")["images"]
    count = min(count, len(data))
    start = time.perf_counter()
    while have < count:
        rows = np.arange(have, min(have + chunk, count))
        with torch.inference_mode():
            new = np.concatenate([vae.encode(to_unit(data[rows[j:j + 8]])).latent_dist.mean.numpy()
                                  for j in range(0, len(rows), 8)]).astype(np.float16)
        joined = np.concatenate([np.load(target), new])
        tmp = work / "latents.extend.npy"
        np.save(tmp, joined)
        tmp.replace(target)
        have = len(joined)
        log(f"encode: {have}/{count} latents, {time.perf_counter() - start:.0f} s")


# ----------------------------------------------------------------------------- UNet


def train_scheduler() -> Any:
    """DDPM training schedule: SD's scaled-linear betas rescaled to zero terminal SNR, v-prediction."""
    from diffusers import DDPMScheduler

    s = model_cfg()["scheduler"]
    return DDPMScheduler(num_train_timesteps=int(s["num_train_timesteps"]), beta_schedule=s["beta_schedule"],
                         beta_start=float(s["beta_start"]), beta_end=float(s["beta_end"]),
                         prediction_type="v_prediction", rescale_betas_zero_snr=True, clip_sample=False)


def sampling_scheduler() -> Any:
    """The scheduler shipped with the model: DPM-Solver++ (2M) on the same betas, trailing steps."""
    from diffusers import DPMSolverMultistepScheduler

    s = model_cfg()["scheduler"]
    return DPMSolverMultistepScheduler(
        num_train_timesteps=int(s["num_train_timesteps"]), beta_schedule=s["beta_schedule"],
        beta_start=float(s["beta_start"]), beta_end=float(s["beta_end"]), prediction_type="v_prediction",
        rescale_betas_zero_snr=True, timestep_spacing="trailing", final_sigmas_type="zero",
    )


def build_text_parts(work: Path, captions: list[str]) -> tuple[Any, Any]:
    """The tokenizer (learnt once, saved in ``WORK/tokenizer``) and a new text encoder."""
    from transformers import CLIPTokenizer

    from sonogen.train.model import build_text_encoder
    from sonogen.train.tokenizer import train_clip_tokenizer

    cfg = model_cfg()
    folder = work / "tokenizer"
    if not (folder / "tokenizer_config.json").exists():
        if not captions:
            raise SystemExit(f"no tokenizer in {folder}: run --stage unet first")
        tok = train_clip_tokenizer(captions, int(cfg["tokenizer"]["vocab_size"]), int(cfg["text_encoder"]["max_length"]))
        tok.save_pretrained(folder)
    tok = CLIPTokenizer.from_pretrained(folder)
    return tok, build_text_encoder(cfg["text_encoder"], tok)


def min_snr_weight(snr: Any, gamma: float = 5.0, floor: float = 0.1) -> Any:
    """Loss weight per sample for v-prediction: min(SNR, gamma) / (SNR + 1), at least ``floor``.

    The floor keeps the zero-SNR end (where the picture's overall level is decided) in
    the loss; min-SNR alone gives it weight 0.
    """
    return (snr.clamp(max=gamma) / (snr + 1.0)).clamp(min=floor)


class Ema:
    """Exponential moving average of parameters with warm-up: decay min(d, (1 + n) / (10 + n))."""

    def __init__(self, params: list[Any], decay: float) -> None:
        self.shadow = [p.detach().clone() for p in params]
        self.decay = decay
        self.updates = 0

    def update(self, params: list[Any]) -> None:
        import torch

        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in params], 1.0 - d)


def stage_unet(work: Path, minutes: float, seed: int, full_width_after: float, batch: int, lr: float) -> None:
    """Train UNet + text encoder until ``minutes`` of wall time pass (resumable)."""
    import torch
    from safetensors.torch import load_file

    from sonogen.train.model import build_unet

    torch.manual_seed(seed)
    cfg = model_cfg()
    scale = json.loads((work / "latent_scale.json").read_text())["scaling_factor"]
    meta = load_split(work, "train")
    all_captions = [str(c) for c in meta["captions"]]
    tok, text_encoder = build_text_parts(work, all_captions[:len(np.load(work / "latents.npy", mmap_mode="r"))])

    def read_latents() -> tuple[Any, Any, float]:
        mtime = (work / "latents.npy").stat().st_mtime
        lat = torch.from_numpy(np.load(work / "latents.npy")).float() * scale
        tokens = tok(all_captions[:len(lat)], padding="max_length", max_length=tok.model_max_length,
                     truncation=True, return_tensors="pt").input_ids
        return lat, tokens, mtime

    latents, ids, latents_mtime = read_latents()
    empty = tok([""], padding="max_length", max_length=tok.model_max_length, return_tensors="pt").input_ids
    unet = build_unet(cfg["unet"], latents.shape[1], int(cfg["text_encoder"]["hidden_size"]), 32)
    models = [unet, text_encoder]
    params = [p for m in models for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema = Ema(params, 0.999)
    sched = train_scheduler()
    alphas = sched.alphas_cumprod.float()
    state_dir = work / "unet"
    state_dir.mkdir(exist_ok=True)
    step, elapsed = 0, 0.0
    if (state_dir / "state.json").exists():
        st = json.loads((state_dir / "state.json").read_text())
        step, elapsed = int(st["step"]), float(st["elapsed"])
        unet.load_state_dict(load_file(state_dir / "unet.safetensors"))
        text_encoder.load_state_dict(load_file(state_dir / "text_encoder.safetensors"))
        ema_sd = load_file(state_dir / "ema.safetensors")
        ema.shadow = [ema_sd[str(i)] for i in range(len(params))]
        ema.updates = int(st["ema_updates"])
        opt.load_state_dict(torch.load(state_dir / "opt.pt", weights_only=True))
        log(f"unet: resumed at step {step} ({elapsed / 60:.1f} min trained)")
    rng = np.random.default_rng(seed + step)
    warmup = 200
    budget = minutes * 60
    session_start = time.time()
    last_save = time.time()
    losses: list[float] = []
    t_last = time.perf_counter()
    while True:
        now_elapsed = elapsed + (time.time() - session_start)
        if now_elapsed >= budget:
            break
        full = now_elapsed >= full_width_after * budget
        width = 32 if full else 16
        bsz = batch // 2 if full else batch
        idx = torch.from_numpy(rng.integers(0, len(latents), bsz))
        x0 = latents[idx]
        if not full:
            off = rng.integers(0, 32 - width + 1, bsz)
            x0 = torch.stack([x0[i, :, :, o:o + width] for i, o in enumerate(off)])
        tokens = ids[idx].clone()
        drop = torch.from_numpy(rng.random(bsz) < 0.1)
        tokens[drop] = empty[0]
        noise = torch.randn_like(x0)
        t = torch.from_numpy(rng.integers(0, sched.config.num_train_timesteps, bsz))
        xt = sched.add_noise(x0, noise, t)
        target = sched.get_velocity(x0, noise, t)
        states = text_encoder(tokens)[0]
        pred = unet(xt, t, encoder_hidden_states=states).sample
        a = alphas[t]
        w = min_snr_weight(a / (1 - a).clamp(min=1e-8))
        loss = (w * (pred - target).pow(2).mean(dim=(1, 2, 3))).mean()
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(params)
        step += 1
        losses.append(float(loss.detach()))
        if step % 50 == 0:
            _follow_thread_file(work)
            if (work / "latents.npy").stat().st_mtime != latents_mtime:  # the encode stage grew it
                latents, ids, latents_mtime = read_latents()
                log(f"unet: now training on {len(latents)} latents")
            dt = time.perf_counter() - t_last
            t_last = time.perf_counter()
            log(f"unet step {step} ({'full' if full else 'crop'}): loss {np.mean(losses[-50:]):.4f}, "
                f"{50 * bsz / dt:.1f} samples/s, {now_elapsed / 60:.1f}/{minutes:.0f} min")
            with (state_dir / "loss.jsonl").open("a") as f:
                f.write(json.dumps({"step": step, "loss": float(np.mean(losses[-50:])), "minutes": now_elapsed / 60,
                                    "width": width}) + "\n")
        if time.time() - last_save > 600:
            _save_unet(state_dir, unet, text_encoder, ema, opt, step, elapsed + (time.time() - session_start))
            last_save = time.time()
    _save_unet(state_dir, unet, text_encoder, ema, opt, step, elapsed + (time.time() - session_start))
    log(f"unet: stopped at step {step}")


def _follow_thread_file(work: Path) -> None:
    """Apply ``WORK/threads`` (a number) as torch's thread count, so a long run can be
    given more cores when the machine frees up, without a restart."""
    import torch

    try:
        wanted = int((work / "threads").read_text().strip())
    except (OSError, ValueError):
        return
    if wanted >= 1 and wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
        log(f"unet: now {wanted} threads")


def _save_unet(folder: Path, unet: Any, text_encoder: Any, ema: Ema, opt: Any, step: int, elapsed: float) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in unet.state_dict().items()}, folder / "unet.tmp")
    save_file({k: v.contiguous() for k, v in text_encoder.state_dict().items()}, folder / "text_encoder.tmp")
    save_file({str(i): p.contiguous() for i, p in enumerate(ema.shadow)}, folder / "ema.tmp")
    torch.save(opt.state_dict(), folder / "opt.tmp")
    for name, ext in (("unet", "safetensors"), ("text_encoder", "safetensors"), ("ema", "safetensors"), ("opt", "pt")):
        (folder / f"{name}.tmp").replace(folder / f"{name}.{ext}")
    (folder / "state.json").write_text(json.dumps({"step": step, "elapsed": elapsed, "ema_updates": ema.updates}))
    log(f"unet: saved step {step}")


# ----------------------------------------------------------------------------- export


def assemble(work: Path, use_ema: bool = True) -> Any:
    """The trained pipeline (float32, CPU) from ``WORK``: EMA weights by default."""
    import torch
    from safetensors.torch import load_file

    from sonogen.pipeline.pipeline import SonogenPipeline
    from sonogen.spectrogram.params import SpectrogramParams
    from sonogen.train.model import build_unet

    cfg = model_cfg()
    vae = load_vae(work)
    vae.register_to_config(scaling_factor=json.loads((work / "latent_scale.json").read_text())["scaling_factor"])
    meta_captions: list[str] = []
    tok, text_encoder = build_text_parts(work, meta_captions)
    unet = build_unet(cfg["unet"], vae.config.latent_channels, int(cfg["text_encoder"]["hidden_size"]), 32)
    folder = work / "unet"
    unet.load_state_dict(load_file(folder / "unet.safetensors"))
    text_encoder.load_state_dict(load_file(folder / "text_encoder.safetensors"))
    if use_ema:
        shadow = load_file(folder / "ema.safetensors")
        params = [p for m in (unet, text_encoder) for p in m.parameters()]
        with torch.no_grad():
            for i, p in enumerate(params):
                p.copy_(shadow[str(i)])
    pipe = SonogenPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tok, unet=unet.eval(),
                           scheduler=sampling_scheduler())
    pipe.spectrogram_params = SpectrogramParams()
    return pipe


def stage_export(work: Path, target: Path, sampling: dict[str, Any]) -> dict[str, Any]:
    """fp16 safetensors shards (<= 15 MB each, <= 60 MB in all) into ``target``, swapped in atomically."""
    import torch

    pipe = assemble(work)
    pipe.to(torch.float16)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".default-", dir=target.parent))
    pipe.save_pretrained(tmp, safe_serialization=True, max_shard_size="15MB")
    (tmp / "sampling.json").write_text(json.dumps(sampling, indent=2) + "\n")
    sizes = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    weights = {k: v for k, v in sizes.items() if k.endswith(".safetensors")}
    total, largest = sum(sizes.values()), max(weights.values())
    if largest > MAX_SHARD or total > MAX_TOTAL:
        shutil.rmtree(tmp)
        raise SystemExit(f"export too large: largest shard {largest} B, total {total} B")
    old = target.with_name(target.name + ".old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    log(f"exported {len(sizes)} files, {total / 1e6:.1f} MB, largest shard {largest / 1e6:.1f} MB -> {target}")
    return {"files": sizes, "total": total, "largest": largest}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train and export sonogen's embedded default model on the CPU.")
    p.add_argument("--work", type=Path, default=WORK, help=f"state folder (default {WORK})")
    p.add_argument("--stage", choices=("all", "data", "vae", "encode", "unet", "decoder", "export"), default="all")
    p.add_argument("--minutes", type=float, default=120.0, help="UNet wall-time budget in all, resumable (120)")
    p.add_argument("--vae-minutes", type=float, default=12.0, help="VAE wall-time budget for this call (12)")
    p.add_argument("--full-width-after", type=float, default=0.8, help="fraction of the budget on time crops (0.8)")
    p.add_argument("--contrast-weight", type=float, default=0.0,
                   help="decoder: weight of the spectral-contrast loss (0; run 3 uses it)")
    p.add_argument("--texture-weight", type=float, default=1.0,
                   help="decoder: weight of the texture-statistics loss (1.0; run 1 trained without it)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--encode-per-style", type=int, default=300, help="training images per style to encode (300)")
    p.add_argument("--part", type=int, default=0, help="encode: this process's part (0)")
    p.add_argument("--parts", type=int, default=1, help="encode: parts run in parallel (1)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads (2); WORK/threads, when present, overrides it during the UNet stage")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export-dir", type=Path, default=PACKAGE_DIR)
    p.add_argument("--steps", type=int, default=20, help="sampling steps written to sampling.json (20)")
    p.add_argument("--guidance", type=float, default=4.0, help="guidance written to sampling.json (4.0)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    stages = ["data", "vae", "encode", "unet", "export"] if args.stage == "all" else [args.stage]
    for stage in stages:
        start = time.perf_counter()
        if stage == "data":
            stage_data(work, args.workers)
        elif stage == "vae":
            stage_vae(work, args.vae_minutes, args.seed)
        elif stage == "encode":
            stage_encode(work, args.encode_per_style, args.part, args.parts)
        elif stage == "decoder":
            stage_decoder(work, args.vae_minutes, args.seed, args.texture_weight, args.contrast_weight)
        elif stage == "unet":
            stage_unet(work, args.minutes, args.seed, args.full_width_after, args.batch, args.lr)
        elif stage == "export":
            sampling = {"num_inference_steps": args.steps, "guidance_scale": args.guidance}
            sizes = stage_export(work, args.export_dir.resolve(), sampling)
            (work / "export_sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
        log(f"stage {stage}: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
