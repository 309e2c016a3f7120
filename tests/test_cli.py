"""The CLI as a user runs it, in a scratch working directory, with a controlled environment: in
this process (tests/cli_support.py's ``run``), and through the installed ``distro`` script where
the entry point itself is what is tested."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, func, select
from sqlmodel import Session
from typer.core import TyperCommand, TyperGroup, TyperOption

import distro.cli
from distro.audience.importer import import_contacts
from distro.audience.lists import get_or_create_list
from distro.db import head_revision, make_engine, open_database, upgrade
from distro.models import Send
from distro.releases.lifecycle import approve
from distro.releases.service import create_sample_release
from tests.cli_support import DISTRO, clean_env, run

REPORT_KEYS = {
    "send_id",
    "recipients",
    "suppressed",
    "sent",
    "delivered",
    "bounced",
    "failed",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
}


def run_distro(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    columns: int = 80,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``distro ARGS`` in ``cwd`` with no DISTRO_* variables but those in ``env``: in this
    process, or with ``process`` as the installed console script in a process of its own.

    Output is plain (no colour) and ``columns`` wide: 80, the usual terminal, unless a test needs
    wide help tables that are not folded.
    """
    plain = {"COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb", **(env or {})}
    if process:
        environ = {k: v for k, v in clean_env(**plain).items() if k != "FORCE_COLOR"}
        return subprocess.run(
            [DISTRO, *args],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return run(cwd, *args, env={"FORCE_COLOR": None, **plain})


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def json_output(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(succeeded(result))


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (fails unless exactly that)."""
    assert result.returncode != 0, f"{result.args} succeeded:\n{result.stdout}"
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# --- help -----------------------------------------------------------------------------------


Command = TyperCommand | TyperGroup


def walk(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Command]]:
    """Every command of the Click tree Typer builds, named by its path: ``send schedule``."""
    assert isinstance(command, TyperCommand | TyperGroup), f"unexpected {command!r}"
    yield " ".join(path) or "distro", command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(distro.cli.app)))


def test_the_command_tree_is_complete() -> None:
    names = {name for name, _command in COMMANDS}
    assert {"init", "report", "contacts import", "send schedule", "release create"} <= names


@pytest.mark.parametrize("command", [c for _, c in COMMANDS], ids=[n for n, _ in COMMANDS])
def test_every_command_and_option_has_help(command: Command) -> None:
    assert (command.help or "").strip(), f"{command.name} has no help text"
    assert command.get_short_help_str().strip(), f"{command.name} has no short help"
    for param in command.params:
        if isinstance(param, TyperOption) and "--help" not in param.opts:
            assert (param.help or "").strip(), f"{command.name} {param.opts} has no help text"


def test_distro_help_lists_the_commands(tmp_path: Path) -> None:
    # Through the console script: the entry point itself is what a user runs.
    out = succeeded(run_distro(tmp_path, "--help", columns=200, process=True))
    for name in ("init", "serve", "report", "contacts", "lists", "release", "send", "--config"):
        assert name in out


def test_send_schedule_help_shows_the_contract_options(tmp_path: Path) -> None:
    out = " ".join(
        succeeded(run_distro(tmp_path, "send", "schedule", "--help", columns=200)).split()
    )
    for option in ("--list", "--where", "--segment", "--at", "--at-embargo", "--provider"):
        assert option in out
    assert "--json" in out
    # Each option's help text is shown whole (none of it swallowed as markup).
    schedule = dict(COMMANDS)["send schedule"]
    for param in schedule.params:
        if isinstance(param, TyperOption) and param.help:
            assert " ".join(param.help.split()) in out, param.opts


# --- configuration and database errors ------------------------------------------------------


@dataclass
class BadSetup:
    args: tuple[str, ...]
    names: str  # what the one line must mention
    config_toml: str | None = None
    env: dict[str, str] | None = None
    database_bytes: bytes | None = None
    process: bool = False  # through the console script: main's one line and exit status


BAD_SETUPS = [
    pytest.param(
        BadSetup(("contacts", "list"), "sending.batchsize", "[sending]\nbatchsize = 3\n"),
        id="unknown-key-in-config-toml",
    ),
    pytest.param(
        BadSetup(
            ("contacts", "list"),
            "DISTRO_SENDING__BATCH_SIZE",
            env={"DISTRO_SENDING__BATCH_SIZE": "abc"},
        ),
        id="bad-env-value",
    ),
    pytest.param(
        BadSetup(("--config", "missing.toml", "contacts", "list"), "missing.toml"),
        id="missing-config-file",
    ),
    pytest.param(BadSetup(("report", "1"), "distro init", process=True), id="missing-database"),
    pytest.param(
        BadSetup(("contacts", "list"), "distro.db", database_bytes=os.urandom(8192)),
        id="corrupt-database",
    ),
]


@pytest.mark.parametrize("setup", BAD_SETUPS)
def test_bad_setup_is_one_line_without_traceback(tmp_path: Path, setup: BadSetup) -> None:
    if setup.config_toml is not None:
        (tmp_path / "config.toml").write_text(setup.config_toml, encoding="utf-8")
    if setup.database_bytes is not None:
        (tmp_path / "distro.db").write_bytes(setup.database_bytes)
    line = one_line_error(run_distro(tmp_path, *setup.args, env=setup.env, process=setup.process))
    assert setup.names in line


# --- init -----------------------------------------------------------------------------------


def test_init_creates_the_sqlite_database_then_reports_it_up_to_date(tmp_path: Path) -> None:
    first = succeeded(run_distro(tmp_path, "init"))
    assert (tmp_path / "distro.db").is_file()
    assert "Created" in first
    again = succeeded(run_distro(tmp_path, "init"))
    assert "up to date" in again
    engine = open_database(f"sqlite:///{tmp_path / 'distro.db'}")
    engine.dispose()


@pytest.mark.postgres
def test_init_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    report = json_output(
        run_distro(tmp_path, "init", "--json", env={"DISTRO_DATABASE__URL": postgres_url})
    )
    assert report["from_revision"] is None
    assert report["revision"] == head_revision()
    assert not (tmp_path / "distro.db").exists()
    engine = open_database(postgres_url)  # raises unless migrated to the head revision
    engine.dispose()


# --- JSON outputs ---------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_json_outputs_parse_end_to_end(tmp_path: Path) -> None:
    init = json_output(run_distro(tmp_path, "init", "--json"))
    assert init["from_revision"] is None
    assert init["revision"] == head_revision()

    contacts = write_csv(
        tmp_path / "journalists.csv",
        [
            ("Email", "First name", "Outlet"),
            ("ana@harbor.example", "Ana", "Harbor Herald"),  # line 2
            ("not-an-address", "Nobody", "Nowhere"),  # line 3: invalid
            ("ben@wire.example", "Ben", "Pacific Wire"),  # line 4
            ("Ana@Harbor.example", "Ana", "Harbor Herald"),  # line 5: duplicate of line 2
        ],
    )
    imported = json_output(
        run_distro(tmp_path, "contacts", "import", contacts.name, "--list", "press", "--json")
    )
    assert imported["imported"] == 2
    assert len(imported["invalid"]) == 1
    assert imported["invalid"][0]["line"] == 3
    assert imported["invalid"][0]["reason"]
    assert [(d["email"], d["lines"]) for d in imported["duplicates"]] == [
        ("ana@harbor.example", [2, 5])
    ]

    lists = json_output(run_distro(tmp_path, "lists", "list", "--json"))
    assert {item["name"]: item["contacts"] for item in lists} == {"press": 2}

    release = json_output(run_distro(tmp_path, "release", "create", "--sample", "--json"))
    assert isinstance(release["id"], int)
    assert release["title"]
    assert release["status"] == "draft"
    approved = json_output(run_distro(tmp_path, "release", "approve", str(release["id"]), "--json"))
    assert approved["status"] == "approved"

    scheduled = json_output(
        run_distro(tmp_path, "send", "schedule", str(release["id"]), "--list", "press", "--json")
    )
    send_id = scheduled["send_id"]
    assert isinstance(send_id, int)

    sends = json_output(run_distro(tmp_path, "send", "list", "--json"))
    assert [(s["send_id"], s["release_id"]) for s in sends] == [(send_id, release["id"])]

    report = json_output(run_distro(tmp_path, "report", str(send_id), "--format", "json"))
    assert set(report) >= REPORT_KEYS
    assert report["send_id"] == send_id


# --- send schedule refusals -----------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    folder: Path
    engine: Engine
    release_id: int


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A migrated SQLite database with a list of two, an empty list and the sample release."""
    folder = tmp_path_factory.mktemp("workspace")
    engine = make_engine(f"sqlite:///{folder / 'distro.db'}")
    upgrade(engine)
    contacts = write_csv(
        folder / "press.csv",
        [("email",), ("ana@harbor.example",), ("ben@wire.example",)],
    )
    assert import_contacts(engine, contacts, list_name="press").imported == 2
    with Session(engine, expire_on_commit=False) as session:
        get_or_create_list(session, "empty")
        release = create_sample_release(session)
        approve(release)
        session.add(release)
        session.commit()
    assert release.id is not None
    yield Workspace(folder, engine, release.id)
    engine.dispose()


def send_count(engine: Engine) -> int:
    with Session(engine) as session:
        count: int = session.execute(select(func.count()).select_from(Send)).scalar_one()
        return count


REFUSALS = [
    pytest.param(("--list", "no-such-list"), "no-such-list", id="unknown-list"),
    pytest.param(("--list", "empty"), "empty", id="empty-audience"),
    pytest.param(
        ("--where", "beat = 'tech'"), "column 1: unknown field 'beat'", id="where-mistake"
    ),
    pytest.param(("--list", "press", "--at", "2000-01-01T09:00:00Z"), "past", id="time-in-past"),
    pytest.param(("--list", "press", "--provider", "pigeon"), "pigeon", id="unknown-provider"),
]


@pytest.mark.parametrize(("options", "names"), REFUSALS)
def test_send_schedule_refuses_with_one_line(
    workspace: Workspace, options: tuple[str, ...], names: str
) -> None:
    before = send_count(workspace.engine)
    result = run_distro(
        workspace.folder, "send", "schedule", str(workspace.release_id), *options, "--json"
    )
    line = one_line_error(result)
    assert names in line
    assert result.stdout == ""
    assert send_count(workspace.engine) == before
