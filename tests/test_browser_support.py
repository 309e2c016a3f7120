"""The browser-test helpers find what they are meant to find, on small pages made to fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser_support import (
    CHROMIUM,
    PHONE,
    SCREENSHOTS,
    layout_problems,
    save_screenshot,
    show_html,
    smallest_text,
)

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]


def page_of(body: str) -> str:
    return (
        '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
        f"<style>body {{ margin: 0; font: 16px sans-serif; }}</style></head><body>{body}</body>"
        "</html>"
    )


def test_a_page_that_fits_has_no_problems(page: Page) -> None:
    show_html(page, page_of("<main><h1>Fits</h1><p>Short text that wraps.</p></main>"), PHONE)
    assert layout_problems(page) == []


def test_wider_than_the_screen_is_found_and_named(page: Page) -> None:
    show_html(page, page_of('<div class="wide" style="width: 600px">Too wide</div>'), PHONE)
    problems = layout_problems(page)
    assert problems[0] == "the page scrolls sideways: 600 px wide in a 390 px viewport"
    wide = '<div class="wide"> "Too wide" reaches past the viewport (0 to 600 px of 390)'
    assert wide in problems


def test_text_cut_by_its_svg_is_found(page: Page) -> None:
    chart = '<svg width="200" height="40"><text x="180" y="20">09:08</text></svg>'
    show_html(page, page_of(chart), PHONE)
    (problem,) = layout_problems(page)
    assert problem.startswith('<text> "09:08" sticks out of <svg> "09:08" by ')
    assert problem.endswith(" px on the right")


def test_content_of_a_clipping_box_is_checked_against_it(page: Page) -> None:
    card = '<div class="card" style="width: 200px; overflow-x: auto"><p style="width: 300px">x</p>'
    show_html(page, page_of(card + "</div>"), PHONE)
    (problem,) = layout_problems(page)
    assert problem == '<p> "x" sticks out of <div class="card"> "x" by 100 px on the right'


def test_a_box_marked_to_scroll_may_hold_wider_content(page: Page) -> None:
    table = (
        '<div class="scroll-x" style="overflow-x: auto">'
        '<table style="width: 800px"><tr><td>a</td></tr></table></div>'
    )
    show_html(page, page_of(table), PHONE)
    assert layout_problems(page) == []
    assert layout_problems(page, scrolls=".nothing") != []


def test_smallest_text_measures_text_as_drawn(page: Page) -> None:
    shrunk = '<svg viewBox="0 0 1000 100" width="100" height="10"><text y="50">tiny</text></svg>'
    show_html(page, page_of("<p>readable</p>" + shrunk), PHONE)
    (height, text), _ = smallest_text(page, 2)
    assert text == "tiny"
    assert height < 5  # 16 px type drawn at a tenth of its size


def test_screenshots_go_to_the_artefacts_folder_by_name(page: Page) -> None:
    show_html(page, page_of("<p>shot</p>"), PHONE)
    path = save_screenshot(page, "browser support: self test")
    assert path == SCREENSHOTS / "browser-support-self-test.png"
    assert path.read_bytes().startswith(b"\x89PNG")


def test_asyncio_works_in_the_next_module_after_browser_tests(tmp_path: Path) -> None:
    """The browser closes with its module: a later test can still call ``asyncio.run`` (a
    session-wide Playwright left a loop marked as running and broke such tests in CI)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    (tmp_path / "test_a_browser.py").write_text(
        "def test_uses_the_browser(page):\n    page.set_content('<p>hi</p>')\n"
    )
    (tmp_path / "test_b_asyncio.py").write_text(
        "import asyncio\n\n\nasync def answer():\n    return 42\n\n\n"
        "def test_runs_a_loop():\n    assert asyncio.run(answer()) == 42\n"
    )
    (tmp_path / "conftest.py").write_text('pytest_plugins = ("tests.browser_support",)\n')
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
