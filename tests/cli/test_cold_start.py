"""A run imports only what its command needs (issue 10: cold start).

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
