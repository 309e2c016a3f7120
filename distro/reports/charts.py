"""Chart geometry for the HTML report: numbers in, coordinates and labels out. The templates
only draw what is computed here, so the page stays plain, testable and free of script.

Charts scale to their container instead of having a size: each SVG has a ``viewBox`` and
``width="100%"``, and stretches (``preserveAspectRatio="none"``) where stretching is harmless
(bars, lines drawn with non-scaling strokes). Text is never inside a stretched SVG: labels are
HTML beside or over it, placed by percentage, so they stay whole and readable from a phone
to a wide screen. Axes are honest: they start at 0, their ticks are round values, their
captions give the unit, and a line ends where its data ends.
"""

from __future__ import annotations

import math
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
    "beat_opted_out": "#c4b5fd",
    "suppressed": "#64748b",
    "failed": "#b91c1c",
    "machine": "#c7d2fe",
}
OTHER = "#94a3b8"  # a series without a colour of its own

TRACK = 1000.0  # the viewBox width of a bar's track: a bar's length is its share of it
PLOT_WIDTH, PLOT_HEIGHT = 1000.0, 300.0  # the viewBox of a line chart's plot
# Room for time labels: the narrowest plot that shows every tick (a card beside another at
# the report's narrowest two-column width), and the narrowest at all (a 320 px phone).
WIDE_PLOT_PX, NARROW_PLOT_PX = 380.0, 200.0
CHAR_PX, LABEL_GAP_PX = 7.0, 14.0  # an axis label's character (12 px type) and spacing


def reading(value: int, note: str = "") -> str:
    """What a bar says: its count, then what that is a share of (``3 · 60.0%``)."""
    return f"{value:,}" + (f" · {note}" if note else "")


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    length: float  # along the track, 0 to TRACK
    colour: str
    text: str  # what it reads, e.g. "3 · 60.0%" or "3 of 5 sent · 60.0%"


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: tuple[Bar, ...]


def _length(part: float, whole: float) -> float:
    return round(TRACK * min(1.0, part / whole), 1) if whole > 0 else 0.0


def bar_chart(rows: Sequence[tuple[str, int, str, str]], *, scale: int | None = None) -> BarChart:
    """Horizontal bars for (label, value, colour, note); the longest fills the track, or
    ``scale`` does (the track then stands for it: all recipients, say)."""
    top = max([scale or 0, *(value for _, value, _, _ in rows)])
    return BarChart(
        tuple(
            Bar(label, value, _length(value, top), colour, reading(value, note))
            for label, value, colour, note in rows
        )
    )


def share_chart(rows: Sequence[tuple[str, int, int, str, str]]) -> BarChart:
    """Bars for (label, part, whole, what the whole counts, colour), each a share of its own
    whole (one rate of several sends, say): the full track is 100%, and each bar reads as its
    counts and share, "3 of 5 sent · 60.0%"."""
    return BarChart(
        tuple(
            Bar(
                label,
                part,
                _length(part, whole),
                colour,
                f"{part:,} of {whole:,} {counted}"
                + (f" · {100 * part / whole:.1f}%" if whole else ""),
            )
            for label, part, whole, counted, colour in rows
        )
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """One layer of a layered bar (recipients, then delivered, opened, clicked on top)."""

    length: float
    colour: str
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class LayeredRow:
    label: str
    segments: tuple[Segment, ...]
    text: str


@dataclass(frozen=True, slots=True)
class LayeredChart:
    rows: tuple[LayeredRow, ...]
    legend: tuple[tuple[str, str], ...]


def layered_chart(
    rows: Sequence[tuple[str, Sequence[int], str]], names: Sequence[str]
) -> LayeredChart:
    """Each row a bar per value of ``names`` drawn over each other from the same origin, the
    first (largest) at the back: a small funnel per outlet, beat or region."""
    top = max((max(values) for _, values, _ in rows if values), default=0)
    drawn = tuple(
        LayeredRow(
            label,
            tuple(
                Segment(_length(value, top), PALETTE.get(name, OTHER), name, value)
                for name, value in zip(names, values, strict=True)
            ),
            reading(values[0], note) if values else note,
        )
        for label, values, note in rows
    )
    return LayeredChart(drawn, tuple((name, PALETTE.get(name, OTHER)) for name in names))


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    points: str  # "x,y x,y ..." in the plot's viewBox, for <polyline>
    end: str  # "x,y": where the line ends (marked with a dot), or "" if it has no points
    total: int


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # percent along the axis: from the left (time) or the bottom (values)
    label: str
    align: str = "middle"  # start | middle | end: which part of the label sits on the tick
    narrow: bool = True  # also shown on a phone, where there is room for fewer


@dataclass(frozen=True, slots=True)
class LineChart:
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    y_caption: str  # what the values count, with their unit: "messages per minute"
    x_caption: str  # "time in Europe/Paris"
    label_chars: int  # the longest value label, to size the value axis

    @property
    def view_box(self) -> str:
        return f"0 0 {PLOT_WIDTH:g} {PLOT_HEIGHT:g}"

    def grid_y(self, tick: Tick) -> float:
        """A value tick's height in the plot's viewBox, for its grid line."""
        return round(PLOT_HEIGHT * (1 - tick.position / 100), 1)


def line_chart(
    starts: Sequence[datetime],
    series: Sequence[tuple[str, Sequence[int]]],
    zone_name: str,
    *,
    y_caption: str,
    label_format: str = "%H:%M",
    bucket: str = "minute",
) -> LineChart:
    """Lines over time buckets (``starts``), time labels in the reader's zone.

    A series may be shorter than ``starts``: its line then ends at its last value instead of
    going on at 0 (a send's hand-over is over when the last message is handed over).
    ``bucket`` names the width of a bucket for the captions ("minute", "hour").
    """
    count = len(starts)
    highest = max((max(values, default=0) for _, values in series), default=0)
    step, top = _value_scale(highest)

    def x(i: int) -> float:
        return round(PLOT_WIDTH * i / (count - 1), 1) if count > 1 else PLOT_WIDTH / 2

    def y(value: int) -> float:
        return round(PLOT_HEIGHT * (1 - value / top), 1)

    drawn = []
    for name, values in series:
        points = [f"{x(i)},{y(v)}" for i, v in enumerate(values[:count])]
        drawn.append(
            Series(
                name,
                PALETTE.get(name, OTHER),
                " ".join(points),
                points[-1] if points else "",
                sum(values),
            )
        )
    zone = find_zone(zone_name)
    labels = [start.astimezone(zone).strftime(label_format) for start in starts]
    y_ticks = tuple(
        Tick(round(100 * value / top, 2), f"{value:,}") for value in range(0, top + 1, step)
    )
    return LineChart(
        tuple(drawn),
        _time_ticks(labels, bucket),
        y_ticks,
        f"{y_caption} per {bucket}",
        f"time in {zone_name}",
        max(len(tick.label) for tick in y_ticks),
    )


def _value_scale(highest: int, most: int = 4) -> tuple[int, int]:
    """A round step (1, 2 or 5 times a power of ten, at least 1: these are counts) and the
    top of the axis, a multiple of it at or above ``highest``, in at most ``most`` steps."""
    if highest <= 0:
        return 1, 1
    magnitude = 10 ** max(0, math.floor(math.log10(highest / most)))
    step = next(
        n * magnitude for n in (1, 2, 5, 10) if math.ceil(highest / (n * magnitude)) <= most
    )
    return step, math.ceil(highest / step) * step


# Steps between labelled buckets that read as round periods.
_ROUND_STEPS = {
    "minute": (1, 2, 5, 10, 15, 20, 30, 60),
    "hour": (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 1440),
}


def _time_ticks(labels: Sequence[str], bucket: str) -> tuple[Tick, ...]:
    """Labels every round number of buckets, as many as fit side by side in the narrowest
    plot that shows them all, and fewer of them (a subset) on a phone; the last bucket too
    where it has room. Each is whole: the first starts at its tick, the last ends at its
    tick, and one centred too near the end is left out.
    """
    count = len(labels)
    if count == 0:
        return ()
    if count == 1:
        return (Tick(50.0, labels[0]),)
    last = count - 1
    label_px = CHAR_PX * max(len(label) for label in labels)
    # A centred label next to one that starts (or ends) at its tick needs half a label more.
    apart_px = label_px + LABEL_GAP_PX
    spacing_px = apart_px + label_px / 2

    def step_for(room_px: float) -> int:
        for step in _ROUND_STEPS.get(bucket, _ROUND_STEPS["minute"]):
            if step * room_px / last >= spacing_px:
                return step
        return math.ceil(last * spacing_px / room_px)

    def with_last(indexes: list[int], room_px: float) -> list[int]:
        """``indexes`` and the last bucket, if its label has room after theirs."""
        if indexes[-1] == last:
            return indexes
        needed = apart_px if indexes[-1] == 0 else spacing_px
        return [*indexes, last] if (last - indexes[-1]) * room_px / last >= needed else indexes

    step = step_for(WIDE_PLOT_PX)
    round_ones = list(range(0, count, step))
    wide = with_last(round_ones, WIDE_PLOT_PX)
    # A phone shows every n-th of those: the fewest left out that still fit.
    every = math.ceil(last * spacing_px / NARROW_PLOT_PX / step)
    narrow = set(with_last(round_ones[::every], NARROW_PLOT_PX)) & set(wide)
    ticks = []
    for i in wide:
        room_px = NARROW_PLOT_PX if i in narrow else WIDE_PLOT_PX
        if i == 0:
            align = "start"
        elif i == last:
            align = "end"
        elif (last - i) / last * room_px < label_px / 2:
            continue  # centred on its tick it would stick out of the plot's end
        else:
            align = "middle"
        ticks.append(Tick(round(100 * i / last, 2), labels[i], align, i in narrow))
    return tuple(ticks)
