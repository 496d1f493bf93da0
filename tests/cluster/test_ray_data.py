"""``build-dataset --ray`` makes what the single-machine command makes (files, metadata, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sonogen.cli import main
from tests.data.test_dataset import FAST, audio_dir  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def test_ray_build_equals_local_build(
    audio_dir: Path, tmp_path: Path, local_ray: Any, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert main(["build-dataset", str(audio_dir), str(local), *FAST]) == 0
    capsys.readouterr()
    assert main(["build-dataset", str(audio_dir), str(distributed), *FAST, "--ray"]) == 0
    captured = capsys.readouterr()
    assert "skipped broken.wav" in captured.err and "skipped nocap.wav" in captured.err  # summarised as today
    a, b = _files(local), _files(distributed)
    assert set(a) == set(b)
    for name in ("metadata.jsonl", "report.json", "dataset.json"):
        assert a[name].read_bytes() == b[name].read_bytes(), name
    images = [n for n in a if n.endswith(".png")]
    assert len(images) == 4
    for name in images:
        x = np.asarray(Image.open(a[name]), dtype=np.int16)
        y = np.asarray(Image.open(b[name]), dtype=np.int16)
        assert x.shape == y.shape and np.abs(x - y).max() <= 1, name
    # resumable: a second run redoes nothing and writes the same metadata
    assert main(["build-dataset", str(audio_dir), str(distributed), *FAST, "--ray"]) == 0
    assert "3 resumed" in capsys.readouterr().out
    assert json.loads((distributed / "report.json").read_text())["resumed"] == 3
    assert (distributed / "metadata.jsonl").read_bytes() == a["metadata.jsonl"].read_bytes()
