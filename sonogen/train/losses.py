"""Training losses: autoencoder reconstruction terms, a patch discriminator, and the
diffusion loss weighting.

Images are batches ``(B, C, H, W)`` in [-1, 1] with ``H`` the mel axis (top row = the
highest band) and ``W`` time; a loss compares the mean over ``C`` (the grey picture).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def _grey(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, 1, H, W)``: the mean over channels."""
    return x.mean(dim=1, keepdim=True)


def l1_loss(rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean absolute pixel error of the grey pictures."""
    return (_grey(rec) - _grey(x)).abs().mean()


def edge_loss(rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between the pictures' differences along time and along frequency.

    Onsets are edges along time and harmonics edges along frequency; matching the
    differences asks for them where plain L1 settles for their blurred average.
    """
    err = _grey(rec) - _grey(x)
    return err.diff(dim=-1).abs().mean() + err.diff(dim=-2).abs().mean()


def texture_loss(rec: torch.Tensor, x: torch.Tensor, patch: int = 8) -> torch.Tensor:
    """L1 between local texture statistics, per ``patch`` x ``patch`` cell.

    The statistics are the mean absolute change along time, the same along frequency,
    and the pixel variance. A decoder that cannot know the exact fine detail is asked
    for detail of the right strength instead of a smooth average, which sounds washed out.
    """

    def stats(img: torch.Tensor) -> list[torch.Tensor]:
        g = _grey(img)
        dt = (g[..., :, 1:] - g[..., :, :-1]).abs()
        df = (g[..., 1:, :] - g[..., :-1, :]).abs()
        mean = F.avg_pool2d(g, patch)
        var = F.avg_pool2d(g * g, patch) - mean * mean
        return [F.avg_pool2d(dt, patch, ceil_mode=True), F.avg_pool2d(df, patch, ceil_mode=True), var]

    terms = [(a - b).abs().mean() for a, b in zip(stats(rec), stats(x), strict=True)]
    return torch.stack(terms).sum()


def contrast_loss(rec: torch.Tensor, x: torch.Tensor, group: int = 16) -> torch.Tensor:
    """L1 between spectral contrast: the spread over each ``group`` of neighbouring bands, per frame.

    Tonal lines give a high spread and smooth noise a low one. Compared per frame and as
    its time mean, so a decoder that cannot place every harmonic is still asked for lines
    of the right sharpness. ``H`` must be a multiple of ``group``.
    """
    g, t = _grey(rec)[:, 0], _grey(x)[:, 0]
    b, h, w = g.shape

    def contrast(img: torch.Tensor) -> torch.Tensor:
        return img.reshape(b, h // group, group, w).std(dim=2)  # (B, groups, frames)

    cg, ct = contrast(g), contrast(t)
    return (cg - ct).abs().mean() + (cg.mean(dim=-1) - ct.mean(dim=-1)).abs().mean()


#: The reconstruction terms by name, as a model config's ``losses`` weights name them.
RECONSTRUCTION_TERMS = {"l1": l1_loss, "edge": edge_loss, "texture": texture_loss, "contrast": contrast_loss}


def reconstruction_loss(rec: torch.Tensor, x: torch.Tensor, weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of :data:`RECONSTRUCTION_TERMS` and each term's value (for logging).

    Raises:
        KeyError: a weight names no term.
    """
    total = rec.new_zeros(())
    parts: dict[str, float] = {}
    for name, weight in weights.items():
        if not weight:
            continue
        value = RECONSTRUCTION_TERMS[name](rec, x)
        total = total + float(weight) * value
        parts[name] = float(value.detach())
    return total, parts


class PatchDiscriminator(nn.Module):
    """A small convolutional critic that scores overlapping patches of grey pictures.

    ``(B, C, H, W)`` -> scores ``(B, 1, H / 2**layers, W / 2**layers)``; each score sees a
    patch of a few dozen pixels, so it judges texture (sharp lines, crisp onsets), not layout.
    """

    def __init__(self, width: int = 32, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = width
        for _ in range(layers - 1):
            blocks += [nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1),
                       nn.GroupNorm(8, channels * 2), nn.LeakyReLU(0.2)]
            channels *= 2
        blocks.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_grey(x))


def discriminator_hinge_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss for the critic: scores of real patches above +1, of decoded ones below -1."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_adversarial_loss(fake: torch.Tensor) -> torch.Tensor:
    """The decoder's adversarial term: raise the critic's scores of its pictures."""
    return -fake.mean()


def min_snr_weight(snr: torch.Tensor, gamma: float, prediction_type: str, floor: float = 0.0) -> torch.Tensor:
    """Per-sample loss weight of Min-SNR-gamma weighting for the diffusion loss.

    ``min(SNR, gamma) / SNR`` for epsilon prediction and ``min(SNR, gamma) / (SNR + 1)``
    for v-prediction, at least ``floor``. With a zero-terminal-SNR schedule the last
    timestep has SNR 0 and so weight 0; a small floor keeps it, where the picture's
    overall level is decided, in the loss.

    Args:
        snr: ``(B,)`` signal-to-noise ratio ``alpha_bar / (1 - alpha_bar)`` per sample.
        gamma: the clamp (5 in the Min-SNR paper).
        prediction_type: ``"epsilon"`` or ``"v_prediction"``.
    """
    clamped = snr.clamp(max=gamma)
    weight = clamped / (snr + 1.0) if prediction_type == "v_prediction" else clamped / snr.clamp(min=1e-8)
    return weight.clamp(min=floor)


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error per sample ``(B, ...)``, times ``weight`` ``(B,)`` when given, averaged."""
    per_sample = (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)
    if weight is not None:
        per_sample = per_sample * weight.to(per_sample)
    return per_sample.mean()


def kl_loss(posterior: Any) -> torch.Tensor:
    """The KL term of a diagonal Gaussian posterior, per latent value (so its weight does not
    depend on the picture's size)."""
    kl = posterior.kl()  # (B,) summed over the latent
    return kl.mean() / posterior.mean[0].numel()
