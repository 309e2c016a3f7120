"""The release email as a journalist's client shows it, in Chromium from desktop to the
narrowest phone: fluid up to 600 px, nothing wider than the screen, readable type, and still
so in clients that drop the ``<style>`` block (where only the inlined styles are left).

Each email is rendered by the real composer (embargo notice, tracked links) for a real contact,
turned into the MIME message a provider is handed, and its HTML part read back out of it.
Screenshots are saved under ``test-artefacts/screenshots/`` to look at."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from distro.models import Contact, Release, ReleaseStatus
from distro.providers.mime import to_mime
from distro.releases.service import SAMPLES, release_fields_from_toml
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.tracking.links import LinkSigner
from tests.browser_support import (
    DESKTOP,
    PHONE,
    assert_fits,
    save_screenshot,
    show_html,
    smallest_text,
)
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

SETTINGS = make_settings("sqlite://")
NARROWEST = (320, 640)
WIDTHS = {"1280": DESKTOP, "390": PHONE, "320": NARROWEST}
READER = Contact(
    email="amara.okafor@harbor-herald.example",
    first_name="Amara",
    last_name="Okafor",
    outlet="Harbor Herald",
    timezone="America/New_York",
)
# What staff paste into a release that a phone must still cope with: an image wider than any
# screen, a long unbroken link, a table, and a long link as a press-kit label.
PRESS = "https://harborcitylibrary.example/press/2026/archive-opening"
AWKWARD_BODY = f"""
Photos: {PRESS}/high-resolution-photographs-of-the-reading-room-and-the-scanning-workshop.zip

<img src="{PRESS}/reading-room.jpg" width="1600" height="900" alt="The reading room">

<table>
<tr><th>Collection</th><th>Pages</th><th>Years</th></tr>
<tr><td>Harbor Herald</td><td>1,200,000</td><td>1901-2021</td></tr>
<tr><td>Harbor City Evening Telegraph and Commercial Advertiser</td><td>640,000</td>
<td>1903-98</td></tr>
</table>

Contact: a.very.long.press.officer.address@communications.harborcitylibrary.example
"""


def sample_release(*, awkward: bool = False) -> Release:
    fields = release_fields_from_toml(SAMPLES / "release.toml")
    if awkward:
        fields["body_md"] += AWKWARD_BODY
        fields["asset_links"] = [
            {"url": f"{PRESS}/fact-sheet-with-figures-for-every-newspaper-in-the-archive.pdf"}
        ]
    return Release(
        id=7,
        slug="harbor-archive",
        **fields,
        embargo_at=datetime(2030, 1, 1, 17, 0, tzinfo=UTC),
        embargo_tz="America/Los_Angeles",
        status=ReleaseStatus.APPROVED,
    )


def received_html(release: Release) -> str:
    """The HTML part of the message as the provider is handed it, for ``READER``."""
    composer = Composer(
        SETTINGS,
        make_environment(),
        LinkSigner(SETTINGS.server.secret_key.get_secret_value()),
        release,
        "release",
        embargo_notice=True,
        tracked_send=3,
    )
    sent = to_mime(composer.compose(1001, READER))
    message = email.message_from_bytes(sent.as_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


# The press photo, served to the page as the newsroom's server would (the test machine has no
# network): an image far wider than any phone.
PHOTO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="900">'
    '<rect width="1600" height="900" fill="#64748b"/></svg>'
)


def show_email(page: Page, html: str, viewport: tuple[int, int]) -> None:
    page.route(
        f"{PRESS}/reading-room.jpg",
        lambda route: route.fulfill(body=PHOTO, content_type="image/svg+xml"),
    )
    show_html(page, html, viewport)
    photos = page.evaluate(
        "() => [...document.images].filter((image) => image.alt === 'The reading room')"
        ".map((image) => image.naturalWidth)"
    )
    assert photos in ([], [1600])  # shown, not a broken image's alt text


def without_style_blocks(html: str) -> str:
    """The message as clients that drop ``<style>`` show it: inline styles only."""
    return re.sub(r"<style\b.*?</style>", "", html, flags=re.DOTALL | re.IGNORECASE)


def column_width(page: Page) -> float:
    """The width of the paragraph column (the release body's text)."""
    width: float = page.evaluate(
        "() => document.querySelector('p:not(.meta)').getBoundingClientRect().width"
    )
    return width


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("kind", ["sample", "awkward"])
def test_release_email_fits_from_desktop_to_phone(page: Page, kind: str, width: str) -> None:
    html = received_html(sample_release(awkward=kind == "awkward"))
    show_email(page, html, WIDTHS[width])
    save_screenshot(page, f"email-{kind}-{width}")
    assert_fits(page)
    smallest = smallest_text(page)
    assert smallest[0][0] >= 13, f"text too small to read: {smallest}"


def test_email_is_fluid_up_to_600_px_and_uses_a_phone_screen(page: Page) -> None:
    html = received_html(sample_release())
    show_html(page, html, DESKTOP)
    desktop = page.evaluate(
        "() => document.querySelector('.email-container').getBoundingClientRect().width"
    )
    assert desktop == 600
    show_html(page, html, PHONE)
    phone = page.evaluate(
        "() => document.querySelector('.email-container').getBoundingClientRect().width"
    )
    assert phone == PHONE[0]  # the whole screen, edge to edge
    assert column_width(page) >= PHONE[0] - 2 * 20  # the phone rules narrow the margins


def test_media_queries_survive_inlining() -> None:
    html = received_html(sample_release())
    styles = re.findall(r"<style\b[^>]*>(.*?)</style>", html, flags=re.DOTALL)
    assert any("@media" in style for style in styles), styles
    container = re.search(r'<[^>]*class="email-container"[^>]*>', html)
    assert container is not None
    assert "max-width: 600px" in container.group(0)
    assert re.search(
        r"<img [^>]*style=\"[^\"]*max-width: 100%", received_html(sample_release(awkward=True))
    )


@pytest.mark.parametrize("width", ["390", "320"])
def test_email_without_its_style_block_still_fits_a_phone(page: Page, width: str) -> None:
    """Clients that drop ``<style>`` get the inlined styles only: still fluid, not 600 px."""
    html = without_style_blocks(received_html(sample_release(awkward=True)))
    assert "<style" not in html
    show_email(page, html, WIDTHS[width])
    save_screenshot(page, f"email-inline-only-{width}")
    assert_fits(page)
    assert column_width(page) >= WIDTHS[width][0] - 2 * 40
