"""``--ray`` options: one-line errors, and a clear one when the ray extra is missing (no Ray needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sonogen.cli import main


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["serve", "--replicas", "2"], "need --ray"),
        (["serve", "--address", "auto"], "need --ray"),
        (["build-dataset", "a", "b", "--address", "auto"], "--address needs --ray"),
    ],
)
def test_ray_options_without_ray(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["3:1", "x", "1-4", "0:0"])
def test_bad_autoscale(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--ray", "--autoscale", value])
    assert exit_info.value.code == 2
    assert "MIN:MAX" in capsys.readouterr().err


def test_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    (tmp_path / "audio").mkdir()
    for argv in (["serve", "--ray"], ["build-dataset", str(tmp_path / "audio"), str(tmp_path / "out"), "--ray"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert 'pip install "sonogen[ray]"' in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_fails_before_deploying(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray", reason='the ray extra is not installed (pip install "sonogen[ray]")')
    assert main(["serve", "--ray", "--checkpoint", str(tmp_path / "nope.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert "checkpoint not found" in err and "\n" not in err
