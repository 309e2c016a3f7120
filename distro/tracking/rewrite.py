"""Rewriting an email's links to the click redirect, and adding the open pixel.

Which links are rewritten: every ``http(s)`` ``<a href>`` of the HTML part and every ``http(s)``
URL written out in the text part, except links to distro itself (``server.base_url``: the
unsubscribe and preference links, the web copy), which must work directly, ``mailto:`` and any
other scheme, and links holding a personal value. A rewritten link reads
``{base}/c/{click token}/{link token}?u={the URL, percent-encoded}`` (see
``distro.tracking.links``): the link token is the same for every recipient and is made once per
send and URL; the click token is the recipient's, passed in, or a slot marker standing for it
when a send is prepared (see ``distro.rendering.PreparedRelease``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qs, quote, urlsplit

CLICK_PATH = "/c/"
OPEN_PATH = "/o/"
URL_PARAMETER = "u"
# In serialised HTML every attribute value is double-quoted with any ``"`` in it escaped, so a
# tag's attributes can be stepped over exactly without an HTML parser.
_A_HREF = re.compile(r'(<a(?:\s+[^\s"\'=<>/]+(?:="[^"]*")?)*?\s+href=")([^"]*)(")', re.IGNORECASE)
_TEXT_URL = re.compile(r"https?://[^\s<>\"'`\[\]]+", re.IGNORECASE)
_TRAILING = ".,;:!?*'\"}"  # punctuation closing a sentence after a URL in text is not part of it
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class LinkRewriter:
    """One send's rewriting; ``link_token(url)`` signs a URL for the send (cached here)."""

    def __init__(self, base_url: str, link_token: Callable[[str], str]) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = self.base_url.lower() + "/"
        self._sign = link_token
        self._link_tokens: dict[str, str] = {}

    def trackable(self, url: str) -> bool:
        """Whether a link to ``url`` goes through the redirect.

        A personal value's slot marker is a private-use character, not printable: a link that
        holds one differs per recipient and is left alone, as on a full render the value itself
        is (a link to one of distro's own pages is the usual case).
        """
        lowered = url.lower()
        return (
            lowered.startswith(("http://", "https://"))
            and not (lowered + "/").startswith(self._own)
            and url.isprintable()
            and not any(c.isspace() for c in url)
        )

    def click_url(self, url: str, click_token: str) -> str:
        """The redirect to ``url``; percent-encoded, it needs no escaping in HTML."""
        link = self._link_tokens.get(url)
        if link is None:
            link = self._link_tokens[url] = self._sign(url)
        target = quote(url, safe=":/")
        return f"{self.base_url}{CLICK_PATH}{click_token}/{link}?{URL_PARAMETER}={target}"

    def open_url(self, open_token: str) -> str:
        return f"{self.base_url}{OPEN_PATH}{open_token}.gif"

    def html(self, document: str, click_token: str) -> str:
        """``document`` (serialised HTML) with its trackable ``<a href>`` links rewritten."""

        def rewrite(match: re.Match[str]) -> str:
            url = html.unescape(match[2])
            if not self.trackable(url):
                return match[0]
            return match[1] + self.click_url(url, click_token) + match[3]

        return _A_HREF.sub(rewrite, document)

    def text(self, document: str, click_token: str) -> str:
        """``document`` (plain text) with the trackable URLs written in it rewritten."""

        def rewrite(match: re.Match[str]) -> str:
            url = _trimmed(match[0])
            if not self.trackable(url):
                return match[0]
            return self.click_url(url, click_token) + match[0][len(url) :]

        return _TEXT_URL.sub(rewrite, document)

    def with_pixel(self, document: str, open_token: str) -> str:
        """``document`` with the open pixel as the last thing in its body."""
        pixel = (
            f'<img src="{self.open_url(open_token)}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0;">'
        )
        ends = list(_BODY_END.finditer(document))
        if not ends:
            return document + pixel
        at = ends[-1].start()
        return document[:at] + pixel + document[at:]


def _trimmed(url: str) -> str:
    """A URL found in text, without the punctuation that ends the sentence or bracket around it."""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url


def target_of(url: str, base_url: str) -> str:
    """The original URL behind one of our click redirects (unverified); other URLs as they are.

    For showing a URL found in an event (a provider reporting a click on a rewritten link).
    """
    prefix = base_url.rstrip("/") + CLICK_PATH
    if not url.startswith(prefix):
        return url
    targets = parse_qs(urlsplit(url).query).get(URL_PARAMETER, [])
    return targets[0] if len(targets) == 1 else url
