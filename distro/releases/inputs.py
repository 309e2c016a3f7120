"""The checks on a release's fields that end up as links: press-kit assets, media contacts'
addresses, and the links written in its body and boilerplate.

Every way a release is made or changed (``create_release``, ``edit_release``, the TOML file,
the CLI flags, the text import, and so any later API or form) passes its fields through
``checked_fields``, so a ``javascript:`` or ``data:`` URL is refused with the field named
(``asset_links[2].url``, ``body`` line 3) before anything is stored. Links in Markdown are
found the way the renderer finds them (markdown-it, raw ``<a href>`` and ``<img src>`` too),
with the renderer's own refusal of dangerous schemes switched off so that they are seen and
named instead of being silently shown as text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from html.parser import HTMLParser
from typing import Annotated, Any

import pydantic
from email_validator import EmailNotValidError, validate_email
from markdown_it import MarkdownIt
from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter

from distro.errors import FieldError
from distro.urls import LinkUrl, UrlError, check_url

# Raw HTML attributes that survive the body's sanitiser as links (see distro.rendering).
_LINK_ATTRIBUTES = {"a": "href", "img": "src"}


def _contact_email(value: str) -> str:
    if not value:
        return ""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        # The address becomes a mailto: link in the email and on the web copy.
        raise ValueError(f"{value!r} is not an email address ({exc})") from None
    return value


class _Input(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True, frozen=True
    )


class AssetLink(_Input):
    """A press-kit link: where a journalist downloads images, a fact sheet, a video."""

    label: str = ""
    url: LinkUrl


class MediaContact(_Input):
    """A person journalists may call or write to about the release."""

    name: str = ""
    role: str = ""
    phone: str = ""
    email: Annotated[str, AfterValidator(_contact_email)] = ""


_ASSET_LINKS = TypeAdapter(list[AssetLink])
_MEDIA_CONTACTS = TypeAdapter(list[MediaContact])
#: Release fields holding Markdown, with the name they are shown by.
MARKDOWN_FIELDS = {"body_md": "body", "boilerplate": "boilerplate"}


def checked_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (named as ``create_release`` names them) with their links checked.

    Asset links and media contacts come back as plain dicts of their known keys; other fields
    are returned as given. Raises ``FieldError`` naming the first field that is not acceptable.
    """
    checked = dict(fields)
    if fields.get("asset_links") is not None:
        checked["asset_links"] = _records(_ASSET_LINKS, fields["asset_links"], "asset_links")
    if fields.get("media_contacts") is not None:
        checked["media_contacts"] = _records(
            _MEDIA_CONTACTS, fields["media_contacts"], "media_contacts"
        )
    for name, shown in MARKDOWN_FIELDS.items():
        if isinstance(fields.get(name), str):
            check_markdown_links(fields[name], (shown,))
    return checked


def check_markdown_links(text: str, path: tuple[str | int, ...]) -> None:
    """FieldError (with the line) for the first link in Markdown ``text`` that is not allowed."""
    for line, url in markdown_links(text):
        try:
            check_url(url)
        except UrlError as exc:
            raise FieldError(path, f"link {exc}", line=line) from None


def markdown_links(text: str) -> Iterator[tuple[int, str]]:
    """(line, URL) of every link and image in Markdown ``text``, raw HTML ones included."""
    for token in _scanner().parse(text):
        line = token.map[0] + 1 if token.map else 1
        if token.type == "html_block":
            yield from _html_links(token.content, line)
        for child in token.children or ():
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                yield line, str(child.attrGet("href") or "")
            elif child.type == "image":
                yield line, str(child.attrGet("src") or "")
            elif child.type == "html_inline":
                yield from _html_links(child.content, line)


@cache
def _scanner() -> MarkdownIt:
    scanner = MarkdownIt("commonmark", {"html": True})
    # markdown-it leaves javascript:, vbscript:, file: and data: links as plain text; here
    # they must be seen, to be refused by name.
    scanner.validateLink = lambda url: True  # type: ignore[method-assign]
    return scanner


class _LinkCollector(HTMLParser):
    def __init__(self, first_line: int) -> None:
        super().__init__(convert_charrefs=True)
        self.first_line = first_line
        self.links: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _LINK_ATTRIBUTES.get(tag)
        for name, value in attrs:
            if name == wanted:
                self.links.append((self.first_line + self.getpos()[0] - 1, value or ""))

    handle_startendtag = handle_starttag


def _html_links(html: str, first_line: int) -> list[tuple[int, str]]:
    collector = _LinkCollector(first_line)
    collector.feed(html)
    collector.close()
    return collector.links


def _records(adapter: TypeAdapter[list[Any]], value: Any, name: str) -> list[dict[str, str]]:
    try:
        items = adapter.validate_python(value)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        path = (name, *(p + 1 if isinstance(p, int) else p for p in error["loc"]))
        raise FieldError(path, _reason(error)) from None
    return [item.model_dump() for item in items]


def _reason(error: Any) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)  # our own checks' reasons, e.g. distro.urls
    if error["type"] == "missing":
        return "is missing"
    if error["type"] == "extra_forbidden":
        return "is not a known key"
    return str(error["msg"])
