"""The web routes stay thin, as the command line does (tests/test_cli_layer.py): they verify
tokens, call services and render, and never hold a session, a query or a transaction of their
own, so the web app, the CLI and the API to come share one service for each piece of work."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distro.web

WEB = Path(distro.web.__file__).parent
MODULES = sorted(WEB.glob("*.py"))
# The engine's type (for the app context) and the database's error class (a webhook answers
# 503 on it, so the provider retries) are all it may take from SQLAlchemy.
ALLOWED = {"sqlalchemy": {"Engine"}, "sqlalchemy.exc": {"SQLAlchemyError"}}
FORBIDDEN_CALLS = {"commit", "rollback", "begin", "connect", "exec", "execute", "scalar", "scalars"}
SESSIONS = {"Session", "reading", "writing", "reading_session", "writing_session", "session_scope"}


def data_work(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("sql")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.startswith("sql"):
                found += [
                    f"from {node.module} import {name}"
                    for name in sorted(names - ALLOWED.get(node.module, set()))
                ]
            elif node.module == "distro.db":
                found += [f"from distro.db import {name}" for name in sorted(names & SESSIONS)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN_CALLS
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def test_the_check_sees_data_work() -> None:
    source = "from sqlmodel import Session\nfrom distro.db import reading\nconn.execute(q)\n"
    assert data_work(source) == [
        "from sqlmodel import Session",
        "from distro.db import reading",
        "line 3: .execute(...)",
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_web_module_does_no_data_work_of_its_own(path: Path) -> None:
    found = data_work(path.read_text(encoding="utf-8"))
    assert found == [], f"{path.name} does data work itself: {found}"
