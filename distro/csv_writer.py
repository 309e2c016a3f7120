"""Every CSV file distro writes: safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and some
do so after a leading tab, carriage return, line feed or NUL as well. Text that came from
outside (a release title, a journalist's name, an outlet, a bounce reason, a custom field)
could then run ``=HYPERLINK(...)`` or a command in the reader's spreadsheet ("CSV injection").
Following OWASP's guidance, this writer:

* prefixes every *text* cell that starts with one of those characters with ``'``, which
  spreadsheets take as "this is text" (Excel and LibreOffice hide it);
* quotes every text cell, so a spreadsheet that splits on ``;`` or tab (its locale's list
  separator) cannot find a new cell, and so a formula, inside one;
* writes numbers that distro itself produces (``int`` and ``float`` values, never text that
  merely looks like a number) bare and unprefixed, so a negative figure stays a number a
  spreadsheet can sum. Text such as an outlet called ``-2+3`` is text and gets the prefix.

``None`` is an empty cell; anything else (dates, booleans, enums) is written as its text.
``unmarked`` undoes the prefix for a file read back in (a contacts export imported again), as a
spreadsheet does when it saves such a cell.
Nothing in ``distro`` writes CSV except through ``CsvWriter``; a test walks every CSV output.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

# OWASP's list (=, +, -, @, tab, carriage return) plus line feed and NUL (OWASP ASVS 1.2.10).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")
TEXT_MARKER = "'"


def safe_cell(value: object) -> str | int | float:
    """``value`` as one cell: a number stays a number; text starting a formula gets ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    return TEXT_MARKER + text if text.startswith(FORMULA_TRIGGERS) else text


def unmarked(cell: str) -> str:
    """The text a cell written by ``CsvWriter`` stands for: its ``'`` before a formula
    trigger is the marker, not part of the text."""
    if cell.startswith(TEXT_MARKER) and cell[1:].startswith(FORMULA_TRIGGERS):
        return cell[1:]
    return cell


class CsvWriter:
    """``csv.writer`` with every cell passed through ``safe_cell`` and text cells quoted."""

    def __init__(self, out: TextIO) -> None:
        # QUOTE_NONNUMERIC quotes every str cell and leaves int/float cells bare.
        self._writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(value) for value in values])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
