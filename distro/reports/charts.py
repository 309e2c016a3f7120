"""Chart geometry for the HTML report: numbers in, coordinates out. The templates only draw
what is computed here, so the SVG stays plain and testable, and needs no script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from distro.moments import zone as find_zone

# Colours of the series, shared by funnel bars, lines and legends.
PALETTE = {
    "recipients": "#cbd5e1",
    "sent": "#94a3b8",
    "delivered": "#0ea5e9",
    "opened": "#6366f1",
    "clicked": "#f59e0b",
    "opens": "#6366f1",
    "clicks": "#f59e0b",
    "bounced": "#ef4444",
    "complained": "#be123c",
    "unsubscribed": "#a855f7",
    "suppressed": "#64748b",
    "failed": "#b91c1c",
    "machine": "#c7d2fe",
}


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    width: float  # of the full bar width
    y: float
    text_y: float  # the baseline of its label and value
    colour: str
    note: str = ""  # shown after the value, e.g. a share


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: float
    height: float
    label_width: float
    bar_height: float


def bar_chart(
    rows: Sequence[tuple[str, int, str, str]],
    *,
    width: float = 640,
    label_width: float = 170,
    bar_height: float = 22,
    gap: float = 8,
    scale: int | None = None,
) -> BarChart:
    """Horizontal bars for (label, value, colour, note); the longest fills the width, or
    ``scale`` does (so several charts can share one)."""
    top = max([scale or 0, *(value for _, value, _, _ in rows)]) or 1
    room = width - label_width - 120
    bars = tuple(
        Bar(
            label,
            value,
            round(room * value / top, 1),
            i * (bar_height + gap),
            round(i * (bar_height + gap) + bar_height * 0.7, 1),
            colour,
            note,
        )
        for i, (label, value, colour, note) in enumerate(rows)
    )
    return BarChart(bars, width, len(rows) * (bar_height + gap), label_width, bar_height)


@dataclass(frozen=True, slots=True)
class Segment:
    """One layer of a layered bar (recipients, then delivered, opened, clicked on top)."""

    width: float
    colour: str
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class LayeredRow:
    label: str
    y: float
    text_y: float
    segments: tuple[Segment, ...]
    note: str


@dataclass(frozen=True, slots=True)
class LayeredChart:
    rows: tuple[LayeredRow, ...]
    width: float
    height: float
    label_width: float
    bar_height: float
    legend: tuple[tuple[str, str], ...]


def layered_chart(
    rows: Sequence[tuple[str, Sequence[int], str]],
    names: Sequence[str],
    *,
    width: float = 640,
    label_width: float = 190,
    bar_height: float = 18,
    gap: float = 7,
) -> LayeredChart:
    """Each row a bar per value of ``names`` drawn over each other from the same origin, the
    first (largest) at the back: a small funnel per outlet, beat or region."""
    top = max((max(values) for _, values, _ in rows if values), default=0) or 1
    room = width - label_width - 230  # the value and its note follow the longest bar
    drawn = tuple(
        LayeredRow(
            label,
            i * (bar_height + gap),
            round(i * (bar_height + gap) + bar_height * 0.75, 1),
            tuple(
                Segment(round(room * value / top, 1), PALETTE.get(name, "#94a3b8"), name, value)
                for name, value in zip(names, values, strict=True)
            ),
            note,
        )
        for i, (label, values, note) in enumerate(rows)
    )
    legend = tuple((name, PALETTE.get(name, "#94a3b8")) for name in names)
    return LayeredChart(
        drawn, width, len(rows) * (bar_height + gap), label_width, bar_height, legend
    )


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    total: int


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True)
class LineChart:
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: float
    height: float
    left: float
    top: float
    plot_width: float
    plot_height: float


def line_chart(
    starts: Sequence[datetime],
    series: Sequence[tuple[str, Sequence[int]]],
    zone_name: str,
    *,
    width: float = 720,
    height: float = 240,
    label_format: str = "%H:%M",
) -> LineChart:
    """Lines over time buckets (``starts``), x labels in the reader's zone."""
    left, top, right, bottom = 48.0, 12.0, 12.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(starts)
    highest = max((max(values, default=0) for _, values in series), default=0) or 1
    step = plot_w / max(count - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(value: int) -> float:
        return round(top + plot_h - plot_h * value / highest, 1)

    drawn = tuple(
        Series(
            name,
            PALETTE.get(name, "#94a3b8"),
            " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
            sum(values),
        )
        for name, values in series
    )
    zone = find_zone(zone_name)
    labels = [start.astimezone(zone).strftime(label_format) for start in starts]
    # As many labels as fit side by side (about 7 px a character, and a gap).
    room = max(1, int(plot_w // (7 * max((len(label) for label in labels), default=1) + 16)))
    every = max(1, -(-count // room))
    x_ticks = tuple(Tick(x(i), labels[i]) for i in range(0, count, every))
    y_ticks = tuple(Tick(y(v), f"{v:,}") for v in sorted({0, highest // 2, highest}))
    return LineChart(drawn, x_ticks, y_ticks, width, height, left, top, plot_w, plot_h)
