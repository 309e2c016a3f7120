"""A message made inert for the inbox: looking at it must not count as a journalist reading it.

The HTML part as sent carries distro's open pixel (``/o/{token}.gif``) and links rewritten to
the click redirect (``/c/{click token}/{link token}?u={URL}``, see ``distro.tracking.rewrite``).
Shown as is, the browser showing the inbox would load the pixel (an open) and a developer
following a link would record a click. So the inbox shows:

- the pixel removed (any ``<img>`` whose source is an open pixel path);
- every tracked link, in the HTML and in the text part, pointing straight at its target.

Matching is by path shape, not by host: a standalone sandbox does not know distro's address,
and any host's ``/o/…gif`` or ``/c/…/…?u=`` is a tracking URL of the same form. The stored
message is left as received (the JSON API still shows what was sent).
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from distro.tracking.rewrite import URL_PARAMETER

# One path segment of a token: no slash, quote, space or query.
_SEGMENT = r"[^/\"'\s?#<>]+"
_OPEN_PIXEL = re.compile(rf"https?://[^\s\"'<>]*?/o/{_SEGMENT}\.gif", re.IGNORECASE)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
# A click redirect in HTML (``&amp;`` may separate query parameters) or in text.
_CLICK = re.compile(rf"https?://[^\s\"'<>]*?/c/{_SEGMENT}/{_SEGMENT}\?[^\s\"'<>]*", re.IGNORECASE)


def _target(url: str) -> str | None:
    """The URL a click redirect leads to, or None when it names none (left out then)."""
    targets = parse_qs(urlsplit(url).query).get(URL_PARAMETER, [])
    return targets[0] if len(targets) == 1 else None


def inert_html(document: str) -> str:
    """``document`` without open pixels, its tracked links pointing at their targets."""

    def drop_pixel(match: re.Match[str]) -> str:
        return "" if _OPEN_PIXEL.search(match[0]) else match[0]

    def untrack(match: re.Match[str]) -> str:
        target = _target(html.unescape(match[0]))
        return "#" if target is None else html.escape(target, quote=True)

    return _CLICK.sub(untrack, _IMG.sub(drop_pixel, document))


def inert_text(document: str) -> str:
    """``document`` (plain text) with its tracked links written as their targets."""

    def untrack(match: re.Match[str]) -> str:
        url = match[0]
        trailing = ""
        while url and url[-1] in ".,;:!?)":  # sentence punctuation after the link
            url, trailing = url[:-1], url[-1] + trailing
        target = _target(url)
        return (url if target is None else target) + trailing

    return _CLICK.sub(untrack, document)
