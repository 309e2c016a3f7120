"""The HTML report: one self-contained page (inline CSS, inline SVG, no script, nothing fetched),
rendered from ``templates/reports/`` with the one autoescaping Jinja environment (a template
folder in config may override them, as for emails)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from distro.moments import show_moment
from distro.rendering import make_environment
from distro.reports.charts import (
    PALETTE,
    BarChart,
    LayeredChart,
    LineChart,
    bar_chart,
    layered_chart,
    line_chart,
)
from distro.reports.model import RecipientRow, SendReport, Timeline

BREAKDOWN_TITLES = {
    "outlet": "Outlets",
    "beat": "Beats",
    "region": "Regions",
    "provider": "Providers",
    "domain": "Recipient domains",
}
SHOWN = 12  # values per breakdown chart
LISTED = 25  # values per breakdown table
_LAYERS = ("recipients", "delivered", "opened", "clicked")


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def number(value: int) -> str:
    return f"{value:,}"


def environment(template_folder: Path | None = None) -> jinja2.Environment:
    env = make_environment(template_folder)
    env.filters["pct"] = percent
    env.filters["num"] = number
    return env


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str
    title: str
    chart: LayeredChart
    rows: tuple[Any, ...]
    more: int


def render_report(
    report: SendReport,
    recipients: Iterable[RecipientRow] | None = None,
    *,
    template_folder: Path | None = None,
) -> str:
    return "".join(report_chunks(report, recipients, template_folder=template_folder))


def report_chunks(
    report: SendReport,
    recipients: Iterable[RecipientRow] | None = None,
    *,
    template_folder: Path | None = None,
) -> Iterator[str]:
    """The page in pieces, as rendered: the per-recipient table streams to the file."""
    context = {
        "report": report,
        "moment": lambda value: show_moment(value, report.zone),
        "kpis": _kpis(report),
        "funnel": _funnel(report),
        "outcomes": _outcomes(report),
        "timeline": _timeline(report.timeline, report.zone),
        "breakdowns": [_breakdown(key, rows) for key, rows in report.breakdowns.items() if rows],
        "links": _links(report),
        "bounces": _bounces(report),
        "recipients": recipients,
        "palette": PALETTE,
    }
    template = environment(template_folder).get_template("reports/report.html")
    return template.generate(context)


def render_comparison(reports: Sequence[SendReport], *, template_folder: Path | None = None) -> str:
    zone = reports[0].zone if reports else "UTC"
    metrics = (
        ("Delivery rate", "delivery_rate"),
        ("Open rate (human)", "open_rate"),
        ("Click rate (human)", "click_rate"),
        ("Click-to-open rate", "click_to_open_rate"),
        ("Bounce rate", "bounce_rate"),
        ("Complaint rate", "complaint_rate"),
        ("Unsubscribe rate", "unsubscribe_rate"),
    )
    colours = ("#0ea5e9", "#6366f1", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#64748b")
    charts = []
    for title, key in metrics:
        rows = []
        for i, r in enumerate(reports):
            value = getattr(r.rates, key)
            rows.append(
                (
                    f"#{r.send_id}",
                    round(10_000 * (value or 0)),
                    colours[i % len(colours)],
                    percent(value),
                )
            )
        charts.append((title, bar_chart(rows, scale=10_000, width=360, label_width=60)))
    context = {
        "reports": reports,
        "moment": lambda value: show_moment(value, zone),
        "zone": zone,
        "rate_charts": charts,
        "colours": colours,
    }
    return environment(template_folder).get_template("reports/compare.html").render(context)


def _kpis(r: SendReport) -> list[tuple[str, str, str]]:
    rates = r.rates
    return [
        ("Recipients", number(r.recipients), f"{number(r.suppressed)} suppressed"),
        (
            "Delivered",
            percent(rates.delivery_rate),
            f"{number(r.delivered)} of {number(r.sent)} sent",
        ),
        ("Open rate", percent(rates.open_rate), f"{number(r.counts.opened_human)} people opened"),
        (
            "Click rate",
            percent(rates.click_rate),
            f"{number(r.counts.clicked_human)} people clicked",
        ),
        ("Click-to-open", percent(rates.click_to_open_rate), "of those who opened"),
        ("Bounce rate", percent(rates.bounce_rate), f"{number(r.bounced)} bounced"),
        ("Complaints", percent(rates.complaint_rate), f"{number(r.complained)} complained"),
    ]


def _funnel(r: SendReport) -> BarChart:
    c = r.counts
    return bar_chart(
        [
            ("Recipients", r.recipients, PALETTE["recipients"], ""),
            ("Sent", r.sent, PALETTE["sent"], percent(_share(r.sent, r.recipients))),
            ("Delivered", r.delivered, PALETTE["delivered"], percent(r.rates.delivery_rate)),
            ("Opened (people)", c.opened_human, PALETTE["opened"], percent(r.rates.open_rate)),
            ("Clicked (people)", c.clicked_human, PALETTE["clicked"], percent(r.rates.click_rate)),
        ]
    )


def _outcomes(r: SendReport) -> BarChart:
    c = r.counts
    rows = [
        ("Suppressed", r.suppressed, PALETTE["suppressed"]),
        ("Deferred", c.deferred, PALETTE["sent"]),
        ("Hard bounces", c.bounced_hard, PALETTE["bounced"]),
        ("Soft bounces", c.bounced_soft, "#fca5a5"),
        ("Failed", r.failed, PALETTE["failed"]),
        ("Uncertain", r.uncertain, "#fbbf24"),
        ("Machine opens only", max(0, c.opened - c.opened_human), PALETTE["machine"]),
        ("Complained", r.complained, PALETTE["complained"]),
        ("Unsubscribed", r.unsubscribed, PALETTE["unsubscribed"]),
    ]
    return bar_chart(
        [(label, n, colour, percent(_share(n, r.recipients))) for label, n, colour in rows],
        scale=r.recipients,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _timeline(timeline: Timeline, zone: str) -> list[tuple[str, LineChart, LineChart]]:
    """Per period, two charts: hand-over and delivery, then opens and clicks (each on its own
    scale: a million sent in two minutes would flatten every open)."""
    charts = []
    for title, points, fmt in (
        ("First hour, per minute", timeline.minutes, "%H:%M"),
        ("After the first hour, per hour", timeline.hours, "%d %b %H:%M"),
    ):
        if not points:
            continue
        starts = [p.start for p in points]
        sending = [("sent", [p.sent for p in points]), ("delivered", [p.delivered for p in points])]
        engagement = [
            ("opens", [p.opens_human for p in points]),
            ("clicks", [p.clicks_human for p in points]),
            ("bounced", [p.bounces for p in points]),
        ]
        charts.append(
            (
                title,
                line_chart(starts, sending, zone, label_format=fmt, width=520),
                line_chart(starts, engagement, zone, label_format=fmt, width=520),
            )
        )
    return charts


def _breakdown(key: str, rows: Sequence[Any]) -> Breakdown:
    shown = [
        (
            row.value or "(none)",
            [
                row.counts.recipients,
                row.counts.delivered,
                row.counts.opened_human,
                row.counts.clicked_human,
            ],
            f"open {percent(row.rates.open_rate)} · click {percent(row.rates.click_rate)}",
        )
        for row in rows[:SHOWN]
    ]
    return Breakdown(
        key,
        BREAKDOWN_TITLES.get(key, key),
        layered_chart(shown, _LAYERS),
        tuple(rows[:LISTED]),
        max(0, len(rows) - LISTED),
    )


def _links(r: SendReport) -> BarChart:
    return bar_chart(
        [
            (link.url, link.clicks_human, PALETTE["clicks"], f"{number(link.clickers)} people")
            for link in r.top_links[:15]
        ],
        label_width=300,
        width=760,
    )


def _bounces(r: SendReport) -> BarChart:
    return bar_chart(
        [
            (f"{b.bounce_type}: {b.reason}", b.bounces, PALETTE["bounced"], "")
            for b in r.bounce_reasons[:15]
        ],
        label_width=300,
        width=760,
    )
