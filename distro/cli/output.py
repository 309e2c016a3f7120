"""Printing: JSON for scripts, Rich tables for people.

Every listing goes through ``print_table`` so they all fit a narrow terminal the same way: ids
and addresses are never cut (they are what people copy into the next command), other columns
wrap, a word too long for its column folds onto the next line rather than ending in "…", and
columns marked optional are left out, last first, when the rest would not fit otherwise.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=True)
# soft_wrap: an error is one line however long, never folded at the terminal width.
errors = Console(stderr=True, highlight=False, soft_wrap=True)

# Column names whose values are kept whole: identifiers and addresses.
KEPT_NAMES = frozenset({"id", "email", "address", "to", "send", "message", "url"})
# A longer word in a wrapped column is folded rather than widening the column further.
_LONGEST_WORD = 24
# No wrapped column is made narrower than this, however narrow the terminal.
_NARROWEST = 4


@dataclass(frozen=True, slots=True)
class Col:
    """A table column. ``keep``: never wrapped or cut (default for ids and addresses, see
    ``KEPT_NAMES``); ``optional``: left out when the terminal is too narrow for every column."""

    name: str
    keep: bool | None = None
    optional: bool = False

    @property
    def kept(self) -> bool:
        if self.keep is not None:
            return self.keep
        name = self.name.lower()
        return name in KEPT_NAMES or name.endswith((" id", " email", " address"))


def print_table(title: str, columns: Sequence[str | Col], rows: Iterable[Sequence[Any]]) -> None:
    specs = [column if isinstance(column, Col) else Col(column) for column in columns]
    cells = [[_plain(value) for value in row] for row in rows]
    layout = [
        _measure(spec, [row[index].plain for row in cells]) for index, spec in enumerate(specs)
    ]
    shown = _fitting(specs, layout, console.width)
    widths = _widths(
        [layout[index] for index in shown], console.width, [specs[index].kept for index in shown]
    )
    table = Table(title=title, title_justify="left")
    for index, width in zip(shown, widths, strict=True):
        spec = specs[index]
        table.add_column(spec.name, width=width, no_wrap=spec.kept, overflow="fold")
    for row in cells:
        # markup=False semantics: cell text is data, never Rich markup.
        table.add_row(*(row[index] for index in shown))
    console.print(table)
    left_out = [spec.name for index, spec in enumerate(specs) if index not in shown]
    if left_out:
        console.print(
            f"(left out to fit the terminal: {', '.join(left_out)}; --json has every field)",
            markup=False,
        )


@dataclass(frozen=True, slots=True)
class _Measure:
    least: int  # the narrowest it reads well
    natural: int  # its longest line: wider than this is wasted


def _measure(spec: Col, values: Sequence[str]) -> _Measure:
    """Kept columns are as wide as their widest value; others at least as wide as their header
    and longest word (up to ``_LONGEST_WORD``, beyond which a word folds)."""
    natural = max([_cells(spec.name)] + [_cells(line) for v in values for line in v.splitlines()])
    if spec.kept:
        return _Measure(natural, natural)
    longest = max([0] + [_cells(word) for value in values for word in value.split()])
    return _Measure(max(_cells(spec.name), min(longest, _LONGEST_WORD)), natural)


def _fitting(specs: Sequence[Col], layout: Sequence[_Measure], width: int) -> list[int]:
    """The columns to show: all, unless their least widths exceed ``width``; then optional
    ones are left out, last first, until the rest fits (or there is none left to leave out)."""
    shown = list(range(len(specs)))
    droppable = [index for index, spec in enumerate(specs) if spec.optional]
    while _border(len(shown)) + sum(layout[i].least for i in shown) > width and droppable:
        shown.remove(droppable.pop())
    return shown


def _widths(layout: Sequence[_Measure], width: int, kept: Sequence[bool]) -> list[int]:
    """Each column's least width, then the room left shared out one character at a time to the
    columns still narrower than their longest line (so short columns do not take room that
    long ones need). With no room even for the least widths, the widest wrapped columns give
    way (their words fold); kept columns never do."""
    widths = [measure.least for measure in layout]
    room = width - _border(len(layout)) - sum(widths)
    while room < 0:
        narrowable = [i for i, w in enumerate(widths) if not kept[i] and w > _NARROWEST]
        if not narrowable:
            break  # only kept columns left: the terminal scrolls rather than an id being cut
        widest = max(narrowable, key=lambda i: widths[i])
        widths[widest] -= 1
        room += 1
    growing = [i for i, measure in enumerate(layout) if measure.natural > widths[i]]
    while room > 0 and growing:
        for i in list(growing):
            if room == 0:
                break
            widths[i] += 1
            room -= 1
            if widths[i] >= layout[i].natural:
                growing.remove(i)
    return widths


def _border(columns: int) -> int:
    # A bordered table spends 3 characters a column (padding and rule) and one at its edge.
    return 3 * columns + 1


def _cells(text: str) -> int:
    return Text(text).cell_len


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _plain(value: Any) -> Text:
    return Text("" if value is None else str(value))
