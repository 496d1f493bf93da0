"""``sonogen serve``: options, argument errors, and a one-line error when the model cannot load."""

from __future__ import annotations

import subprocess
import sys

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
    assert last.startswith("sonogen: error: the server could not start:") and "no-such-model" in last
