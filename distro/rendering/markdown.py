"""A release's Markdown (body, boilerplate) as HTML that is safe to put in an email or web page.

Raw HTML pasted into a body is kept only as far as the allow-list below says; the rest is
removed by the sanitiser (ammonia, through nh3), never trusted and never shown as text.
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

from distro.urls import LINK_SCHEMES

# What a release body may keep of raw HTML pasted into it: text formatting, links, lists,
# headings, quotes and simple tables. Scripts, styles, event handlers, forms, iframes and
# links of any scheme but distro's LINK_SCHEMES are removed by the sanitiser (ammonia, through
# nh3): bodies are checked on input (distro.releases.inputs), this is for older ones.
BODY_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i", "li"}
    | {"ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr"}
    | {"u", "ul", "img", "figure", "figcaption"}
)
BODY_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}


@cache
def _markdown() -> MarkdownIt:
    # Built on first use, not at import: most processes never render Markdown.
    return MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": True})


def markdown_to_html(text: str) -> str:
    """Markdown to HTML; raw HTML in it is sanitised, not trusted and not shown as text."""
    return nh3.clean(
        str(_markdown().render(text)),
        tags=set(BODY_TAGS),
        attributes={tag: set(names) for tag, names in BODY_ATTRIBUTES.items()},
        url_schemes=set(LINK_SCHEMES),
        link_rel="noopener noreferrer",
    )
