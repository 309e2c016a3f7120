"""The one check for every URL that enters distro, and for every URL it writes into a link.

Links in releases (press-kit assets, links in a body or boilerplate), outgoing-webhook
receivers and configured base URLs all pass through ``check_url``, each with the schemes its
use allows: ``LINK_SCHEMES`` (http, https, mailto) for anything a reader may click,
``WEB_SCHEMES`` (http, https) for addresses distro itself requests. Anything else
(``javascript:``, ``data:``, ``file:``, relative links ...) is refused, and so are URLs that
hide what they point at: spaces, control or invisible characters, a backslash (browsers read it
as ``/``), a user name or password before the host, and http(s) URLs without a host.

``check_url`` raises ``UrlError`` (a ``ValueError``) with the reason only; the caller names the
place (field, file line), so the same reason reads right in a CLI error, a TOML error or beside
a form field. ``LinkUrl`` / ``WebUrl`` are the same check as Pydantic types for input models.
Templates get URLs through ``allowed_or_empty``: a URL stored before this check existed is
dropped there rather than written into an ``href``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
WEB_SCHEMES = frozenset({"http", "https"})
MAX_URL_LENGTH = 2000

# Characters no URL of ours needs and that change what one means: a backslash is read as "/"
# by browsers (https://good.example\@evil.example), the others belong to markup.
_FORBIDDEN = frozenset('\\<>"`')
# Categories of characters that are not visible where the URL is shown: controls, format
# characters (zero-width and bidirectional marks), separators (every kind of space).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_HOST_LABEL = re.compile(r"^[^\W_](?:[\w-]*[^\W_])?$")
_MAILBOX = re.compile(r"^[^@,\s]+@[^@,\s]+\.[^@,\s]+$")


class UrlError(ValueError):
    """A URL distro will not use; the message is the reason, without the place."""


def check_url(value: str, schemes: frozenset[str] = LINK_SCHEMES) -> str:
    """``value`` with surrounding whitespace removed, if it is a URL of one of ``schemes``.

    Raises ``UrlError`` saying why not.
    """
    url = value.strip()
    if not url:
        raise UrlError("the URL is empty")
    shown = _shown(url)
    if len(url) > MAX_URL_LENGTH:
        raise UrlError(f"{shown} is longer than {MAX_URL_LENGTH} characters")
    for position, char in enumerate(url, 1):
        problem = _character_problem(char)
        if problem:
            raise UrlError(f"{shown} contains {problem} at character {position}")
    scheme, colon, _ = url.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise UrlError(f"{shown} is not a full URL: it must start with {_schemes(schemes, 'or')}")
    scheme = scheme.lower()
    if scheme not in schemes:
        raise UrlError(
            f"{shown}: {scheme}: URLs are not accepted, only {_schemes(schemes, 'and')} ones"
        )
    if scheme == "mailto":
        _check_mailto(url, shown)
    else:
        _check_web(url, shown)
    return url


def is_allowed(value: object, schemes: frozenset[str] = LINK_SCHEMES) -> bool:
    """Whether ``value`` passes ``check_url`` (for code that must not raise, such as rendering)."""
    if not isinstance(value, str):
        return False
    try:
        check_url(value, schemes)
    except UrlError:
        return False
    return True


def allowed_or_empty(value: object, schemes: frozenset[str] = LINK_SCHEMES) -> str:
    """``value`` (stripped) if it may be written into a link, else "" (never a raw bad URL)."""
    return value.strip() if isinstance(value, str) and is_allowed(value, schemes) else ""


def _check_web(url: str, shown: str) -> None:
    parts = urlsplit(url)
    if not url.lower().startswith(f"{parts.scheme}://") or not parts.netloc:
        raise UrlError(f"{shown} has no host name (expected {parts.scheme}://HOST/...)")
    if "@" in parts.netloc:
        raise UrlError(f"{shown} contains credentials (a user name or password) before the host")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise UrlError(f"{shown} has a port that is not a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise UrlError(f"{shown} has no host name")
    if not _valid_host(host, bracketed="[" in parts.netloc):
        raise UrlError(f"{shown}: {host!r} is not a valid host name")


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        # urlsplit has already checked that a bracketed host is an IPv6 address.
        return ":" in host
    labels = host.removesuffix(".").split(".")
    return all(_HOST_LABEL.match(label) for label in labels)


def _check_mailto(url: str, shown: str) -> None:
    target = url[len("mailto:") :]
    if target.startswith("//"):
        raise UrlError(f"{shown}: a mailto: link is mailto:NAME@DOMAIN, without //")
    addresses = target.split("?", 1)[0].split(",")
    if not all(_MAILBOX.match(address) for address in addresses):
        raise UrlError(f"{shown}: a mailto: link needs an email address (mailto:NAME@DOMAIN)")


def _character_problem(char: str) -> str:
    if char in _FORBIDDEN:
        return f"the character {char!r}"
    if char == " ":
        return "a space"
    category = unicodedata.category(char)
    if category in _HIDDEN_CATEGORIES:
        kind = "a space" if category.startswith("Z") else "an invisible or control character"
        return f"{kind} (U+{ord(char):04X})"
    return ""


def _schemes(schemes: frozenset[str], joiner: str) -> str:
    names = [f"{s}://" if s in WEB_SCHEMES else f"{s}:" for s in sorted(schemes)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joiner} {names[-1]}"


def _shown(url: str) -> str:
    """The URL quoted for a message: shortened, and with hidden characters made visible."""
    return repr(url if len(url) <= 80 else url[:77] + "...")


def _check_link(value: str) -> str:
    return check_url(value, LINK_SCHEMES)


def _check_web_url(value: str) -> str:
    return check_url(value, WEB_SCHEMES)


#: A URL a reader may follow from an email or page: http, https or mailto.
LinkUrl = Annotated[str, AfterValidator(_check_link)]
#: A URL distro requests itself: http or https.
WebUrl = Annotated[str, AfterValidator(_check_web_url)]
