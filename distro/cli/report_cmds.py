"""`distro report` (one send, or several side by side) and `distro sends` (every send with its
headline figures)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from distro.cli import output, report_view
from distro.cli.output import print_json
from distro.cli.state import state
from distro.errors import ValidationError
from distro.models import SendStatus
from distro.moments import zone as check_zone
from distro.reports import SendReport, build_report, csv_out, html, json_out
from distro.reports.listing import list_sends
from distro.reports.model import RecipientRow
from distro.reports.recipients import iter_recipients


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("sends")(sends)


def report(
    ctx: typer.Context,
    send_ids: Annotated[
        list[int],
        typer.Argument(help="The send to report on (several with --compare).", show_default=False),
    ],
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="table, json, csv (one section,item,metric,value row per figure; with "
            "--recipients one row per recipient) or html (a page with charts).",
        ),
    ] = ReportFormat.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of the terminal.")
    ] = None,
    recipients: Annotated[
        bool,
        typer.Option("--recipients", help="Add the per-recipient table (status, times, why)."),
    ] = False,
    compare: Annotated[
        bool, typer.Option("--compare", help="Put the sends given side by side.")
    ] = False,
    zone: Annotated[
        str | None,
        typer.Option(
            "--zone", help="Show times in this IANA zone (default: the release's own zone)."
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", min=1, help="Values per breakdown in the table format.")
    ] = report_view.TOP,
) -> None:
    """Report what happened to a send: funnel in distinct recipients, rates, breakdowns by
    outlet, beat, region, provider and domain, timeline, top links and bounce reasons."""
    if zone is not None:
        check_zone(zone)
    send_ids = list(dict.fromkeys(send_ids))  # each send once
    if compare and len(send_ids) < 2:
        raise ValidationError("--compare needs two sends or more")
    if not compare and len(send_ids) > 1:
        raise ValidationError("several sends given: add --compare to put them side by side")
    if compare and recipients:
        raise ValidationError("--recipients shows one send: leave out --compare")
    cli = state(ctx)
    built = [build_report(cli.engine, send_id, zone=zone) for send_id in send_ids]
    folder = cli.settings.templates.folder
    with _output(out) as stream:
        if compare:
            _write_comparison(built, output_format, stream, folder)
        else:
            rows = iter_recipients(cli.engine, built[0].send_id) if recipients else None
            _write_report(built[0], rows, output_format, stream, folder, top)
    if out is not None:
        output.errors.print(f"Wrote the {output_format} report to {out}", markup=False)


def _write_report(
    report: SendReport,
    rows: Iterator[RecipientRow] | None,
    output_format: ReportFormat,
    stream: TextIO,
    folder: Path | None,
    top: int,
) -> None:
    if output_format is ReportFormat.JSON:
        json_out.write_report(report, stream, rows)
    elif output_format is ReportFormat.CSV:
        if rows is not None:
            csv_out.write_recipients(rows, stream)
        else:
            csv_out.write_report(report, stream)
    elif output_format is ReportFormat.HTML:
        stream.writelines(html.report_chunks(report, rows, template_folder=folder))
    else:
        report_view.print_full_report(report, top)
        if rows is not None:
            report_view.print_recipients(rows, report.zone)


def _write_comparison(
    reports: list[SendReport], output_format: ReportFormat, stream: TextIO, folder: Path | None
) -> None:
    if output_format is ReportFormat.JSON:
        json_out.write_comparison(reports, stream)
    elif output_format is ReportFormat.CSV:
        csv_out.write_comparison(reports, stream)
    elif output_format is ReportFormat.HTML:
        stream.write(html.render_comparison(reports, template_folder=folder))
    else:
        report_view.print_comparison(reports)


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """Where the report goes: the file (the table format too), or standard output."""
    if path is None:
        yield sys.stdout
        return
    try:
        handle = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror}") from None
    terminal = output.console
    with handle:
        # Tables go to the file too, plain: no colours, not folded at the terminal's width.
        output.console = Console(file=handle, highlight=False, no_color=True, width=200)
        try:
            yield handle
        finally:
            output.console = terminal


def sends(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only sends in this status: " + ", ".join(s.value for s in SendStatus)
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 20,
    zone: Annotated[str, typer.Option("--zone", help="Show times in this IANA zone.")] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sends, newest first, with recipients, delivered, open and click rates, bounces."""
    if status is not None and status not in {s.value for s in SendStatus}:
        raise ValidationError(
            f"--status {status!r} is not a send status: " + ", ".join(s.value for s in SendStatus)
        )
    check_zone(zone)
    cli = state(ctx)
    lines = list_sends(
        cli.engine, status=status, limit=limit, trusted_tag=cli.settings.embargo.trusted_tag
    )
    if as_json:
        print_json([line.as_dict() for line in lines])
    else:
        report_view.print_sends(lines, zone)
