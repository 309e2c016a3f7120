"""Contact (and suppression) import of damaged files: every damaged line is reported by line and
every readable valid row around it is imported (an unbalanced quote, a duplicated column, bad
bytes, NUL, huge cells, stray cells), with property tests over generated and arbitrary files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.audience.csv_rows import RECORD_LIMIT, CsvRecords, physical_lines
from distro.audience.import_rows import CELL_LIMIT, ImportReport
from distro.audience.importer import import_contacts
from distro.audience.suppression import import_suppressions, list_suppressions
from distro.errors import DistroError
from distro.models import Contact
from tests.cli_support import run

HEADER = b"email,first_name,last_name\n"


def stored(engine: Engine) -> dict[str, Contact]:
    with Session(engine) as session:
        contacts = session.exec(select(Contact).order_by(col(Contact.id))).all()
        for contact in contacts:
            session.expunge(contact)
        return {contact.email: contact for contact in contacts}


def reported(report: ImportReport) -> dict[int, str]:
    return {row["line"]: row["reason"] for row in report.invalid}


def import_bytes(engine: Engine, folder: Path, data: bytes, **options: Any) -> ImportReport:
    path = folder / "contacts.csv"
    path.write_bytes(data)
    return import_contacts(engine, path, **options)


# --- the cases ------------------------------------------------------------------------

UNBALANCED = (
    HEADER + b"good1@example.com,Ann,One\n"
    b'bad@example.com,"Bob,Two\n'  # line 3: the quote is never closed
    b"good2@example.com,Cy,Three\n"
    b'good3@example.com,"Di",Four\n'
)


def test_an_unbalanced_quote_costs_its_own_row_only(engine: Engine, tmp_path: Path) -> None:
    report = import_bytes(engine, tmp_path, UNBALANCED)
    assert list(stored(engine)) == [
        "good1@example.com",
        "good2@example.com",
        "good3@example.com",
    ]
    assert stored(engine)["good3@example.com"].first_name == "Di"
    reasons = reported(report)
    assert list(reasons) == [3]
    assert reasons[3].startswith("unbalanced quote")
    assert "line 4" in reasons[3]
    assert report.imported == 3


def test_a_quote_never_closed_at_the_end_is_reported(engine: Engine, tmp_path: Path) -> None:
    report = import_bytes(engine, tmp_path, HEADER + b'a@x.example,Ann,A\nb@x.example,"Bo,B\n')
    assert list(stored(engine)) == ["a@x.example"]
    assert "never closed" in reported(report)[3]


def test_line_breaks_inside_quoted_cells_are_still_one_row(engine: Engine, tmp_path: Path) -> None:
    data = (
        b"email,notes,first_name\r\n"
        b'a@x.example,"Call first,\r\nthen write.\r\nSee b@x.example, her editor",Ann\r\n'
        b"b@x.example,,Bea\r\n"
    )
    report = import_bytes(engine, tmp_path, data)
    assert not report.invalid
    contacts = stored(engine)
    assert contacts["a@x.example"].notes == (
        "Call first,\r\nthen write.\r\nSee b@x.example, her editor"
    )
    assert contacts["b@x.example"].first_name == "Bea"


def test_a_duplicated_email_column_reports_every_address_left_out(
    engine: Engine, tmp_path: Path
) -> None:
    data = (
        b"email,first_name,email\n"
        b"a@x.example,Ann,ann.home@x.example\n"  # line 2: two addresses
        b"b@x.example,Bea,B@x.example\n"  # line 3: the same address twice
        b",Cy,cy@x.example\n"  # line 4: only the second column
    )
    report = import_bytes(engine, tmp_path, data)
    assert sorted(stored(engine)) == ["a@x.example", "b@x.example", "cy@x.example"]
    header = [w for w in report.warnings if w["line"] == 1]
    assert len(header) == 1
    assert "columns 1 ('email') and 3 ('email')" in header[0]["message"]
    per_line = [(w["line"], w["message"]) for w in report.warnings if w["line"] > 1]
    assert len(per_line) == 1
    assert per_line[0][0] == 2
    assert "'ann.home@x.example'" in per_line[0][1]
    assert "not imported" in per_line[0][1]


def test_bad_bytes_nul_and_huge_lines_cost_their_lines_only(engine: Engine, tmp_path: Path) -> None:
    data = (
        HEADER + b"a@x.example,Zo\xeb,A\n"  # line 2: Latin-1, not UTF-8
        b"b@x.example,B\x00b,B\n"  # line 3: a NUL
        b"c@x.example,C," + b"x" * (RECORD_LIMIT + 10) + b"\n"  # line 4: longer than a record
        b"d@x.example,D,\xe2\x82\n"  # line 5: a UTF-8 sequence cut short
        b"e@x.example,\xc3\x89ve,E\n"  # line 6: fine (Éve)
        b"f@x.example,F,F"  # line 7: fine, no line break at the end
    )
    report = import_bytes(engine, tmp_path, data)
    reasons = reported(report)
    assert sorted(reasons) == [2, 3, 4, 5]
    assert "byte 0xeb at column 15" in reasons[2]
    assert "NUL" in reasons[3]
    assert f"longer than {RECORD_LIMIT:,} characters" in reasons[4]
    assert "byte 0xe2" in reasons[5]
    contacts = stored(engine)
    assert sorted(contacts) == ["e@x.example", "f@x.example"]
    assert contacts["e@x.example"].first_name == "Éve"


def test_a_huge_cell_is_dropped_with_a_warning_and_the_row_kept(
    engine: Engine, tmp_path: Path
) -> None:
    huge_note = b"n" * (CELL_LIMIT + 1)
    huge_address = b"b" * (CELL_LIMIT + 1) + b"@x.example"  # line 3
    data = b"email,notes,first_name\n" + b"a@x.example," + huge_note + b",Ann\n"
    data += huge_address + b",,Bea\n"
    report = import_bytes(engine, tmp_path, data)
    assert reported(report) == {3: f"the email cell is longer than {CELL_LIMIT:,} characters"}
    [warning] = report.warnings
    assert warning["line"] == 2
    assert "notes" in warning["message"]
    assert f"longer than {CELL_LIMIT:,}" in warning["message"]
    contact = stored(engine)["a@x.example"]
    assert (contact.notes, contact.first_name) == ("", "Ann")


def test_stray_cells_are_never_dropped_silently(engine: Engine, tmp_path: Path) -> None:
    data = (
        b"email,first_name,,last_name\n"
        b"a@x.example,Smith, John,Reuters,Desk\n"  # line 2: a comma outside quotes
        b"b@x.example,Bea,note,B,\n"  # line 3: a value under no header (the trailing cell is empty)
        b"c@x.example,Cy,,C,,,\n"  # line 4: empty stray cells are nothing
    )
    report = import_bytes(engine, tmp_path, data)
    assert sorted(stored(engine)) == ["b@x.example", "c@x.example"]
    assert "5 cells where the header has 4" in reported(report)[2]
    assert [(w["line"], w["message"]) for w in report.warnings] == [
        (3, "column 3 has no header: its value 'note' is not imported")
    ]


def test_old_mac_line_endings(engine: Engine, tmp_path: Path) -> None:
    report = import_bytes(engine, tmp_path, b"email,first_name\ra@x.example,A\rb@x.example,B\r")
    assert (report.imported, report.invalid) == (2, [])


def test_cli_prints_each_damaged_line(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    (tmp_path / "unbalanced.csv").write_bytes(UNBALANCED)
    done = run(tmp_path, "contacts", "import", "unbalanced.csv")
    assert done.returncode == 0, done.stderr
    assert "Imported 3," in done.stdout
    assert "  line 3: unbalanced quote: the quoted cell opened here runs into line 4" in done.stdout
    (tmp_path / "twice.csv").write_bytes(b"email,email\na@x.example,b@x.example\n")
    done = run(tmp_path, "contacts", "import", "twice.csv")
    assert done.returncode == 0, done.stderr
    assert "  line 1: columns 1 ('email') and 2 ('email') both give email" in done.stdout
    assert "  line 2: a@x.example: column 2 ('email') holds another email, 'b@x.example'" in (
        done.stdout
    )


# --- properties -------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=60,
    # A whole import per example (one SQLite transaction) on a shared 2-core machine.
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=3000))
def test_any_bytes_end_in_a_report_or_a_distro_error(
    engine: Engine, tmp_path: Path, data: bytes
) -> None:
    try:
        report = import_bytes(engine, tmp_path, data, dry_run=True)
    except DistroError:
        return
    assert isinstance(report, ImportReport)


@PROPERTY_SETTINGS
@given(data=st.lists(st.text(max_size=40), max_size=30))
def test_any_text_lines_end_in_a_report_or_a_distro_error(
    engine: Engine, tmp_path: Path, data: list[str]
) -> None:
    text = "email,first_name,notes\n" + "\n".join(data)
    try:
        report = import_bytes(engine, tmp_path, text.encode(), dry_run=True)
    except DistroError:
        return
    assert isinstance(report, ImportReport)


NAMES = st.text(alphabet=st.sampled_from("ab Zoë,\"'"), min_size=1, max_size=12).map(str.strip)
NOTES = st.text(alphabet=st.sampled_from("ab ,.\n"), max_size=30)
DEFECTS = [
    b"\xff\xfe broken bytes\n",
    b"nul@x.example,A\x00,B,\n",
    b'open@x.example,"Bob,Quote,\n',
    b'"open2@x.example,Bob,Q,\n',
    b"too@x.example,many,cells,here,and,more\n",
    b"long@x.example," + b"y" * (RECORD_LIMIT + 1) + b"\n",
    b"not-an-address,Nobody,,\n",
]


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[bytes, dict[str, tuple[str, str]], set[int]]:
    """A CSV of valid rows (names with commas and quotes, notes with line breaks) with defect
    lines put between them; the valid rows by address, and the defects' line numbers."""
    count = draw(st.integers(min_value=1, max_value=12))
    rows = {f"person{i}@x.example": (draw(NAMES), draw(NOTES)) for i in range(count)}
    quote_all = draw(st.booleans())
    chunks: list[bytes] = []
    for email, (name, notes) in rows.items():
        out = io.StringIO()
        writer = (
            csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
            if quote_all
            else csv.writer(out, lineterminator="\n")
        )
        writer.writerow([email, name, notes, ""])
        chunks.append(out.getvalue().encode())
    for defect in draw(st.lists(st.sampled_from(DEFECTS), max_size=5)):
        chunks.insert(draw(st.integers(0, len(chunks))), defect)
    data = b"email,first_name,notes,title\n"
    defect_lines: set[int] = set()
    for chunk in chunks:
        line = data.count(b"\n") + 1
        if chunk in DEFECTS:
            defect_lines.add(line)
        data += chunk
    return data, rows, defect_lines


@PROPERTY_SETTINGS
@given(file=damaged_files())
def test_every_valid_row_of_a_damaged_file_is_imported_and_every_defect_reported(
    engine: Engine, tmp_path: Path, file: tuple[bytes, dict[str, tuple[str, str]], set[int]]
) -> None:
    data, rows, defect_lines = file
    report = import_bytes(engine, tmp_path, data)
    try:
        assert report.imported == len(rows), report.invalid
        assert set(reported(report)) == defect_lines
        contacts = stored(engine)
        assert {email: (c.first_name, c.notes) for email, c in contacts.items()} == {
            email: (name, notes.strip()) for email, (name, notes) in rows.items()
        }
    finally:  # the next example starts from an empty database
        with Session(engine) as session:
            for contact in session.exec(select(Contact)).all():
                session.delete(contact)
            session.commit()


def read_all(data: bytes, starts_row: Callable[[str], bool] = lambda line: False) -> int:
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    records = CsvRecords(physical_lines(Path("x.csv"), text))
    return sum(1 for _ in records.records(starts_row))


def test_reading_stays_linear_when_every_line_opens_a_quote() -> None:
    """Each unclosed quote is read again from the next line; the work per line is bounded.

    The work is counted, not timed: every line a record runs on into (the lines read again
    after an unclosed quote among them) is shown to ``starts_row``. The speed of an import is a
    figure for bench/bench_import.py, not an assertion."""

    def lines_run_into(lines: int) -> int:
        seen: list[str] = []

        def starts_row(line: str) -> bool:
            seen.append(line)
            return False

        assert read_all(b'"x\n' * lines, starts_row) == lines
        return len(seen)

    small, large = lines_run_into(2_000), lines_run_into(8_000)
    assert large / small < 8, (small, large)  # 4x the lines: about 4x the work, not 16x


# --- the suppression import reads files the same way ------------------------------------------


def test_a_damaged_suppression_file_suppresses_every_readable_address(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "unsubscribes.csv"
    path.write_bytes(
        b"email,note\n"
        b'a@x.example,"asked\n'  # line 2: the quote is never closed
        b"b@x.example,by phone\n"
        b"c@x.example,Zo\xeb\n"  # line 4: not UTF-8
        b"d@x.example,\n"
    )
    report = import_suppressions(engine, path, reason="unsubscribed", source="test")
    assert report.added == 2
    reasons = {row["line"]: row["reason"] for row in report.invalid}
    assert sorted(reasons) == [2, 4]
    assert reasons[2].startswith("unbalanced quote")
    assert "not UTF-8" in reasons[4]
    with Session(engine) as session:
        kept = {s.email for s in list_suppressions(session, None)}
    assert kept == {"b@x.example", "d@x.example"}
    (tmp_path / "plain.txt").write_bytes(b"e@x.example\nf@x.\xff\ng@x.example\n")
    plain = import_suppressions(engine, tmp_path / "plain.txt", reason="hard_bounce")
    assert plain.added == 2
    assert [row["line"] for row in plain.invalid] == [2]
