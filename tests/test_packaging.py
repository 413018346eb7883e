"""The package imports only what pyproject.toml declares (a fresh `make run` has nothing else)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent
# import name -> distribution name, where they differ
DIST = {"yaml": "pyyaml", "distributed": "distributed", "dask": "dask"}


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {r.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
                for r in reqs}

    extras = project["optional-dependencies"]
    return names(project["dependencies"]), set().union(
        *(names(reqs) for name, reqs in extras.items() if name != "dev"))


def test_every_import_is_stdlib_or_declared() -> None:
    required, optional = _declared()
    problems = []
    for path in sorted((ROOT / "simulator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module.split(".")[0]]
            else:
                continue
            for mod in mods:
                if mod in sys.stdlib_module_names or mod == "simulator":
                    continue
                dist = DIST.get(mod, mod)
                if dist in required:
                    continue
                if dist in optional and not _top_level(node, path):
                    continue  # optional extras only inside functions, behind a clear error
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {mod}")
    assert not problems, problems


def _top_level(node: ast.AST, path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(n is node or (getattr(n, "lineno", None) == node.lineno) for n in tree.body)
