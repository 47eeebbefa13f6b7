"""Dependencies point one way: flowbot_ui → engine ← connectors, and no package has cycles.

Read from the source (every import statement, at module level or inside a function; those
under ``if TYPE_CHECKING:`` are annotations only and do not count), so an import added to
dodge a cycle inside a function is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "connectors", "flowbot_ui", "flowbot")
# Which packages each may import (besides itself).
ALLOWED = {
    "engine": set(),
    "connectors": {"engine"},
    "flowbot_ui": {"engine"},
    # The composition roots: the CLI starts every process, the Reflex app embeds them all.
    "flowbot": {"engine", "connectors", "flowbot_ui"},
}
# The Reflex app module starts the embedded worker and connectors with the web process.
COMPOSITION_ROOTS = {"flowbot_ui.flowbot_ui": {"connectors"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


MODULES = all_modules()


def _is_type_checking(node: ast.If) -> bool:
    name = getattr(node.test, "id", None) or getattr(node.test, "attr", None)
    return name == "TYPE_CHECKING"


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _import_nodes(node)


def imports_of(module: str) -> set[str]:
    """The first-party modules ``module`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name.split(".")[0] in PACKAGES and name != module}


GRAPH = nx.DiGraph()
for _module in MODULES:
    GRAPH.add_node(_module)
    for _target in imports_of(_module):
        GRAPH.add_edge(_module, _target)


def test_the_graph_was_read() -> None:
    assert GRAPH.has_edge("connectors.kit.bot_answers", "engine.bot_config.answers")
    assert len(GRAPH) > 200


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_downwards(package: str) -> None:
    wrong = {
        f"{source} imports {target}"
        for source, target in GRAPH.edges
        if source.split(".")[0] == package
        and (top := target.split(".")[0]) != package
        and top not in ALLOWED[package] | COMPOSITION_ROOTS.get(source, set())
    }
    assert not wrong, "imports against the dependency direction:\n" + "\n".join(sorted(wrong))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles_inside_a_package(package: str) -> None:
    inside = GRAPH.subgraph(m for m in GRAPH if m.split(".")[0] == package)
    cycles = {" → ".join(_from_lowest([*c])) for c in nx.simple_cycles(inside)}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def _from_lowest(cycle: list[str]) -> list[str]:
    """The cycle written from its alphabetically first module, back to it."""
    start = cycle.index(min(cycle))
    turned = cycle[start:] + cycle[:start]
    return [*turned, turned[0]]
