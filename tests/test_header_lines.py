"""Header values built from data stay on one line: a line break or control character in a
contact's name (or a release title) neither crashes a preview nor adds a header nor loses a
message, whichever provider sends it; import and edit store names as one line."""

from __future__ import annotations

import email.policy
import re
from email.parser import HeaderParser
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from distro.db import make_engine, upgrade
from distro.models import Contact
from distro.providers.base import format_address
from distro.single_line import single_line
from tests.cli_support import run, run_json
from tests.factories import add_contacts, messages_of
from tests.sandbox_support import LiveSandbox, live_sandbox
from tests.send_support import send_release_now
from tests.test_sandbox_adapters import CONFIGS, settings_for

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
EVIL = "evil@attacker.example"
BROKEN_FIRST = f"Eve\r\nBcc: {EVIL}\r\n"
BROKEN_LAST = "Ng\x00\x1b[31m\u2028X"
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ann Lee", "Ann Lee"),
        ("  Ann  ", "  Ann  "),  # nothing to do: spaces are the caller's to trim
        ("Eve\r\nBcc: x@y.example", "Eve Bcc: x@y.example"),
        ("\nEve \r\n\t Ng\n", "Eve Ng"),
        ("A\x00B\x1bC\x7fD\x85E\u2028F\u2029G", "A B C D E F G"),
        ("Zoë\u00a0Ng", "Zoë\u00a0Ng"),  # a no-break space is a space, not a break
        ("\r\n", ""),
    ],
)
def test_single_line(text: str, expected: str) -> None:
    assert single_line(text) == expected


def test_a_display_name_never_breaks_its_header() -> None:
    formatted = format_address(BROKEN_FIRST + BROKEN_LAST, "eve@x.example")
    assert CONTROLS.search(formatted) is None
    assert formatted.endswith("<eve@x.example>")
    assert format_address("\r\n", "eve@x.example") == "eve@x.example"


# --- the preview that crashed -------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A CLI folder with the sample release and a contact whose stored name has line breaks
    (stored before import and edit made names one line, or by hand)."""
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "release", "create", "--sample").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'distro.db'}")
    add_contacts(engine, 1, domain="x.example")
    with engine.begin() as conn:
        conn.execute(update(CONTACTS).values(first_name=BROKEN_FIRST, last_name=BROKEN_LAST))
    engine.dispose()
    return tmp_path


def header_block(output: str) -> list[str]:
    return output.split("\n\n", 1)[0].splitlines()


def test_preview_headers_with_a_line_break_in_the_name(folder: Path) -> None:
    contact = ("--contact", "reporter0@x.example")
    done = run(folder, "release", "preview", "1", *contact, "--headers")
    assert done.returncode == 0, done.stderr
    headers = header_block(done.stdout)
    to = [line for line in headers if line.startswith("To: ")]
    assert to == ['To: "Eve Bcc: evil@attacker.example Ng [31m X" <reporter0@x.example>']
    assert not any(line.lower().startswith("bcc") for line in headers)

    done = run(folder, "release", "preview", "1", *contact, "--eml")
    assert done.returncode == 0, done.stderr
    parsed = HeaderParser(policy=email.policy.default).parsestr(done.stdout)
    assert parsed["Bcc"] is None
    assert EVIL in str(parsed["To"])  # inside the display name, as text
    assert parsed["To"].addresses[0].addr_spec == "reporter0@x.example"


def test_import_and_edit_store_names_as_one_line(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    (tmp_path / "people.csv").write_bytes(
        b"email,first_name,outlet,notes,beats\n"
        b'a@x.example,"Eve\r\nBcc: evil@attacker.example","Harbor\tHerald","two\r\nlines",'
        b'"courts\nhealth;local"\n'
    )
    assert run_json(tmp_path, "contacts", "import", "people.csv", "--json")["imported"] == 1
    shown = run_json(tmp_path, "contacts", "show", "a@x.example", "--json")
    assert shown["first_name"] == "Eve Bcc: evil@attacker.example"
    assert shown["outlet"] == "Harbor Herald"
    assert shown["notes"] == "two\r\nlines"  # notes are free text over several lines
    assert shown["beats"] == ["courts health", "local"]

    edited = run(
        tmp_path, "contacts", "edit", "a@x.example", "--last-name", "Ng\nX", "--add-tag", "a\nb"
    )
    assert edited.returncode == 0, edited.stderr
    shown = run_json(tmp_path, "contacts", "show", "a@x.example", "--json")
    assert (shown["last_name"], shown["tags"]) == ("Ng X", ["a b"])


# --- a send through the sandbox, every provider ------------------------------------------------


def send_everything(engine: Engine, kind: str, live: LiveSandbox, tmp_path: Path) -> int:
    """Schedule, fire and send a release to the list "press" through the sandbox at once."""
    settings = settings_for(kind, live, tmp_path)
    title = "Harbor opens\r\nBcc: evil@attacker.example\x00 archive"
    return send_release_now(engine, settings, title)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_a_send_with_such_a_contact_delivers_every_message_through_the_sandbox(
    kind: str, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'distro.db'}")
    upgrade(engine)
    contacts = add_contacts(engine, 6, domain="x.example")
    with engine.begin() as conn:
        conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.email == "reporter2@x.example")
            .values(first_name=BROKEN_FIRST, last_name=BROKEN_LAST)
        )
    with live_sandbox() as live:
        send_id = send_everything(engine, kind, live, tmp_path)
        counts = live.sandbox.store.recipient_counts()
        stored = {m.recipients[0]: m for m in live.sandbox.store.messages()}
    statuses = {m.email: (m.status, m.last_error) for m in messages_of(engine, send_id)}
    engine.dispose()

    assert statuses == {c.email: ("sent", None) for c in contacts}
    assert counts == {c.email: 1 for c in contacts}  # everyone once, the attacker never
    broken = stored["reporter2@x.example"]
    for value in (broken.to, broken.subject, *(v for _, v in broken.headers)):
        assert CONTROLS.search(value) is None, value
    assert "Eve Bcc: evil@attacker.example" in broken.to
    assert broken.subject == "Harbor opens Bcc: evil@attacker.example archive"
