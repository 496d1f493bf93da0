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
    # UNet calls are counted by hooks on the real networks: sonogen's pipeline (both rows
    # are SonogenPipeline itself) batches the guidance pair as diffusers' img2img does, so
    # all three make one call per scheduled step: diffusers' img2img runs the last
    # int(steps * strength) = 1 of 2 PNDM steps, plus PNDM's repeated first PLMS step
    peer, plain, fast = (row["unet_evals"] for row in figures["latency"])
    assert peer == plain == fast == 2
    assert "pipeline" in figures["latency"][1]["path"] and "pipeline" in figures["latency"][2]["path"]
    for row in figures["latency"]:
        assert row["total_s"] > 0 and all(row[p + "_s"] is not None and row[p + "_s"] >= 0 for p in gpu.PARTS)
    assert figures["jam"][0]["batch"] == 2 and figures["jam"][0]["clips_per_s"] > 0
    assert figures["floor"]["floor_s"] > 0
    acc = figures["accuracy"]
    # bf16 against fp32 images within the stated tolerance; batched phase reconstruction
    # against one call per image on the same images (equal up to float rounding)
    assert acc["pass"] is True and acc["image_mean"] <= 0.02 and acc["mel_rel"] < 1e-3


def test_benchmark_has_no_denoising_loop_of_its_own() -> None:
    """The benchmark times SonogenPipeline: no UNet or scheduler call of its own."""
    source = (REPO / "benchmarks" / "gpu.py").read_text()
    body = source[source.index("class SonogenPath"):source.index("class PeerPath")]
    assert "self.pipe(" in body
    for own_loop in ("scheduler.step(", "unet(", "set_timesteps(", "waveform_from_spectrogram("):
        assert own_loop not in body, own_loop


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
