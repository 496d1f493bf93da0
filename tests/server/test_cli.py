"""``sonogen serve``: options, argument errors, and a one-line error when the model cannot load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sonogen.cli import build_parser, main


def test_serve_options_and_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.queue_size, args.max_batch) == ("127.0.0.1", 3013, 16, 4)
    assert args.cors_origin == [] and args.checkpoint is None and args.threads is None
    args = build_parser().parse_args(
        ["serve", "--cors-origin", "http://a", "--cors-origin", "http://b", "--queue-size", "3", "--port", "8080"]
    )
    assert args.cors_origin == ["http://a", "http://b"] and args.queue_size == 3 and args.port == 8080


def test_packaged_model_is_served_at_its_own_steps(tmp_path: Path) -> None:
    """No --checkpoint: clips are capped at the packaged model's sampling.json steps (the
    original app asks for 50, more than a CPU draws in real time); --max-steps
    wins, and another checkpoint is not capped."""
    import json

    from sonogen.cli.serve import step_cap

    (tmp_path / "model_index.json").write_text("{}")
    (tmp_path / "sampling.json").write_text(json.dumps({"num_inference_steps": 17, "guidance_scale": 4.0}))
    assert step_cap(None, None, tmp_path) == 17
    assert step_cap(30, None, tmp_path) == 30
    assert step_cap(None, "some/other-model", tmp_path) is None
    (tmp_path / "sampling.json").unlink()
    assert step_cap(None, None, tmp_path) is None
    assert step_cap(None, None, tmp_path / "empty") is None  # no packaged model at all
    packaged = json.loads((Path(__file__).parents[2] / "sonogen/models/default/sampling.json").read_text())
    assert step_cap(None, None) == packaged["num_inference_steps"]


@pytest.mark.parametrize("argv", [["serve", "--port", "70000"], ["serve", "--queue-size", "0"], ["serve", "--max-batch", "x"]])
def test_bad_serve_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_unloadable_checkpoint_is_one_line_exit_2(tmp_path: object) -> None:
    missing = f"{tmp_path}/no-such-model"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from sonogen.cli import main; sys.exit(main())", "serve",
         "--checkpoint", missing, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sonogen: error:") and "no-such-model" in last
    assert "serving on" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.slow
def test_serving_on_is_printed_only_once_requests_are_answered(tmp_path: Path) -> None:
    """Load progress first; "serving on URL" only when a request gets the model's answer at once."""
    import json
    import urllib.request

    from sonogen.pipeline.tiny import save_tiny_checkpoint
    from sonogen.spectrogram.params import SpectrogramParams

    folder = save_tiny_checkpoint(tmp_path / "tiny", spectrogram_params=SpectrogramParams(num_frequencies=64))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from sonogen.cli import main; sys.exit(main())", "serve",
         "--checkpoint", str(folder), "--port", "0", "--threads", "1", "--log-level", "warning", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line.strip())
            if "serving on" in line:
                break
        assert lines[0].startswith("sonogen: loading") and any("model loaded in" in x for x in lines[:-1])
        url = lines[-1].split("serving on ", 1)[1].split()[0]
        assert not url.endswith(":0/")  # the real port, not the requested 0
        with urllib.request.urlopen(url + "health", timeout=5) as response:  # no retry: it must answer now
            health = json.loads(response.read())
        assert health["model_loaded"] is True and health["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(30)
