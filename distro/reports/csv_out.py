"""Reports as CSV, for spreadsheets and scripts.

One report is one long ("tidy") table, ``section,item,metric,value``: every figure of every
section (send, funnel, rates, each breakdown, the timeline, links, bounce reasons) is a row, so
a pivot table or a filter on ``section`` gets any of them. The per-recipient table
(``--recipients``) is a wide table of its own, one row per recipient. A comparison is
``section,item,metric`` then one column per send. Times are ISO 8601 in UTC. Every file is
written by ``distro.csv_writer``: text cells quoted and never starting a formula, figures bare.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, fields
from typing import Any, TextIO

from distro.csv_writer import CsvWriter
from distro.reports.model import RecipientRow, SendReport

HEADER = ("section", "item", "metric", "value")
FUNNEL = (
    "recipients",
    "left_out",
    "left_out_by_opt_out",
    "suppressed",
    "pending",
    "sent",
    "delivered",
    "deferred",
    "bounced",
    "bounced_hard",
    "bounced_soft",
    "failed",
    "uncertain",
    "opened",
    "opened_human",
    "opened_machine",
    "opens",
    "opens_human",
    "opens_machine",
    "clicked",
    "clicked_human",
    "clicked_machine",
    "clicks",
    "clicks_human",
    "clicks_machine",
    "complained",
    "unsubscribed",
    "beat_opted_out",
)
_SEND = (
    "send_id",
    "release_id",
    "release_title",
    "kind",
    "status",
    "provider",
    "scheduled_at",
    "started_at",
    "finished_at",
    "zone",
    "note",
    "refused_events",
)


def report_rows(report: SendReport) -> Iterator[tuple[str, str, str, Any]]:
    """Every figure of the report as (section, item, metric, value)."""
    data = report.as_dict()
    for key in _SEND:
        yield "send", "", key, data[key]
    for key in FUNNEL:
        yield "funnel", "", key, data[key]
    for key, value in data["rates"].items():
        yield "rates", "", key, value
    for dimension, rows in report.breakdowns.items():
        for row in rows:
            for key, value in row.as_dict().items():
                if key != "value":
                    yield dimension, row.value, key, value
    for section, points in (
        ("timeline_minute", report.timeline.minutes),
        ("timeline_hour", report.timeline.hours),
    ):
        for point in points:
            for key, value in point.as_dict().items():
                if key not in ("start", "minutes"):
                    yield section, point.start.isoformat(), key, value
    for link in report.top_links:
        for key in ("clicks_human", "clicks_machine", "clickers"):
            yield "link", link.url, key, getattr(link, key)
    for reason in report.bounce_reasons:
        item = f"{reason.bounce_type}: {reason.reason}"
        yield "bounce_reason", item, "bounces", reason.bounces
        yield "bounce_reason", item, "example", reason.example


def write_report(report: SendReport, out: TextIO) -> None:
    writer = CsvWriter(out)
    writer.writerow(HEADER)
    writer.writerows(report_rows(report))


RECIPIENT_HEADER = tuple(f.name for f in fields(RecipientRow))


def write_recipients(rows: Iterable[RecipientRow], out: TextIO) -> None:
    writer = CsvWriter(out)
    writer.writerow(RECIPIENT_HEADER)
    writer.writerows(row.as_dict().values() for row in rows)


def write_comparison(reports: Sequence[SendReport], out: TextIO) -> None:
    """Send, funnel, rates and whole-send figures side by side, one column per send."""
    writer = CsvWriter(out)
    writer.writerow(("section", "item", "metric", *(f"send {r.send_id}" for r in reports)))
    for section, key, values in comparison_rows(reports):
        writer.writerow((section, "", key, *values))


def comparison_rows(reports: Sequence[SendReport]) -> Iterator[tuple[str, str, list[Any]]]:
    dicts = [r.as_dict() for r in reports]
    for key in _SEND:
        yield "send", key, [d[key] for d in dicts]
    for key in FUNNEL:
        yield "funnel", key, [d[key] for d in dicts]
    for key in asdict(reports[0].rates) if reports else ():
        yield "rates", key, [d["rates"][key] for d in dicts]
