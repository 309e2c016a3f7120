"""Printing: JSON for scripts, Rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=True)
# soft_wrap: an error is one line however long, never folded at the terminal width.
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        # markup=False semantics: cell text is data, never Rich markup.
        table.add_row(*(_plain(value) for value in row))
    console.print(table)


def _plain(value: Any) -> Text:
    return Text("" if value is None else str(value))
