"""A run imports only what its command needs, so a cold start stays quick.

``sonogen --help`` imports no command module and nothing heavy; ``sonogen generate ...``
imports the generation commands' module alone. Checked in a fresh interpreter through
``sys.modules``, since this test process has imported everything already.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sonogen.cli import COMMAND_MODULES, COMMANDS, build_parser

HEAVY = ("torch", "numpy", "PIL", "diffusers", "transformers", "fastapi", "starlette", "uvicorn", "pydantic",
         "soundfile", "safetensors", "sonogen.train.config", "sonogen.pipeline.loading")

PROBE = """
import json, sys
from sonogen.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(*argv: str) -> set[str]:
    """The modules a fresh interpreter has imported after ``sonogen ARGV`` (which must exit at parsing)."""
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_command_module_and_nothing_heavy() -> None:
    loaded = modules_after("--help")
    assert not loaded & set(COMMAND_MODULES)
    assert not loaded & set(HEAVY)


@pytest.mark.parametrize(("argv", "module"), [(("generate", "--help"), "sonogen.cli.generate"),
                                               (("-v", "serve", "--help"), "sonogen.cli.serve"),
                                               (("info", "--help"), "sonogen.cli.convert")])
def test_a_command_imports_its_own_module_only(argv: tuple[str, ...], module: str) -> None:
    loaded = modules_after(*argv)
    assert module in loaded
    assert not loaded & (set(COMMAND_MODULES) - {module})
    assert not loaded & set(HEAVY)


def test_an_unknown_command_is_refused_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser(["nonsense"]).parse_args(["nonsense"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err and "'generate'" in err


def test_the_command_table_matches_what_the_modules_register() -> None:
    registered = []
    for module in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        registered += [(action.dest, module, action.help) for action in sub._choices_actions]
    assert list(COMMANDS) == registered


def test_the_lazy_parser_parses_as_the_full_one() -> None:
    argv = ["-v", "generate", "a beat", "-o", "x.wav", "--steps", "3", "--seed", "2"]
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))


def test_quick_exit_keeps_output_and_exit_codes(tmp_path: Path) -> None:
    """``python -m sonogen.cli`` (the program's entry, :func:`sonogen.cli.run`) ends a
    one-shot command without interpreter teardown: its files and printed lines are all
    there, and the exit code is the command's (0 done, 2 bad input)."""
    from sonogen.cli import QUICK_EXIT

    assert {"generate", "transform", "interpolate", "extend"} <= QUICK_EXIT
    assert QUICK_EXIT <= {name for name, _, _ in COMMANDS}  # every name is a real command
    assert not {"serve", "build-dataset", "train", "audio-to-images"} & QUICK_EXIT  # helpers, servers, pools

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sonogen.cli", *argv], capture_output=True, text=True, timeout=300)

    done = run("roundtrip", "--outdir", str(tmp_path), "--seconds", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the command's printed lines survive the quick exit"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written and all((tmp_path / name).stat().st_size > 0 for name in written)
    image = next(p for p in tmp_path.iterdir() if p.suffix == ".png")
    info = run("info", str(image))
    assert info.returncode == 0 and "sample_rate" in info.stdout.replace(" ", "_").lower(), info.stdout
    bad = run("info", str(tmp_path / "missing.png"))
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("sonogen: error:") and len(bad.stderr.strip().splitlines()) == 1
