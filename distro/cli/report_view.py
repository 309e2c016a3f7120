"""A send report for people: the funnel as a table."""

from __future__ import annotations

from distro.cli.output import console, print_table
from distro.moments import show_moment
from distro.reports import SendReport


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def print_report(report: SendReport) -> None:
    console.print(f"Send {report.send_id}: {report.release_title}", markup=False)
    console.print(
        f"Status {report.status} via {report.provider}; scheduled "
        f"{show_moment(report.scheduled_at)}, finished {show_moment(report.finished_at)}",
        markup=False,
    )
    if report.note:
        console.print(report.note, markup=False)
    rows = [
        ("recipients", report.recipients, ""),
        ("suppressed", report.suppressed, _share(report.suppressed, report.recipients)),
        ("pending", report.pending, _share(report.pending, report.recipients)),
        ("sent", report.sent, _share(report.sent, report.recipients)),
        ("delivered", report.delivered, _share(report.delivered, report.sent)),
        ("bounced", report.bounced, _share(report.bounced, report.sent)),
        ("failed", report.failed, _share(report.failed, report.recipients)),
        ("uncertain", report.uncertain, _share(report.uncertain, report.recipients)),
        ("opened", report.opened, _share(report.opened, report.delivered)),
        ("clicked", report.clicked, _share(report.clicked, report.delivered)),
        ("complained", report.complained, _share(report.complained, report.delivered)),
        ("unsubscribed", report.unsubscribed, _share(report.unsubscribed, report.delivered)),
    ]
    print_table("Funnel (distinct recipients)", ("stage", "count", "share"), rows)
