"""No import cycles between distro's packages, counting imports made inside functions.

A cycle between two packages means neither can be understood, tested or moved without the other,
and it is what pushes code into lazy imports. Packages are layered instead: ``distro.tracking``
may use ``distro.audience`` (an unsubscribe suppresses an address) but not the reverse, and the
app that wires ``distro.web`` to ``distro.sandbox`` lives above both, in ``distro.assemble``.
The scan is of the source (ast), so an import hidden in a function or under ``TYPE_CHECKING``
counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import distro

ROOT = Path(distro.__file__).parent


def layer_of(module: str) -> str:
    """``distro.audience.lists`` -> ``distro.audience``; a top-level module is its own layer."""
    return ".".join(module.split(".")[:2])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, package: str) -> Iterator[tuple[str, int]]:
    """Every distro module a module imports, absolute or relative, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join([*base, *([node.module] if node.module else [])]), node.lineno
            elif node.module:
                yield node.module, node.lineno


def layer_edges(root: Path) -> dict[str, dict[str, str]]:
    """For each layer, the layers it imports and where (the first place seen, for the message)."""
    edges: dict[str, dict[str, str]] = {}
    for path in sorted(root.rglob("*.py")):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        source = layer_of(module)
        for target, line in imported(ast.parse(path.read_text(encoding="utf-8")), package):
            if not target.startswith("distro."):
                continue
            goal = layer_of(target)
            if goal != source:
                edges.setdefault(source, {}).setdefault(goal, f"{path}:{line}")
    return edges


def cycles(edges: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one layer (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for goal in edges.get(node, {}):
            if goal not in index:
                visit(goal)
                low[node] = min(low[node], low[goal])
            elif goal in stack:
                low[node] = min(low[node], index[goal])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def explain(group: list[str], edges: Mapping[str, Mapping[str, str]]) -> str:
    lines = [" <-> ".join(group)]
    for source in group:
        lines += [
            f"  {source} -> {goal} at {where}"
            for goal, where in edges.get(source, {}).items()
            if goal in group
        ]
    return "\n".join(lines)


def test_the_scan_sees_the_packages() -> None:
    edges = layer_edges(ROOT)
    assert "distro.audience" in edges["distro.tracking"]
    assert "distro.web" in edges["distro.assemble"]


def test_the_scan_finds_a_cycle_and_says_where() -> None:
    edges = {"a": {"b": "a.py:1"}, "b": {"c": "b.py:2"}, "c": {"a": "c.py:3"}, "d": {"a": "d:4"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert "a -> b at a.py:1" in explain(["a", "b", "c"], edges)


def test_relative_imports_count() -> None:
    tree = ast.parse("from . import x\nfrom ..web import app\n")
    assert [name for name, _ in imported(tree, "distro.sandbox")] == [
        "distro.sandbox",
        "distro.web",
    ]


def test_no_import_cycles_between_packages() -> None:
    edges = layer_edges(ROOT)
    found = cycles(edges)
    assert found == [], "import cycles between packages:\n" + "\n".join(
        explain(group, edges) for group in found
    )
