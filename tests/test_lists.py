"""Static lists: the service on SQLite and PostgreSQL, and ``distro lists ...`` as a user runs
it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from distro.audience.lists import (
    add_emails,
    delete_list,
    find_list,
    get_or_create_list,
    list_members,
    list_sizes,
    remove_emails,
)
from distro.errors import NotFoundError, ValidationError
from distro.models import Contact, ListMember
from distro.models.types import utcnow
from distro.sending.scheduling import Audience, schedule_send
from tests.cli_support import run, run_json
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release


def members(engine: Engine, name: str) -> list[str]:
    with Session(engine) as session:
        return [c.email for c in list_members(session, find_list(session, name))]


def sizes(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {lst.name: n for lst, n in list_sizes(session)}


# --- service ----------------------------------------------------------------------------------


def test_add_emails_adds_known_reports_unknown_and_is_idempotent(any_engine: Engine) -> None:
    add_contacts(any_engine, 3, "everyone")
    with Session(any_engine) as session:
        vip = get_or_create_list(session, "vip")
        change = add_emails(
            session,
            vip,
            [" Reporter2@News.example", "nobody@news.example", "reporter0@news.example"],
        )
        session.commit()
    assert change.changed == ["reporter2@news.example", "reporter0@news.example"]
    assert change.unchanged == []
    assert change.unknown == ["nobody@news.example"]
    assert members(any_engine, "vip") == ["reporter0@news.example", "reporter2@news.example"]

    with Session(any_engine) as session:
        again = add_emails(
            session,
            find_list(session, "vip"),
            ["reporter0@news.example", "REPORTER0@news.example", "reporter1@news.example"],
        )
        session.commit()
    assert again.changed == ["reporter1@news.example"]
    assert again.unchanged == ["reporter0@news.example"]  # repeated address counted once
    assert sizes(any_engine) == {"everyone": 3, "vip": 3}


def test_remove_emails_takes_members_off_and_keeps_contacts(any_engine: Engine) -> None:
    add_contacts(any_engine, 3)
    with Session(any_engine) as session:
        change = remove_emails(
            session,
            find_list(session, "press"),
            ["reporter1@news.example", "ghost@news.example"],
        )
        session.commit()
    assert (change.changed, change.unchanged, change.unknown) == (
        ["reporter1@news.example"],
        [],
        ["ghost@news.example"],
    )
    with Session(any_engine) as session:
        again = remove_emails(session, find_list(session, "press"), ["reporter1@news.example"])
        session.commit()
    assert (again.changed, again.unchanged) == ([], ["reporter1@news.example"])
    assert members(any_engine, "press") == ["reporter0@news.example", "reporter2@news.example"]
    with Session(any_engine) as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 3


def test_delete_list_removes_memberships_not_contacts_or_other_lists(any_engine: Engine) -> None:
    add_contacts(any_engine, 3, "press")
    with Session(any_engine) as session:
        other = get_or_create_list(session, "other")
        add_emails(session, other, ["reporter0@news.example"])
        session.commit()
    assert delete_list(any_engine, "press").memberships_removed == 3
    with Session(any_engine) as session:
        with pytest.raises(NotFoundError, match="press"):
            find_list(session, "press")
        assert session.exec(select(func.count()).select_from(Contact)).one() == 3
        assert session.exec(select(func.count()).select_from(ListMember)).one() == 1
    assert sizes(any_engine) == {"other": 1}
    assert members(any_engine, "other") == ["reporter0@news.example"]


def test_a_list_a_waiting_send_names_cannot_be_deleted(engine: Engine) -> None:
    add_contacts(engine, 2)
    release = add_release(engine)
    assert release.id is not None
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=utcnow()
    )
    with pytest.raises(ValidationError, match=f"send.*{send.id}"):
        delete_list(engine, "press")
    assert sizes(engine) == {"press": 2}


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """``distro init`` done, three contacts imported, all on the list ``press``."""
    assert run(tmp_path, "init").returncode == 0
    (tmp_path / "people.csv").write_text(
        "email,first name,last name,outlet\n"
        "ana@harbor.example,Ana,Silva,Harbor Herald\n"
        "ben@wire.example,Ben,,Pacific Wire\n"
        "cat@daily.example,,,\n",
        encoding="utf-8",
    )
    imported = run_json(tmp_path, "contacts", "import", "people.csv", "--json")
    assert imported["imported"] == 3
    done = run(tmp_path, "lists", "create", "press", "--description", "The usual")
    assert done.returncode == 0, done.stderr
    return tmp_path


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, f"{done.args} exited {done.returncode}:\n{done.stdout}"
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_add_show_remove(workspace: Path) -> None:
    added = run_json(
        workspace,
        "lists",
        "add",
        "press",
        "Ana@Harbor.example",
        "ben@wire.example",
        "zed@nowhere.example",
        "--json",
    )
    assert added == {
        "list": "press",
        "added": ["ana@harbor.example", "ben@wire.example"],
        "already_members": [],
        "unknown": ["zed@nowhere.example"],
    }
    shown = run_json(workspace, "lists", "show", "press", "--json")
    assert shown == {
        "name": "press",
        "description": "The usual",
        "count": 2,
        "members": [
            {"email": "ana@harbor.example", "name": "Ana Silva", "outlet": "Harbor Herald"},
            {"email": "ben@wire.example", "name": "Ben", "outlet": "Pacific Wire"},
        ],
    }

    again = run(workspace, "lists", "add", "press", "ana@harbor.example", "cat@daily.example")
    assert again.returncode == 0, again.stderr
    assert "Added 1 to 'press'; 1 already on it, 0 unknown." in again.stdout
    assert run_json(workspace, "lists", "show", "press", "--json")["count"] == 3

    removed = run_json(
        workspace, "lists", "remove", "press", "ben@wire.example", "zed@x.example", "--json"
    )
    assert removed == {
        "list": "press",
        "removed": ["ben@wire.example"],
        "not_members": [],
        "unknown": ["zed@x.example"],
    }
    repeat = run_json(workspace, "lists", "remove", "press", "ben@wire.example", "--json")
    assert (repeat["removed"], repeat["not_members"]) == ([], ["ben@wire.example"])
    table = run(workspace, "lists", "show", "press")
    assert table.returncode == 0, table.stderr
    assert "(2 contacts)" in table.stdout
    assert "ana@harbor.example" in table.stdout
    assert "ben@wire.example" not in table.stdout
    contacts = run_json(workspace, "contacts", "list", "--json")
    assert len(contacts) == 3  # removing from a list never deletes the contact


def test_cli_delete_needs_yes_and_keeps_contacts(workspace: Path) -> None:
    run_json(workspace, "lists", "add", "press", "ana@harbor.example", "ben@wire.example", "--json")
    unconfirmed = run(workspace, "lists", "delete", "press")  # stdin is not a terminal
    assert "--yes" in one_line_error(unconfirmed)
    assert run_json(workspace, "lists", "show", "press", "--json")["count"] == 2

    deleted = run_json(workspace, "lists", "delete", "press", "--yes", "--json")
    assert deleted == {"name": "press", "deleted": True, "memberships_removed": 2}
    assert run_json(workspace, "lists", "list", "--json") == []
    assert len(run_json(workspace, "contacts", "list", "--json")) == 3
    assert "press" in one_line_error(run(workspace, "lists", "delete", "press", "--yes"))


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised workspace with an empty list ``press``, for tests that change nothing."""
    folder = tmp_path_factory.mktemp("lists")
    assert run(folder, "init").returncode == 0
    assert run(folder, "lists", "create", "press").returncode == 0
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nope"),
        ("add", "nope", "ana@harbor.example"),
        ("remove", "nope", "ana@harbor.example"),
        ("delete", "nope", "--yes"),
    ],
    ids=["show", "add", "remove", "delete"],
)
def test_cli_unknown_list_is_one_line(shared_workspace: Path, args: tuple[str, ...]) -> None:
    assert "no list named 'nope'" in one_line_error(run(shared_workspace, "lists", *args))
    assert run_json(shared_workspace, "lists", "list", "--json") == [
        {"name": "press", "description": "", "contacts": 0}
    ]
