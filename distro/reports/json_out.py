"""Reports as JSON: ``SendReport.as_dict`` (the foundation's keys first, then the rest), with
the per-recipient rows streamed after it so a million recipients never sit in memory at once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from distro.reports.model import RecipientRow, SendReport


def _dumps(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False, default=str)


def write_report(
    report: SendReport, out: TextIO, recipients: Iterable[RecipientRow] | None = None
) -> None:
    """The report object; with ``recipients``, plus ``recipient_rows``: one object each."""
    head = _dumps(report.as_dict())
    if recipients is None:
        out.write(head + "\n")
        return
    out.write(head[: head.rindex("}")].rstrip() + ',\n  "recipient_rows": [')
    for i, row in enumerate(recipients):
        out.write(("," if i else "") + "\n    " + _dumps(row.as_dict(), indent=None))
    out.write("\n  ]\n}\n")


def write_comparison(reports: Sequence[SendReport], out: TextIO) -> None:
    """``{"sends": [report, ...]}`` in the order asked for."""
    out.write(_dumps({"sends": [r.as_dict() for r in reports]}) + "\n")
