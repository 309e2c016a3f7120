"""Every CSV file distro writes is safe to open in a spreadsheet.

The outputs are found, not remembered: every function in ``distro`` that builds a
``CsvWriter`` must be in ``OUTPUTS`` (and nothing else may call ``csv.writer``), and every
command offering a csv format must be walked. Each output is then produced through the installed
console script from a database with a formula planted in every text field, and no cell may
begin with a formula trigger; each planted value must come out as text (prefixed with ``'``).
"""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlmodel import Session, select

import distro
from distro.csv_writer import FORMULA_TRIGGERS, CsvWriter, safe_cell, unmarked
from distro.db import make_engine, upgrade
from distro.models import Contact, ContactTag, EventType, Send
from distro.tracking.events import store_events
from tests.cli_support import run, run_json
from tests.test_cli import COMMANDS
from tests.test_reports import (
    HARD,
    T0,
    add_people,
    ev,
    finish,
    hand_over,
    message_ids,
    minutes,
    start_send,
)

SENDS = Send.__table__  # type: ignore[attr-defined]
SOURCE = Path(distro.__file__).parent

# --- the writer itself ------------------------------------------------------------------------


def written(*rows: list[object]) -> str:
    out = io.StringIO()
    CsvWriter(out).writerows(rows)
    return out.getvalue()


def test_text_starting_a_formula_is_prefixed_and_numbers_stay_numbers() -> None:
    raw = written(["-2+3", "=1+1", "@x", "+1", "\t=1", "\r=1", "plain", "", None], [-3, 2.5, 0])
    assert raw == (
        """"'-2+3","'=1+1","'@x","'+1","'\t=1","'\r=1","plain","",""\r\n"""
        "-3,2.5,0\r\n"
    )


def test_text_that_looks_like_a_number_is_text() -> None:
    assert safe_cell("-5") == "'-5"
    assert safe_cell(-5) == -5
    assert safe_cell(True) == "True"  # a flag is text, not the number 1


@given(st.text())
def test_any_text_reads_back_unchanged_behind_at_most_one_marker(text: str) -> None:
    out = written([text, 7])
    [cell, number] = next(csv.reader(io.StringIO(out, newline="")))
    assert number == "7"
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert cell == ("'" + text if text.startswith(FORMULA_TRIGGERS) else text)
    assert unmarked(cell) == text


# --- finding every output ---------------------------------------------------------------------


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        dotted = ".".join(("distro", *path.relative_to(SOURCE).with_suffix("").parts))
        yield dotted.removesuffix(".__init__"), ast.parse(path.read_text(encoding="utf-8"))


def _calls(node: ast.AST, name: str) -> bool:
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called == name:
                return True
    return False


def csv_producers() -> set[str]:
    """``module.function`` of every function that builds a CsvWriter."""
    found: set[str] = set()
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _calls(
                node, "CsvWriter"
            ):
                found.add(f"{module}.{node.name}")
    return found


def raw_csv_writers() -> list[str]:
    """Places outside distro.csv_writer that write CSV without it."""
    found: list[str] = []
    for module, tree in _modules():
        if module == "distro.csv_writer":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
                and node.attr in ("writer", "DictWriter")
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "csv"
                and any(alias.name in ("writer", "DictWriter") for alias in node.names)
            ):
                found.append(f"{module}:{node.lineno}")
    return found


def offers_csv(param: object) -> bool:
    """A ``--csv`` flag, or a choice (click's, or an enum Typer turns into one) with csv."""
    if any("csv" in opt for opt in getattr(param, "opts", ())):
        return True
    kind = getattr(param, "type", None)
    if isinstance(kind, click.Choice):
        return "csv" in kind.choices
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    return (
        isinstance(annotation, type)
        and issubclass(annotation, Enum)
        and any(member.value == "csv" for member in annotation)
    )


def csv_commands() -> set[str]:
    """Commands with an option that offers the csv format."""
    return {name for name, command in COMMANDS for param in command.params if offers_csv(param)}


# --- the planted database ---------------------------------------------------------------------

TITLE = '=HYPERLINK("http://evil.example","read me")'
NOTE = "\r=2+2"
BOUNCE_REASON = "=1+1"
MTA_RESPONSE = "-1+1 mailbox refused"
URL = "@SUM(1+1)"
# email -> (outlet, region, beats)
PEOPLE = {
    "=1+2@harbor.example": ("-2+3", "@SUM(A1:A9)", ["=cmd|' /C calc'!A0"]),
    "+cmd@wire.example": ("+SUM(1,1)", "\t=1+1", ["+tech"]),
    "-x@gazette.example": ("\n=1", "-region", []),
}
CONTACT_FIELDS = {
    "first_name": "=first",
    "last_name": "+last",
    "title": "-title",
    "country": "\n=country",
    "language": "@lang",
    "timezone": "=zone",
    "notes": "\x00=notes",
}
TAG = "+tag"
CUSTOM = {"=key": "-value"}


@dataclass(frozen=True)
class Planted:
    folder: Path
    send_id: int
    other_send_id: int


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    """The CLI's default SQLite database with a formula in every text field a CSV shows."""
    folder = tmp_path_factory.mktemp("csv-outputs")
    engine = make_engine(f"sqlite:///{folder / 'distro.db'}")
    upgrade(engine)
    add_people(engine, PEOPLE)
    with Session(engine) as session:
        for contact in session.exec(select(Contact)).all():
            for name, value in CONTACT_FIELDS.items():
                setattr(contact, name, value)
            contact.custom = CUSTOM
            assert contact.id is not None
            session.add(ContactTag(contact_id=contact.id, tag=TAG))
        session.commit()
    send_id = start_send(engine, title=TITLE)
    ids = message_ids(engine, send_id)
    first, second, third = (ids[email] for email in PEOPLE)
    hand_over(engine, dict.fromkeys((first, second, third), T0))
    events = [
        ev("b1", EventType.BOUNCED, first, minutes(2), bounce_kind=HARD, reason=BOUNCE_REASON,
           mta_response=MTA_RESPONSE),
        ev("d1", EventType.DELIVERED, second, minutes(1)),
        ev("c1", EventType.CLICKED, second, minutes(3), click_url=URL),
    ]  # fmt: skip
    assert store_events(engine, "sandbox", events) == len(events)
    finish(engine, send_id)
    other = start_send(engine, title=TITLE)
    with engine.begin() as conn:
        conn.execute(update(SENDS).values(note=NOTE))
    engine.dispose()
    return Planted(folder, send_id, other)


# --- the outputs ------------------------------------------------------------------------------

Producer = Callable[[Planted, Path], list[str]]


def report(*flags: str) -> Producer:
    def arguments(planted: Planted, out: Path) -> list[str]:
        return ["report", str(planted.send_id), "--format", "csv", *flags, "--out", str(out)]

    return arguments


def compare(planted: Planted, out: Path) -> list[str]:
    sends = [str(planted.send_id), str(planted.other_send_id)]
    return ["report", "--compare", *sends, "--format", "csv", "--out", str(out)]


def contacts_export(planted: Planted, out: Path) -> list[str]:
    return ["contacts", "export", str(out)]


@dataclass(frozen=True)
class Output:
    producer: str  # the function that writes it
    command: str  # the command that runs it
    arguments: Producer
    planted: tuple[str, ...]  # values it must show, as text


OUTPUTS = {
    "report": Output(
        "distro.reports.csv_out.write_report",
        "report",
        report(),
        (TITLE, NOTE, MTA_RESPONSE, URL, *[v for o, r, b in PEOPLE.values() for v in (o, r, *b)]),
    ),
    "report --recipients": Output(
        "distro.reports.csv_out.write_recipients",
        "report",
        report("--recipients"),
        (*PEOPLE, *[outlet for outlet, _, _ in PEOPLE.values()]),
    ),
    "report --compare": Output(
        "distro.reports.csv_out.write_comparison", "report", compare, (TITLE, NOTE)
    ),
    "contacts export": Output(
        "distro.audience.contacts.export_contacts",
        "contacts export",
        contacts_export,
        (
            *PEOPLE,
            *CONTACT_FIELDS.values(),
            *CUSTOM,
            *CUSTOM.values(),
            TAG,
            *[v for o, r, b in PEOPLE.values() for v in (o, r, *b)],
        ),
    ),
}


def test_every_csv_writing_function_is_walked() -> None:
    assert raw_csv_writers() == [], "write CSV through distro.csv_writer.CsvWriter"
    assert csv_producers() == {output.producer for output in OUTPUTS.values()}


def test_every_command_with_a_csv_format_is_walked() -> None:
    walked = {output.command for output in OUTPUTS.values()}
    assert csv_commands() <= walked
    assert csv_commands(), "the report command offers --format csv"


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_no_cell_of_any_output_starts_a_formula(planted: Planted, name: str) -> None:
    output = OUTPUTS[name]
    target = planted.folder / f"{name.replace(' ', '_')}.csv"
    done = run(planted.folder, *output.arguments(planted, target))
    assert done.returncode == 0, done.stderr
    with target.open(encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert cells
    starting_a_formula = [cell for cell in cells if cell.startswith(FORMULA_TRIGGERS)]
    assert starting_a_formula == []
    missing = {value for value in output.planted if "'" + value not in cells}
    assert missing == set(), "each planted formula comes out as text"


def test_a_contacts_export_imports_back_unchanged(tmp_path: Path) -> None:
    """The ' a formula-like cell gets is a marker: importing the export restores the text."""
    source, target = tmp_path / "source", tmp_path / "target"
    for folder in (source, target):
        folder.mkdir()
        assert run(folder, "init").returncode == 0
    values = {"first_name": "-2+3", "last_name": "=1+1", "outlet": "@cmd", "title": "'quoted"}
    (source / "in.csv").write_text(
        "email," + ",".join(values) + ",=desk\n=x@a.example," + ",".join(values.values()) + ",+1\n",
        encoding="utf-8",
    )
    assert run(source, "contacts", "import", "in.csv").returncode == 0
    assert run(source, "contacts", "export", str(target / "out.csv")).returncode == 0
    assert "'-2+3" in (target / "out.csv").read_text(encoding="utf-8")
    assert run(target, "contacts", "import", "out.csv").returncode == 0
    shown = run_json(target, "contacts", "show", "=x@a.example", "--json")
    assert {name: shown[name] for name in values} == values
    assert shown["custom"] == {"=desk": "+1"}
