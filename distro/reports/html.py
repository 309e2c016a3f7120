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
    share_chart,
)
from distro.reports.model import RecipientRow, SendReport, Timeline, TimelinePoint, rate_parts

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


# The rates compared side by side: title, the field of ``Rates``, what its whole counts.
COMPARED_RATES = (
    ("Delivery rate", "delivery_rate", "sent"),
    ("Open rate (people)", "open_rate", "delivered"),
    ("Click rate (people)", "click_rate", "delivered"),
    ("Click-to-open rate", "click_to_open_rate", "who opened"),
    ("Bounce rate", "bounce_rate", "sent"),
    ("Complaint rate", "complaint_rate", "delivered"),
    ("Unsubscribe rate", "unsubscribe_rate", "delivered"),
)
SEND_COLOURS = ("#0ea5e9", "#6366f1", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#64748b")


def render_comparison(reports: Sequence[SendReport], *, template_folder: Path | None = None) -> str:
    zone = reports[0].zone if reports else "UTC"
    parts = [rate_parts(r.counts, r.sent) for r in reports]
    charts = []
    for title, key, counted in COMPARED_RATES:
        rows = []
        for i, (r, rates) in enumerate(zip(reports, parts, strict=True)):
            part, whole = rates[key]
            rows.append(
                (f"#{r.send_id}", part, whole, counted, SEND_COLOURS[i % len(SEND_COLOURS)])
            )
        charts.append((title, share_chart(rows)))
    context = {
        "reports": reports,
        "moment": lambda value: show_moment(value, zone),
        "zone": zone,
        "rate_charts": charts,
        "colours": SEND_COLOURS,
    }
    return environment(template_folder).get_template("reports/compare.html").render(context)


def _recipients_note(r: SendReport) -> str:
    """Under the recipients figure: the suppressed among them, and who was left out."""
    parts = [f"{number(r.suppressed)} suppressed"]
    if r.left_out:
        parts.append(f"{number(r.left_out)} left out (advance copy)")
    if r.left_out_by_opt_out:
        parts.append(f"{number(r.left_out_by_opt_out)} left out (beat opt-out)")
    return " · ".join(parts)


def _kpis(r: SendReport) -> list[tuple[str, str, str]]:
    rates = r.rates
    return [
        ("Recipients", number(r.recipients), _recipients_note(r)),
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
    """Each step with its share of the step it follows from (as the rates are defined)."""
    c, rates = r.counts, r.rates
    steps = [
        ("Sent", r.sent, "sent", _share(r.sent, r.recipients), "recipients"),
        ("Delivered", r.delivered, "delivered", rates.delivery_rate, "sent"),
        ("Opened (people)", c.opened_human, "opened", rates.open_rate, "delivered"),
        ("Clicked (people)", c.clicked_human, "clicked", rates.click_rate, "delivered"),
    ]
    return bar_chart(
        [("Recipients", r.recipients, PALETTE["recipients"], "")]
        + [
            (label, value, PALETTE[colour], f"{percent(rate)} of {whole}")
            for label, value, colour, rate, whole in steps
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
        ("Opted out of a beat", c.beat_opted_out, PALETTE["beat_opted_out"]),
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
    for title, points, fmt, bucket in (
        ("First hour, per minute", timeline.minutes, "%H:%M", "minute"),
        ("After the first hour, per hour", timeline.hours, "%d %b %H:%M", "hour"),
    ):
        if not points:
            continue
        starts = [p.start for p in points]
        scale = {"label_format": fmt, "bucket": bucket}
        # Sending ends: its lines stop at their last message instead of dropping to 0 (which
        # reads like a failure). Opens and clicks may come at any time: 0 is what happened.
        sending = [(name, _until_last(points, name)) for name in ("sent", "delivered")]
        engagement = [
            ("opens", [p.opens_human for p in points]),
            ("clicks", [p.clicks_human for p in points]),
            ("bounced", [p.bounces for p in points]),
        ]
        charts.append(
            (
                title,
                line_chart(starts, sending, zone, y_caption="messages", **scale),
                line_chart(starts, engagement, zone, y_caption="events", **scale),
            )
        )
    return charts


def _until_last(points: Sequence[TimelinePoint], name: str) -> list[int]:
    """The ``name`` counts of ``points`` up to the last that is not 0."""
    values = [int(getattr(point, name)) for point in points]
    while values and not values[-1]:
        values.pop()
    return values


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
            f"open {percent(row.rates.open_rate)} · click {percent(row.rates.click_rate)}"
            if row.counts.delivered
            else "none delivered",
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
    )


def _bounces(r: SendReport) -> BarChart:
    return bar_chart(
        [
            (f"{b.bounce_type}: {b.reason}", b.bounces, PALETTE["bounced"], "")
            for b in r.bounce_reasons[:15]
        ],
    )
