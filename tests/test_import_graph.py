"""sonogen's modules import one another without a circle.

Every ``import`` and ``from ... import`` of a sonogen module counts, wherever it stands in
a file: at the top, inside a function, under ``if TYPE_CHECKING:`` or in a ``try``. Each
is resolved to the file it names: ``from sonogen.a import b`` is ``sonogen/a/b.py`` when
``b`` is a submodule, else ``sonogen/a/__init__.py`` (or ``sonogen/a.py``); relative
imports are resolved against the importing file's package. A package ``__init__`` that
imports its submodules therefore depends on them. The parent packages that Python
initialises before a submodule are not counted as imports of the importing file: only
what a file names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sonogen

#: ``{module: {imported module: first line that imports it}}``.
Graph = dict[str, dict[str, int]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (whose folder is ``root``) by dotted name; packages by their ``__init__``."""
    modules: dict[str, Path] = {}
    for file in sorted(root.rglob("*.py")):
        parts = [package, *file.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = file
    return modules


def _source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` reads from, relative imports resolved against ``module``'s package."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module file a dotted name stands for: itself, else its longest module prefix."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(root: Path, package: str) -> Graph:
    """Who imports whom among the modules of ``package``, counting every import statement in each file."""
    modules = module_files(root, package)
    graph: Graph = {}
    for module, file in modules.items():
        edges = graph.setdefault(module, {})
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for node in ast.walk(tree):  # every statement, however deeply nested
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _source(node, module, file.name == "__init__.py")
                # `from a import b` names the submodule a/b.py when there is one, else a name in a
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target != package and not target.startswith(package + "."):
                    continue
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != module:
                    edges[resolved] = min(edges.get(resolved, node.lineno), node.lineno)
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One circle of imports, as ``[a, b, ..., a]``, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def describe(cycle: list[str], graph: Graph, modules: dict[str, Path], root: Path) -> str:
    """``a imports b (pkg/a.py:12); b imports a (pkg/b.py:40)``: each step with the file and line of its import."""
    steps = []
    for here, there in zip(cycle[:-1], cycle[1:], strict=True):
        where = f"{modules[here].relative_to(root.parent)}:{graph[here][there]}"
        steps.append(f"{here} imports {there} ({where})")
    return "; ".join(steps)


def test_sonogen_has_no_import_cycle() -> None:
    root = Path(sonogen.__file__).parent
    graph = import_graph(root, "sonogen")
    assert graph["sonogen.server.app"].keys() >= {"sonogen.server.routes", "sonogen.server.studio"}  # the walker sees
    cycle = find_cycle(graph)
    if cycle:
        pytest.fail("import cycle: " + describe(cycle, graph, module_files(root, "sonogen"), root))


# --------------------------------------------------------------------------- the walker itself
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    return root


def test_a_circle_through_a_function_and_type_checking_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "def f():\n    from pkg.b import g\n    return g\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.a"] == {"pkg.b": 2} and graph["pkg.b"] == {"pkg.a": 3}
    cycle = find_cycle(graph)
    assert cycle == ["pkg.a", "pkg.b", "pkg.a"]
    assert describe(cycle, graph, module_files(root, "pkg"), root) == (
        "pkg.a imports pkg.b (pkg/a.py:2); pkg.b imports pkg.a (pkg/b.py:3)"
    )


def test_a_package_init_importing_its_submodule_counts(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "sub/__init__.py": "from pkg.sub.x import X\n",
        "sub/x.py": "import pkg.sub\nX = 1\n",
        "y.py": "from pkg.sub import x, X\nimport pkg.sub.x as z\nfrom .sub.x import X as W\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.sub"] == {"pkg.sub.x": 1}
    assert graph["pkg.y"] == {"pkg.sub.x": 1, "pkg.sub": 1}
    assert find_cycle(graph) == ["pkg.sub", "pkg.sub.x", "pkg.sub"]


def test_no_circle_is_reported_where_there_is_none(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "from pkg import a\n",
        "a.py": "import os\nfrom pkg import b\n",
        "b.py": "import json\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg"] == {"pkg.a": 1} and graph["pkg.a"] == {"pkg.b": 2}
    assert find_cycle(graph) is None
