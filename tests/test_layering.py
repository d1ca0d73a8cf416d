"""The import graph points one way: a static walk of every first-party module's imports.

Layers, bottom up: ``wire`` (the protocols' shared vocabulary, stdlib only), then
``controller.config`` and ``drivers`` side by side (neither imports the other, nor anything of
the controller), then ``emulators`` and the rest of ``controller``. Emulators encode with their
own code, so they never import a driver's decoder. Every import counts, including deferred ones
and those under ``TYPE_CHECKING``: a cycle hidden in a function is still a cycle of the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wire", "controller", "drivers", "emulators")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(importer: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, target] if target else base)


def _first_party(name: str) -> str | None:
    """The first-party module ``name`` refers to (a name inside a module maps to the module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """First-party modules ``module`` imports, with the line of each import."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # ``from pkg import sub`` imports the submodule when there is one.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            found = _first_party(target)
            if found is not None and found != module:
                yield found, node.lineno


GRAPH = {module: sorted(set(imports_of(module))) for module in MODULES}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _allowed(importer: str, imported: str) -> bool:
    """May ``importer`` import ``imported``? Only the ground floors are constrained."""
    if _in(importer, "wire"):
        return _in(imported, "wire")
    if _in(importer, "controller.config"):
        return _in(imported, "controller.config") or _in(imported, "wire")
    if _in(importer, "drivers"):
        return _in(imported, "drivers") or _in(imported, "wire")
    if _in(importer, "emulators"):
        return not (_in(imported, "drivers") and imported.rpartition(".")[2] == "decode")
    return True


def test_the_walk_sees_the_tree() -> None:
    """A broken walk would pass every check below vacuously."""
    assert "controller.config.loader" in MODULES
    assert "drivers.modbus.decode" in MODULES
    assert "controller.config.loader" in {name for name, _ in GRAPH["controller.config"]}
    assert "wire.modbus" in {name for name, _ in GRAPH["drivers.modbus.spec"]}
    # a relative import two levels up
    assert "drivers.errors" in {name for name, _ in GRAPH["drivers.modbus.errors"]}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_above(module: str) -> None:
    wrong = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {imported}"
        for imported, line in GRAPH[module]
        if not _allowed(module, imported)
    ]
    assert not wrong, "\n".join(wrong)


def _cycle_through(start: str) -> list[str] | None:
    """A shortest import cycle back to ``start``, if there is one (breadth-first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for module in frontier:
            for imported, _ in GRAPH[module]:
                if imported == start:
                    path = [module]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if imported not in parents:
                    parents[imported] = module
                    following.append(imported)
        frontier = following
    return None


def test_no_import_cycle() -> None:
    """Package ``__init__`` modules re-exporting their own submodules are no cycle: a
    submodule importing its package's ``__init__`` would be, and is caught."""
    cycles = {tuple(c) for m in MODULES if (c := _cycle_through(m)) is not None}
    shown = sorted(" → ".join(c) for c in cycles)
    assert not shown, "import cycles:\n" + "\n".join(shown)
