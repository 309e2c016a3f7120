"""The HTML report and the ``--compare`` page as people read them: Chromium at 1280 and 390 px,
nothing sticking out of its card or the screen, no sideways scroll, chart text readable.

The report is that of a real send with events (the known send of tests/test_reports.py),
written by the installed ``distro report`` command. Screenshots are saved under
``test-artefacts/screenshots/`` to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser_support import (
    DESKTOP,
    VIEWPORTS,
    assert_fits,
    save_screenshot,
    show_html,
    smallest_text,
)
from tests.cli_support import run
from tests.test_reports import known_sends_in

pytestmark = pytest.mark.browser

# Text drawn smaller than this (its rendered height; about 10 px type) is too small to read.
READABLE_PX = 11.5


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The report of the known send (finished, with its recipients) and its comparison with a
    second send, as ``distro report --format html`` writes them."""
    folder = tmp_path_factory.mktemp("report-layout")
    scenario, other = known_sends_in(folder, "A second release, sent to the list on another day")
    scenario.engine.dispose()
    written = {}
    for name, args in (
        ("report", (str(scenario.send_id), "--recipients")),
        ("compare", ("--compare", str(scenario.send_id), str(other))),
    ):
        target = folder / f"{name}.html"
        done = run(folder, "report", *args, "--format", "html", "--out", str(target))
        assert done.returncode == 0, done.stderr
        written[name] = target.read_text(encoding="utf-8")
    return written


@pytest.mark.parametrize("width", sorted(VIEWPORTS))
@pytest.mark.parametrize("name", ["report", "compare"])
def test_report_pages_fit_desktop_and_phone(
    page: Page, pages: dict[str, str], name: str, width: str
) -> None:
    show_html(page, pages[name], VIEWPORTS[width])
    save_screenshot(page, f"{name}-{width}")
    assert_fits(page)
    smallest = smallest_text(page)
    assert smallest[0][0] >= READABLE_PX, f"text too small to read: {smallest}"
    if VIEWPORTS[width] == DESKTOP:  # tables scroll sideways on a phone only
        scrolling = page.evaluate(
            """() => [...document.querySelectorAll('.scroll-x')]
                 .filter((box) => box.scrollWidth > box.clientWidth)
                 .map((box) => box.textContent.trim().slice(0, 40))"""
        )
        assert scrolling == [], scrolling


def test_charts_scale_with_their_card(page: Page, pages: dict[str, str]) -> None:
    """Every chart is drawn to its box (a viewBox and width 100%, no fixed size), and a plot
    over time spans its card at both widths."""
    for width in sorted(VIEWPORTS):
        show_html(page, pages["report"], VIEWPORTS[width])
        charts = page.evaluate(
            """() => [...document.querySelectorAll('.card svg')].map((svg) => {
                 const card = svg.closest('.card');
                 const style = getComputedStyle(card);
                 const inner = card.clientWidth - parseFloat(style.paddingLeft)
                   - parseFloat(style.paddingRight);
                 return [svg.getAttribute('width'), svg.getAttribute('viewBox'),
                         svg.getAttribute('role') === 'img',
                         svg.getBoundingClientRect().width / inner,
                         card.querySelector('h3').textContent];
               })"""
        )
        # Per minute: sent and delivered, opens and clicks; per hour only the latter (nothing
        # was handed over after the first hour, and the page says so instead of a flat line).
        assert sum(plot for _, _, plot, _, _ in charts) == 3
        for width_attribute, view_box, plot, share, title in charts:
            assert (width_attribute, bool(view_box)) == ("100%", True), title
            if plot:
                assert share > 0.75, f"{title}: the plot fills {share:.0%} of its card at {width}"


def test_time_axis_labels_are_whole(page: Page, pages: dict[str, str]) -> None:
    """Each time label is drawn in full inside whatever clips it (the last one used to be cut
    by its chart's edge and read "08")."""
    for width in sorted(VIEWPORTS):
        show_html(page, pages["report"], VIEWPORTS[width])
        labels = page.evaluate(
            r"""() => {
              const found = [];
              const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              const range = document.createRange();
              for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const text = node.textContent.trim();
                if (!/^(\d\d [A-Z][a-z]{2} )?\d\d:\d\d$/.test(text)) continue;
                range.selectNodeContents(node);
                const box = range.getBoundingClientRect();
                if (box.width === 0) continue;
                let clip = node.parentElement;
                while (clip && !(clip instanceof SVGSVGElement)
                       && getComputedStyle(clip).overflowX === 'visible') {
                  clip = clip.parentElement;
                }
                const outer = (clip || document.documentElement).getBoundingClientRect();
                found.push([text, box.left >= outer.left - 1 && box.right <= outer.right + 1]);
              }
              return found;
            }"""
        )
        assert len(labels) >= 4, labels  # the per-minute and per-hour charts have time labels
        cut = [text for text, whole in labels if not whole]
        assert not cut, f"time labels cut at {width} px: {cut}"
