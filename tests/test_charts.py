"""The report's charts as numbers: bars as shares of a track, lines that end where their data
ends, round value axes that start at 0, time labels that fit, and compared rates that read
as real counts. The pages themselves are looked at in a browser by tests/test_report_layout.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from distro.reports import build_report
from distro.reports.charts import (
    NARROW_PLOT_PX,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    bar_chart,
    line_chart,
    share_chart,
)
from distro.reports.html import render_comparison, render_report
from tests.test_reports import T0, build_scenario, finish, start_send

PARIS = ZoneInfo("Europe/Paris")


def points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def test_bars_are_shares_of_their_track() -> None:
    bars = bar_chart([("a", 10, "#000", ""), ("b", 5, "#000", "50%"), ("c", 0, "#000", "")])
    assert [bar.length for bar in bars.bars] == [1000.0, 500.0, 0.0]  # the longest fills it
    assert [bar.text for bar in bars.bars] == ["10", "5 · 50%", "0"]
    of_all = bar_chart([("a", 1, "#000", "")], scale=4)
    assert of_all.bars[0].length == 250.0  # the track stands for the scale
    assert bar_chart([("a", 0, "#000", "")]).bars[0].length == 0.0  # nothing to divide by


def test_shares_of_different_wholes_read_as_counts() -> None:
    chart = share_chart([("#1", 3, 5, "sent", "#000"), ("#2", 0, 0, "sent", "#000")])
    assert [(bar.length, bar.text) for bar in chart.bars] == [
        (600.0, "3 of 5 sent · 60.0%"),
        (0.0, "0 of 0 sent"),
    ]


def test_line_chart_axes_are_round_start_at_zero_and_lines_end_with_their_data() -> None:
    starts = [T0 + timedelta(minutes=i) for i in range(9)]
    chart = line_chart(
        starts, [("sent", [3, 2]), ("opens", [0, 1, 7, 0, 0, 0, 0, 0, 0])], "UTC", y_caption="x"
    )
    sent, opens = chart.series
    assert points(sent.points) == [(0.0, 300 - 300 * 3 / 8), (125.0, 300 - 300 * 2 / 8)]
    assert sent.end == "125.0,225.0"  # the line stops (with a dot) where hand-over ended
    assert len(points(opens.points)) == 9
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]  # round, up to 8 >= 7
    assert [t.position for t in chart.y_ticks] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert chart.grid_y(chart.y_ticks[0]) == PLOT_HEIGHT
    assert (chart.y_caption, chart.x_caption) == ("x per minute", "time in UTC")
    assert max(x for x, _ in points(opens.points)) == PLOT_WIDTH


def test_time_labels_are_whole_and_fewer_on_a_phone() -> None:
    cases = [(9, "%H:%M", "minute"), (60, "%H:%M", "minute")]
    cases += [(48, "%d %b %H:%M", "hour"), (2, "%d %b %H:%M", "hour")]
    for count, fmt, bucket in cases:
        unit = timedelta(minutes=1) if bucket == "minute" else timedelta(hours=1)
        starts = [T0 + i * unit for i in range(count)]
        ticks = line_chart(
            starts, [("opens", [1] * count)], "Europe/Paris", y_caption="x",
            label_format=fmt, bucket=bucket,
        ).x_ticks  # fmt: skip
        assert ticks[0].align == "start"
        assert ticks[0].label == starts[0].astimezone(PARIS).strftime(fmt)  # the reader's zone
        for tick in ticks:
            # On the narrowest plot a centred label has room on both sides; one at the end
            # ends at its tick.
            half = 7 * len(tick.label) / 2
            if tick.align == "middle":
                assert NARROW_PLOT_PX * (100 - tick.position) / 100 >= half, tick
            if tick.position == 100:
                assert tick.align == "end"
        shown_on_phone = [t for t in ticks if t.narrow]
        assert 2 <= len(shown_on_phone) <= len(ticks) <= 8, ticks


def test_report_page_stops_the_sent_line_when_the_send_is_done(engine: Engine) -> None:
    """Messages were handed over in the first two minutes; events went on to minute 8."""
    scenario = build_scenario(engine)
    finish(engine, scenario.send_id)
    page = render_report(build_report(engine, scenario.send_id))
    lines = Lines()
    lines.feed(page)
    sent_per_minute = lines.found["sent"][0]
    assert len(points(sent_per_minute)) == 2  # not 9, dropping to 0 after 09:01
    assert len(points(lines.found["opens"][0])) == 9
    assert len(lines.found["sent"]) == 1  # no line at 0 in the hours after the send


def test_compared_rates_read_as_counts_and_shares(engine: Engine) -> None:
    scenario = build_scenario(engine)
    other = start_send(engine, title="Second release")
    page = render_comparison([build_report(engine, scenario.send_id), build_report(engine, other)])
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "3 of 5 sent · 60.0%" in text  # delivery rate: delivered of sent
    assert "2 of 3 delivered · 66.7%" in text  # open rate, by people
    assert "2 of 2 who opened · 100.0%" in text  # click-to-open rate
    assert "0 of 0 sent" in text  # the second send has not handed anything over yet
    assert not re.search(r"\b(10|6),000\b", text)  # no internal scale values


class Lines(HTMLParser):
    """The points of each <polyline>, by the name in its <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[str]] = {}
        self._points: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "polyline":
            self._points = dict(attrs).get("points") or ""

    def handle_data(self, data: str) -> None:
        if self._points is not None and data.strip():
            self.found.setdefault(data.strip(), []).append(self._points)
            self._points = None
