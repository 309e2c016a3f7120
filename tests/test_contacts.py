"""Contact import (the shared sample with its deliberate defects, encodings, updates, custom
fields, chunked writes) and the `contacts` commands through the installed console script."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from distro.audience import import_store
from distro.audience.contact_fields import AddressNormaliser
from distro.audience.importer import import_contacts
from distro.models import (
    Contact,
    ContactBeat,
    ContactList,
    ContactTag,
    ListMember,
    Suppression,
    SuppressionLog,
)
from tests.cli_support import run, run_json

# A byte-for-byte copy of the shared sample (/work/shared/samples/journalists.csv), kept in the
# repository so these tests never depend on what sits beside the clone.
SAMPLE = Path(__file__).resolve().parent / "fixtures" / "journalists.csv"


def write_csv(path: Path, rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def contact(engine: Engine, email: str) -> Contact:
    with Session(engine) as session:
        found: Contact = session.execute(
            select(Contact).where(col(Contact.email) == email)
        ).scalar_one()
        session.expunge(found)
        return found


def multi(engine: Engine, email: str) -> tuple[set[str], set[str]]:
    with Session(engine) as session:
        cid = contact(engine, email).id
        beats = set(
            session.execute(select(col(ContactBeat.beat)).where(col(ContactBeat.contact_id) == cid))
            .scalars()
            .all()
        )
        tags = set(
            session.execute(select(col(ContactTag.tag)).where(col(ContactTag.contact_id) == cid))
            .scalars()
            .all()
        )
    return beats, tags


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


# --- the sample (tests/fixtures) ------------------------------------------------------------


def sample_expectations() -> dict[str, Any]:
    """What a correct import of the sample gives, worked out here with csv and email-validator."""
    invalid: dict[int, str] = {}
    first_line: dict[str, int] = {}
    lines: dict[str, list[int]] = {}
    rows: dict[int, dict[str, str]] = {}
    with SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        line = reader.line_num + 1
        for row in reader:
            address = (row.get("email") or "").strip()
            rows[line] = row
            if not address:
                invalid[line] = ""
            else:
                try:
                    email = validate_email(address, check_deliverability=False).normalized.lower()
                except EmailNotValidError:
                    invalid[line] = address
                else:
                    first_line.setdefault(email, line)
                    lines.setdefault(email, []).append(line)
            line = reader.line_num + 1
    return {
        "invalid": invalid,
        "valid": set(first_line),
        "duplicates": {e: ls for e, ls in lines.items() if len(ls) > 1},
        "rows": rows,
    }


def test_sample_import_reports_every_defect_and_imports_every_valid_row(
    any_engine: Engine,
) -> None:
    expected = sample_expectations()
    report = import_contacts(any_engine, SAMPLE, list_name="sample")

    assert report.imported == len(expected["valid"])
    assert count(any_engine, Contact) == len(expected["valid"])
    assert count(any_engine, ListMember) == len(expected["valid"])

    by_line = {row["line"]: row for row in report.invalid}
    assert set(by_line) == set(expected["invalid"])
    assert all(row["reason"] for row in report.invalid)
    for line, address in expected["invalid"].items():
        assert by_line[line]["email"] == address
    reasons = {row["email"]: row["reason"] for row in report.invalid}
    assert reasons[""] == "no email address"
    assert "@-sign" in reasons["not-an-email"]
    assert "'@'" in reasons["desk@@chron.com"]  # the double @
    assert any(e.startswith("=HYPERLINK") for e in reasons)  # a formula is not an address

    assert {d["email"]: d["lines"] for d in report.duplicates} == expected["duplicates"]
    assert expected["duplicates"], "the sample is meant to contain a duplicate pair"

    messages = [(w["line"], w["email"], w["message"]) for w in report.warnings]
    zone_lines = [
        line for line, row in expected["rows"].items() if row["timezone"] == "Mars/Olympus_Mons"
    ]
    assert zone_lines
    for line in zone_lines:
        assert any(n == line and "Mars/Olympus_Mons" in m for n, _, m in messages)
    roles = {e for _, e, m in messages if "role address" in m}
    assert {"newsdesk@ap.org", "editor@laraza.com"} <= roles
    # José's address is kept, with a warning naming the providers that cannot take it.
    (international,) = [(n, m) for n, e, m in messages if e == "josé.lópez@elnuevoherald.com"]
    assert international[0] == 180
    assert "non-ASCII local part" in international[1]
    assert "postmark, sendgrid, ses, resend" in international[1]
    # the unknown zone is dropped, the contact kept
    assert contact(any_engine, "newsdesk@ap.org").timezone == ""


def test_sample_duplicate_pair_collapses_with_later_values_winning(engine: Engine) -> None:
    expected = sample_expectations()
    import_contacts(engine, SAMPLE)
    for email, lines in expected["duplicates"].items():
        last = expected["rows"][lines[-1]]
        stored = contact(engine, email)
        assert stored.title == last["title"]
        beats, tags = multi(engine, email)
        assert beats == {b.strip().lower() for b in last["beats"].split(";") if b.strip()}
        assert tags == {t.strip().lower() for t in last["tags"].split(";") if t.strip()}


def test_sample_markup_and_international_addresses_are_stored_as_given(engine: Engine) -> None:
    expected = sample_expectations()
    import_contacts(engine, SAMPLE)
    marked = [
        (line, row)
        for line, row in expected["rows"].items()
        if "<" in row["first_name"] and line not in expected["invalid"]
    ]
    assert marked, "the sample is meant to contain a name with markup"
    for _, row in marked:
        email = validate_email(row["email"].strip(), check_deliverability=False)
        assert contact(engine, email.normalized.lower()).first_name == row["first_name"]
    international = [e for e in expected["valid"] if not e.isascii()]
    assert international
    for email in international:
        assert contact(engine, email).email == email


# --- import behaviour -------------------------------------------------------------------------

FORMULA_NAMES = {
    "eq@example.com": '=HYPERLINK("http://evil.example","x")',
    "plus@example.com": "+SUM(1,1)",
    "minus@example.com": "-2+3",
    "at@example.com": "@cmd",
    "markup@example.com": "<b>Bold</b> [red]Rich[/red]",
}


def formula_csv(folder: Path) -> Path:
    return write_csv(
        folder / "formulas.csv",
        [("Email", "First Name", "Outlet"), *[(e, n, "=1+1") for e, n in FORMULA_NAMES.items()]],
    )


def test_formula_like_and_markup_names_are_stored_exactly(engine: Engine, tmp_path: Path) -> None:
    report = import_contacts(engine, formula_csv(tmp_path))
    assert report.imported == len(FORMULA_NAMES)
    assert not report.invalid
    for email, name in FORMULA_NAMES.items():
        stored = contact(engine, email)
        assert stored.first_name == name
        assert stored.outlet == "=1+1"


def test_generous_headers_multi_values_and_custom_fields(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "headers.csv",
        [
            ("E-mail", "Given name", "Surname", "Publication", "Beat(s)", "Tags", "Twitter", "Tz"),
            (
                "Ana@Harbor.example",
                "Ana",
                "Ruiz",
                "Harbor Herald",
                "Courts; Health|courts",
                "a|b",
                "@ana",
                "europe/madrid",
            ),
        ],
    )
    report = import_contacts(engine, path)
    assert report.imported == 1
    stored = contact(engine, "ana@harbor.example")
    assert (stored.first_name, stored.last_name, stored.outlet) == ("Ana", "Ruiz", "Harbor Herald")
    assert stored.custom == {"Twitter": "@ana"}
    assert stored.timezone == "Europe/Madrid"
    assert multi(engine, "ana@harbor.example") == ({"courts", "health"}, {"a", "b"})


def test_bad_optional_values_are_dropped_with_a_warning(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "optional.csv",
        [
            ("email", "language", "timezone", "first_name"),
            ("a@wire.example", "english please", "America/Chicago", "A"),  # line 2
            ("b@wire.example", "pt_br", "Nowhere/Atlantis", "B"),  # line 3
            ("c@wire.example", "es", "", "x" * 201),  # line 4: too long for the column
        ],
    )
    report = import_contacts(engine, path)
    assert report.imported == 3
    assert not report.invalid
    warned = {(w["line"], w["email"]) for w in report.warnings}
    assert warned == {(2, "a@wire.example"), (3, "b@wire.example"), (4, "c@wire.example")}
    assert contact(engine, "a@wire.example").language == ""
    assert contact(engine, "a@wire.example").timezone == "America/Chicago"
    assert contact(engine, "b@wire.example").language == "pt-BR"
    assert contact(engine, "b@wire.example").timezone == ""
    assert contact(engine, "c@wire.example").first_name == ""


def test_utf8_with_bom(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bom.csv",
        [("Email", "First name"), ("zoe@harbor.example", "Zoë")],
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = import_contacts(engine, path)
    assert report.imported == 1
    assert contact(engine, "zoe@harbor.example").first_name == "Zoë"


def test_dry_run_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    import_contacts(
        engine, write_csv(tmp_path / "a.csv", [("email", "title"), ("a@x.example", "Old")])
    )
    path = write_csv(
        tmp_path / "b.csv",
        [("email", "title"), ("a@x.example", "New"), ("b@x.example", "Fresh")],
    )
    report = import_contacts(engine, path, list_name="dry", dry_run=True)
    assert (report.imported, report.updated, report.dry_run) == (1, 1, True)
    assert count(engine, Contact) == 1
    assert contact(engine, "a@x.example").title == "Old"
    assert count(engine, ContactList) == 0
    assert count(engine, ListMember) == 0


def test_skip_existing_versus_update(any_engine: Engine, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path / "first.csv",
        [
            ("email", "title", "beats", "Desk"),
            ("a@x.example", "Reporter", "courts", "metro"),
            ("b@x.example", "Editor", "health", ""),
        ],
    )
    assert import_contacts(any_engine, first).imported == 2
    second = write_csv(
        tmp_path / "second.csv",
        [
            ("email", "title", "beats", "Desk"),
            ("a@x.example", "Senior Reporter", "courts", ""),
            ("b@x.example", "Editor", "health", "national"),
            ("c@x.example", "", "", ""),
        ],
    )
    skipped = import_contacts(any_engine, second, update_existing=False)
    assert (skipped.imported, skipped.skipped_existing, skipped.updated) == (1, 2, 0)
    assert contact(any_engine, "a@x.example").title == "Reporter"
    assert contact(any_engine, "b@x.example").custom == {}

    updated = import_contacts(any_engine, second)
    assert (updated.imported, updated.updated, updated.unchanged) == (0, 2, 1)
    a = contact(any_engine, "a@x.example")
    assert a.title == "Senior Reporter"
    assert a.custom == {"Desk": "metro"}  # an empty cell never clears a value
    assert contact(any_engine, "b@x.example").custom == {"Desk": "national"}

    again = import_contacts(any_engine, second)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)


def test_duplicates_across_write_chunks_merge_like_within_one(
    any_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_store, "CHUNK", 2)
    path = write_csv(
        tmp_path / "chunks.csv",
        [
            ("email", "title", "tags"),
            ("a@x.example", "Reporter", "t1"),  # line 2
            ("b@x.example", "Editor", ""),  # line 3 -> first chunk written
            ("c@x.example", "Producer", ""),  # line 4
            ("A@X.example", "", "t2;t3"),  # line 5: repeats line 2 after it was written
            ("d@x.example", "", ""),  # line 6
            ("a@x.example", "Columnist", ""),  # line 7
        ],
    )
    report = import_contacts(any_engine, path, list_name="chunked")
    assert report.imported == 4
    assert (report.updated, report.unchanged) == (0, 0)
    assert report.duplicates == [{"email": "a@x.example", "lines": [2, 5, 7]}]
    assert contact(any_engine, "a@x.example").title == "Columnist"
    assert multi(any_engine, "a@x.example") == (set(), {"t2", "t3"})
    assert count(any_engine, ListMember) == 4


def test_role_addresses_are_kept_and_flagged(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "roles.csv",
        [("email",), ("newsdesk@wire.example",), ("desk@wire.example",), ("ana@wire.example",)],
    )
    report = import_contacts(engine, path)
    assert report.imported == 3
    assert {w["email"] for w in report.warnings if "role" in w["message"]} == {
        "newsdesk@wire.example",
        "desk@wire.example",
    }


@pytest.mark.parametrize(
    "address",
    [
        "ana@harbor.example",
        "Ana.Ruiz+press@Harbor.Example",
        "a..b@harbor.example",
        ".a@harbor.example",
        "a.@harbor.example",
        "a b@harbor.example",
        "josé@harbor.example",
        "ana@harbor.example.",
        "ana@-harbor.example",
        "ana@localhost",
        "ana@münchen.example",
        "ana@xn--mnchen-3ya.example",
        '"quoted"@harbor.example',
        "Ana <ana@harbor.example>",
        "a" * 64 + "@harbor.example",
        "a" * 65 + "@harbor.example",
        "a" * 240 + "@harbor.example",
        "=cmd@harbor.example",
        "ana@[127.0.0.1]",
    ],
)
def test_address_fast_path_agrees_with_email_validator(address: str) -> None:
    """A remembered domain must not change any verdict or normalised form."""
    addresses = AddressNormaliser()
    domain = address.rpartition("@")[2].rstrip(">")
    for warm in ("warm@" + domain, "warm@" + domain.lower()):
        with contextlib.suppress(EmailNotValidError):
            addresses.normalise(warm)
    try:
        expected: str | None = validate_email(
            address, check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        expected = None
    try:
        got: str | None = addresses.normalise(address)
    except EmailNotValidError:
        got = None
    assert got == expected


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    done = run(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_cli_import_of_a_latin1_file_reports_its_lines_and_imports_the_rest(folder: Path) -> None:
    path = write_csv(
        folder / "latin1.csv",
        [("email", "first_name"), ("zoe@x.example", "Zoë"), ("ann@x.example", "Ann")],
        "latin-1",
    )
    done = run(folder, "contacts", "import", path.name)
    assert done.returncode == 0, done.stderr
    assert "Imported 1," in done.stdout
    assert "line 2: not UTF-8 text (byte 0xeb at column 17)" in done.stdout
    assert [c["email"] for c in run_json(folder, "contacts", "list", "--json")] == ["ann@x.example"]


@pytest.mark.parametrize(
    ("rows", "encoding", "expected"),
    [
        ([("email", "Prénom"), ("ann@x.example", "Ann")], "latin-1", "line 1 (the header row)"),
        ([("email", "name"), ("ann@x.example", "Ann")], "utf-16", "UTF-16"),
    ],
)
def test_cli_import_without_a_readable_header_is_a_one_line_error(
    folder: Path, rows: list[tuple[str, str]], encoding: str, expected: str
) -> None:
    path = write_csv(folder / "unreadable.csv", rows, encoding)
    done = run(folder, "contacts", "import", path.name)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "unreadable.csv" in lines[0]
    assert expected in lines[0]
    assert "UTF-8" in lines[0]
    assert "Traceback" not in done.stderr
    assert run_json(folder, "contacts", "list", "--json") == []


def test_cli_import_dry_run_and_human_report(folder: Path) -> None:
    path = write_csv(folder / "a.csv", [("email",), ("a@x.example",), ("nope",)])
    done = run(folder, "contacts", "import", path.name, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "Would import 1" in done.stdout
    assert "line 3" in done.stdout
    assert run_json(folder, "contacts", "list", "--json") == []


def test_cli_show_returns_values_verbatim_and_export_neutralises(folder: Path) -> None:
    formula_csv(folder)
    imported = run_json(folder, "contacts", "import", "formulas.csv", "--list", "press", "--json")
    assert imported["imported"] == len(FORMULA_NAMES)

    for email, name in FORMULA_NAMES.items():
        shown = run_json(folder, "contacts", "show", email, "--json")
        assert shown["first_name"] == name
        assert shown["lists"] == ["press"]
        assert shown["suppressed"] is False

    table = run(folder, "contacts", "show", "markup@example.com")
    assert table.returncode == 0, table.stderr
    assert "[red]Rich[/red]" in table.stdout  # shown as text, not taken as Rich markup

    done = run(folder, "contacts", "export", "out.csv")
    assert done.returncode == 0, done.stderr
    with (folder / "out.csv").open(encoding="utf-8", newline="") as handle:
        exported = {row["email"]: row for row in csv.DictReader(handle)}
    assert set(exported) == set(FORMULA_NAMES)
    for email, name in FORMULA_NAMES.items():
        cell = exported[email]["first_name"]
        if name[0] in "=+-@":
            assert cell == "'" + name
        else:
            assert cell == name
        assert exported[email]["outlet"] == "'=1+1"
    # the database still holds them as given
    assert run_json(folder, "contacts", "show", "eq@example.com", "--json")["outlet"] == "=1+1"


def test_cli_list_show_edit_export(folder: Path) -> None:
    write_csv(
        folder / "c.csv",
        [
            ("email", "first_name", "outlet", "beats", "tags", "Twitter", "timezone"),
            (
                "ana@harbor.example",
                "Ana",
                "Harbor Herald",
                "courts;health",
                "tier-1",
                "@ana",
                "America/Chicago",
            ),
            ("ben@wire.example", "Ben", "Pacific Wire", "economy", "", "", ""),
        ],
    )
    assert run_json(folder, "contacts", "import", "c.csv", "--json")["imported"] == 2

    listed = run_json(folder, "contacts", "list", "--json")
    assert [c["email"] for c in listed] == ["ana@harbor.example", "ben@wire.example"]
    assert listed[0]["beats"] == ["courts", "health"]
    assert [c["email"] for c in run_json(folder, "contacts", "list", "--limit", "1", "--json")] == [
        "ana@harbor.example"
    ]

    shown = run_json(folder, "contacts", "show", "ANA@harbor.example", "--json")
    assert shown["custom"] == {"Twitter": "@ana"}
    assert shown["tags"] == ["tier-1"]
    assert shown["timezone"] == "America/Chicago"

    edited = run_json(
        folder, "contacts", "edit", "ana@harbor.example",
        "--title", "Courts reporter", "--language", "es-mx", "--timezone", "america/new_york",
        "--add-beat", "Immigration", "--remove-beat", "health", "--add-tag", "embargo-ok",
        "--remove-tag", "tier-1", "--set", "custom.Desk=metro", "--unset", "custom.Twitter",
        "--json",
    )  # fmt: skip
    assert edited["title"] == "Courts reporter"
    assert edited["language"] == "es-MX"
    assert edited["timezone"] == "America/New_York"
    assert edited["beats"] == ["courts", "immigration"]
    assert edited["tags"] == ["embargo-ok"]
    assert edited["custom"] == {"Desk": "metro"}
    assert run_json(folder, "contacts", "show", "ana@harbor.example", "--json") == edited

    bad = run(folder, "contacts", "edit", "ana@harbor.example", "--timezone", "Mars/Base")
    assert bad.returncode == 1
    assert "Mars/Base" in bad.stderr
    assert run_json(folder, "contacts", "show", "ana@harbor.example", "--json")["timezone"] == (
        "America/New_York"
    )
    missing = run(folder, "contacts", "show", "nobody@x.example")
    assert missing.returncode == 1
    assert "nobody@x.example" in missing.stderr

    done = run(folder, "contacts", "export", "all.csv")
    assert done.returncode == 0, done.stderr
    with (folder / "all.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["email"] for r in rows] == ["ana@harbor.example", "ben@wire.example"]
    assert rows[0]["beats"] == "courts;immigration"
    assert rows[0]["Desk"] == "metro"
    assert rows[1]["Desk"] == ""
    assert rows[0]["timezone"] == "America/New_York"


def test_cli_list_and_export_with_where(folder: Path) -> None:
    pytest.importorskip("distro.audience.segments", reason="segments are being written")
    write_csv(
        folder / "c.csv",
        [("email", "beats"), ("ana@harbor.example", "courts"), ("ben@wire.example", "economy")],
    )
    assert run_json(folder, "contacts", "import", "c.csv", "--json")["imported"] == 2
    listed = run_json(folder, "contacts", "list", "--where", 'beats has "courts"', "--json")
    assert [c["email"] for c in listed] == ["ana@harbor.example"]
    done = run(folder, "contacts", "export", "courts.csv", "--where", 'beats has "courts"')
    assert done.returncode == 0, done.stderr
    with (folder / "courts.csv").open(encoding="utf-8", newline="") as handle:
        assert [r["email"] for r in csv.DictReader(handle)] == ["ana@harbor.example"]


def test_cli_delete_with_and_without_suppress(folder: Path) -> None:
    write_csv(
        folder / "c.csv",
        [
            ("email", "beats", "tags"),
            ("ana@harbor.example", "courts", "a"),
            ("ben@wire.example", "", ""),
        ],
    )
    assert (
        run_json(folder, "contacts", "import", "c.csv", "--list", "press", "--json")["imported"]
        == 2
    )

    refused = run(folder, "contacts", "delete", "ben@wire.example")  # no --yes, no terminal
    assert refused.returncode != 0
    assert len(run_json(folder, "contacts", "list", "--json")) == 2

    done = run(folder, "contacts", "delete", "ben@wire.example", "--yes")
    assert done.returncode == 0, done.stderr
    assert [c["email"] for c in run_json(folder, "contacts", "list", "--json")] == [
        "ana@harbor.example"
    ]
    assert run_json(folder, "suppress", "list", "--json") == []

    deleted = run_json(
        folder, "contacts", "delete", "Ana@Harbor.example", "--suppress", "--yes", "--json"
    )
    assert deleted["email"] == "ana@harbor.example"
    assert deleted["lists"] == ["press"]
    assert deleted["suppression"]["added"] is True
    assert run_json(folder, "contacts", "list", "--json") == []
    lists = run_json(folder, "lists", "list", "--json")
    assert {item["name"]: item["contacts"] for item in lists} == {"press": 0}

    from distro.db import make_engine

    engine = make_engine(f"sqlite:///{folder / 'distro.db'}")
    try:
        with Session(engine) as session:
            suppression = session.execute(select(Suppression)).scalar_one()
            logged = session.execute(select(SuppressionLog)).scalars().all()
            leftovers = [
                session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (ContactBeat, ContactTag, ListMember)
            ]
    finally:
        engine.dispose()
    assert (suppression.email, suppression.reason, suppression.source) == (
        "ana@harbor.example",
        "do_not_contact",
        "contacts delete",
    )
    assert [(row.email, row.action, row.reason) for row in logged] == [
        ("ana@harbor.example", "added", "do_not_contact")
    ]
    assert leftovers == [0, 0, 0]

    gone = run(folder, "contacts", "delete", "ana@harbor.example", "--yes")
    assert gone.returncode == 1
    assert "ana@harbor.example" in gone.stderr


def test_cli_import_json_report_shape(folder: Path) -> None:
    path = write_csv(
        folder / "a.csv",
        [("email", "name"), ("a@x.example", "A"), ("", "Nobody"), ("A@x.example", "A")],
    )
    report = json.loads(run(folder, "contacts", "import", path.name, "--json").stdout)
    assert {"imported", "updated", "unchanged", "duplicates", "invalid", "warnings"} <= set(report)
    assert report["invalid"] == [{"line": 3, "email": "", "reason": "no email address"}]
    assert report["duplicates"] == [{"email": "a@x.example", "lines": [2, 4]}]
