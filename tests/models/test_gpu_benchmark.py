"""The GPU benchmark script runs end to end on the CPU with tiny components."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _table_header(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = next(line for line in lines[start:] if line.startswith("| "))
    return [cell.strip() for cell in header.strip("|").split("|")]


@pytest.mark.slow
def test_gpu_benchmark_tiny_cpu(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    cmd = [
        sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--tiny", "--steps", "2", "--device", "cpu",
        "--repeats", "1", "--width", "128", "--phase-iters", "2", "--batches", "2", "--jam-rounds", "1",
        "--json", str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert _table_header(text, "## One request") == list(gpu.LATENCY_COLUMNS)
    assert _table_header(text, "## Jam throughput") == list(gpu.JAM_COLUMNS)
    figures = json.loads(out.read_text())
    paths = [row["path"] for row in figures["latency"]]
    assert len(paths) == 3 and paths[0].startswith("peer") and paths[2].startswith("sonogen fast")
    # the peer and the fast path make one UNet call per step (guidance pair batched), the
    # plain path two; all run the same img2img steps
    peer, plain, fast = (row["unet_evals"] for row in figures["latency"])
    assert fast >= 1 and peer == fast and plain == 2 * fast
    for row in figures["latency"]:
        assert row["total_s"] > 0 and all(row[p + "_s"] is not None for p in gpu.PARTS)
    assert figures["jam"][0]["batch"] == 2 and figures["jam"][0]["clips_per_s"] > 0
    assert figures["floor"]["floor_s"] > 0
    acc = figures["accuracy"]
    assert acc["pass"] is True and acc["mel_rel"] < 1e-3  # same device: the phase path is identical


def test_pixels_to_mel_matches_image_reader() -> None:
    """The device-side image reading equals the PIL path of the spectrogram package."""
    import numpy as np
    import torch
    from PIL import Image

    from sonogen.spectrogram.image import image_to_spectrogram
    from sonogen.spectrogram.params import SpectrogramParams

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, size=(512, 40), dtype=np.uint8)
    rgb = np.stack([grey, np.clip(grey.astype(int) + 1, 0, 255).astype(np.uint8), grey], axis=-1)
    params = SpectrogramParams()
    expected = image_to_spectrogram(Image.fromarray(rgb, mode="RGB"), params, 33.0)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    got = gpu.pixels_to_mel(tensor, params, 33.0)
    assert got.shape == (1, 512, 40)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
