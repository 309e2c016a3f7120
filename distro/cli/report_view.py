"""Send reports for people at a terminal: Rich tables, times in the reader's zone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from distro.cli import output
from distro.cli.output import Col, print_table
from distro.models import SendKind
from distro.moments import show_moment
from distro.moments import zone as find_zone
from distro.reports.csv_out import comparison_rows
from distro.reports.html import number, percent
from distro.reports.listing import SendLine
from distro.reports.model import RecipientRow, SendReport, TimelinePoint, refused_note

TOP = 10  # values shown per breakdown, links and reasons in the table format


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def print_report(report: SendReport) -> None:
    """The send's head, its funnel in distinct recipients, and its rates."""
    r, c = report, report.counts
    output.console.print(f"Send {r.send_id} ({r.kind_label}): {r.release_title}", markup=False)
    output.console.print(
        f"Status {r.status} via {r.provider}; scheduled {show_moment(r.scheduled_at, r.zone)}, "
        f"started {show_moment(r.started_at, r.zone)}, "
        f"finished {show_moment(r.finished_at, r.zone)}",
        markup=False,
    )
    if r.note:
        output.console.print(r.note, markup=False)
    rows = [
        ("left out (advance copy)", r.left_out, ""),
        ("left out (opted out of a beat)", r.left_out_by_opt_out, ""),
        ("recipients", r.recipients, ""),
        ("suppressed", r.suppressed, _share(r.suppressed, r.recipients)),
        ("pending", r.pending, _share(r.pending, r.recipients)),
        ("sent", r.sent, _share(r.sent, r.recipients)),
        ("delivered", r.delivered, _share(r.delivered, r.sent)),
        ("deferred", c.deferred, _share(c.deferred, r.sent)),
        ("bounced", r.bounced, _share(r.bounced, r.sent)),
        ("  hard", c.bounced_hard, _share(c.bounced_hard, r.sent)),
        ("  soft", c.bounced_soft, _share(c.bounced_soft, r.sent)),
        ("failed", r.failed, _share(r.failed, r.recipients)),
        ("uncertain", r.uncertain, _share(r.uncertain, r.recipients)),
        ("opened", r.opened, _share(r.opened, r.delivered)),
        ("  by people", c.opened_human, _share(c.opened_human, r.delivered)),
        ("  by machines", c.opened_machine, _share(c.opened_machine, r.delivered)),
        ("clicked", r.clicked, _share(r.clicked, r.delivered)),
        ("  by people", c.clicked_human, _share(c.clicked_human, r.delivered)),
        ("  by machines", c.clicked_machine, _share(c.clicked_machine, r.delivered)),
        ("complained", r.complained, _share(r.complained, r.delivered)),
        ("unsubscribed", r.unsubscribed, _share(r.unsubscribed, r.delivered)),
        ("opted out of a beat", c.beat_opted_out, _share(c.beat_opted_out, r.delivered)),
    ]
    print_table("Funnel (distinct recipients)", ("stage", "count", "share"), rows)
    if r.refused_note:
        output.console.print(r.refused_note, markup=False)
    for line in r.not_sent.lines():
        output.console.print(line, markup=False, soft_wrap=True)
    print_table(
        "Totals (events)",
        ("", "total", "by people", "by machines"),
        [
            ("opens", c.opens_human + c.opens_machine, c.opens_human, c.opens_machine),
            ("clicks", c.clicks_human + c.clicks_machine, c.clicks_human, c.clicks_machine),
        ],
    )
    rates = report.rates
    print_table(
        "Rates",
        ("rate", "value", "of"),
        [
            ("delivery", percent(rates.delivery_rate), "sent"),
            ("open (people)", percent(rates.open_rate), "delivered"),
            ("click (people)", percent(rates.click_rate), "delivered"),
            ("click-to-open", percent(rates.click_to_open_rate), "opened by people"),
            ("bounce", percent(rates.bounce_rate), "sent"),
            ("complaint", percent(rates.complaint_rate), "delivered"),
            ("unsubscribe", percent(rates.unsubscribe_rate), "delivered"),
        ],
    )


def print_full_report(report: SendReport, top: int = TOP) -> None:
    """Everything: funnel and rates, breakdowns, timeline, links and bounce reasons."""
    print_report(report)
    for dimension, rows in report.breakdowns.items():
        if not rows:
            continue
        print_table(
            f"By {dimension}" + (f" (top {top} of {len(rows)})" if len(rows) > top else ""),
            (dimension, "recipients", "delivered", "opened", "clicked", "bounced", "open", "click"),
            [
                (
                    row.value or "(none)",
                    row.counts.recipients,
                    row.counts.delivered,
                    row.counts.opened_human,
                    row.counts.clicked_human,
                    row.counts.bounced,
                    percent(row.rates.open_rate),
                    percent(row.rates.click_rate),
                )
                for row in rows[:top]
            ],
        )
    zone = report.zone
    for title, points in (
        (f"First hour, per minute ({zone})", report.timeline.minutes),
        (f"After the first hour, per hour ({zone})", report.timeline.hours),
    ):
        if points:
            print_table(
                title,
                ("from", "sent", "delivered", "opens", "clicks", "bounces"),
                [_point(p, zone) for p in points],
            )
    if report.top_links:
        print_table(
            "Top links",
            ("url", "clicks", "people", "machine clicks"),
            [
                (link.url, link.clicks_human, link.clickers, link.clicks_machine)
                for link in report.top_links[:top]
            ],
        )
    if report.bounce_reasons:
        print_table(
            "Bounce reasons",
            ("kind", "reason", "bounces", "example"),
            [(b.bounce_type, b.reason, b.bounces, b.example) for b in report.bounce_reasons[:top]],
        )


def _point(point: TimelinePoint, zone: str) -> tuple[object, ...]:
    return (
        show_moment(point.start, zone),
        point.sent,
        point.delivered,
        _with_machine(point.opens_human, point.opens_machine),
        _with_machine(point.clicks_human, point.clicks_machine),
        point.bounces,
    )


def _with_machine(human: int, machine: int) -> str:
    return f"{human} (+{machine} machine)" if machine else str(human)


def print_recipients(rows: Iterable[RecipientRow], zone: str) -> None:
    print_table(
        "Recipients",
        ("email", "status", "sent", "delivered", "opens", "clicks", "reason"),
        (
            (
                r.email,
                r.status,
                show_moment(r.sent_at, zone),
                show_moment(r.delivered_at, zone),
                _with_machine(r.opens_human, r.opens_machine),
                _with_machine(r.clicks_human, r.clicks_machine),
                r.reason,
            )
            for r in rows
        ),
    )


def print_comparison(reports: Sequence[SendReport]) -> None:
    rows = []
    for section, key, values in comparison_rows(reports):
        if section == "send" and key in ("send_id", "release_id", "note", "zone", "scheduled_at"):
            continue
        if section == "rates":
            shown = [percent(v) for v in values]
        elif section == "send" and key == "kind":
            shown = [r.kind_label for r in reports]
        elif section == "send" and key in ("started_at", "finished_at"):
            shown = [
                show_moment(r.started_at if key == "started_at" else r.finished_at, r.zone)
                for r in reports
            ]
        else:
            shown = [number(v) if isinstance(v, int) else str(v) for v in values]
        rows.append((key.replace("_", " "), *shown))
    print_table("Sends compared", ("", *(f"send {r.send_id}" for r in reports)), rows)


def print_sends(lines: Sequence[SendLine], zone: str) -> None:
    print_table(
        f"Sends, newest first (times in {zone})",
        (
            "id",
            "release",
            "kind",
            "status",
            "started",
            "recipients",
            "delivered",
            Col("open", optional=True),
            Col("click", optional=True),
            Col("bounced", optional=True),
        ),
        [
            (
                s.send_id,
                s.release_title,
                SendKind(s.kind).label,
                s.status,
                _local(s.started_at or s.scheduled_at, zone),
                f"{number(s.recipients)} expected" if s.expected else number(s.recipients),
                number(s.delivered),
                percent(s.open_rate),
                percent(s.click_rate),
                number(s.bounced),
            )
            for s in lines
        ],
    )
    for line in lines:
        note = refused_note(line.refused_events, line.send_id)
        if note:
            output.console.print(note, markup=False)


def _local(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(find_zone(zone)):%Y-%m-%d %H:%M}"
