"""Samplers read from a diffusers scheduler config: DPM-Solver++, DDIM and the LCM sampler.

:class:`DPMSolverPP` follows the published multistep solver (Lu et al., "DPM-Solver++",
2022), :class:`DDIMSampler` the deterministic DDIM step (Song et al., 2021) and
:class:`LCMSampler` the latent consistency model's multistep sampling (Luo et al., 2023),
each in the parametrisation of the diffusers scheduler of the same config
(``DPMSolverMultistepScheduler``, ``DDIMScheduler``, ``LCMScheduler``), so that for the configs
:func:`sampler_supports` accepts they visit the same timesteps and make the same latents
within float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_REQUIRED: dict[str, Any] = {
    "algorithm_type": "dpmsolver++",
    "thresholding": False,
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
    "use_lu_lambdas": False,
    "use_flow_sigmas": False,
    "use_dynamic_shifting": False,
    "euler_at_final": False,
    "lower_order_final": True,
    "variance_type": None,
    "trained_betas": None,
}


#: what the LCM and DDIM configs must leave at diffusers' plain settings
_UNCLIPPED: dict[str, Any] = {"thresholding": False, "clip_sample": False, "trained_betas": None}


def _schedule_supported(config: Mapping[str, Any]) -> str | None:
    """None when the betas and the prediction type are ones the samplers here compute."""
    if config.get("beta_schedule", "scaled_linear") not in ("scaled_linear", "linear"):
        return f"scheduler beta_schedule={config.get('beta_schedule')!r}"
    if config.get("prediction_type", "epsilon") not in ("epsilon", "v_prediction", "sample"):
        return f"scheduler prediction_type={config.get('prediction_type')!r}"
    return None


def sampler_supports(config: Mapping[str, Any]) -> str | None:
    """None when :func:`make_sampler` can follow ``config``, else the reason it cannot."""
    if config.get("_class_name") in ("LCMScheduler", "DDIMScheduler"):
        for key, value in _UNCLIPPED.items():
            if config.get(key, value) != value:
                return f"scheduler {key}={config.get(key)!r}"
        if config.get("_class_name") == "DDIMScheduler" and \
                config.get("timestep_spacing", "leading") not in ("linspace", "leading", "trailing"):
            return f"scheduler timestep_spacing={config.get('timestep_spacing')!r}"
        return _schedule_supported(config)
    if config.get("_class_name") != "DPMSolverMultistepScheduler":
        return f"scheduler {config.get('_class_name')!r}"
    for key, value in _REQUIRED.items():
        if config.get(key, value) != value:
            return f"scheduler {key}={config.get(key)!r}"
    checks = {
        "beta_schedule": ("scaled_linear", "linear"),
        "prediction_type": ("epsilon", "v_prediction", "sample"),
        "solver_type": ("midpoint", "heun"),
        "solver_order": (1, 2),
        "final_sigmas_type": ("zero", "sigma_min"),
        "timestep_spacing": ("linspace", "leading", "trailing"),
    }
    for key, allowed in checks.items():
        if key in config and config[key] not in allowed:
            return f"scheduler {key}={config[key]!r}"
    if config.get("lambda_min_clipped", -float("inf")) != -float("inf"):
        return "scheduler lambda_min_clipped"
    return None


def _require_supported(config: Mapping[str, Any]) -> None:
    reason = sampler_supports(config)
    if reason:
        raise ValueError(f"unsupported sampler: {reason}")


def clean_estimate(prediction_type: str, prediction: torch.Tensor, sample: torch.Tensor,
                   alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The clean latents a network's ``prediction`` implies for ``sample = alpha x0 + sigma eps``."""
    if prediction_type == "v_prediction":
        return alpha * sample - sigma * prediction
    if prediction_type == "epsilon":
        return (sample - sigma * prediction) / alpha
    return prediction


def train_alphas_cumprod(config: Mapping[str, Any], finite_last: bool = True) -> torch.Tensor:
    """Cumulative products of ``1 - beta`` over the training timesteps, float32 ``(T,)``.

    With ``rescale_betas_zero_snr`` the schedule is shifted and scaled so that the last
    step has zero signal (Lin et al., 2023); with ``finite_last`` that last value is then
    set to 2**-24 so its sigma stays finite (DPM-Solver++ needs it; LCM does not).
    """
    steps = int(config.get("num_train_timesteps", 1000))
    start, end = float(config.get("beta_start", 0.0001)), float(config.get("beta_end", 0.02))
    if config.get("beta_schedule", "linear") == "scaled_linear":
        betas = torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float32) ** 2
    else:
        betas = torch.linspace(start, end, steps, dtype=torch.float32)
    if config.get("rescale_betas_zero_snr", False):
        root = torch.cumprod(1.0 - betas, dim=0).sqrt()
        first, last = root[0].clone(), root[-1].clone()
        root = (root - last) * (first / (first - last))
        bar = root**2
        alphas = torch.cat([bar[0:1], bar[1:] / bar[:-1]])
        betas = 1 - alphas
    cumprod = torch.cumprod(1.0 - betas, dim=0)
    if finite_last and config.get("rescale_betas_zero_snr", False):
        cumprod[-1] = 2**-24
    return cumprod


def inference_timesteps(config: Mapping[str, Any], count: int) -> np.ndarray:
    """The ``count`` training timesteps a sampling run visits, descending, int64."""
    total = int(config.get("num_train_timesteps", 1000))
    spacing = config.get("timestep_spacing", "linspace")
    if spacing == "linspace":
        return np.linspace(0, total - 1, count + 1).round()[::-1][:-1].copy().astype(np.int64)
    if spacing == "leading":
        ratio = total // (count + 1)
        steps = (np.arange(0, count + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64)
        return steps + int(config.get("steps_offset", 0))
    return np.arange(total, 0, -total / count).round().copy().astype(np.int64) - 1


@dataclass
class DPMSolverPP:
    """DPM-Solver++ over ``count`` steps of a diffusers-style noise schedule.

    Attributes:
        timesteps: ``(count,)`` int64 training timesteps, descending.
        sigmas: ``(count + 1,)`` float32 noise-to-signal ratios, the last the final one.
        prediction_type: what the network predicts (``epsilon``, ``v_prediction``, ``sample``).
        order: 1 or 2; ``heun`` picks that second-order correction over the midpoint one.
        final_zero: the last sigma is 0 (the run ends on the clean estimate).
    """

    timesteps: torch.Tensor
    sigmas: torch.Tensor
    prediction_type: str
    order: int
    heun: bool
    final_zero: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any], count: int) -> DPMSolverPP:
        """The solver for a ``DPMSolverMultistepScheduler`` config and ``count`` steps."""
        _require_supported(config)
        if count < 1:
            raise ValueError(f"need at least one sampling step, got {count}")
        cumprod = train_alphas_cumprod(config)
        steps = inference_timesteps(config, count)
        all_sigmas = (((1 - cumprod) / cumprod) ** 0.5).numpy()
        sigmas = np.interp(steps, np.arange(0, len(all_sigmas)), all_sigmas)
        if config.get("final_sigmas_type", "zero") == "zero":
            last = 0.0
        else:
            last = float((((1 - cumprod[0]) / cumprod[0]) ** 0.5).item())
        sigmas = np.concatenate([sigmas, [last]]).astype(np.float32)
        return cls(
            timesteps=torch.from_numpy(steps),
            sigmas=torch.from_numpy(sigmas),
            prediction_type=str(config.get("prediction_type", "epsilon")),
            order=int(config.get("solver_order", 2)),
            heun=config.get("solver_type", "midpoint") == "heun",
            final_zero=config.get("final_sigmas_type", "zero") == "zero",
        )

    def _alpha_sigma(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Signal and noise scales and their log ratio (lambda) at sigma ``index``."""
        sigma = self.sigmas[index]
        alpha_t = 1 / ((sigma**2 + 1) ** 0.5)
        sigma_t = sigma * alpha_t
        return alpha_t, sigma_t, torch.log(alpha_t) - torch.log(sigma_t)

    def denoised(self, index: int, prediction: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """The clean-latent estimate at step ``index`` from the network's ``prediction``."""
        alpha_t, sigma_t, _ = self._alpha_sigma(index)
        return clean_estimate(self.prediction_type, prediction, sample, alpha_t, sigma_t)

    def sample(self, noise: torch.Tensor, predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               progress: Callable[[], Any] | None = None) -> torch.Tensor:
        """Run the solver from ``noise`` ``(B, C, h, w)`` (float32) to clean latents.

        ``predict(latents, timestep)`` returns the network's float32 prediction. The first
        step is first order, and so is the last when it lands on sigma 0 or the run is
        shorter than 15 steps.
        """
        x = noise.float()
        previous: torch.Tensor | None = None
        count = len(self.timesteps)
        for i, t in enumerate(self.timesteps):
            d0 = self.denoised(i, predict(x, t), x)
            alpha_t, sigma_t, lam_t = self._alpha_sigma(i + 1)
            _, sigma_s0, lam_s0 = self._alpha_sigma(i)
            h = lam_t - lam_s0
            step = alpha_t * (torch.exp(-h) - 1.0)
            last = i == count - 1 and (self.final_zero or count < 15)
            first_order = self.order == 1 or previous is None or last
            x_next = (sigma_t / sigma_s0) * x - step * d0
            if not first_order and previous is not None:
                _, _, lam_s1 = self._alpha_sigma(i - 1)
                d1 = (h / (lam_s0 - lam_s1)) * (d0 - previous)
                if self.heun:
                    x_next = x_next + alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0) * d1
                else:
                    x_next = x_next - 0.5 * step * d1
            previous = d0
            x = x_next
            if progress is not None:
                progress()
        return x


def _plain_schedule(config: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(alphas_cumprod (T,), the signal level after the last step, prediction type)`` of a
    supported LCM or DDIM config (its zero-SNR end left at exactly 0)."""
    _require_supported(config)
    cumprod = train_alphas_cumprod(config, finite_last=False)
    final = torch.tensor(1.0) if config.get("set_alpha_to_one", True) else cumprod[0]
    return cumprod, final, str(config.get("prediction_type", "epsilon"))


def lcm_timesteps(config: Mapping[str, Any], count: int) -> np.ndarray:
    """The ``count`` timesteps an LCM run visits: evenly spaced indices into the distillation
    grid ``k * T / N - 1`` (``N`` = ``original_inference_steps``), descending, int64."""
    total = int(config.get("num_train_timesteps", 1000))
    original = int(config.get("original_inference_steps", 50))
    if not 1 <= count <= original:
        raise ValueError(f"an LCM model samples in 1 to {original} steps, got {count}")
    grid = (np.arange(1, original + 1) * (total // original) - 1)[::-1].copy()
    return np.asarray(grid[np.floor(np.linspace(0, len(grid), num=count, endpoint=False)).astype(np.int64)])


@dataclass
class LCMSampler:
    """Multistep consistency sampling: each step maps the latents to the model's clean
    estimate, then (except at the last) noises it again to the next timestep.

    Attributes:
        timesteps: ``(count,)`` int64, descending.
        alphas_cumprod: ``(T,)`` float32 training schedule.
        final_alpha: the signal level after the last step (1 with ``set_alpha_to_one``).
        prediction_type: what the network predicts.
        timestep_scaling: the consistency boundary scalings' time factor.
    """

    timesteps: torch.Tensor
    alphas_cumprod: torch.Tensor
    final_alpha: torch.Tensor
    prediction_type: str
    timestep_scaling: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any], count: int) -> LCMSampler:
        """The sampler for an ``LCMScheduler`` config and ``count`` steps."""
        cumprod, final, prediction = _plain_schedule(config)
        return cls(
            timesteps=torch.from_numpy(lcm_timesteps(config, count)),
            alphas_cumprod=cumprod,
            final_alpha=final,
            prediction_type=prediction,
            timestep_scaling=float(config.get("timestep_scaling", 10.0)),
        )

    def sample(self, noise: torch.Tensor, predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               progress: Callable[[], Any] | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run from ``noise`` ``(B, C, h, w)`` to clean latents; the fresh noise between steps
        comes from ``generator``, one ``(1, C, h, w)`` draw per item and step."""
        x = noise.float()
        count = len(self.timesteps)
        for i, t in enumerate(self.timesteps):
            pred = predict(x, t)
            alpha = self.alphas_cumprod[t]
            beta = 1 - alpha
            x0 = clean_estimate(self.prediction_type, pred, x, alpha.sqrt(), beta.sqrt())
            scaled = t * self.timestep_scaling
            c_skip = 0.25 / (scaled**2 + 0.25)
            c_out = scaled / (scaled**2 + 0.25) ** 0.5
            denoised = c_out * x0 + c_skip * x
            if i == count - 1:
                x = denoised
            else:
                nxt = self.timesteps[i + 1]
                alpha_next = self.alphas_cumprod[nxt] if nxt >= 0 else self.final_alpha
                fresh = torch.cat([torch.randn((1, *x.shape[1:]), generator=generator, dtype=x.dtype)
                                   for _ in range(x.shape[0])])
                x = alpha_next.sqrt() * denoised + (1 - alpha_next).sqrt() * fresh
            if progress is not None:
                progress()
        return x


def ddim_timesteps(config: Mapping[str, Any], count: int) -> np.ndarray:
    """The ``count`` training timesteps a DDIM run visits, descending, int64 (the
    ``timestep_spacing`` rules of DDIM, which differ from DPM-Solver++'s for ``linspace``
    and ``leading``)."""
    total = int(config.get("num_train_timesteps", 1000))
    if not 1 <= count <= total:
        raise ValueError(f"DDIM samples in 1 to {total} steps, got {count}")
    spacing = config.get("timestep_spacing", "leading")
    if spacing == "linspace":
        return np.linspace(0, total - 1, count).round()[::-1].copy().astype(np.int64)
    if spacing == "leading":
        steps = (np.arange(0, count) * (total // count)).round()[::-1].copy().astype(np.int64)
        return steps + int(config.get("steps_offset", 0))
    return np.round(np.arange(total, 0, -total / count)).astype(np.int64) - 1


@dataclass
class DDIMSampler:
    """Deterministic DDIM (eta 0): each step takes the network's clean and noise estimates
    to the signal level of the timestep ``T // count`` below.

    Attributes:
        timesteps: ``(count,)`` int64, descending.
        alphas_cumprod: ``(T,)`` float32 training schedule (exactly 0 at a zero-SNR end).
        final_alpha: the signal level below timestep 0 (1 with ``set_alpha_to_one``).
        prediction_type: what the network predicts.
        stride: training timesteps between one step and the next, ``T // count``.
    """

    timesteps: torch.Tensor
    alphas_cumprod: torch.Tensor
    final_alpha: torch.Tensor
    prediction_type: str
    stride: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any], count: int) -> DDIMSampler:
        """The sampler for a ``DDIMScheduler`` config and ``count`` steps."""
        cumprod, final, prediction = _plain_schedule(config)
        return cls(
            timesteps=torch.from_numpy(ddim_timesteps(config, count)),
            alphas_cumprod=cumprod,
            final_alpha=final,
            prediction_type=prediction,
            stride=int(config.get("num_train_timesteps", 1000)) // count,
        )

    def sample(self, noise: torch.Tensor, predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               progress: Callable[[], Any] | None = None) -> torch.Tensor:
        """Run from ``noise`` ``(B, C, h, w)`` (float32) to clean latents."""
        x = noise.float()
        for t in self.timesteps:
            pred = predict(x, t)
            alpha = self.alphas_cumprod[t]
            a, s = alpha.sqrt(), (1 - alpha).sqrt()
            if self.prediction_type == "v_prediction":
                x0, eps = a * x - s * pred, a * pred + s * x
            elif self.prediction_type == "epsilon":
                x0, eps = (x - s * pred) / a, pred
            else:
                x0, eps = pred, (x - a * pred) / s
            before = int(t) - self.stride
            alpha_next = self.alphas_cumprod[before] if before >= 0 else self.final_alpha
            x = alpha_next.sqrt() * x0 + (1 - alpha_next).sqrt() * eps
            if progress is not None:
                progress()
        return x


def make_sampler(config: Mapping[str, Any], count: int) -> DPMSolverPP | DDIMSampler | LCMSampler:
    """The sampler a scheduler config names, for ``count`` steps."""
    if config.get("_class_name") == "LCMScheduler":
        return LCMSampler.from_config(config, count)
    if config.get("_class_name") == "DDIMScheduler":
        return DDIMSampler.from_config(config, count)
    return DPMSolverPP.from_config(config, count)
