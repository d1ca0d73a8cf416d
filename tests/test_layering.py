"""The import graph points one way: a static walk of every first-party module's imports.

Layers, bottom up: ``wire`` (the protocols' shared vocabulary, stdlib only), then
``controller.config`` and ``drivers`` side by side (neither imports the other, nor anything of
the controller), then ``emulators`` and the rest of ``controller``. Emulators encode with their
own code, so they import no driver at all (a shared decoder would cancel a word-order bug out),
and of the controller only its configuration (sites and profiles are data). Every import
counts, including deferred ones and those under ``TYPE_CHECKING``: a cycle hidden in a function
is still a cycle of the design.
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


def _import_targets(module: str) -> Iterator[tuple[str, int]]:
    """Dotted names ``module`` imports (``from a import b`` gives ``a.b``), with their lines."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _reexports() -> dict[str, str]:
    """``pkg.name`` → the submodule a package's ``__init__`` takes ``name`` from."""
    found: dict[str, str] = {}
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            for target, _ in _import_targets(module):
                source = _first_party(target)
                if source is not None and source != module:
                    found[f"{module}.{target.rpartition('.')[2]}"] = source
    return found


REEXPORTS = _reexports()


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """First-party modules ``module`` imports, with the line of each import.

    A name taken from a package that re-exports it counts as an import of the package and of
    the submodule defining it (``from drivers.modbus import compile_decoder`` reaches
    ``drivers.modbus.decode``).
    """
    for target, line in _import_targets(module):
        found = _first_party(target)
        if found is not None and found != module:
            yield found, line
        defining = REEXPORTS.get(target)
        if defining is not None and defining != module:
            yield defining, line


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
        # sites and profiles are data (``controller.config``); nothing else of the controller,
        # and no driver code at all, not only its decoders
        return any(_in(imported, p) for p in ("emulators", "controller.config", "wire"))
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


Graph = dict[str, list[tuple[str, int]]]


def _cycle_through(start: str, graph: Graph) -> list[str] | None:
    """A shortest import cycle back to ``start``, if there is one (breadth-first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for module in frontier:
            for imported, _ in graph[module]:
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


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    """One cycle, whichever module it was found from: rotated to start at its least name."""
    ring = cycle[:-1]
    start = ring.index(min(ring))
    return (*ring[start:], *ring[:start], ring[start])


def test_no_import_cycle() -> None:
    """Package ``__init__`` modules re-exporting their own submodules are no cycle: a
    submodule importing its package's ``__init__`` would be, and is caught."""
    cycles = {_canonical(c) for m in MODULES if (c := _cycle_through(m, GRAPH)) is not None}
    shown = sorted(" → ".join(c) for c in cycles)
    assert not shown, "import cycles:\n" + "\n".join(shown)


def test_the_checks_catch_a_violation() -> None:
    """The rules bite: an emulator taking a decoder through its package, a cycle."""
    assert not _allowed("emulators.modbus.encode", "drivers.modbus.decode")
    assert not _allowed("emulators.dlt645.meter", "drivers.bcd")
    assert not _allowed("emulators.modbus.site", "controller.core.clock")
    assert _allowed("emulators.modbus.site", "controller.config.site")
    assert not _allowed("drivers.modbus.link", "controller.core.bus")
    assert not _allowed("controller.config.loader", "controller.policies.engine")
    assert REEXPORTS["drivers.modbus.compile_decoder"] == "drivers.modbus.decode"
    graph: Graph = {"a": [("b", 1)], "b": [("c", 1)], "c": [("a", 1), ("d", 1)], "d": []}
    found = _cycle_through("b", graph)
    assert found == ["b", "c", "a", "b"]
    assert _canonical(found) == ("a", "b", "c", "a")
    assert _cycle_through("d", graph) is None


@pytest.mark.parametrize("package", ["controller.web", "controller.api"])
def test_a_package_imports_on_its_own(package: str) -> None:
    """The static walk sees modules, not the package ``__init__`` Python runs first:
    ``controller.web``'s pages use ``controller.api.auth``, whose package imported the web app
    back at module level, so ``import controller.web`` alone failed as a circular import."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {package}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
