"""`distro report` and `distro sends` as a user runs them (tests/cli_support.py's ``run``),
on the known send of tests/test_reports.py, in every format."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from distro.db import make_engine, upgrade
from tests.cli_support import run
from tests.test_cli import REPORT_KEYS
from tests.test_reports import PEOPLE, Scenario, build_scenario, known_sends_in

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Scenario, int]]:
    """A SQLite database in the working folder (the CLI's default) with the known send,
    finished, and a second send of another release."""
    folder = tmp_path_factory.mktemp("reports")
    scenario, other = known_sends_in(folder)
    yield folder, scenario, other
    scenario.engine.dispose()


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def wide(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``distro ARGS`` on a wide terminal without colours, as a person would read it."""
    return run(folder, *args, env={"COLUMNS": "160", "NO_COLOR": "1"})


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_json_keeps_the_foundation_keys_and_adds_the_rest(
    workdir: tuple[Path, Scenario, int],
) -> None:
    folder, scenario, _ = workdir
    report = json.loads(ok(run(folder, "report", str(scenario.send_id), "--format", "json")))
    assert set(report) >= REPORT_KEYS
    assert (report["send_id"], report["recipients"], report["delivered"]) == (
        scenario.send_id,
        6,
        3,
    )
    assert (report["opened"], report["opened_human"], report["opens_machine"]) == (2, 2, 1)
    assert report["rates"]["open_rate"] == 0.6667
    assert set(report["breakdowns"]) == {"outlet", "beat", "region", "provider", "domain"}
    assert report["breakdowns"]["domain"][0]["value"] == "gazette.example"
    assert len(report["timeline"]["minutes"]) == 9
    assert report["top_links"][0]["clickers"] == 2
    assert report["bounce_reasons"][0]["reason"] == "HardBounce"
    assert "recipient_rows" not in report


def test_json_with_recipients_streams_one_object_each(workdir: tuple[Path, Scenario, int]) -> None:
    folder, scenario, _ = workdir
    out = ok(run(folder, "report", str(scenario.send_id), "--format", "json", "--recipients"))
    report = json.loads(out)
    assert [r["email"] for r in report["recipient_rows"]] == list(PEOPLE)
    assert report["recipient_rows"][2]["reason"].startswith("hard bounce: HardBounce")
    assert report["recipients"] == 6


def test_table_shows_every_section_in_the_zone_asked_for(
    workdir: tuple[Path, Scenario, int],
) -> None:
    folder, scenario, _ = workdir
    out = ok(wide(folder, "report", str(scenario.send_id), "--recipients", "--zone", "Asia/Tokyo"))
    for title in (
        "Funnel (distinct recipients)",
        "Rates",
        "By outlet",
        "By beat",
        "By region",
        "By provider",
        "By domain",
        "First hour, per minute (Asia/Tokyo)",
        "After the first hour, per hour (Asia/Tokyo)",
        "Top links",
        "Bounce reasons",
        "Recipients",
    ):
        assert title in out
    assert "2026-03-02 18:00 Asia/Tokyo" in out  # 09:00 UTC, the first minute
    assert "hard bounce: HardBounce" in out
    assert "66.7%" in out  # the open rate


def test_csv_is_one_row_per_figure_or_one_per_recipient(
    workdir: tuple[Path, Scenario, int],
) -> None:
    folder, scenario, _ = workdir
    rows = list(
        csv.reader(io.StringIO(ok(run(folder, "report", str(scenario.send_id), "--format", "csv"))))
    )
    assert rows[0] == ["section", "item", "metric", "value"]
    figures = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert figures[("funnel", "", "delivered")] == "3"
    assert figures[("rates", "", "bounce_rate")] == "0.4"
    assert figures[("outlet", "Pacific Wire", "bounced")] == "2"
    assert figures[("beat", "politics", "opened_human")] == "2"
    assert figures[("timeline_minute", "2026-03-02T09:01:00+00:00", "sent")] == "2"
    assert figures[("link", "https://newsroom.example/a", "clickers")] == "2"
    assert figures[("bounce_reason", "hard: HardBounce", "bounces")] == "2"
    people = list(
        csv.DictReader(
            io.StringIO(
                ok(run(folder, "report", str(scenario.send_id), "--format", "csv", "--recipients"))
            )
        )
    )
    assert [p["email"] for p in people] == list(PEOPLE)
    assert people[0]["opens_human"] == "2"
    assert people[5]["reason"] == "suppressed: complaint"


class Checker(HTMLParser):
    """Checks that tags open and close in order (the page is well formed) and collects the
    text, the style and script tags, and any external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.external.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert "script" not in checker.tags
    assert checker.external == []  # self-contained: nothing fetched
    start = 0
    while (start := page.find("<svg", start)) != -1:
        end = page.index("</svg>", start) + len("</svg>")
        ET.fromstring(page[start:end])  # noqa: S314 - our own page: every chart is well-formed SVG
        start = end
    return checker


def test_html_is_a_self_contained_page_with_charts(workdir: tuple[Path, Scenario, int]) -> None:
    folder, scenario, _ = workdir
    target = folder / "report.html"
    done = run(
        folder,
        "report",
        str(scenario.send_id),
        "--format",
        "html",
        "--recipients",
        "--out",
        str(target),
    )
    assert ok(done) == ""
    assert str(target) in done.stderr
    page = target.read_text(encoding="utf-8")
    checker = check_page(page)
    assert (
        page.count("<svg") >= 10
    )  # funnel, outcomes, 2 x 2 timeline, 5 breakdowns, links, bounces
    assert "<style>" in page
    text = " ".join(checker.text)
    assert "Harbour opens <b>new</b> pier & more" in text  # the title, shown as text
    assert "<b>new</b>" not in page  # escaped, not markup
    assert "ana@harbor.example" in text
    assert "Pacific Wire" in text
    assert f"Send {scenario.send_id} (at a time)" in text  # the send's kind in the header


def test_compare_puts_sends_side_by_side_in_every_format(
    workdir: tuple[Path, Scenario, int],
) -> None:
    folder, scenario, other = workdir
    ids = (str(scenario.send_id), str(other))
    data = json.loads(ok(run(folder, "report", "--compare", *ids, "--format", "json")))
    assert [s["send_id"] for s in data["sends"]] == [scenario.send_id, other]
    assert [s["delivered"] for s in data["sends"]] == [3, 0]
    rows = list(
        csv.reader(io.StringIO(ok(run(folder, "report", "--compare", *ids, "--format", "csv"))))
    )
    assert rows[0] == ["section", "item", "metric", f"send {ids[0]}", f"send {ids[1]}"]
    assert ["funnel", "", "recipients", "6", "6"] in rows
    assert ["send", "", "kind", "at_time", "at_time"] in rows
    target = folder / "compared.csv"
    done = run(folder, "report", "--compare", *ids, "--format", "csv", "--out", str(target))
    assert ok(done) == ""
    assert str(target) in done.stderr
    assert list(csv.reader(io.StringIO(target.read_text(encoding="utf-8")))) == rows
    page = ok(run(folder, "report", "--compare", *ids, "--format", "html"))
    compared = " ".join(check_page(page).text)
    assert "Second release" in page
    assert "kind at a time at a time" in compared
    table = ok(wide(folder, "report", "--compare", *ids))
    assert f"send {ids[0]}" in table
    assert "open rate" in table
    kinds = [line.split("│")[2:4] for line in table.splitlines() if "│ kind" in line]
    assert [[cell.strip() for cell in row] for row in kinds] == [["at a time", "at a time"]]


def test_sends_lists_headline_figures(workdir: tuple[Path, Scenario, int]) -> None:
    folder, scenario, other = workdir
    lines = json.loads(ok(run(folder, "sends", "--json")))
    assert [line["send_id"] for line in lines] == [other, scenario.send_id]
    mine = lines[1]
    assert (mine["status"], mine["recipients"], mine["delivered"], mine["bounced"]) == (
        "sent",
        6,
        3,
        2,
    )
    assert mine["open_rate"] == 0.6667
    only = json.loads(ok(run(folder, "sends", "--json", "--status", "sent", "--limit", "5")))
    assert [line["send_id"] for line in only] == [scenario.send_id]
    assert [line["kind"] for line in lines] == ["at_time", "at_time"]
    table = ok(wide(folder, "sends"))
    assert "Second release" in table
    assert "at a time" in table
    assert "66.7%" in table


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("report", "999"), "no send 999"),
        (("report", "1", "2"), "add --compare"),
        (("report", "--compare", "1"), "two sends or more"),
        (("report", "--compare", "1", "1"), "two sends or more"),
        (("report", "1", "--zone", "Mars/Olympus"), "unknown time zone"),
        (("report", "--compare", "1", "2", "--recipients"), "--recipients"),
        (("sends", "--status", "lost"), "not a send status"),
    ],
)
def test_mistakes_are_one_clear_line(
    workdir: tuple[Path, Scenario, int], args: tuple[str, ...], says: str
) -> None:
    folder, _, _ = workdir
    assert says in one_line_error(run(folder, *args))


@pytest.mark.postgres
def test_report_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        scenario = build_scenario(engine)
    finally:
        engine.dispose()
    done = run(
        tmp_path,
        "report",
        str(scenario.send_id),
        "--format",
        "json",
        env={"DISTRO_DATABASE__URL": postgres_url},
    )
    report = json.loads(ok(done))
    assert (report["recipients"], report["sent"], report["delivered"], report["bounced"]) == (
        6,
        5,
        3,
        2,
    )
    assert report["breakdowns"]["beat"][0]["value"] == "politics"
