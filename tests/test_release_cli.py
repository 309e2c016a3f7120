"""`distro release ...` and `distro send test` as a user runs them: in a fresh working directory,
with a clean environment (tests/cli_support.py's ``run``); the sandbox they send to is the real
console script running in the background."""

from __future__ import annotations

import email
import email.policy
import signal
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from distro.db import init_database
from tests.cli_support import DISTRO, clean_env, free_port, run, run_json, wait_http

# A copy of the shared sample 002 (names kept), in the repository so the test never skips.
IMPORT_SAMPLE = (
    Path(__file__).resolve().parent / "fixtures" / "releases" / "002_0432d82b145eea99.txt"
)

RELEASE_TOML = '''title = "Harbor City Library opens its newspaper archive"
subtitle = "Two million pages, free to search from home"
dateline = "HARBOR CITY, Ore."
release_date = 2029-12-30
embargo = "2030-01-01 09:00 America/Los_Angeles"
body = """
The library today opened **The Harbor Record Archive**.

- full-text search;
- a reading room for reporters.
"""
boilerplate = "The Harbor City Public Library serves 180,000 residents."

[[media_contacts]]
name = "Priya Raman"
role = "Communications Manager"
phone = "+1 503 555 0142"
email = "press@harborlibrary.example"

[[asset_links]]
label = "Photos"
url = "https://harborlibrary.example/photos.zip"
'''

CONTACTS_CSV = (
    "Email,First name,Last name,Outlet,Title,Beats,Region,Country,Language,Time zone,Tags\n"
    "amara@harborherald.example,Amara,Okafor,Harbor Herald,City Editor,local,OR,US,en,"
    "Europe/Paris,embargo-ok\n"
    "desk@pacificwire.example,,,Pacific Wire,,,WA,US,en,America/Los_Angeles,\n"
)


def run_ok(cwd: Path, *args: str) -> str:
    done = run(cwd, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory with the default database (distro.db) created, as `distro init`
    does (done in-process here to save a start-up; the send test runs `init` itself)."""
    before, after = init_database(f"sqlite:///{tmp_path / 'distro.db'}")
    assert before is None
    assert after
    return tmp_path


def create_from_toml(workdir: Path) -> dict[str, Any]:
    path = workdir / "release.toml"
    path.write_text(RELEASE_TOML, encoding="utf-8")
    created: dict[str, Any] = run_json(
        workdir, "release", "create", "--from-file", str(path), "--json"
    )
    return created


def test_create_from_file_keeps_the_embargo_zone(workdir: Path) -> None:
    created = create_from_toml(workdir)
    assert created["status"] == "draft"
    shown = run_json(workdir, "release", "show", str(created["id"]), "--json")
    assert shown["id"] == created["id"]
    assert shown["title"] == "Harbor City Library opens its newspaper archive"
    assert shown["subtitle"] == "Two million pages, free to search from home"
    assert shown["release_date"] == "2029-12-30"
    assert shown["embargo_at"] == "2030-01-01T17:00:00+00:00"
    assert shown["embargo_tz"] == "America/Los_Angeles"
    assert shown["embargo_local"] == "2030-01-01 09:00 America/Los_Angeles (PST)"
    assert shown["contacts"] == [
        {
            "name": "Priya Raman",
            "role": "Communications Manager",
            "phone": "+1 503 555 0142",
            "email": "press@harborlibrary.example",
        }
    ]
    assert shown["assets"] == [
        {"label": "Photos", "url": "https://harborlibrary.example/photos.zip"}
    ]
    assert "**The Harbor Record Archive**" in shown["body"]


def test_unknown_key_in_release_file_is_a_one_line_error(workdir: Path) -> None:
    path = workdir / "typo.toml"
    path.write_text(RELEASE_TOML.replace("subtitle =", "sub_title ="), encoding="utf-8")
    line = one_line_error(run(workdir, "release", "create", "--from-file", str(path)))
    assert "sub_title" in line
    assert "unknown key" in line
    assert run_json(workdir, "release", "list", "--json") == []


def test_create_with_options_then_edit_approve_and_withdraw(workdir: Path) -> None:
    body = workdir / "body.md"
    body.write_text("The archive *opens* today.\n", encoding="utf-8")
    created = run_json(
        workdir,
        "release",
        "create",
        "--title",
        "Archive opens",
        "--body-file",
        str(body),
        "--contact",
        "Priya Raman | Communications Manager | +1 503 555 0142 | press@harbor.example",
        "--contact",
        "Tom Ode | Archivist",
        "--asset",
        "Photos | https://harbor.example/photos.zip",
        "--json",
    )
    release_id = str(created["id"])
    assert created["status"] == "draft"
    assert created["embargo_at"] is None
    assert created["contacts"] == [
        {
            "name": "Priya Raman",
            "role": "Communications Manager",
            "phone": "+1 503 555 0142",
            "email": "press@harbor.example",
        },
        {"name": "Tom Ode", "role": "Archivist", "phone": "", "email": ""},
    ]
    assert created["assets"] == [{"label": "Photos", "url": "https://harbor.example/photos.zip"}]

    approved = run_json(workdir, "release", "approve", release_id, "--json")
    assert approved["status"] == "approved"
    edited = run_json(workdir, "release", "edit", release_id, "--title", "Archive opens!", "--json")
    assert edited["title"] == "Archive opens!"
    assert edited["changed"] == ["title"]
    assert edited["status"] == "draft"  # changed content needs a fresh approval
    assert run_json(workdir, "release", "approve", release_id, "--json")["status"] == "approved"
    withdrawn = run_json(workdir, "release", "withdraw", release_id, "--json")
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["cancelled_sends"] == []
    assert run_json(workdir, "release", "show", release_id, "--json")["status"] == "withdrawn"


def test_import_reports_fields_contacts_and_redaction_warnings(workdir: Path) -> None:
    imported = run_json(workdir, "release", "import", str(IMPORT_SAMPLE), "--json")
    keys = {
        "id",
        "title",
        "subtitle",
        "dateline",
        "release_date",
        "embargo_at",
        "contacts",
        "body",
        "boilerplate",
        "warnings",
    }
    assert keys <= set(imported)
    assert imported["title"] == "President Biden: Honor Your Commitments to Migrant Communities"
    assert imported["release_date"] == "2021-02-02"
    assert imported["dateline"] == "CHICAGO"
    assert imported["embargo_at"] is None
    contacts = imported["contacts"]
    assert [c["name"] for c in contacts] == ["Fernanda Durand", "Nancy Treviño"]
    assert [c["phone"] for c in contacts] == ["(214) 402-0186", "(786) 201-8958"]
    for contact in contacts:
        assert {"name", "phone", "email"} <= set(contact)
        assert contact["email"] == ""  # "[email protected]" is not an address
    warnings = imported["warnings"]
    assert len(warnings) == 2
    assert all("redacted" in w and "[email protected]" in w for w in warnings)
    assert "Fernanda Durand" in warnings[0]
    assert "Nancy Treviño" in warnings[1]
    assert imported["body"].startswith("The following is a joint statement")
    assert "Alianza Americas is a network" in imported["boilerplate"]
    shown = run_json(workdir, "release", "show", str(imported["id"]), "--json")
    assert shown["status"] == "draft"
    assert shown["contacts"] == contacts


def preview_setup(workdir: Path) -> str:
    csv = workdir / "contacts.csv"
    csv.write_text(CONTACTS_CSV, encoding="utf-8")
    imported = run_json(workdir, "contacts", "import", str(csv), "--list", "press", "--json")
    assert imported["imported"] == 2
    return str(create_from_toml(workdir)["id"])


def test_preview_as_a_contact_in_every_form(workdir: Path) -> None:
    release_id = preview_setup(workdir)
    contact = "amara@harborherald.example"

    html = run_ok(workdir, "release", "preview", release_id, "--contact", contact)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Dear Amara," in html
    assert "<strong>The Harbor Record Archive</strong>" in html
    assert "EMBARGO" not in html  # an ordinary copy: no notice

    desk = run_ok(
        workdir, "release", "preview", release_id, "--contact", "desk@pacificwire.example"
    )
    assert "Hello," in desk
    assert "Dear" not in desk

    text = run_ok(
        workdir, "release", "preview", release_id, "--contact", contact, "--text", "--advance-copy"
    )
    assert "<html" not in text
    assert "Dear Amara," in text
    assert "HARBOR CITY LIBRARY OPENS ITS NEWSPAPER ARCHIVE" in text
    assert "*** EMBARGOED: not for publication or broadcast before 09:00 PST" in text
    assert "That is 18:00 CET on Tuesday where you are." in text

    with_headers = run_ok(
        workdir, "release", "preview", release_id, "--contact", contact, "--headers"
    )
    head, blank, body = with_headers.partition("\n\n")
    assert blank
    header_names = [line.split(":", 1)[0] for line in head.splitlines()]
    assert "List-Unsubscribe" in header_names
    assert "List-Unsubscribe-Post" in header_names
    assert "Subject" in header_names
    assert "To: Amara Okafor <amara@harborherald.example>" in head
    assert with_headers.index("List-Unsubscribe:") < with_headers.index("<!DOCTYPE")
    assert "Dear Amara," in body

    eml = workdir / "preview.eml"
    done = run(
        workdir, "release", "preview", release_id, "--contact", contact, "--eml", "--out", str(eml)
    )
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"].addresses[0].addr_spec == contact
    assert message["List-Unsubscribe"].startswith("<http")
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert "Dear Amara," in plain.get_content()
    assert "Dear Amara," in rich.get_content()

    unknown = one_line_error(
        run(workdir, "release", "preview", release_id, "--contact", "nobody@x.example")
    )
    assert "nobody@x.example" in unknown


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    """A standalone sandbox provider, and a config.toml in tmp_path pointing at it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "config.toml").write_text(
        f'[providers.sandbox]\ntype = "sandbox"\nbase_url = "{base}"\n', encoding="utf-8"
    )
    process = subprocess.Popen(
        [DISTRO, "sandbox", "--port", str(port), "--no-webhooks"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"{base}/api/messages")
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_send_test_reaches_the_sandbox_marked_and_is_recorded(tmp_path: Path, sandbox: str) -> None:
    initialised = run(tmp_path, "init")
    assert initialised.returncode == 0, initialised.stderr
    assert (tmp_path / "distro.db").is_file()
    release_id = create_from_toml(tmp_path)["id"]  # a draft: test copies go at any status
    to = "addr@example.org"
    result = run_json(tmp_path, "send", "test", str(release_id), "--to", to, "--json")
    assert result["to"] == to
    assert result["provider"] == "sandbox"
    assert result["subject"].startswith("[TEST] ")
    assert result["provider_message_id"]

    inbox = httpx.get(f"{sandbox}/api/messages", params={"to": to}, timeout=5).json()
    assert inbox["count"] == 1
    (summary,) = inbox["messages"]
    assert summary["Subject"].startswith("[TEST]")
    assert summary["Subject"] == result["subject"]
    assert summary["MessageID"] == result["provider_message_id"]
    detail = httpx.get(f"{sandbox}/api/messages/{summary['MessageID']}", timeout=5).json()
    headers = {h["Name"]: h["Value"] for h in detail["Headers"]}
    assert headers["X-Distro-Test"] == "yes"
    assert headers["List-Unsubscribe"].startswith("<http")
    assert to in detail["Recipients"]
    assert "Hello," in detail["TextBody"]  # not a contact: no first name to greet

    sends = run_json(tmp_path, "send", "list", "--json")
    assert len(sends) == 1
    (recorded,) = sends
    assert recorded["send_id"] == result["send_id"]
    assert recorded["release_id"] == release_id
    assert (recorded["status"], recorded["kind"]) == ("sent", "test")
    assert recorded["recipients"] == 1
    assert recorded["provider"] == "sandbox"
    other = httpx.get(f"{sandbox}/api/messages", params={"to": "else@example.org"}, timeout=5)
    assert other.json()["count"] == 0
