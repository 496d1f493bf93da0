"""Few-step distillation: a student that samples in a handful of steps, guidance included.

Latent consistency distillation (Luo et al., 2023), with classifier-free guidance folded
into the student at one scale. The teacher is a finished model (``--teacher``, any diffusers
folder sonogen loads, or the model the output folder trained); the student starts as a
copy of its UNet and is saved in ``OUT/student``. For each batch of cached
latents ``x0``:

1. pick a step ``t`` on the teacher's ``N``-step grid (``t = k * 1000 / N - 1``) and the
   grid step before it, ``s`` (``-1`` below the first: the clean end);
2. noise ``x0`` to ``x_t``;
3. the teacher, with guidance ``w``, takes one DDIM step from ``x_t`` to ``x_s``;
4. the target network (an exponential moving average of the student) maps ``x_s`` to
   its clean estimate, the student maps ``x_t`` to its own; a pseudo-Huber loss pulls
   the student's estimate to the target's.

Both estimates use the consistency parametrisation ``c_skip(t) x + c_out(t) x0_pred``
with diffusers' ``LCMScheduler`` scalings (``sigma_data = 0.5``, timesteps scaled by 10),
so the saved student samples with that scheduler: ``N`` is its ``original_inference_steps``
and its ``sampling.json`` asks for ``sampling_steps`` steps at guidance 1 (no second,
unconditional pass: the guidance is already in the weights).

With ``method: "guidance"`` the student learns only the guidance (Meng et al., 2023, its
first stage): for ``x_t`` at a uniformly drawn ``t``, one pass of the student is pulled (mean
squared error, in the teacher's prediction space) to the teacher's guided output
``u + w (c - u)``, two passes. The student then samples with the teacher's own solver at
guidance 1, so each step costs one pass instead of two; its ``sampling.json`` asks for
``sampling_steps`` steps. No target network is kept.

With ``method: "trajectory"`` the student learns the teacher's path over each step of its
own grid (Meng et al.'s progressive distillation, done in one go on a fixed grid, as in
Berthelot et al.'s TRACT): for ``x_t`` at a step ``t`` of the student's ``sampling_steps``
DDIM grid (trailing spacing) and the next step ``s``, the guided teacher walks from ``t`` to
``s`` in ``teacher_substeps`` DPM-Solver++(2M) sub-steps, and one pass of the student is
pulled to the output whose single DDIM step lands where the teacher did. The student then
samples with DDIM on that grid at guidance 1: its steps carry the accuracy of the teacher's
finer walk, which a guidance student (bounded by the teacher's solver at as many steps)
cannot. ``init_adapter`` starts the LoRA from a saved adapter folder (a relative path is
looked up in the teacher's folder, so ``"few_step"`` continues its packaged student).
``teacher_adapter`` makes such a trajectory student the teacher of the next (progressive
distillation: a 4-step student of an 8-step one, ``teacher_substeps`` 2, guidance 1): the
teacher then walks in its own DDIM steps, one pass each.

With ``lora_rank`` > 0 in the options the student is the teacher plus a LoRA adapter of
that rank on its attention, feed-forward and residual-block layers (only the adapter
trains; the target averages the adapter). ``OUT/student`` is then the teacher's model
folder unchanged, with the adapter, its LCM scheduler and its ``sampling.json`` in
``OUT/student/few_step/`` (the adapter, its scheduler, its ``sampling.json``): one folder
carries both the many-step teacher and its few-step student for a few megabytes more.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from diffusers import LCMScheduler
from tqdm import tqdm

from sonogen.errors import SonogenError
from sonogen.pipeline.model_files import FEW_STEP_DIR, read_sampling_defaults
from sonogen.train.config import TrainConfig
from sonogen.train.data import tokenize
from sonogen.train.latents import CACHE_DIR, CachedLatents, collate_latents, update_cache
from sonogen.train.model import load_components, save_pipeline
from sonogen.train.state import LossLog, latest_state, save_state, state_step

logger = logging.getLogger(__name__)

DISTILL_DIR = "distill"
STUDENT_DIR = "student"
#: The UNet layers a few-step adapter changes (diffusers' module names).
FEW_STEP_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
                    "conv1", "conv2"]
SIGMA_DATA = 0.5
TIMESTEP_SCALING = 10.0


def boundary_scalings(timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out)`` of the consistency parametrisation at integer ``timesteps`` ``(B,)``.

    At ``t = 0`` (and below) ``c_skip`` is 1 and ``c_out`` 0, so the clean end maps to itself.
    """
    scaled = timesteps.clamp(min=0).float() * TIMESTEP_SCALING
    c_skip = SIGMA_DATA**2 / (scaled**2 + SIGMA_DATA**2)
    c_out = scaled / (scaled**2 + SIGMA_DATA**2).sqrt()
    return c_skip, c_out


def solver_grid(num_train_timesteps: int, steps: int) -> torch.Tensor:
    """The teacher's ``steps``-step grid ``(steps,)``: ``k * (T / steps) - 1`` for k = 1..steps."""
    ratio = num_train_timesteps // steps
    return torch.arange(1, steps + 1) * ratio - 1


def _expand(values: torch.Tensor) -> torch.Tensor:
    return values[:, None, None, None]


def clean_and_noise(pred: torch.Tensor, x: torch.Tensor, alpha_bar: torch.Tensor,
                    prediction_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean-latent and noise estimates ``(x0, eps)`` from a UNet output at ``alpha_bar`` ``(B,)``."""
    a, s = _expand(alpha_bar.sqrt()), _expand((1.0 - alpha_bar).sqrt())
    if prediction_type == "v_prediction":
        return a * x - s * pred, s * x + a * pred
    x0 = (x - s * pred) / a.clamp(min=1e-8)
    return x0, pred


def consistency_output(unet: Any, x: torch.Tensor, t: torch.Tensor, states: torch.Tensor, alphas: torch.Tensor,
                       prediction_type: str) -> torch.Tensor:
    """``c_skip(t) x + c_out(t) x0(x, t)``: a network's consistency estimate of the clean latents."""
    pred = unet(x, t.clamp(min=0), encoder_hidden_states=states).sample.float()
    x0, _ = clean_and_noise(pred, x, alphas[t.clamp(min=0)], prediction_type)
    c_skip, c_out = boundary_scalings(t)
    return _expand(c_skip) * x + _expand(c_out) * x0


def pseudo_huber(a: torch.Tensor, b: torch.Tensor, c: float) -> torch.Tensor:
    """Mean of ``sqrt((a - b)^2 + c^2) - c``: L2 near zero, L1 for large errors."""
    return (((a.float() - b.float()) ** 2 + c * c).sqrt() - c).mean()


def guided_output(teacher: Any, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor,
                  guidance: float) -> torch.Tensor:
    """The teacher's guided output ``u + w (c - u)`` ``(B, C, h, w)`` at ``x_t`` and ``t`` ``(B,)``.

    It is in the teacher's own prediction space; the clean and noise estimates are linear
    in the output at a given ``x_t``, so guiding the output guides both of them alike.
    """
    if guidance == 1.0:  # the conditional output alone: one pass
        return teacher(x_t, t, encoder_hidden_states=cond).sample.float()
    both = teacher(torch.cat([x_t, x_t]), torch.cat([t, t]), encoder_hidden_states=torch.cat([uncond, cond])).sample
    unconditional, conditional = both.float().chunk(2)
    return unconditional + guidance * (conditional - unconditional)


def teacher_step(teacher: Any, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor, cond: torch.Tensor,
                 uncond: torch.Tensor, guidance: float, alphas: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """One guided DDIM step of the teacher from ``x_t`` at ``t`` to ``s`` (``s < 0``: the clean
    estimate): a :func:`teacher_walk` of one first-order sub-step."""
    return teacher_walk(teacher, x_t, t, s, cond, uncond, guidance, alphas, prediction_type, 1, order=1)


def alpha_sigma(alphas: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal and noise scales ``(alpha, sigma)``, each ``(B, 1, 1, 1)``, at integer steps ``t``
    ``(B,)`` of the cumulative products ``alphas`` ``(T,)``; ``t < 0`` is the clean end (1, 0)."""
    bar = torch.where(t >= 0, alphas[t.clamp(min=0)], torch.ones_like(alphas[:1]))
    return _expand(bar.sqrt()), _expand((1.0 - bar).clamp(min=0.0).sqrt())


def ddim_move(x: torch.Tensor, x0: torch.Tensor, a_from: torch.Tensor, s_from: torch.Tensor, a_to: torch.Tensor,
              s_to: torch.Tensor) -> torch.Tensor:
    """One deterministic DDIM step: the latents at scales ``(a_to, s_to)`` that share the noise
    of ``x`` (at ``(a_from, s_from)``, ``s_from > 0``) and the clean estimate ``x0``."""
    ratio = s_to / s_from
    return ratio * x + (a_to - a_from * ratio) * x0


def ddim_clean_target(x_t: torch.Tensor, x_s: torch.Tensor, a_t: torch.Tensor, s_t: torch.Tensor, a_s: torch.Tensor,
                      s_s: torch.Tensor) -> torch.Tensor:
    """The clean estimate whose DDIM step from ``x_t`` lands on ``x_s`` (the inverse of
    :func:`ddim_move` in ``x0``); ``s`` must be cleaner than ``t``, so the divisor is positive."""
    ratio = s_s / s_t
    return (x_s - ratio * x_t) / (a_s - a_t * ratio)


def prediction_from_clean(x0: torch.Tensor, x_t: torch.Tensor, a_t: torch.Tensor, s_t: torch.Tensor,
                          prediction_type: str) -> torch.Tensor:
    """The UNet output (``v`` or noise, per ``prediction_type``) that means clean estimate ``x0`` at ``x_t``."""
    if prediction_type == "v_prediction":
        return (a_t * x_t - x0) / s_t
    return (x_t - a_t * x0) / s_t


def sub_steps(t: torch.Tensor, s: torch.Tensor, count: int) -> list[torch.Tensor]:
    """``count + 1`` integer steps ``(B,)`` from ``t`` down to ``s``, evenly spaced (rounded)."""
    return [t - ((t - s) * j + count // 2) // count for j in range(count + 1)]


def log_snr(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``log(alpha / sigma)``, kept finite at both ends (pure noise, the clean end)."""
    return torch.log(a.clamp(min=1e-10)) - torch.log(s.clamp(min=1e-10))


def teacher_walk(teacher: Any, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor, cond: torch.Tensor,
                 uncond: torch.Tensor, guidance: float, alphas: torch.Tensor, prediction_type: str,
                 count: int, order: int = 2) -> torch.Tensor:
    """The guided teacher's walk from ``x_t`` at ``t`` to ``s`` (``s < 0``: the clean end) in
    ``count`` DPM-Solver++(2M) sub-steps (the first, and one into the clean end, first order),
    or with ``order`` 1 in DDIM steps (a distilled teacher, trained for such steps);
    returns the latents at ``s``, shaped as ``x_t``."""
    points = sub_steps(t, s, count)
    x, previous, previous_h = x_t, None, None
    for here, there in zip(points[:-1], points[1:], strict=True):
        a, sg = alpha_sigma(alphas, here)
        a2, s2 = alpha_sigma(alphas, there)
        x0, _ = clean_and_noise(guided_output(teacher, x, here, cond, uncond, guidance), x, alphas[here],
                                prediction_type)
        h = log_snr(a2, s2) - log_snr(a, sg)
        estimate = x0
        if order == 2 and previous is not None and previous_h is not None:  # second order from the last estimate
            r = previous_h / h
            estimate = torch.where(_expand(there >= 0), x0 + (x0 - previous) / (2.0 * r), x0)
        x = ddim_move(x, estimate, a, sg, a2, s2)
        previous, previous_h = x0, h
    return x


def ddim_scheduler(teacher_scheduler: Any) -> Any:
    """A deterministic DDIM sampler on the teacher's betas, prediction type and rescaling, with
    trailing spacing, no clipping and the clean end at alpha 1 (what a trajectory student steps with)."""
    from diffusers import DDIMScheduler

    config = teacher_scheduler.config
    return DDIMScheduler(
        num_train_timesteps=int(config.num_train_timesteps), beta_start=float(config.beta_start),
        beta_end=float(config.beta_end), beta_schedule=str(config.beta_schedule),
        prediction_type=str(config.prediction_type),
        rescale_betas_zero_snr=bool(getattr(config, "rescale_betas_zero_snr", False)),
        clip_sample=False, thresholding=False, set_alpha_to_one=True, timestep_spacing="trailing",
    )


def student_grid(scheduler: Any, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The DDIM sampler's ``steps``-step grid ``(steps,)`` and each step's destination (``-1``: clean)."""
    scheduler.set_timesteps(steps)
    t = scheduler.timesteps.long().clone()
    return t, t - int(scheduler.config.num_train_timesteps) // steps


def adapter_path(teacher_path: str, given: Any) -> Path:
    """An adapter folder named in the options: as given when absolute, else in the teacher's folder."""
    path = Path(str(given)).expanduser()
    return path if path.is_absolute() else Path(teacher_path) / path


def load_adapter_weights(student: Any, folder: Path, role: str = "init_adapter") -> None:
    """Set the student's LoRA to the adapter saved in ``folder`` (same targets and rank);
    ``role`` names the option that asked for it in errors."""
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise SonogenError(f"{role}: no adapter_model.safetensors in {folder}")
    try:
        result = set_peft_model_state_dict(student, {k: v.float() for k, v in load_file(str(weights)).items()})
    except RuntimeError:  # a shape mismatch: another rank, another model
        result = None
    if result is None or getattr(result, "unexpected_keys", None):
        raise SonogenError(f"{role} {folder} does not fit this student (rank or layers differ)")


def adapted_teacher(unet: Any, folder: Path) -> Any:
    """A frozen copy of ``unet`` with the few-step adapter in ``folder``: a distilled student as
    the teacher of the next (the adapter stays separate, so a new student's adapter still
    applies to the plain ``unet``)."""
    import json

    try:
        rank = int(json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    except (OSError, ValueError, KeyError, TypeError):
        raise SonogenError(f"teacher_adapter: no readable adapter_config.json in {folder}") from None
    teacher = few_step_student(unet, rank)
    load_adapter_weights(teacher, folder, "teacher_adapter")
    return teacher.eval().requires_grad_(False)


def few_step_student(teacher: Any, rank: int) -> Any:
    """A trainable copy of ``teacher``: all of it (``rank`` 0), or it frozen with a new LoRA
    adapter of ``rank`` on :data:`FEW_STEP_TARGETS`, which starts as the identity (its up
    projections are zero), so the student starts equal to its teacher either way."""
    student = copy.deepcopy(teacher).train()
    if not rank:
        return student.requires_grad_(True)
    from peft import LoraConfig

    student.requires_grad_(False)
    student.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=True, target_modules=FEW_STEP_TARGETS))
    return student


def save_few_step(unet: Any, scheduler: Any, sampling: dict[str, float], folder: Path) -> None:
    """``folder``: the adapter of ``unet`` as a PEFT adapter folder (``adapter_config.json``,
    ``adapter_model.safetensors``, what :func:`sonogen.pipeline.lora.apply_lora` reads), the
    scheduler's config and ``sampling.json``."""
    import json

    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = unet.peft_config["default"].to_dict()
    config["target_modules"] = sorted(config["target_modules"])
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    weights = {k: v.detach().float().contiguous() for k, v in get_peft_model_state_dict(unet).items()}
    save_file(weights, str(folder / "adapter_model.safetensors"))
    scheduler.save_pretrained(str(folder))
    (folder / "sampling.json").write_text(json.dumps(sampling, indent=2) + "\n", encoding="utf-8")


def student_scheduler(teacher_scheduler: Any, teacher_steps: int) -> LCMScheduler:
    """The LCM sampler for the student, on the teacher's betas, prediction type and rescaling."""
    config = teacher_scheduler.config
    return LCMScheduler(
        num_train_timesteps=int(config.num_train_timesteps), beta_start=float(config.beta_start),
        beta_end=float(config.beta_end), beta_schedule=str(config.beta_schedule),
        prediction_type=str(config.prediction_type), original_inference_steps=teacher_steps,
        rescale_betas_zero_snr=bool(getattr(config, "rescale_betas_zero_snr", False)),
        timestep_scaling=TIMESTEP_SCALING, set_alpha_to_one=True,
    )


def distill(cfg: TrainConfig, options: dict[str, Any], rows: list[dict[str, Any]], width: int, accelerator: Any,
            log: LossLog, out: Path, deadline: float | None) -> tuple[int, bool]:
    """Run the ``distill`` stage; returns ``(steps done in all, finished)``.

    Args:
        cfg: the training settings (``teacher``, default the model in ``out``; seed,
            checkpointing, resume, export).
        options: the model config's ``distill_training`` section.
        rows, width: the dataset rows and image width (pixels) to encode with the teacher's VAE.
        deadline: ``time.time()`` to stop at (None: no limit).
    """
    teacher_path = cfg.teacher or str(out)
    if not cfg.teacher and not (out / "model_index.json").is_file():
        raise SonogenError(f"no trained model in {out} to distil: train the unet stage first or pass --teacher")
    parts, params = load_components(teacher_path)
    device = accelerator.device  # the frozen parts live where the student trains
    vae, text_encoder, tokenizer = parts["vae"].to(device), parts["text_encoder"].eval().to(device), parts["tokenizer"]
    teacher = parts["unet"].eval().requires_grad_(False).to(device)
    text_encoder.requires_grad_(False)
    cache = out / CACHE_DIR
    if accelerator.is_main_process:
        update_cache(vae, rows, cache, width, accelerator.device, progress=cfg.progress)
    accelerator.wait_for_everyone()
    data = CachedLatents(cache, vae.config.scaling_factor, getattr(vae.config, "shift_factor", None),
                         texts={r["file_name"]: r["text"] for r in rows})
    batch = int(options["batch_size"])
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, collate_fn=collate_latents,
                                         drop_last=len(data) >= batch,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    rank = int(options.get("lora_rank") or 0)
    method = str(options.get("method", "consistency"))
    consistency = method == "consistency"
    student = few_step_student(teacher, rank)
    if options.get("init_adapter"):
        if not rank:
            raise SonogenError("distill_training.init_adapter needs lora_rank > 0 (it starts a LoRA student)")
        load_adapter_weights(student, adapter_path(teacher_path, options["init_adapter"]))
    order = 2
    if options.get("teacher_adapter"):  # a distilled student teaches: its own DDIM steps, one pass each
        teacher, order = adapted_teacher(teacher, adapter_path(teacher_path, options["teacher_adapter"])), 1
    target = copy.deepcopy(student).eval().requires_grad_(False) if consistency else None
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=float(options["learning_rate"]), weight_decay=0.0)
    student, optimizer, loader = accelerator.prepare(student, optimizer, loader)
    if target is not None:
        accelerator.register_for_checkpointing(target)
    folder = out / DISTILL_DIR
    step = 0
    previous = latest_state(folder) if cfg.resume else None
    if previous is not None:
        accelerator.load_state(str(previous))
        step = state_step(previous)
        log.trim("distill", step)

    sched = parts["scheduler"]
    alphas = sched.alphas_cumprod.to(accelerator.device).float()
    prediction = str(sched.config.prediction_type)
    grid = solver_grid(int(sched.config.num_train_timesteps), int(options["teacher_steps"]))
    ratio = int(grid[1] - grid[0]) if len(grid) > 1 else int(grid[0]) + 1
    guidance, decay, huber_c = float(options["guidance_scale"]), float(options["ema_decay"]), float(options["huber_c"])
    steps = int(options["steps"])
    ddim = ddim_scheduler(sched)
    path_t, path_s = student_grid(ddim, int(options["sampling_steps"]))
    path_t, path_s = path_t.to(accelerator.device), path_s.to(accelerator.device)
    ddim_alphas = ddim.alphas_cumprod.to(accelerator.device).float()
    substeps = int(options.get("teacher_substeps") or 1)
    if method == "trajectory" and int(path_t[0] - path_s[0]) < substeps:
        raise SonogenError("distill_training: teacher_substeps is finer than one training step of the student's grid")
    with torch.no_grad():
        empty = text_encoder(tokenize(tokenizer, [""], accelerator.device))[0]
    bar = tqdm(total=steps, initial=step, desc="stage: distill", disable=not (cfg.progress and accelerator.is_main_process))
    clock, finished = time.time(), True
    batches: Iterator[Any] = iter(())
    while step < steps:
        if deadline is not None and time.time() >= deadline:
            finished = False
            break
        try:
            item = next(batches)
        except StopIteration:
            batches = iter(loader)
            item = next(batches)
        x0 = item["latents"].float()
        with torch.no_grad():
            cond = text_encoder(tokenize(tokenizer, list(item["text"]), accelerator.device))[0]
        uncond = empty.expand(len(x0), -1, -1)
        noise = torch.randn_like(x0)
        if method == "trajectory":  # one pass learns the teacher's walk over one step of the grid
            pick = torch.randint(0, len(path_t), (len(x0),), device=accelerator.device)
            t, s = path_t[pick], path_s[pick]
            a_t, s_t = alpha_sigma(ddim_alphas, t)
            x_t = a_t * x0 + s_t * noise
            with torch.no_grad():
                x_s = teacher_walk(teacher, x_t, t, s, cond, uncond, guidance, ddim_alphas, prediction, substeps,
                                   order)
                a_s, s_s = alpha_sigma(ddim_alphas, s)
                goal = prediction_from_clean(ddim_clean_target(x_t, x_s, a_t, s_t, a_s, s_s), x_t, a_t, s_t,
                                             prediction)
            estimate = student(x_t, t, encoder_hidden_states=cond).sample.float()
            loss = torch.nn.functional.mse_loss(estimate, goal)
        elif target is None:  # guidance: one pass learns the teacher's two
            t = torch.randint(0, int(sched.config.num_train_timesteps), (len(x0),), device=accelerator.device)
            x_t = sched.add_noise(x0, noise, t)
            with torch.no_grad():
                goal = guided_output(teacher, x_t, t, cond, uncond, guidance)
            estimate = student(x_t, t, encoder_hidden_states=cond).sample.float()
            loss = torch.nn.functional.mse_loss(estimate, goal)
        else:
            t = grid[torch.randint(0, len(grid), (len(x0),))].to(accelerator.device)
            s = t - ratio
            x_t = sched.add_noise(x0, noise, t)
            with torch.no_grad():
                x_s = teacher_step(teacher, x_t, t, s, cond, uncond, guidance, alphas, prediction)
                goal = consistency_output(target, x_s, s, cond, alphas, prediction)
            estimate = consistency_output(student, x_t, t, cond, alphas, prediction)
            loss = pseudo_huber(estimate, goal, huber_c)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if target is not None:
            with torch.no_grad():  # the target follows what trains in the student, slowly
                for p_t, p_s in zip(target.parameters(), accelerator.unwrap_model(student).parameters(), strict=True):
                    if p_s.requires_grad:
                        p_t.lerp_(p_s.detach(), 1.0 - decay)
        step += 1
        bar.update()
        log.write(stage="distill", step=step, loss=float(loss.detach()), time_s=round(time.time() - clock, 3))
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < steps:
            save_state(accelerator, folder, step, cfg.keep_checkpoints)
    bar.close()
    save_state(accelerator, folder, step, cfg.keep_checkpoints)
    if accelerator.is_main_process:
        # a consistency student samples with the LCM sampler, a trajectory student with DDIM on
        # its grid, a guidance student with the teacher's own
        few_sched = {"consistency": student_scheduler(sched, int(options["teacher_steps"])),
                     "trajectory": ddim}.get(method, sched)
        sampling = {"num_inference_steps": int(options["sampling_steps"]), "guidance_scale": 1.0}
        trained = accelerator.unwrap_model(student).float().eval()
        if rank:
            teacher_sampling = read_sampling_defaults(Path(teacher_path)) or None
            targets = [(out / STUDENT_DIR, False)] + ([(Path(cfg.export), True)] if cfg.export else [])
            for folder, fp16 in targets:
                save_pipeline(parts, params, folder, teacher_sampling, fp16=fp16)
                save_few_step(trained, few_sched, sampling, folder / FEW_STEP_DIR)
        else:
            final = dict(parts, unet=trained, scheduler=few_sched)
            save_pipeline(final, params, out / STUDENT_DIR, sampling)
            if cfg.export:
                save_pipeline(final, params, cfg.export, sampling, fp16=True)
        log.plot()
    accelerator.wait_for_everyone()
    return step, finished
