"""The one place an address is prepared for a provider.

Contacts are stored as imported (``josé.lópez@elnuevoherald.com``, ``redaktion@bücher.de``);
providers differ in what they take:

* every provider takes a domain in its ASCII (IDNA) form, so the domain is always encoded;
* a non-ASCII local part needs SMTPUTF8 end to end. Mailgun documents that it accepts one; an
  SMTP relay does when it offers SMTPUTF8 in its EHLO answer (checked per connection by the SMTP
  adapter); Postmark, SendGrid, SES and Resend do not. For those the message is refused here,
  alone, with a reason, instead of failing the request the whole batch travels in;
* a display name is plain UTF-8 text: JSON APIs take it as it is (an RFC 2047 encoded-word
  there is shown to the reader verbatim), and the MIME builder (``distro.providers.mime``)
  encodes it properly when it writes the header.

``email.utils.formataddr`` is not used: it raises ``UnicodeEncodeError`` for a non-ASCII address
and turns a non-ASCII name into an encoded-word.
"""

from __future__ import annotations

import re

import idna

from distro.single_line import single_line

NON_ASCII_LOCAL_PART = "the provider does not accept a non-ASCII local part"
#: Providers (by adapter type) that take a non-ASCII local part; SMTP only if its relay offers
#: SMTPUTF8. Used to warn at import time, before any send.
UTF8_LOCAL_PART_TYPES = frozenset({"mailgun", "smtp"})
NO_UTF8_LOCAL_PART_TYPES = ("postmark", "sendgrid", "ses", "resend", "sandbox")

# A display name of these characters needs no quoting (RFC 5322 atext plus spaces, and any
# non-ASCII letter, which RFC 6532 allows as UTF-8 text).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 !#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+")


# The common name (formatted for every recipient of every send) takes the short way.
_SIMPLE_NAME = re.compile(r"[A-Za-z0-9 ]+")


class AddressRefused(ValueError):
    """This address cannot go through this provider; the message says why."""


def ascii_domain(address: str) -> str:
    """``address`` with its domain IDNA-encoded (UTS 46 mapping); the local part untouched."""
    if address.isascii() and "@" in address:
        return address  # the usual case, per message: nothing to encode
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise AddressRefused(f"{address!r} is not an email address")
    if domain.isascii():
        return f"{local}@{domain}"
    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressRefused(f"the domain {domain!r} cannot be IDNA-encoded: {exc}") from exc
    return f"{local}@{encoded}"


def has_non_ascii_local_part(address: str) -> bool:
    return not address.isascii() and not address.rpartition("@")[0].isascii()


def prepare_address(address: str, *, utf8_local_part: bool) -> str:
    """The address as the provider should receive it, or AddressRefused with the reason."""
    prepared = ascii_domain(address)
    if not utf8_local_part and has_non_ascii_local_part(prepared):
        raise AddressRefused(NON_ASCII_LOCAL_PART)
    return prepared


def display_address(name: str, address: str) -> str:
    """``Name <address>`` with the name as UTF-8 text, quoted when it holds specials."""
    if name and _SIMPLE_NAME.fullmatch(name) and name.strip() == name and "  " not in name:
        return f"{name} <{address}>"
    name = " ".join(single_line(name).split()) if name else ""
    if not name:
        return address
    if not _PLAIN_NAME.fullmatch(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        name = f'"{escaped}"'
    return f"{name} <{address}>"


def providers_refusing(address: str) -> tuple[str, ...]:
    """Provider types that cannot take ``address`` (for warnings at import)."""
    try:
        ascii_domain(address)
    except AddressRefused:
        return (*NO_UTF8_LOCAL_PART_TYPES, "mailgun", "smtp")
    if has_non_ascii_local_part(address):
        return NO_UTF8_LOCAL_PART_TYPES
    return ()


__all__ = [
    "NON_ASCII_LOCAL_PART",
    "AddressRefused",
    "ascii_domain",
    "display_address",
    "has_non_ascii_local_part",
    "prepare_address",
    "providers_refusing",
]
