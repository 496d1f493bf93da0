"""HTK mel filterbank (no area normalisation) and its non-negative inverse."""

from __future__ import annotations

import functools

import numpy as np
import torch


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel of frequencies in Hz: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (HTK)."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def _filterbank_f64(n_fft: int, n_mels: int, sample_rate: int, f_min: float, f_max: float) -> np.ndarray:
    bin_hz = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)  # (bins,), integer Nyquist as in the spec
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # (n_mels + 2,)
    widths = np.diff(edges)  # (n_mels + 1,)
    rise = (bin_hz[:, None] - edges[None, :-2]) / widths[None, :-1]  # (bins, n_mels)
    fall = (edges[None, 2:] - bin_hz[:, None]) / widths[None, 1:]  # (bins, n_mels)
    fb = np.maximum(0.0, np.minimum(rise, fall))
    fb.setflags(write=False)
    return fb


def mel_filterbank(
    n_fft: int,
    n_mels: int,
    sample_rate: int,
    f_min: float,
    f_max: float,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Triangular HTK mel filterbank, shape ``(n_fft // 2 + 1, n_mels)``.

    Mel spectrogram = ``fb.T @ magnitude`` for a magnitude of shape ``(bins, frames)``.
    Bin frequencies are ``linspace(0, sample_rate // 2, n_fft // 2 + 1)`` Hz.
    """
    fb = _filterbank_f64(int(n_fft), int(n_mels), int(sample_rate), float(f_min), float(f_max))
    return torch.from_numpy(np.array(fb)).to(device=device, dtype=dtype)


def filterbank_pinv(fb: torch.Tensor) -> torch.Tensor:
    """Moore-Penrose pseudo-inverse of ``fb.T``: shape ``(bins, n_mels)``.

    ``pinv @ mel`` is the minimum-norm least-squares linear magnitude. Computed as
    ``pinv(fb).T`` (the same thing): the SVD of the tall ``(bins, n_mels)`` matrix costs
    about a third of the wide one's, which a fresh process pays on its first clip.
    """
    return torch.linalg.pinv(fb.double()).T.contiguous().to(fb.dtype)


def cached_pinv(fb: torch.Tensor) -> torch.Tensor:
    """:func:`filterbank_pinv` of ``fb``, kept in sonogen's cache folder between runs.

    The SVD behind it is a noticeable part of a fresh process's first clip; the file is named
    by the hash of ``fb`` and holds the hash of the inverse, which is checked when read. A
    missing, damaged or unwritable file means computing it again.
    """
    import hashlib

    from sonogen.utils import atomic_path, cache_dir

    host = fb.detach().to("cpu", torch.float32).contiguous()
    key = hashlib.sha256(repr(tuple(host.shape)).encode() + host.numpy().tobytes()).hexdigest()
    path = cache_dir() / "mel" / f"pinv-{key[:32]}.safetensors"
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            found = handle.get_tensor("pinv")
            digest = (handle.metadata() or {}).get("sha256")
        if digest == hashlib.sha256(found.contiguous().numpy().tobytes()).hexdigest() and \
                tuple(found.shape) == (host.shape[0], host.shape[1]):
            return found.to(device=fb.device, dtype=fb.dtype)
    except Exception:  # a missing or damaged file (safetensors raises its own error types)
        pass
    pinv = filterbank_pinv(host)
    try:
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"pinv": pinv}, str(tmp), metadata={"sha256": hashlib.sha256(pinv.numpy().tobytes()).hexdigest()})
    except OSError:
        pass
    return pinv.to(device=fb.device, dtype=fb.dtype)


def inverse_mel(
    mel: torch.Tensor,
    fb: torch.Tensor,
    pinv: torch.Tensor,
    *,
    iterations: int = 8,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Non-negative linear magnitude ``X`` with ``fb.T @ X ~= mel``.

    Starts from the clipped minimum-norm least-squares solution and refines it with
    multiplicative NNLS updates (which keep ``X >= 0``).

    Args:
        mel: mel magnitude, shape ``(..., n_mels, frames)``.
        fb: filterbank, shape ``(bins, n_mels)``.
        pinv: :func:`filterbank_pinv` of ``fb``, shape ``(bins, n_mels)``.
        iterations: multiplicative update steps after the least-squares start.

    Returns:
        Linear magnitude, shape ``(..., bins, frames)``, non-negative.
    """
    mel = mel.clamp_min(0)
    x = (pinv @ mel).clamp_min(0)  # (..., bins, frames)
    if iterations <= 0:
        return x
    scale = float(mel.amax()) if mel.numel() else 1.0
    floor = eps * max(scale, 1e-30)
    active = (fb.sum(dim=1) > 0).to(x.dtype)[:, None]  # bins inside the mel range
    x = x + floor * active
    numerator = fb @ mel  # (..., bins, frames)
    for _ in range(iterations):
        denominator = fb @ (fb.T @ x) + floor
        x = x * (numerator / denominator)
    return x
