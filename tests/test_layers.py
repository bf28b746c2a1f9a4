"""The package's floors: every module imports only modules below it (issue 15), with no cycle.

Each module has a floor; an import (at module level, under TYPE_CHECKING or inside a function) may
only reach a module on a lower floor. Presentation layers reach lower objects through
``imgpath._internal.views``, never by being imported from below. No module imports another's
private names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imgpath

PACKAGE = Path(imgpath.__file__).resolve().parent

#: Floors, lowest first. A module may import modules of strictly lower floors only.
FLOORS: list[list[str]] = [
    ["errors", "_internal.version", "_internal.html"],
    ["expressions.values", "expressions.nodes", "_internal.cache", "_internal.dre", "_internal.views",
     "_internal.forksafe"],
    ["expressions.parser", "expressions.semantics"],
    ["expressions"],
    ["facts"],
    ["examples"],
    ["rulebook.model"],
    ["rulebook.graph", "rulebook.resolve"],
    ["rulebook.load"],
    ["rulebook.book"],
    ["rulebook"],
    ["compiler.ir", "compiler.alpha", "compiler.closures"],
    ["compiler.codegen"],
    ["compiler.lower"],
    ["compiler.fused"],
    ["compiler"],
    ["context"],
    ["horizon"],
    ["engine", "reference", "_internal.judge", "parameters"],
    ["evaluation"],
    ["explain", "timeline"],
    ["plan_completions"],
    ["plan", "diff"],
    ["lint", "render"],
    ["_output", "_workers", "scenarios", "strategies"],
    ["batch"],
    ["frame", "bench", "compare", "dask_frame"],
    ["cli"],
    ["__main__", "__init__"],
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}
SHARED = {"_internal"}  # the package of shared internals itself (its __init__ imports nothing)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported imgpath module, names imported from it, line) for every import in the file."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "__init__":
        package = []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == "imgpath" or node.module.startswith("imgpath.")):
                target = node.module[len("imgpath."):] if node.module != "imgpath" else ""
            else:
                continue
            names = [a.name for a in node.names]
            modules = _modules()
            # "from . import explain" imports a module, not a name
            for n in names:
                sub = f"{target}.{n}" if target else n
                if sub in modules:
                    out.append((sub, [], node.lineno))
                else:
                    out.append((target or "__init__", [n], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "imgpath" or alias.name.startswith("imgpath."):
                    out.append((alias.name[len("imgpath."):] or "__init__", [], node.lineno))
    return out


def test_every_module_has_a_floor() -> None:
    missing = sorted(set(_modules()) - set(FLOOR) - SHARED)
    assert not missing, f"add these modules to FLOORS in tests/test_layers.py: {missing}"


@pytest.mark.parametrize("name", sorted(_modules()))
def test_imports_only_look_down(name: str) -> None:
    if name in SHARED:
        assert not _imports(name, _modules()[name])
        return
    own = FLOOR[name]
    upward = []
    private = []
    for target, names, line in _imports(name, _modules()[name]):
        if target in SHARED:
            continue
        if target not in FLOOR:
            upward.append(f"line {line}: {target} (no floor)")
        elif FLOOR[target] >= own and not (name == "__init__" or target == name):
            upward.append(f"line {line}: imports {target} (floor {FLOOR[target]}) from floor {own}")
        private.extend(f"line {line}: {target}.{n}" for n in names if n.startswith("_") and n != "__version__")
    assert not upward, f"{name} imports upward or sideways: {upward}"
    assert not private, f"{name} imports private names of other modules: {private}"


def test_evaluation_never_imports_the_presentation_layers() -> None:
    targets = {t for t, _, _ in _imports("evaluation", _modules()["evaluation"])}
    assert not targets & {"explain", "plan", "render", "batch", "lint", "diff", "cli"}
