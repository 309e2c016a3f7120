"""Listings in an 80-column terminal, through the real CLI: ids and addresses are never cut
(they are what people copy into the next command), other columns wrap, and optional columns
are left out, saying so, when the rest would not fit (distro.cli.output.print_table)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from distro.cli import output
from distro.cli.output import Col, print_table
from tests.test_cli import run_distro, succeeded, write_csv

LONG_TITLE = "Harbor City Library opens its archive of 120 years of local newspapers to the public"
ADDRESSES = [
    "aisha.reyes@chicagotribune-metro.example",
    "carmen.delgado@lavozdelnoroeste.example",
    "josephine.abernathy-whitfield@news.example",
]


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_contacts_list_and_sends_keep_addresses_and_ids_whole(tmp_path: Path) -> None:
    succeeded(run_distro(tmp_path, "init"))
    rows = [("Email", "First name", "Last name", "Outlet", "Beats", "Region")]
    rows += [
        (address, "Aisha", "Reyes-Montgomery", "Chicago Tribune Metro Desk", "culture;local", "IL")
        for address in ADDRESSES
    ]
    csv = write_csv(tmp_path / "press.csv", rows)
    succeeded(run_distro(tmp_path, "contacts", "import", csv.name, "--list", "press"))
    listed = succeeded(run_distro(tmp_path, "contacts", "list", columns=80))
    assert "…" not in listed
    assert all(len(line) <= 80 for line in _lines(listed))
    for address in ADDRESSES:
        assert any(address in line for line in _lines(listed)), f"{address} cut:\n{listed}"

    succeeded(
        run_distro(
            tmp_path, "release", "create", "--title", LONG_TITLE, "--body-file", _body(tmp_path)
        )
    )
    succeeded(run_distro(tmp_path, "release", "approve", "1"))
    for _ in range(2):
        succeeded(
            run_distro(
                tmp_path, "send", "schedule", "1", "--list", "press", "--at", "2031-01-05 09:00 UTC"
            )
        )
    for command in (("sends",), ("send", "list")):
        shown = succeeded(run_distro(tmp_path, *command, columns=80))
        assert "…" not in shown, shown
        assert all(len(line) <= 80 for line in _lines(shown)), shown
        words = " ".join(shown.split()).replace("│", " ")
        for word in LONG_TITLE.split():
            assert word in words.split(), f"{word!r} of the title is cut in {command}:\n{shown}"
        ids = [line.split("│")[1].strip() for line in _lines(shown) if line.startswith("│")]
        assert [i for i in ids if i] == ["2", "1"], shown


def _body(folder: Path) -> str:
    (folder / "body.md").write_text("The archive opens on Monday.\n", encoding="utf-8")
    return "body.md"


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> Console:
    console = Console(width=72, record=True, highlight=False, soft_wrap=True)
    monkeypatch.setattr(output, "console", console)
    return console


def test_optional_columns_are_left_out_and_said_so(narrow: Console) -> None:
    print_table(
        "Sends",
        ("id", "email", "note", Col("extra", optional=True), Col("more", optional=True)),
        [(12345, "very.long.address.indeed@example.org", "a b c", "x" * 5, "y" * 15)],
    )
    text = narrow.export_text()
    assert "very.long.address.indeed@example.org" in text
    assert "12345" in text
    assert "x" * 5 in text  # the first optional column still fits
    assert "left out to fit the terminal: more" in text
    assert all(len(line) <= 72 for line in text.splitlines())


def test_cell_text_is_never_markup(narrow: Console) -> None:
    print_table("People", ("name",), [("[bold]Ana[/bold]",)])
    assert "[bold]Ana[/bold]" in narrow.export_text()
