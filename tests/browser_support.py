"""Browser tests: pages as people see them, in a real Chromium driven by Playwright.

Loaded by ``tests/conftest.py`` as a plugin, so any test may ask for these fixtures:

- ``browser``: one headless Chromium per test module (Debian's ``/usr/bin/chromium``, or
  ``DISTRO_TEST_CHROMIUM``). Not per session: Playwright's sync API keeps an asyncio loop
  marked as running in the main thread while it is started, so every later test that calls
  ``asyncio.run`` would fail ("cannot be called from a running event loop"). Playwright's
  own browser download is not used. Every test using it skips, saying why, when there is no
  such executable; ``make test`` installs it as root.
- ``page``: a fresh page (its own context: no cookies or storage shared) per test.

and use these helpers:

- ``show_html`` / ``show_url``: load HTML or a URL at a viewport (``DESKTOP``, ``PHONE`` or
  any ``(width, height)``);
- ``layout_problems`` / ``assert_fits``: no horizontal scroll, and no element sticking out of
  the box that clips it (or out of the viewport), each problem naming the element;
- ``smallest_text``: the smallest rendered text (an SVG scaled down shrinks its text too);
- ``save_screenshot``: the whole page under ``test-artefacts/screenshots/`` (git-ignored), to
  look at.

Tests that use the browser mark themselves ``@pytest.mark.browser``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("DISTRO_TEST_CHROMIUM", "/usr/bin/chromium"))
# As root Chromium refuses to start without --no-sandbox; the rest keep it from calling home
# (this machine's closed network refuses those connections, which only slows it down).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DESKTOP = (1280, 800)
PHONE = (390, 844)
VIEWPORTS = {"1280": DESKTOP, "390": PHONE}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artefacts" / "screenshots"
# Containers marked with this class are meant to scroll sideways (a wide data table on a
# phone): what they hold may be wider than they are.
SCROLLS = ".scroll-x"

# Walks every rendered element (SVG ones too) and reports each that sticks out, by more than
# a pixel of rounding, of its nearest ancestor that clips overflow (a box, or an <svg>, whose
# overflow is not visible), or of the viewport when nothing clips it. What a scroll
# container marked as such holds is left alone; the container itself is still checked.
_FIND_OVERFLOW = """
(scrolls) => {
  const slack = 1;
  const viewport = document.documentElement.clientWidth;
  const describe = (el) => {
    const cls = el.getAttribute('class');
    const text = (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
    return '<' + el.tagName.toLowerCase() + (cls ? ' class="' + cls + '"' : '') + '>'
      + (text ? ' "' + text + '"' : '');
  };
  // An <svg> clips unless styled otherwise (its UA style is overflow: hidden).
  const clips = (el) => getComputedStyle(el).overflowX !== 'visible';
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    let parent = el.parentElement;
    while (parent && parent !== document.body && !clips(parent)) parent = parent.parentElement;
    if (parent && parent !== document.body) {
      if (parent.matches(scrolls)) continue;
      const outer = parent.getBoundingClientRect();
      const right = box.right - outer.right, left = outer.left - box.left;
      if (right > slack || left > slack) {
        found.push(describe(el) + ' sticks out of ' + describe(parent).slice(0, 80) + ' by '
          + Math.round(Math.max(right, left)) + ' px on the ' + (right > left ? 'right' : 'left'));
      }
    } else if (box.right > viewport + slack || box.left < -slack) {
      found.push(describe(el) + ' reaches past the viewport (' + Math.round(box.left) + ' to '
        + Math.round(box.right) + ' px of ' + viewport + ')');
    }
  }
  return found;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium when run as "
            "root; elsewhere install it, or set DISTRO_TEST_CHROMIUM to a Chromium executable"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    try:
        yield context.new_page()
    finally:
        context.close()


def show_html(page: Page, html: str, viewport: tuple[int, int] = DESKTOP) -> None:
    """Show ``html`` as a page at ``viewport`` (width, height in CSS pixels)."""
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.set_content(html, wait_until="load")


def show_url(page: Page, url: str, viewport: tuple[int, int] = DESKTOP) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto(url, wait_until="load")


def layout_problems(page: Page, scrolls: str = SCROLLS) -> list[str]:
    """What does not fit: the page scrolling sideways, and each element that sticks out."""
    problems: list[str] = []
    widths: dict[str, Any] = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    if widths["scroll"] > widths["client"]:
        problems.append(
            f"the page scrolls sideways: {widths['scroll']} px wide in a {widths['client']} px "
            "viewport"
        )
    problems.extend(page.evaluate(_FIND_OVERFLOW, scrolls))
    return problems


def assert_fits(page: Page, scrolls: str = SCROLLS) -> None:
    problems = layout_problems(page, scrolls)
    assert not problems, "\n".join(problems[:25]) + (
        f"\n... and {len(problems) - 25} more" if len(problems) > 25 else ""
    )


# The rendered height of each visible run of text (the font's ascent to descent, about 1.15
# times its size), as drawn: an SVG scaled down by its viewBox shrinks its text with it.
_TEXT_SIZES = """
() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (!text) continue;
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    found.push([box.height, text.slice(0, 40)]);
  }
  return found;
}
"""


def smallest_text(page: Page, count: int = 3) -> list[tuple[float, str]]:
    """The ``count`` smallest runs of visible text: (rendered height in px, the text)."""
    sizes: list[list[Any]] = page.evaluate(_TEXT_SIZES)
    return sorted((float(height), str(text)) for height, text in sizes)[:count]


def save_screenshot(page: Page, name: str) -> Path:
    """The whole page as ``test-artefacts/screenshots/<name>.png``; its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=str(target), full_page=True)
    return target
