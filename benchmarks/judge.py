"""How the benchmarks judge spectrograms: features, a rendered-only style classifier, the
Fréchet distance, the held-out corpus, and pictures.

Everything here works on grey spectrogram pixels: uint8 ``(bands, frames)`` in image
orientation (top row = the highest band, loud = dark), as the format's images hold them.
Generated or reconstructed audio is judged by analysing its waveform again with the
format's STFT (:func:`audio_pixels`), exactly as rendered clips were turned into images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Mel bands are pooled into this many groups for the classifier's features.
FEATURE_BANDS = 32
#: Bump when pixel_features or instrument_features change: invalidates the benchmarks' feature caches.
FEATURE_VERSION = 1
#: Onset-envelope autocorrelation lags, in frames of 10 ms (50 ms .. 1.2 s).
LAGS = tuple(int(round(x)) for x in np.geomspace(5, 120, 16))



# --------------------------------------------------------------------------- data
def load_heldout(folder: Path, styles: Sequence[str] | None = None) -> dict[str, Any]:
    """A held-out corpus folder (``sonogen synth-corpus --images``): its rows and grey pixels.

    Returns ``images`` uint8 ``(N, bands, frames)``, ``styles``, ``captions`` (numpy string
    arrays) and ``rows`` (the metadata), keeping only ``styles`` when given.
    """
    from PIL import Image

    meta = folder / "metadata.jsonl"
    if not meta.is_file():
        raise SystemExit(f"no held-out corpus in {folder} (metadata.jsonl): render one with sonogen synth-corpus --images")
    rows = [json.loads(line) for line in meta.read_text(encoding="utf-8").splitlines() if line.strip()]
    if styles is not None:
        rows = [r for r in rows if r.get("style") in set(styles)]
    images = []
    for row in rows:
        with Image.open(folder / row["file_name"]) as image:
            images.append(np.asarray(image.convert("L")))
    return {"images": np.stack(images), "styles": np.array([str(r["style"]) for r in rows]),
            "captions": np.array([str(r["text"]) for r in rows]), "rows": rows}


def audio_pixels(wave: np.ndarray, sample_rate: int = 44100) -> np.ndarray:
    """Grey pixels ``(bands, frames)`` of a waveform ``(channels, samples)``, through the format's analysis."""
    from sonogen.spectrogram.converter import get_converter

    mono = np.asarray(wave, dtype=np.float32).mean(axis=0, keepdims=True)
    return np.asarray(get_converter().audio_to_image(mono, sample_rate).convert("L"))


# --------------------------------------------------------------------------- features
def pixel_features(pixels: np.ndarray) -> np.ndarray:
    """Style features of one spectrogram image.

    Args:
        pixels: uint8 ``(bands, frames)`` in image orientation (top row = highest band,
            loud = dark), as :func:`wave_pixels` or the training data give.

    Returns:
        float64 vector of ``4 * FEATURE_BANDS + len(LAGS)`` values: per band group
        (low to high) the mean level, its spread over time, its mean frame-to-frame change
        (rhythm) and the mean spread across the group's bands (tonal lines versus noise);
        then the onset envelope's autocorrelation at :data:`LAGS` (tempo and groove).
    """
    level = (255.0 - pixels[::-1].astype(np.float64)) / 255.0  # (bands, frames), low band first
    bands, frames = level.shape
    grouped = level.reshape(FEATURE_BANDS, bands // FEATURE_BANDS, frames)
    groups = grouped.mean(axis=1)  # (groups, frames)
    texture = grouped.std(axis=1).mean(axis=1)
    flux = np.abs(np.diff(groups, axis=1)).mean(axis=1)
    onset = np.maximum(np.diff(groups, axis=1), 0.0).sum(axis=0)
    onset = onset - onset.mean()
    denom = float((onset**2).sum()) or 1.0
    ac = [float((onset[:-lag] * onset[lag:]).sum() / denom) if lag < onset.size else 0.0 for lag in LAGS]
    return np.concatenate([groups.mean(axis=1), groups.std(axis=1), flux, texture, ac])


#: Mel bands are pooled into this many groups for the timbre envelope (finer than the style's).
TIMBRE_BANDS = 64
#: Cepstral coefficients (DCT of each frame's levels over the bands) kept, from the first.
CEPSTRA = 24
#: Band groups for the temporal-envelope statistics (attack, sustain, modulation).
ENVELOPE_BANDS = 16
#: Envelope autocorrelation lags in frames of 10 ms: 20 ms, 80 ms, 250 ms.
ENVELOPE_LAGS = (2, 8, 25)
#: Modulation-frequency bands in Hz whose share of a group's envelope energy is measured:
#: tremolo and vibrato live around 4-8 Hz, rolls and rapid picking at 8-16 Hz.
MODULATION_HZ = ((0.5, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 50.0))


def _dct_matrix(n: int, k: int) -> np.ndarray:
    """Orthonormal DCT-II basis ``(k, n)``: its first ``k`` rows."""
    i = np.arange(n)
    basis = np.cos(np.pi / n * (i[None, :] + 0.5) * np.arange(k)[:, None]) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis


def timbre_features(pixels: np.ndarray, frame_hz: float = 100.0) -> np.ndarray:
    """Timbre features of one spectrogram image, for telling instruments apart in a mix.

    Args:
        pixels: uint8 ``(bands, frames)`` in image orientation, as for :func:`pixel_features`
            (the band count must divide by :data:`TIMBRE_BANDS` and :data:`ENVELOPE_BANDS`).
        frame_hz: image columns per second (100 for the format's 10 ms hop).

    Returns:
        float64 vector, blocks in this order (see :data:`TIMBRE_BLOCKS`):

        * ``cepstrum``: mean and spread over time of the first :data:`CEPSTRA` DCT
          coefficients of each frame's band levels (the spectral envelope's shape, as
          MFCCs describe it; the pixel levels are already compressed like a logarithm);
        * ``envelope``: per :data:`TIMBRE_BANDS` band group the mean level and its 90th
          percentile over time (where the instruments' energy and formants sit);
        * ``peakiness``: per group the mean over frames of (loudest band - mean band) inside
          the group: harmonic lines stand out from their neighbours, noise does not;
        * ``steadiness``: per group the mean frame-to-frame change of single bands over that
          of the group's mean: held tones (organ, strings, pads) change little band by band,
          moving melodies and vibrato a lot;
        * ``attack``: per :data:`ENVELOPE_BANDS` group how much steeper the envelope's
          rises are than its falls, ``(r - f) / (|r| + |f|)`` with ``r`` and ``f`` the 95th
          percentiles of its frame-to-frame rises and falls: plucked and struck notes jump
          up and fade (> 0), bowed and blown ones swell and stop (about 0 or below);
        * ``sustain``: per envelope group the autocorrelation of the mean-removed envelope at
          :data:`ENVELOPE_LAGS` (how long a note's level persists);
        * ``modulation``: per envelope group the share of its envelope's energy in each of
          :data:`MODULATION_HZ` (tremolo, vibrato, trills, rolls, rhythm).
    """
    level = (255.0 - pixels[::-1].astype(np.float64)) / 255.0  # (bands, frames), low band first
    bands, frames = level.shape
    ceps = _dct_matrix(bands, CEPSTRA) @ level  # (CEPSTRA, frames)
    grouped = level.reshape(TIMBRE_BANDS, bands // TIMBRE_BANDS, frames)
    groups = grouped.mean(axis=1)  # (TIMBRE_BANDS, frames)
    peak = (grouped.max(axis=1) - groups).mean(axis=1)
    band_change = np.abs(np.diff(grouped, axis=2)).mean(axis=(1, 2))
    group_change = np.abs(np.diff(groups, axis=1)).mean(axis=1)
    steady = band_change / (group_change + 1e-3)
    env = level.reshape(ENVELOPE_BANDS, bands // ENVELOPE_BANDS, frames).mean(axis=1)  # (ENVELOPE_BANDS, frames)
    d = np.diff(env, axis=1)
    rise, fall = np.percentile(d, 95, axis=1), np.percentile(-d, 95, axis=1)
    attack = (rise - fall) / (np.abs(rise) + np.abs(fall) + 1e-9)
    centred = env - env.mean(axis=1, keepdims=True)
    power = (centred**2).sum(axis=1) + 1e-9
    sustain = np.stack([(centred[:, :-lag] * centred[:, lag:]).sum(axis=1) / power for lag in ENVELOPE_LAGS], axis=1)
    spectrum = np.abs(np.fft.rfft(centred, axis=1)) ** 2  # (ENVELOPE_BANDS, frames // 2 + 1)
    hz = np.fft.rfftfreq(frames, d=1.0 / frame_hz)
    total = spectrum[:, 1:].sum(axis=1) + 1e-9
    modulation = np.stack([spectrum[:, (hz >= lo) & (hz < hi)].sum(axis=1) / total for lo, hi in MODULATION_HZ], axis=1)
    return np.concatenate([
        ceps.mean(axis=1), ceps.std(axis=1), groups.mean(axis=1), np.percentile(groups, 90, axis=1),
        peak, steady, attack, sustain.ravel(), modulation.ravel(),
    ])


def _blocks(sizes: Sequence[tuple[str, int]]) -> dict[str, slice]:
    """Consecutive named slices of a feature vector from ``(name, length)`` pairs."""
    out, start = {}, 0
    for name, size in sizes:
        out[name] = slice(start, start + size)
        start += size
    return out


#: The timbre vector's blocks, as :func:`timbre_features` lays them out.
TIMBRE_BLOCKS = _blocks([
    ("cepstrum", 2 * CEPSTRA), ("envelope", 2 * TIMBRE_BANDS), ("peakiness", TIMBRE_BANDS),
    ("steadiness", TIMBRE_BANDS), ("attack", ENVELOPE_BANDS), ("sustain", ENVELOPE_BANDS * len(ENVELOPE_LAGS)),
    ("modulation", ENVELOPE_BANDS * len(MODULATION_HZ)),
])


def instrument_features(pixels: np.ndarray) -> np.ndarray:
    """The instrument classifier's features of one image ``(bands, frames)``: the style
    statistics (:func:`pixel_features`) followed by the timbre ones (:func:`timbre_features`)."""
    return np.concatenate([pixel_features(pixels), timbre_features(pixels)])


class StyleClassifier:
    """Multinomial logistic regression on standardised features (L2-regularised, LBFGS)."""

    def __init__(self, styles: Sequence[str], l2: float = 1e-3) -> None:
        self.styles = list(styles)
        self.l2 = l2
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.weight: torch.Tensor | None = None

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Features ``(N, D)`` in the units the classifier was fitted in."""
        assert self.mean is not None and self.scale is not None, "fit first"
        return (x - self.mean) / self.scale

    def fit(self, x: np.ndarray, labels: Sequence[str]) -> StyleClassifier:
        """Train on features ``(N, D)`` and style names."""
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = torch.from_numpy(self.standardise(x)).float()
        y = torch.tensor([self.styles.index(s) for s in labels])
        w = torch.zeros(z.shape[1] + 1, len(self.styles), requires_grad=True)
        opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")
        ones = torch.ones(len(z), 1)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logits = torch.cat([z, ones], dim=1) @ w
            loss = torch.nn.functional.cross_entropy(logits, y) + self.l2 * (w[:-1] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight = w.detach()
        return self

    def predict(self, x: np.ndarray) -> list[str]:
        """Top-1 style per row of ``(N, D)``."""
        assert self.weight is not None, "fit first"
        z = torch.from_numpy(self.standardise(x)).float()
        logits = torch.cat([z, torch.ones(len(z), 1)], dim=1) @ self.weight
        return [self.styles[i] for i in logits.argmax(dim=1).tolist()]


def top_styles(clf: StyleClassifier, x: np.ndarray, k: int) -> list[list[str]]:
    """The ``k`` most likely styles per row of features ``(N, D)``, most likely first."""
    assert clf.weight is not None, "fit first"
    z = torch.from_numpy(clf.standardise(x)).float()
    logits = torch.cat([z, torch.ones(len(z), 1)], dim=1) @ clf.weight
    return [[clf.styles[i] for i in row] for row in logits.topk(k, dim=1).indices.tolist()]


def accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Fraction of equal pairs (0 for no items)."""
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])) if truth else 0.0


def confusion(predicted: Sequence[str], truth: Sequence[str], styles: Sequence[str]) -> np.ndarray:
    """Counts ``(len(styles), len(styles))``: row = prompted style, column = label given."""
    m = np.zeros((len(styles), len(styles)), dtype=int)
    for p, t in zip(predicted, truth, strict=True):
        m[styles.index(t), styles.index(p)] += 1
    return m


def instrument_labels(rows: Sequence[dict[str, Any]], instruments: Sequence[str]) -> np.ndarray:
    """Bool ``(len(rows), len(instruments))``: which GM programs each metadata row's clip renders."""
    return np.array([[name in row.get("instruments", ()) for name in instruments] for row in rows], dtype=bool).reshape(
        len(rows), len(instruments))


class InstrumentClassifier:
    """One-vs-rest logistic regression per GM instrument on standardised features, with a
    detection threshold per instrument.

    All instruments are fitted at once (independent weight columns, binary cross-entropy,
    L2 on the weights, LBFGS). :meth:`calibrate` sets each threshold so that a chosen share
    of clips *without* the instrument is flagged, measured on out-of-fold scores (the
    threshold is never chosen on scores of the clips a model was fitted on).
    """

    def __init__(self, instruments: Sequence[str], l2: float = 1e-5) -> None:
        self.instruments = list(instruments)
        self.l2 = l2
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.weight: torch.Tensor | None = None
        self.threshold: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> InstrumentClassifier:
        """Train on features ``(N, D)`` and bool labels ``(N, len(instruments))``."""
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = torch.from_numpy((x - self.mean) / self.scale).float()
        target = torch.from_numpy(np.asarray(y, dtype=np.float32))
        w = torch.zeros(z.shape[1] + 1, len(self.instruments), requires_grad=True)
        opt = torch.optim.LBFGS([w], max_iter=300, line_search_fn="strong_wolfe")
        ones = torch.ones(len(z), 1)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logits = torch.cat([z, ones], dim=1) @ w
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target) + self.l2 * (w[:-1] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight = w.detach()
        return self

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(N, len(instruments))`` for features ``(N, D)`` (higher = more likely present)."""
        assert self.weight is not None and self.mean is not None and self.scale is not None, "fit first"
        z = torch.from_numpy((x - self.mean) / self.scale).float()
        return (torch.cat([z, torch.ones(len(z), 1)], dim=1) @ self.weight).numpy().astype(np.float64)

    def calibrate(self, x: np.ndarray, y: np.ndarray, false_alarm: float = 0.1, folds: int = 4) -> InstrumentClassifier:
        """Fit on all of ``x`` ``(N, D)`` / ``y`` ``(N, L)`` and set thresholds from ``folds``-fold
        out-of-fold scores: each instrument's threshold is the ``1 - false_alarm`` quantile
        of the out-of-fold scores of clips without it."""
        out = np.zeros(y.shape)
        fold = np.arange(len(x)) % folds
        for k in range(folds):
            part = InstrumentClassifier(self.instruments, self.l2).fit(x[fold != k], y[fold != k])
            out[fold == k] = part.scores(x[fold == k])
        self.threshold = np.array([
            np.quantile(out[~y[:, j], j], 1.0 - false_alarm) if (~y[:, j]).any() else np.inf
            for j in range(len(self.instruments))
        ])
        return self.fit(x, y)

    def detect(self, x: np.ndarray) -> np.ndarray:
        """Bool ``(N, len(instruments))``: instruments found in each clip of features ``(N, D)``."""
        assert self.threshold is not None, "calibrate first"
        return self.scores(x) > self.threshold[None, :]


#: The feature vector's blocks, as :func:`pixel_features` lays them out.
FEATURE_BLOCKS = {
    "level": slice(0, FEATURE_BANDS), "spread": slice(FEATURE_BANDS, 2 * FEATURE_BANDS),
    "flux": slice(2 * FEATURE_BANDS, 3 * FEATURE_BANDS), "texture": slice(3 * FEATURE_BANDS, 4 * FEATURE_BANDS),
    "groove": slice(4 * FEATURE_BANDS, None),
}


def block_shift(z: np.ndarray, z_ref: np.ndarray) -> dict[str, float]:
    """Mean shift per feature block of standardised features ``(N, D)`` from their rendered
    twins ``(N, D)``, in standard deviations: which way a model errs (e.g. blur lowers
    ``texture``; a washed-out peak raises every ``level`` once the clip is peak-normalised)."""
    return {name: float((z[:, sl] - z_ref[:, sl]).mean()) for name, sl in FEATURE_BLOCKS.items()}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``(N, D)`` and ``(M, D)``.

    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2)``, computed with
    symmetric eigendecompositions (no scipy).
    """
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(ca)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_a @ cb @ root_a)
    cross = float(np.sqrt(np.clip(inner, 0, None)).sum())
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2.0 * cross)


# --------------------------------------------------------------------------- picture
def save_grid(images: dict[str, list[Any]], path: Path) -> None:
    """Spectrogram images, one row per style (style name at the left), as a PNG."""
    from PIL import Image, ImageDraw

    styles = list(images)
    cols = max(len(v) for v in images.values())
    tile_w, tile_h, label = 128, 128, 110
    sheet = Image.new("L", (label + cols * (tile_w + 4), len(styles) * (tile_h + 4) + 4), 255)
    draw = ImageDraw.Draw(sheet)
    for r, style in enumerate(styles):
        y = 4 + r * (tile_h + 4)
        draw.text((4, y + tile_h // 2 - 6), style, fill=0)
        for c, img in enumerate(images[style]):
            sheet.paste(img.convert("L").resize((tile_w, tile_h)), (label + c * (tile_w + 4), y))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


# --------------------------------------------------------------------------- main
def heldout_classifier(
    held: dict[str, Any], styles: Sequence[str], per_style: int, features: Any = pixel_features
) -> tuple[StyleClassifier, np.ndarray, dict[str, list[int]]]:
    """The style classifier fitted on the first ``per_style`` held-out images of each style.

    ``features`` maps one image to its vector: :func:`pixel_features` (the style
    statistics), or :func:`instrument_features` (those and the timbre statistics: about
    four points better over the 44 corpus styles, where neighbours such as salsa and
    mambo share a groove and differ in instruments).

    Returns the classifier, the features of every held-out image ``(N, D)`` and each
    style's image indices in split order (the later ones are for testing and twins).
    """
    by_style = {s: [i for i, st in enumerate(held["styles"]) if st == s] for s in styles}
    feats = np.stack([features(p) for p in held["images"]])
    fit = [i for s in styles for i in by_style[s][:per_style]]
    return StyleClassifier(styles).fit(feats[fit], [str(held["styles"][i]) for i in fit]), feats, by_style


