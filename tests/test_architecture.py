"""The code's shape: no import cycle (TYPE_CHECKING and function-level imports included),
the core's packages import only the layers above them and never Qt, no module over 450
lines, and no GUI component is handed the main window."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "personlab_gui"
#: The core's layers, top (imported by all below) to bottom; a package imports only higher ones.
CORE_LAYERS = {"data": 1, "decoding": 2, "model": 3, "inference": 4, "training": 5, "project": 5}
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).rstrip(".") \
                if node.level else node.module
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found - {name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle_from(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to it, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH[node] & MODULES.keys():
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def _layer(name: str) -> int | None:
    parts = name.split(".")
    if parts[:2] != ["personlab_gui", "core"]:
        return None
    return CORE_LAYERS.get(parts[2], 0) if len(parts) > 2 else 0


def test_there_is_no_import_cycle():
    cycles = [c for c in map(_cycle_from, MODULES) if c]
    assert not cycles, " -> ".join(cycles[0])


def test_core_packages_import_only_the_layers_above_them_and_never_qt():
    wrong = [(a, b) for a, deps in GRAPH.items() if _layer(a) is not None for b in deps
             if (_layer(b) or 0) > _layer(a) or b.startswith(("PySide6", "pyqtgraph", "personlab_gui.gui"))]
    assert not wrong


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_450_lines(name):
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES


def test_no_gui_component_imports_the_main_window():
    users = [a for a, deps in GRAPH.items() if "personlab_gui.gui.main_window" in deps]
    assert users == ["personlab_gui.gui.app"]
