"""The command line stays thin: its modules parse arguments, call services and print, and never
hold a session, a query or a transaction of their own (the services own those, so the web app
and the API can call the same ones). A command that needs data work gets a service instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distro.cli

CLI = Path(distro.cli.__file__).parent
MODULES = sorted(CLI.glob("*.py"))
# The engine's type (for a signature) and opening or creating the database are all it may take.
ALLOWED = {
    "sqlalchemy": {"Engine"},
    "distro.db": {"display_url", "init_database", "open_database"},
}
FORBIDDEN_MODULES = ("sqlmodel", "sqlalchemy.")
FORBIDDEN_CALLS = {"commit", "rollback", "begin", "connect", "exec", "execute", "scalar", "scalars"}


def test_there_are_cli_modules() -> None:
    assert len(MODULES) > 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_cli_module_does_no_data_work_of_its_own(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" for a in node.names if a.name.startswith(("sqlmodel", "sqlalch"))
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if module.startswith(FORBIDDEN_MODULES):
                found.append(f"from {module} import ...")
            elif module in ALLOWED:
                found += [
                    f"from {module} import {a.name}"
                    for a in node.names
                    if a.name not in ALLOWED[module]
                ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN_CALLS
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    assert found == [], f"{path.name} does data work itself: {found}"
